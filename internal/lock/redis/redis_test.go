package redis_test

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/lock"
	"github.com/swarmops/swarmops/internal/lock/locktest"
	"github.com/swarmops/swarmops/internal/lock/redis"
	"github.com/swarmops/swarmops/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// instance is one SwarmOps instance's locker: its own go-redis client on
// the shared server.
func instance(t *testing.T, addr, prefix string) (*redis.Locker, *goredis.Client) {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	return redis.New(c, redis.Options{Prefix: prefix, TTL: locktest.TTL, Wait: locktest.Wait}), c
}

func prefix() string { return "test-" + rand.Text()[:12] + ":lock:" }

func redisAddr(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs redis-server; skipped with -short")
	}
	return testenv.Redis(t).Addr
}

func TestLocker(t *testing.T) {
	addr := redisAddr(t)
	locktest.Run(t, func(t *testing.T, waiting func(context.Context, string)) lock.Locker {
		l, _ := instance(t, addr, prefix())
		redis.SetWaiting(l, waiting)
		return l
	})
}

func TestLocker_TwoInstances(t *testing.T) {
	addr, p := redisAddr(t), prefix()
	a, _ := instance(t, addr, p)
	b, _ := instance(t, addr, p)
	ctx := t.Context()

	lease, err := a.Acquire(ctx, "k")
	must(t, err)
	if _, err := b.Acquire(ctx, "k"); !errors.Is(err, errs.ErrLocked) {
		t.Fatalf("second instance: %v, want locked", err)
	}
	must(t, lease.Release(ctx))
	lease, err = b.Acquire(ctx, "k")
	must(t, err)
	must(t, lease.Release(ctx))
}

// TestLocker_HolderDies cuts a holder off Redis: its lease is lost and
// expires, and another instance takes the key.
func TestLocker_HolderDies(t *testing.T) {
	addr, p := redisAddr(t), prefix()
	a, ca := instance(t, addr, p)
	b, _ := instance(t, addr, p)
	ctx := t.Context()

	lease, err := a.Acquire(ctx, "k")
	must(t, err)
	must(t, ca.Close())
	eventually(t, "the other instance to get the key", func() bool {
		l, err := b.Acquire(ctx, "k")
		if err == nil {
			must(t, l.Release(ctx))
			return true
		}
		if !errors.Is(err, errs.ErrLocked) {
			t.Fatal(err)
		}
		return false
	})
	select {
	case <-lease.Lost():
	case <-time.After(2 * locktest.TTL):
		t.Fatal("the dead holder's lease is not marked lost")
	}
	if err := lease.Release(ctx); !errors.Is(err, errs.ErrUnavailable) {
		t.Errorf("Release through a closed client: %v, want unavailable", err)
	}
}

// TestLocker_Taken takes the key from under a holder, as if its lease had
// expired and another instance had taken it: Lost closes.
func TestLocker_Taken(t *testing.T) {
	addr, p := redisAddr(t), prefix()
	l, c := instance(t, addr, p)
	ctx := t.Context()
	lease, err := l.Acquire(ctx, "k")
	must(t, err)
	must(t, c.Set(ctx, p+"k", "someone else", locktest.TTL).Err())
	select {
	case <-lease.Lost():
	case <-time.After(5 * locktest.TTL):
		t.Fatal("lease not marked lost after its key was taken")
	}
	must(t, lease.Release(ctx))
	if got, _ := c.Get(ctx, p+"k").Result(); got != "someone else" {
		t.Errorf("Release of a lost lease changed the new holder's key to %q", got)
	}
}

func TestLocker_Unavailable(t *testing.T) {
	if testing.Short() {
		t.Skip("needs redis-server; skipped with -short")
	}
	srv := testenv.NewRedis(t, "")
	l, _ := instance(t, srv.Addr, prefix())
	must(t, srv.Stop())
	_, err := l.Acquire(t.Context(), "k")
	if !errors.Is(err, errs.ErrUnavailable) || errors.Is(err, errs.ErrLocked) {
		t.Fatalf("Acquire with Redis stopped: %v, want unavailable", err)
	}
	must(t, srv.Start())
	eventually(t, "locks to work again", func() bool {
		lease, err := l.Acquire(t.Context(), "k")
		if err == nil {
			must(t, lease.Release(t.Context()))
		}
		return err == nil
	})
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waited 15s for %s", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

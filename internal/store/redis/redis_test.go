package redis_test

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
	"github.com/swarmops/swarmops/internal/store/redis"
	"github.com/swarmops/swarmops/internal/store/storetest"
	"github.com/swarmops/swarmops/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs redis-server; skipped with -short")
	}
}

// prefix answers a key prefix of the test's own, so tests sharing one
// redis-server never see each other's keys.
func prefix() string { return "test-" + rand.Text()[:12] + ":" }

func TestStore(t *testing.T) {
	skipShort(t)
	srv := testenv.Redis(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s := redis.New(goredis.NewClient(&goredis.Options{Addr: srv.Addr}),
			redis.Options{Prefix: prefix(), AuditCap: storetest.AuditCap})
		t.Cleanup(func() { must(t, s.Close()) })
		return s
	})
}

// rawRedis reads and writes records under a store's prefix directly.
type rawRedis struct {
	c      *goredis.Client
	prefix string
}

func (r rawRedis) Record(t *testing.T, kind, name string) []byte {
	t.Helper()
	data, err := r.c.Get(t.Context(), r.prefix+kind+":"+name).Bytes()
	if err != nil {
		t.Fatalf("raw %s %s: %v", kind, name, err)
	}
	return data
}

func (r rawRedis) SetRecord(t *testing.T, kind, name string, data []byte) {
	t.Helper()
	if err := r.c.Set(t.Context(), r.prefix+kind+":"+name, data, goredis.KeepTTL).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestStore_Compat(t *testing.T) {
	skipShort(t)
	srv := testenv.Redis(t)
	storetest.RunCompat(t, func(t *testing.T) (store.Store, storetest.Raw) {
		p := prefix()
		raw := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
		t.Cleanup(func() { raw.Close() })
		s := redis.New(goredis.NewClient(&goredis.Options{Addr: srv.Addr}), redis.Options{Prefix: p, AuditCap: storetest.AuditCap})
		t.Cleanup(func() { must(t, s.Close()) })
		return s, rawRedis{raw, p}
	})
}

func TestStore_KeysUnderPrefix(t *testing.T) {
	skipShort(t)
	srv := testenv.Redis(t)
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	ctx := t.Context()
	p := prefix()
	s := redis.New(c, redis.Options{Prefix: p})
	defer s.Close()
	must(t, s.CreateCluster(ctx, store.Cluster{Name: "prod"}))
	must(t, s.SetDefaultCluster(ctx, "prod"))
	must(t, s.CreateSession(ctx, store.Session{ID: "s", Username: "alice", ExpiresAt: time.Now().Add(time.Hour)}))
	must(t, s.AppendAudit(ctx, store.AuditRecord{User: "alice", Action: "x"}))
	_, err := s.AddFailure(ctx, "k", time.Hour)
	must(t, err)

	keys, err := c.Keys(ctx, "*").Result()
	must(t, err)
	var mine int
	for _, k := range keys {
		if strings.HasPrefix(k, p) {
			mine++
		}
	}
	if mine < 5 {
		t.Errorf("%d keys under %q among %v, want at least 5", mine, p, keys)
	}
	if s.Kind() != "redis" {
		t.Errorf("Kind = %q", s.Kind())
	}
	must(t, s.Close())
	must(t, s.Close())
	if err := s.Ping(ctx); !errors.Is(err, errs.ErrUnavailable) {
		t.Errorf("Ping after Close: %v, want unavailable", err)
	}
}

// TestStore_Unavailable stops Redis under a live store: calls fail as
// unavailable without naming the password, and work again once Redis is
// back, with the same Store and client.
func TestStore_Unavailable(t *testing.T) {
	skipShort(t)
	const password = "pw-Zq81-secret"
	srv := testenv.NewRedis(t, password)
	ctx := t.Context()
	c, err := redis.Connect(redis.ConnOptions{URL: srv.URL(2)})
	must(t, err)
	s := redis.New(c, redis.Options{})
	defer s.Close()
	must(t, s.Ping(ctx))
	must(t, s.CreateCluster(ctx, store.Cluster{Name: "prod"}))

	must(t, srv.Stop())
	for name, err := range map[string]error{
		"Ping":          s.Ping(ctx),
		"GetCluster":    second(s.GetCluster(ctx, "prod")),
		"CreateCluster": s.CreateCluster(ctx, store.Cluster{Name: "dev"}),
		"AppendAudit":   s.AppendAudit(ctx, store.AuditRecord{Action: "x"}),
	} {
		wantUnavailable(t, name, err, password)
	}

	must(t, srv.Start())
	eventually(t, "the store to answer again", func() bool { return s.Ping(ctx) == nil })
	got, err := s.GetCluster(ctx, "prod")
	must(t, err)
	if got.Name != "prod" {
		t.Errorf("GetCluster after restart = %+v", got)
	}
}

func TestConnect(t *testing.T) {
	skipShort(t)
	const password = "pw-Zq81-secret"
	srv := testenv.NewRedis(t, password)
	ctx := t.Context()

	t.Run("password overrides the URL's", func(t *testing.T) {
		c, err := redis.Connect(redis.ConnOptions{URL: "redis://:wrong@" + srv.Addr + "/0", Password: password})
		must(t, err)
		s := redis.New(c, redis.Options{})
		defer s.Close()
		must(t, s.Ping(ctx))
	})
	t.Run("wrong password", func(t *testing.T) {
		// Connect makes no contact; the first call says the credentials
		// are refused, in words and to CredentialsRefused, without them.
		for _, url := range []string{"redis://:" + password + "x@" + srv.Addr + "/0", "redis://" + srv.Addr + "/0"} {
			c, err := redis.Connect(redis.ConnOptions{URL: url})
			must(t, err)
			s := redis.New(c, redis.Options{})
			err = s.Ping(ctx)
			s.Close()
			wantUnavailable(t, "Ping with refused credentials", err, password)
			if !redis.CredentialsRefused(err) || !strings.Contains(err.Error(), "refused the credentials") {
				t.Errorf("Ping with refused credentials: %v (CredentialsRefused %v)", err, redis.CredentialsRefused(err))
			}
		}
	})
	t.Run("malformed URL", func(t *testing.T) {
		for _, url := range []string{
			"redis://:" + password + "/x@" + srv.Addr + "/0",
			"redis://:" + password + "@" + srv.Addr + "/zero",
			"http://:" + password + "@" + srv.Addr,
		} {
			_, err := redis.Connect(redis.ConnOptions{URL: url})
			if err == nil || strings.Contains(err.Error(), password) || !strings.Contains(err.Error(), "redis url") {
				t.Errorf("Connect(%q): %v, want an error without the password", url, err)
			}
		}
	})
	t.Run("down at start", func(t *testing.T) {
		down := testenv.NewRedis(t, "")
		must(t, down.Stop())
		c, err := redis.Connect(redis.ConnOptions{URL: down.URL(0)})
		must(t, err)
		s := redis.New(c, redis.Options{})
		defer s.Close()
		err = s.Ping(ctx)
		wantUnavailable(t, "Ping", err, "")
		if redis.CredentialsRefused(err) {
			t.Errorf("Ping of a Redis that is down: %v counts as refused credentials", err)
		}
		must(t, down.Start())
		eventually(t, "Redis to answer", func() bool { return s.Ping(ctx) == nil })
	})
	t.Run("needs an address", func(t *testing.T) {
		if _, err := redis.Connect(redis.ConnOptions{}); err == nil {
			t.Error("Connect without URL or sentinels: no error")
		}
		if _, err := redis.Connect(redis.ConnOptions{Sentinels: []string{"127.0.0.1:1"}}); err == nil {
			t.Error("Connect with sentinels but no master: no error")
		}
	})
}

func wantUnavailable(t *testing.T, name string, err error, password string) {
	t.Helper()
	if !errors.Is(err, errs.ErrUnavailable) {
		t.Errorf("%s: %v, want unavailable", name, err)
		return
	}
	if pub, _ := errs.Public(err); !strings.HasPrefix(pub.Message, "store unavailable: redis") {
		t.Errorf("%s: public message %q", name, pub.Message)
	}
	if password != "" && strings.Contains(err.Error(), password) {
		t.Errorf("%s: the error names the password: %v", name, err)
	}
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

func second[T any](_ T, err error) error { return err }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

package redis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/go-redsync/redsync/v4"
	rsgoredis "github.com/go-redsync/redsync/v4/redis/goredis/v9"
	goredis "github.com/redis/go-redis/v9"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/lock"
)

// retryAfter is what a refused Acquire advises the client to wait.
const retryAfter = 2 * time.Second

// Options tunes a Locker; zero values take the defaults.
type Options struct {
	// Prefix is put before every key (default "swarmops:lock:").
	Prefix string
	// TTL is how long a lease lives without extension (default 8s).
	TTL time.Duration
	// Wait is how long Acquire waits for a taken key (default 5s).
	Wait time.Duration
}

// Locker hands out leases kept in Redis.
type Locker struct {
	rs   *redsync.Redsync
	opts Options
	// waiting, a test hook set only through export_test.go, is called
	// each time an Acquire finds its key taken and is about to wait before
	// trying again, so the contract suite knows a waiter is blocked
	// without sleeping.
	waiting func(ctx context.Context, key string)
}

var _ lock.Locker = (*Locker)(nil)

// New answers a Locker over client, which it never closes (the store that
// shares the client does).
func New(client goredis.UniversalClient, opts Options) *Locker {
	if opts.Prefix == "" {
		opts.Prefix = "swarmops:lock:"
	}
	if opts.TTL <= 0 {
		opts.TTL = 8 * time.Second
	}
	if opts.Wait <= 0 {
		opts.Wait = 5 * time.Second
	}
	return &Locker{rs: redsync.New(rsgoredis.NewPool(client)), opts: opts}
}

// Acquire takes key, trying again every 50-150ms until the locker's wait or
// ctx's end. Redis failing is errs.ErrUnavailable at once, not a wait.
func (l *Locker) Acquire(ctx context.Context, key string) (lock.Lease, error) {
	m := l.rs.NewMutex(l.opts.Prefix+key, redsync.WithExpiry(l.opts.TTL), redsync.WithTries(1))
	deadline := time.Now().Add(lock.WaitOf(ctx, l.opts.Wait))
	for {
		err := m.TryLockContext(ctx)
		if err == nil {
			return hold(m, l.opts.TTL), nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("lock %s: %w", key, ctx.Err())
		}
		if u := unavailable(err); u != nil {
			return nil, fmt.Errorf("lock %s: %w", key, u)
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, errs.Locked(retryAfter, "%s is locked by another operation", key)
		}
		if l.waiting != nil {
			l.waiting(ctx, key)
		}
		t := time.NewTimer(min(left, time.Duration(50+rand.IntN(100))*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("lock %s: %w", key, ctx.Err())
		case <-t.C:
		}
	}
}

// unavailable answers an errs.ErrUnavailable error when err says Redis
// failed (rather than the key being taken), else nil.
func unavailable(err error) error {
	var rerr *redsync.RedisError
	if errors.As(err, &rerr) {
		return errs.Unavailable(err, "locks unavailable: redis is not reachable or not ready")
	}
	return nil
}

type lease struct {
	m    *redsync.Mutex
	ttl  time.Duration
	lost chan struct{}
	stop chan struct{}
	done chan struct{} // closed when the extender has returned
	once sync.Once
}

func hold(m *redsync.Mutex, ttl time.Duration) *lease {
	ls := &lease{m: m, ttl: ttl, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go ls.extend()
	return ls
}

// extend renews the lease every TTL/3 until it is released or lost: taken
// by another holder, or not renewed (Redis unreachable) before it ran out.
func (ls *lease) extend() {
	defer close(ls.done)
	every := ls.ttl / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ls.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		ok, err := ls.m.ExtendContext(ctx)
		cancel()
		if ok {
			continue
		}
		if unavailable(err) == nil || !time.Now().Before(ls.m.Until()) {
			close(ls.lost)
			return
		}
	}
}

func (ls *lease) Lost() <-chan struct{} { return ls.lost }

// Release stops the extension and frees the key. A lease that already
// expired or was taken over is released without error: the key is not
// ours any more, and Lost has said so.
func (ls *lease) Release(ctx context.Context) error {
	var err error
	ls.once.Do(func() {
		close(ls.stop)
		<-ls.done
		// Free the key even when the caller's request was cancelled, so others
		// need not wait out the TTL.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ls.ttl)
		defer cancel()
		_, err = ls.m.UnlockContext(ctx)
		var taken *redsync.ErrTaken
		if errors.Is(err, redsync.ErrLockAlreadyExpired) || errors.As(err, &taken) {
			err = nil
		}
		if u := unavailable(err); u != nil {
			err = fmt.Errorf("unlock %s: %w", ls.m.Name(), u)
		} else if err != nil {
			err = fmt.Errorf("unlock %s: %w", ls.m.Name(), err)
		}
	})
	return err
}

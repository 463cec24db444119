package local

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/lock"
)

// retryAfter is what a refused Acquire advises the client to wait.
const retryAfter = 2 * time.Second

// Locker is a keyed mutex. Its zero value is not usable; call New.
type Locker struct {
	wait time.Duration
	mu   sync.Mutex
	keys map[string]*slot // only keys held or waited for
	// waiting, a test hook set only by this package's tests, is called
	// when an Acquire finds its key taken and is about to wait for it, so
	// the contract suite knows a waiter is blocked without sleeping.
	waiting func(ctx context.Context, key string)
}

// slot is one key's mutex: its channel is full while the key is held.
type slot struct {
	held chan struct{}
	refs int // holders and waiters
}

var _ lock.Locker = (*Locker)(nil)

// New answers a Locker whose Acquire waits up to wait for a taken key.
func New(wait time.Duration) *Locker {
	return &Locker{wait: wait, keys: map[string]*slot{}}
}

// Acquire takes key, waiting up to the locker's wait or ctx's end.
func (l *Locker) Acquire(ctx context.Context, key string) (lock.Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	s := l.ref(key)
	select {
	case s.held <- struct{}{}:
		return &lease{l: l, key: key, s: s}, nil
	default:
	}
	if l.waiting != nil {
		l.waiting(ctx, key)
	}
	timer := time.NewTimer(lock.WaitOf(ctx, l.wait))
	defer timer.Stop()
	select {
	case s.held <- struct{}{}:
		return &lease{l: l, key: key, s: s}, nil
	case <-ctx.Done():
		l.unref(key, s)
		return nil, fmt.Errorf("lock %s: %w", key, ctx.Err())
	case <-timer.C:
		l.unref(key, s)
		return nil, errs.Locked(retryAfter, "%s is locked by another operation", key)
	}
}

func (l *Locker) ref(key string) *slot {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.keys[key]
	if s == nil {
		s = &slot{held: make(chan struct{}, 1)}
		l.keys[key] = s
	}
	s.refs++
	return s
}

func (l *Locker) unref(key string, s *slot) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.refs--; s.refs == 0 {
		delete(l.keys, key)
	}
}

// never is the Lost channel of every local lease.
var never = make(chan struct{})

type lease struct {
	l    *Locker
	key  string
	s    *slot
	once sync.Once
}

func (ls *lease) Release(context.Context) error {
	ls.once.Do(func() {
		<-ls.s.held
		ls.l.unref(ls.key, ls.s)
	})
	return nil
}

func (ls *lease) Lost() <-chan struct{} { return never }

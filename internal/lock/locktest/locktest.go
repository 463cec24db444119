package locktest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/lock"
)

const (
	// Wait is the wait the lockers given to Run must have.
	Wait = 500 * time.Millisecond
	// TTL is the longest lease lifetime (without extension) the lockers
	// given to Run may have; a lease is held for 3*TTL to see it extended.
	TTL = time.Second
)

// Run runs the contract suite. newLocker answers a new Locker whose
// Acquire waits Wait and whose leases, if they expire, do so after at most
// TTL unless extended. It is called from parallel subtests, each using its
// own keys.
//
// The Locker must call waiting, a test hook, each time one of its Acquire
// calls has found the key taken and is about to wait for it, with that
// call's context (more than once per call is fine). The suite learns from
// it that a waiter is blocked, instead of sleeping and hoping it is.
func Run(t *testing.T, newLocker func(t *testing.T, waiting func(ctx context.Context, key string)) lock.Locker) {
	tests := []struct {
		name string
		test func(t *testing.T, l lock.Locker)
	}{
		{"Exclusive", testExclusive},
		{"TimesOut", testTimesOut},
		{"WaitOfTheCall", testWaitOfTheCall},
		{"ReleaseFrees", testReleaseFrees},
		{"ContextEndsWait", testContextEndsWait},
		{"KeysIndependent", testKeysIndependent},
		{"DoubleRelease", testDoubleRelease},
		{"HeldBeyondTTL", testHeldBeyondTTL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, newLocker(t, waiting))
		})
	}
}

// onWaitKey carries, in an Acquire's context, what to do when that Acquire
// says it waits.
type onWaitKey struct{}

// onWait answers ctx carrying f, which waiting calls when an Acquire under
// the context says it waits for key.
func onWait(ctx context.Context, f func(key string)) context.Context {
	return context.WithValue(ctx, onWaitKey{}, f)
}

// waiting is the hook Run gives every locker: it runs the function the
// Acquire's context carries, if any.
func waiting(ctx context.Context, key string) {
	if f, ok := ctx.Value(onWaitKey{}).(func(string)); ok {
		f(key)
	}
}

// exclusion is what testExclusive's workers share, under one mutex whose
// cond says that something changed.
type exclusion struct {
	mu       sync.Mutex
	changed  sync.Cond
	inside   int  // holders of the key now: never more than one
	blocked  int  // workers in an Acquire that said it waits for the key
	busy     int  // workers with turns left
	expired  bool // the test ran out of time
	reported bool // a holder has reported the time out
}

// testExclusive has workers take turns on one key; no two are ever inside
// together. Each holder keeps the key until another worker is blocked on
// it (or, if the locker is broken, has got in beside it), so every turn
// overlaps an attempt to take the key. A turn refused with ErrLocked is
// tried again.
func testExclusive(t *testing.T, l lock.Locker) {
	const workers, turns = 8, 5
	ex := &exclusion{busy: workers}
	ex.changed.L = &ex.mu
	limit := time.AfterFunc(30*time.Second, func() {
		ex.mu.Lock()
		defer ex.mu.Unlock()
		ex.expired = true
		ex.changed.Broadcast()
	})
	defer limit.Stop()
	var (
		done atomic.Int32
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			defer ex.leave()
			for n := 0; n < turns; {
				lease, err := ex.acquire(t.Context(), l, "exclusive")
				if errors.Is(err, errs.ErrLocked) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				ex.hold(t)
				done.Add(1)
				n++
				release(t, lease)
			}
		})
	}
	wg.Wait()
	if got := done.Load(); got != workers*turns {
		t.Errorf("%d turns done, want %d", got, workers*turns)
	}
}

// acquire calls l.Acquire, counting the worker as blocked from the moment
// the Acquire says it waits until it returns.
func (ex *exclusion) acquire(ctx context.Context, l lock.Locker, key string) (lock.Lease, error) {
	said := false
	lease, err := l.Acquire(onWait(ctx, func(string) {
		ex.mu.Lock()
		defer ex.mu.Unlock()
		if !said {
			said = true
			ex.blocked++
			ex.changed.Broadcast()
		}
	}), key)
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if said {
		ex.blocked--
	}
	return lease, err
}

// hold is one turn inside: it waits until another worker is blocked on the
// key or inside with it, or no other worker has turns left.
func (ex *exclusion) hold(t *testing.T) {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	ex.inside++
	ex.changed.Broadcast()
	for ex.blocked == 0 && ex.inside == 1 && ex.busy > 1 && !ex.expired {
		ex.changed.Wait()
	}
	if ex.inside != 1 {
		t.Errorf("%d holders of one key at once", ex.inside)
	}
	if ex.expired && !ex.reported {
		ex.reported = true
		t.Errorf("held the key 30s while %d other workers had turns left, and none said it waits for the key", ex.busy-1)
	}
	ex.inside--
}

// leave says a worker has no turns left.
func (ex *exclusion) leave() {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	ex.busy--
	ex.changed.Broadcast()
}

func testTimesOut(t *testing.T, l lock.Locker) {
	lease := acquire(t, l, "busy")
	defer release(t, lease)
	_, err := l.Acquire(t.Context(), "busy")
	if !errors.Is(err, errs.ErrLocked) {
		t.Fatalf("Acquire of a held key: %v, want locked", err)
	}
	if pub, ok := errs.Public(err); !ok || pub.RetryAfter <= 0 {
		t.Errorf("Acquire of a held key: %#v, want an *errs.Error with a RetryAfter", err)
	}
}

// testWaitOfTheCall: a wait set with lock.WithWait replaces the locker's:
// a holder that releases after the locker's own wait, but within the
// call's, is waited for.
func testWaitOfTheCall(t *testing.T, l lock.Locker) {
	lease := acquire(t, l, "call-wait")
	released := make(chan struct{})
	go func() {
		defer close(released)
		time.Sleep(2 * Wait)
		release(t, lease)
	}()
	got, err := l.Acquire(lock.WithWait(t.Context(), 10*Wait), "call-wait")
	if err != nil {
		t.Fatalf("Acquire with a wait of %v while the holder releases after %v: %v", 10*Wait, 2*Wait, err)
	}
	<-released
	release(t, got)
}

func testReleaseFrees(t *testing.T, l lock.Locker) {
	release(t, acquire(t, l, "k"))
	release(t, acquire(t, l, "k"))

	// A waiter blocked on the key gets it once it is released.
	lease := acquire(t, l, "k")
	blocked := make(chan struct{})
	var once sync.Once
	ctx := onWait(t.Context(), func(string) { once.Do(func() { close(blocked) }) })
	got := make(chan error, 1)
	go func() {
		lease, err := l.Acquire(ctx, "k")
		if err == nil {
			err = lease.Release(t.Context())
		}
		got <- err
	}()
	select {
	case <-blocked:
	case err := <-got:
		t.Fatalf("Acquire of a held key returned (error %v) without saying it waits", err)
	}
	release(t, lease)
	if err := <-got; err != nil {
		t.Fatalf("waiter blocked on the key, after its release: %v", err)
	}
}

func testContextEndsWait(t *testing.T, l lock.Locker) {
	lease := acquire(t, l, "k")
	defer release(t, lease)
	// The context ends while the Acquire waits: the hook says it waits.
	ctx, cancel := context.WithCancel(t.Context())
	if _, err := l.Acquire(onWait(ctx, func(string) { cancel() }), "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire whose context ends while it waits: %v, want context.Canceled", err)
	}
	if _, err := l.Acquire(ctx, "free"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire of a free key with a cancelled context: %v, want context.Canceled", err)
	}
}

func testKeysIndependent(t *testing.T, l lock.Locker) {
	a := acquire(t, l, lock.ObjectKey("prod", "service", "a"))
	b := acquire(t, l, lock.ObjectKey("prod", "service", "b"))
	c := acquire(t, l, lock.ClusterKey("prod"))
	release(t, a)
	release(t, b)
	release(t, c)
}

func testDoubleRelease(t *testing.T, l lock.Locker) {
	lease := acquire(t, l, "k")
	release(t, lease)
	release(t, lease)
	other := acquire(t, l, "k")
	// The first lease's third release must not free the new holder's key.
	release(t, lease)
	if _, err := l.Acquire(t.Context(), "k"); !errors.Is(err, errs.ErrLocked) {
		t.Fatalf("Acquire after a stale release: %v, want locked", err)
	}
	release(t, other)
}

// testHeldBeyondTTL holds a key three TTLs while another caller keeps
// trying: the holder is never displaced and its lease never lost.
func testHeldBeyondTTL(t *testing.T, l lock.Locker) {
	lease := acquire(t, l, "long")
	until := time.Now().Add(3 * TTL)
	for time.Now().Before(until) {
		other, err := l.Acquire(t.Context(), "long")
		if err == nil {
			release(t, other)
			t.Fatal("a second caller got a key held beyond its TTL")
		}
		if !errors.Is(err, errs.ErrLocked) {
			t.Fatal(err)
		}
	}
	select {
	case <-lease.Lost():
		t.Fatal("lease lost while held")
	default:
	}
	release(t, lease)
	release(t, acquire(t, l, "long"))
}

func acquire(t *testing.T, l lock.Locker, key string) lock.Lease {
	t.Helper()
	lease, err := l.Acquire(t.Context(), key)
	if err != nil {
		t.Fatalf("Acquire(%q): %v", key, err)
	}
	return lease
}

func release(t *testing.T, lease lock.Lease) {
	t.Helper()
	if err := lease.Release(t.Context()); err != nil {
		t.Errorf("Release: %v", err)
	}
}

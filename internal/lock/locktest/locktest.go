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
func Run(t *testing.T, newLocker func(t *testing.T) lock.Locker) {
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
			tc.test(t, newLocker(t))
		})
	}
}

// testExclusive has goroutines take turns on one key; no two are ever
// inside together. A turn refused with ErrLocked is tried again.
func testExclusive(t *testing.T, l lock.Locker) {
	const workers, turns = 6, 5
	var (
		inside, done atomic.Int32
		wg           sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for n := 0; n < turns; {
				lease, err := l.Acquire(t.Context(), "exclusive")
				if errors.Is(err, errs.ErrLocked) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				if in := inside.Add(1); in != 1 {
					t.Errorf("%d holders of one key at once", in)
				}
				time.Sleep(time.Millisecond) // let an overlapping holder show
				inside.Add(-1)
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

	// A waiter gets the key once it is released.
	lease := acquire(t, l, "k")
	got := make(chan error, 1)
	go func() {
		lease, err := l.Acquire(t.Context(), "k")
		if err == nil {
			err = lease.Release(t.Context())
		}
		got <- err
	}()
	time.Sleep(20 * time.Millisecond) // usually the waiter is waiting; either way it must win
	release(t, lease)
	if err := <-got; err != nil {
		t.Fatalf("waiter: %v", err)
	}
}

func testContextEndsWait(t *testing.T, l lock.Locker) {
	lease := acquire(t, l, "k")
	defer release(t, lease)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := l.Acquire(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire with a cancelled context: %v, want context.Canceled", err)
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

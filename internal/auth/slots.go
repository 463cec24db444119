package auth

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/swarmops/swarmops/internal/errs"
)

// slots is a semaphore with a bounded queue: CPU-heavy work (password
// hashes) runs in at most cap(free) goroutines at once, at most maxWait
// callers wait, each for at most wait; the rest are refused at once, so
// an unauthenticated flood costs neither CPU nor an unbounded queue.
type slots struct {
	free    chan struct{}
	waiting atomic.Int64
	maxWait int64
	wait    time.Duration
}

func newSlots(n, maxWaiting int, wait time.Duration) *slots {
	return &slots{free: make(chan struct{}, n), maxWait: int64(maxWaiting), wait: wait}
}

// busy is the answer when no slot is free in time.
func busy() error {
	return errs.RateLimited(time.Second, "too many logins are being checked at once; try again in a second")
}

// acquire takes a slot and answers the function that gives it back.
func (s *slots) acquire(ctx context.Context) (func(), error) {
	select {
	case s.free <- struct{}{}:
		return s.release, nil
	default:
	}
	if s.waiting.Add(1) > s.maxWait {
		s.waiting.Add(-1)
		return nil, busy()
	}
	defer s.waiting.Add(-1)
	t := time.NewTimer(s.wait)
	defer t.Stop()
	select {
	case s.free <- struct{}{}:
		return s.release, nil
	case <-t.C:
		return nil, busy()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *slots) release() { <-s.free }

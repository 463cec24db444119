package local

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/swarmops/swarmops/internal/lock"
	"github.com/swarmops/swarmops/internal/lock/locktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLocker(t *testing.T) {
	locktest.Run(t, func(t *testing.T, waiting func(context.Context, string)) lock.Locker {
		l := New(locktest.Wait)
		l.waiting = waiting
		t.Cleanup(func() {
			// Every key is free again: no entry may stay behind.
			l.mu.Lock()
			defer l.mu.Unlock()
			if n := len(l.keys); n != 0 {
				t.Errorf("%d keys left in the locker after the test: %v", n, l.keys)
			}
		})
		return l
	})
}

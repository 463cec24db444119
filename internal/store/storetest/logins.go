package storetest

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// testLoginStates checks that a login state is answered once, whoever
// asks first, and never after its TTL.
func testLoginStates(t *testing.T, s store.Store) {
	ctx := t.Context()
	ok(t, s.PutLoginState(ctx, "st1", []byte(`{"nonce":"n1"}`), time.Minute))
	isKind(t, s.PutLoginState(ctx, "st1", []byte("other"), time.Minute), errs.ErrConflict)
	v, err := s.TakeLoginState(ctx, "st1")
	ok(t, err)
	same(t, string(v), `{"nonce":"n1"}`)
	_, err = s.TakeLoginState(ctx, "st1")
	isKind(t, err, errs.ErrNotFound)
	_, err = s.TakeLoginState(ctx, "never")
	isKind(t, err, errs.ErrNotFound)

	// Taken at once by many callers: exactly one gets it.
	ok(t, s.PutLoginState(ctx, "race", []byte("v"), time.Minute))
	var got atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.TakeLoginState(ctx, "race")
			switch {
			case err == nil:
				got.Add(1)
			case !errors.Is(err, errs.ErrNotFound):
				t.Errorf("TakeLoginState: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := got.Load(); n != 1 {
		t.Fatalf("a login state taken by 16 callers at once was answered %d times, want once", n)
	}

	// A short TTL passes: once it has, the state is gone.
	ok(t, s.PutLoginState(ctx, "short", []byte("v"), 150*time.Millisecond))
	deadline := time.Now().Add(150 * time.Millisecond)
	eventually(t, "the login state's TTL to pass", func() bool { return time.Now().After(deadline) })
	_, err = s.TakeLoginState(ctx, "short")
	isKind(t, err, errs.ErrNotFound)
}

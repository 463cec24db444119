package store

import (
	"context"
	"sync"
)

// ReadAhead asks, through a request's context, that the request's first
// read of the store (its session's, when it authenticates) bring along
// the read its handler makes first, so that a remote store answers both in
// one round trip instead of two. A page of the web UI and the API's
// cluster list both start by listing the registry: with Redis, such a
// request then costs one round trip in all (issue 16). A store that has
// no round trips to spare (local) ignores it.
//
// What is read ahead is read when the request starts, as the handler's own
// read would have been a moment later, so a write that any instance made
// before the request is seen all the same. It is taken at most once, and a
// write through the store in the same request drops it: a read after a
// write never answers what was read before the write. Only requests that
// change nothing should ask for it.
type ReadAhead struct {
	// Clusters asks for what ListClustersPublic answers: the cluster
	// registry and the default mark.
	Clusters bool

	mu    sync.Mutex
	value any
	held  bool
}

type readAheadKey struct{}

// WithReadAhead answers ctx carrying ra.
func WithReadAhead(ctx context.Context, ra *ReadAhead) context.Context {
	return context.WithValue(ctx, readAheadKey{}, ra)
}

// ReadAheadOf answers the read-ahead ctx carries, nil when none.
func ReadAheadOf(ctx context.Context) *ReadAhead {
	ra, _ := ctx.Value(readAheadKey{}).(*ReadAhead)
	return ra
}

// Put keeps what a store read ahead, in its own form, for Take.
func (ra *ReadAhead) Put(v any) {
	if ra == nil {
		return
	}
	ra.mu.Lock()
	defer ra.mu.Unlock()
	ra.value, ra.held = v, true
}

// Take answers what Put kept, once; false when nothing is kept (none was
// read ahead, it was taken, or a write dropped it).
func (ra *ReadAhead) Take() (any, bool) {
	if ra == nil {
		return nil, false
	}
	ra.mu.Lock()
	defer ra.mu.Unlock()
	v, ok := ra.value, ra.held
	ra.value, ra.held = nil, false
	return v, ok
}

// Drop forgets what was read ahead: the request wrote to the store.
func (ra *ReadAhead) Drop() {
	if ra == nil {
		return
	}
	ra.mu.Lock()
	defer ra.mu.Unlock()
	ra.value, ra.held = nil, false
}

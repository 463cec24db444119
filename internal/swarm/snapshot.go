package swarm

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/swarmops/swarmops/internal/store"
)

// maxSnapshots bounds the read answers an instance keeps to serve while a
// swarm has no leader: the newest of each read (a list, or one object's
// detail) per cluster, least recently used dropped first.
const maxSnapshots = 512

// snapshots are the last successful engine answers of reads, by cluster
// and read.
type snapshots struct {
	mu    sync.Mutex
	order *list.List // of *snapshot, most recently used first
	by    map[string]*list.Element
}

type snapshot struct {
	key string
	at  time.Time
	v   any
}

func newSnapshots() *snapshots {
	return &snapshots{order: list.New(), by: map[string]*list.Element{}}
}

func (s *snapshots) put(key string, v any, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.by[key]; ok {
		el.Value = &snapshot{key: key, at: at, v: v}
		s.order.MoveToFront(el)
		return
	}
	s.by[key] = s.order.PushFront(&snapshot{key: key, at: at, v: v})
	for s.order.Len() > maxSnapshots {
		last := s.order.Back()
		s.order.Remove(last)
		delete(s.by, last.Value.(*snapshot).key)
	}
}

func (s *snapshots) get(key string) (*snapshot, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.by[key]
	if !ok {
		return nil, false
	}
	s.order.MoveToFront(el)
	return el.Value.(*snapshot), true
}

// forget drops a cluster's snapshots (it was removed or registered anew).
func (s *snapshots) forget(cluster string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prefix := cluster + "\x00"
	for key, el := range s.by {
		if len(key) >= len(prefix) && key[:len(prefix)] == prefix {
			s.order.Remove(el)
			delete(s.by, key)
		}
	}
}

// Freshness says whether a request's answer came, in part, from
// snapshots rather than from the engine.
type Freshness struct {
	mu     sync.Mutex
	stale  bool
	since  time.Time
	reason string
}

type freshnessKey struct{}

// WithFreshness answers ctx carrying a Freshness that the reads made with
// it fill in.
func WithFreshness(ctx context.Context) (context.Context, *Freshness) {
	fr := &Freshness{}
	return context.WithValue(ctx, freshnessKey{}, fr), fr
}

// Stale answers the time of the oldest snapshot used and why it was
// used; ok is false when every read was answered by the engine.
func (fr *Freshness) Stale() (since time.Time, reason string, ok bool) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	return fr.since, fr.reason, fr.stale
}

func markStale(ctx context.Context, since time.Time, reason string) {
	fr, _ := ctx.Value(freshnessKey{}).(*Freshness)
	if fr == nil {
		return
	}
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if !fr.stale || since.Before(fr.since) {
		fr.since = since.UTC()
	}
	fr.stale, fr.reason = true, reason
}

// readSnapshot runs the read fn through c's managers as do does, keeping
// its answer as the snapshot of key. While the swarm has no leader it
// answers the snapshot at once, marked stale on ctx's Freshness, or a
// quick 503 with Retry-After when it holds none. A read that takes longer
// than hedgeAfter asks meanwhile whether the swarm has a leader, so that
// the loss of one is noticed within a second rather than after the engine
// timeout; a read stuck on a manager that stopped answering pings starts
// again on the others.
func readSnapshot[T any](ctx context.Context, f *Fleet, c store.Cluster, key string, fn func(ctx context.Context, api Engine) (T, error)) (T, error) {
	v, _, err := readSnapshotAt(ctx, f, c, key, fn)
	return v, err
}

// readSnapshotAt is readSnapshot that also answers the endpoint that
// answered ("" for a snapshot).
func readSnapshotAt[T any](ctx context.Context, f *Fleet, c store.Cluster, key string, fn func(ctx context.Context, api Engine) (T, error)) (T, string, error) {
	keep := key != "" // "": a hedged read that keeps no snapshot
	key = c.Name + "\x00" + key
	if e, ok := f.ElectionOf(c.Name); ok {
		v, err := fromSnapshot[T](ctx, f, c.Name, key, e)
		return v, "", err
	}
	type result struct {
		v   T
		ep  string
		err error
	}
	var (
		cancel context.CancelFunc = func() {}
		done   chan result
	)
	start := func() {
		cancel()
		rctx, rcancel := context.WithCancel(ctx)
		cancel = rcancel
		ch := make(chan result, 1)
		done = ch
		go func() {
			var r result
			r.ep, r.err = f.do(rctx, c, read, func(ctx context.Context, api Engine) (err error) {
				r.v, err = fn(ctx, api)
				return err
			})
			ch <- r
		}()
	}
	start()
	defer func() { cancel() }()
	hedge := time.NewTimer(hedgeAfter)
	defer hedge.Stop()
	restarted := false
	for {
		select {
		case r := <-done:
			if r.err == nil {
				if keep {
					f.snaps.put(key, r.v, f.now())
				}
				return r.v, r.ep, nil
			}
			if e, ok := f.ElectionOf(c.Name); ok {
				v, err := fromSnapshot[T](ctx, f, c.Name, key, e)
				return v, "", err
			}
			return r.v, r.ep, r.err
		case <-hedge.C:
			p := f.quickProbe(ctx, c)
			switch {
			case ctx.Err() != nil:
				var zero T
				return zero, "", ctx.Err()
			case p.leaderless():
				v, err := fromSnapshot[T](ctx, f, c.Name, key, f.beginElection(ctx, c, p))
				return v, "", err
			case len(p.down) > 0 && !restarted:
				// The read may wait on a manager that is gone; the
				// probe marked it down, so a new one asks the others.
				restarted = true
				start()
			}
		case <-ctx.Done():
			var zero T
			return zero, "", ctx.Err()
		}
	}
}

// fromSnapshot answers key's snapshot while the cluster has no leader.
func fromSnapshot[T any](ctx context.Context, f *Fleet, cluster, key string, e Election) (T, error) {
	var zero T
	s, ok := f.snaps.get(key)
	if !ok {
		return zero, electionError(cluster, e, "this instance holds no earlier answer to this read; retry shortly")
	}
	v, ok := s.v.(T)
	if !ok {
		return zero, electionError(cluster, e, "this instance holds no earlier answer to this read; retry shortly")
	}
	markStale(ctx, s.at, e.Status)
	return v, nil
}

// hedgedRead runs fn as readSnapshot runs a read, keeping no snapshot: a
// swarm that lost its leader makes it fail within a second, with the
// election's error, rather than after the engine timeout.
func (f *Fleet) hedgedRead(ctx context.Context, c store.Cluster, fn func(ctx context.Context, api Engine) error) error {
	_, _, err := readSnapshotAt(ctx, f, c, "", func(ctx context.Context, api Engine) (struct{}, error) {
		return struct{}{}, fn(ctx, api)
	})
	return err
}

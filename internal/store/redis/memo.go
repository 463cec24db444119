package redis

import (
	"maps"
	"slices"
	"sync"

	"github.com/swarmops/swarmops/internal/store"
)

// memo remembers what the JSON texts of records decoded to, by the exact
// text. Every read still asks Redis, which answers what is stored now; the
// memo only spares decoding the same text again (a cluster listing decodes
// every record of the registry on each request, authenticating a request
// its session and user), so nothing it answers can be stale: a logout, a
// new password or role, a removed user or cluster is what Redis answers,
// memo or not. Values are copied in and out: a caller owns what it gets.
type memo[T any] struct {
	clone func(T) T
	mu    sync.Mutex
	m     map[string]T
	size  int // bytes of the texts held
}

// memoBytes bounds the texts a memo holds; past it, it starts again empty
// (records change seldom, so a registry fits many times over).
const memoBytes = 1 << 20

func newMemo[T any](clone func(T) T) *memo[T] {
	return &memo[T]{clone: clone, m: map[string]T{}}
}

// decode answers what data decodes to.
func (m *memo[T]) decode(data string) (T, error) {
	m.mu.Lock()
	v, ok := m.m[data]
	m.mu.Unlock()
	if ok {
		return m.clone(v), nil
	}
	v, err := decode[T](data)
	if err != nil || len(data) > memoBytes/16 {
		return v, err
	}
	kept := m.clone(v)
	m.mu.Lock()
	if m.size+len(data) > memoBytes {
		clear(m.m)
		m.size = 0
	}
	if _, ok := m.m[data]; !ok {
		m.m[data] = kept
		m.size += len(data)
	}
	m.mu.Unlock()
	return v, nil
}

// cloneCluster answers a copy of c that shares nothing with it.
func cloneCluster(c store.Cluster) store.Cluster {
	c.Endpoints = slices.Clone(c.Endpoints)
	c.Labels = maps.Clone(c.Labels)
	if c.TLS != nil {
		t := *c.TLS
		t.KeySealed = slices.Clone(t.KeySealed)
		c.TLS = &t
	}
	return c
}

// cloneUser answers a copy of u that shares nothing with it.
func cloneUser(u store.User) store.User {
	u.PasswordHash = slices.Clone(u.PasswordHash)
	return u
}

// cloneSession answers s: a Session holds no references.
func cloneSession(s store.Session) store.Session { return s }

// memos are a Store's memos, one per kind of record.
type memos struct {
	clusters *memo[store.Cluster]
	users    *memo[store.User]
	sessions *memo[store.Session]
}

func newMemos() memos {
	return memos{clusters: newMemo(cloneCluster), users: newMemo(cloneUser), sessions: newMemo(cloneSession)}
}

// decodeCluster decodes a cluster record through the store's memo.
func (s *Store) decodeCluster(data string) (store.Cluster, error) {
	return s.memo.clusters.decode(data)
}

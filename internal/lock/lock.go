package lock

import (
	"context"
	"strings"
)

// Locker hands out exclusive leases on keys.
type Locker interface {
	// Acquire waits until key is free, for at most the locker's wait time
	// (or ctx's end), and answers an *errs.Error of kind errs.ErrLocked with
	// a RetryAfter when it stays taken.
	Acquire(ctx context.Context, key string) (Lease, error)
}

// Lease is a held lock.
type Lease interface {
	// Release frees the key. Releasing twice is harmless.
	Release(ctx context.Context) error
	// Lost is closed when the lease could not be extended and another
	// instance may now hold the key; a careful holder stops its work.
	Lost() <-chan struct{}
}

// ClusterKey is the key of cluster-wide operations (init, refresh, token
// rotation, stack deploy and remove, node join and leave).
func ClusterKey(cluster string) string { return "cluster:" + cluster }

// RegistrationKey serializes registering swarms, so that one swarm is
// never registered twice under two names.
const RegistrationKey = "registrations"

// ObjectKey is the key of one object of a cluster, e.g.
// ObjectKey("prod", "service", id).
func ObjectKey(cluster, kind, id string) string {
	return strings.Join([]string{"cluster", cluster, kind, id}, ":")
}

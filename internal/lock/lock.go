package lock

import (
	"context"
	"strings"
	"time"
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

// WithWait makes Acquire under ctx wait up to d for a taken key instead of
// the locker's own wait: a stack deploy that asked to wait for convergence
// also waits that long for a deploy of the same stack before it.
func WithWait(ctx context.Context, d time.Duration) context.Context {
	if d <= 0 {
		return ctx
	}
	return context.WithValue(ctx, waitKey{}, d)
}

type waitKey struct{}

// WaitOf answers the wait WithWait set on ctx, else def.
func WaitOf(ctx context.Context, def time.Duration) time.Duration {
	if d, ok := ctx.Value(waitKey{}).(time.Duration); ok {
		return d
	}
	return def
}

// StackKey is the key of a stack's deploys, rollbacks and removal. It is
// always taken before the locks of the stack's services.
func StackKey(cluster, stack string) string { return ObjectKey(cluster, "stack", stack) }

// ClusterKey is the key of cluster-wide operations (init, refresh, token
// rotation, node join and leave).
func ClusterKey(cluster string) string { return "cluster:" + cluster }

// RegistryKey is the key of changes to a registered image registry.
func RegistryKey(name string) string { return "registry:" + name }

// RegistrationKey serializes registering swarms, so that one swarm is
// never registered twice under two names.
const RegistrationKey = "registrations"

// ObjectKey is the key of one object of a cluster, e.g.
// ObjectKey("prod", "service", id).
func ObjectKey(cluster, kind, id string) string {
	return strings.Join([]string{"cluster", cluster, kind, id}, ":")
}

package swarm

import (
	"context"
	"fmt"

	"github.com/swarmops/swarmops/internal/lock"
)

// DeleteCluster forgets a cluster; the swarm itself is untouched.
func (f *Fleet) DeleteCluster(ctx context.Context, name string) (err error) {
	defer func() { f.audit.Record(ctx, "", "cluster.delete", name, "", err) }()
	return f.withLock(ctx, lock.ClusterKey(name), func(ctx context.Context) error {
		c, err := f.cluster(ctx, name)
		if err != nil {
			return err
		}
		if err := f.store.DeleteCluster(ctx, name); err != nil {
			return fmt.Errorf("delete cluster %q: %w", name, err)
		}
		f.pool.forget(c)
		return nil
	})
}

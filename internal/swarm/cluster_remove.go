package swarm

import (
	"context"
	"fmt"

	"github.com/swarmops/swarmops/internal/store"
)

// DeleteCluster forgets a cluster; the swarm itself is untouched.
func (f *Fleet) DeleteCluster(ctx context.Context, name string) error {
	return f.mutate(ctx, mutation{
		action: "cluster.delete", cluster: name,
		locked: func(ctx context.Context, c store.Cluster) error {
			if err := f.store.DeleteCluster(ctx, name); err != nil {
				return fmt.Errorf("delete cluster %q: %w", name, err)
			}
			f.pool.forget(c)
			return nil
		},
	})
}

package swarm

import (
	"context"

	"github.com/swarmops/swarmops/internal/stack"
	"github.com/swarmops/swarmops/internal/store"
)

// RemoveStack removes a stack as docker stack rm does: its services, then
// its secrets, configs and networks, under the stack's lock and its
// services' locks. Its revisions stay, so a later deploy continues them.
func (f *Fleet) RemoveStack(ctx context.Context, cluster, name string) (stack.Removed, error) {
	return mutateLocked(ctx, f, mutation{action: "stack.remove", cluster: cluster, kind: "stack", target: name},
		func(ctx context.Context, c store.Cluster) (stack.Removed, error) {
			var out stack.Removed
			err := f.withServiceLocks(ctx, c, name, func(ctx context.Context) error {
				_, err := f.do(ctx, c, batch, func(ctx context.Context, api Engine) (err error) {
					out, err = stack.Remove(ctx, api, name)
					return err
				})
				return err
			})
			return out, err
		})
}

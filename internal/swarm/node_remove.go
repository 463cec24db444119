package swarm

import (
	"context"

	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/errs"
)

// RemoveNode removes a node from the swarm's node list. A manager must be
// demoted first, and a node that is not down needs force.
func (f *Fleet) RemoveNode(ctx context.Context, cluster, id string, force bool) error {
	return f.mutate(ctx, mutation{
		action: "node.remove", cluster: cluster, kind: "node", target: id,
		resolve: resolveNode(cluster, id),
		prepare: func(ctx context.Context, api Engine, o *ref) error {
			n, err := inspectNode(ctx, api, cluster, o.ID)
			if err != nil {
				return err
			}
			return checkRemoval(cluster, n, force)
		},
		write: func(ctx context.Context, api Engine, o *ref) error {
			return api.NodeRemove(ctx, o.ID, swarm.NodeRemoveOptions{Force: force})
		},
		refused: refusedAsConflict,
	})
}

// checkRemoval refuses what the engine would refuse with a less helpful
// message: removing a manager (it must be demoted first, which the leader
// cannot be while it leads) or, without force, a node that still runs.
func checkRemoval(cluster string, n swarm.Node, force bool) error {
	name := n.Description.Hostname
	switch {
	case n.ManagerStatus != nil && n.ManagerStatus.Leader:
		return errs.Conflict("node %q is the leader of cluster %q and cannot be removed: once another manager leads, demote it (PATCH with {\"role\":\"worker\"}), then remove it", name, cluster)
	case n.Spec.Role == swarm.NodeRoleManager:
		return errs.Conflict("node %q is a manager of cluster %q; demote it first (PATCH with {\"role\":\"worker\"}), then remove it", name, cluster)
	case !force && n.Status.State != swarm.NodeStateDown:
		return errs.Conflict("node %q is %s, not down: make it leave the swarm first (POST .../nodes/leave) or remove it with ?force=true", name, n.Status.State)
	}
	return nil
}

package swarm

import (
	"context"
	"maps"

	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/errs"
)

// NodeChange is a change of a node's spec; zero fields stay as they are.
type NodeChange struct {
	Availability string            // active, pause or drain
	Role         string            // worker or manager; needs auth.NodeManage
	Labels       map[string]string // non-nil: replaces every label
	LabelsAdd    map[string]string
	LabelsRemove []string
}

func (ch NodeChange) validate() error {
	switch swarm.NodeAvailability(ch.Availability) {
	case "", swarm.NodeAvailabilityActive, swarm.NodeAvailabilityPause, swarm.NodeAvailabilityDrain:
	default:
		return errs.Invalid("availability", "expected active, pause or drain")
	}
	switch swarm.NodeRole(ch.Role) {
	case "", swarm.NodeRoleWorker, swarm.NodeRoleManager:
	default:
		return errs.Invalid("role", "expected worker or manager")
	}
	if ch.Labels != nil && (len(ch.LabelsAdd) > 0 || len(ch.LabelsRemove) > 0) {
		return errs.Invalid("labels", "give labels (replaces them all) or labels_add/labels_remove, not both")
	}
	if err := validLabels("labels", ch.Labels); err != nil {
		return err
	}
	if err := validLabels("labels_add", ch.LabelsAdd); err != nil {
		return err
	}
	for _, k := range ch.LabelsRemove {
		if k == "" {
			return errs.Invalid("labels_remove", "expected label keys, got an empty string")
		}
		if _, ok := ch.LabelsAdd[k]; ok {
			return errs.Invalid("labels_remove", "label %q is both added and removed", k)
		}
	}
	if ch.Availability == "" && ch.Role == "" && ch.Labels == nil && len(ch.LabelsAdd) == 0 && len(ch.LabelsRemove) == 0 {
		return errs.Invalid("body", "nothing to change: give availability, role, labels, labels_add or labels_remove")
	}
	return nil
}

// apply answers spec with the change made; spec itself is not modified.
func (ch NodeChange) apply(spec swarm.NodeSpec) swarm.NodeSpec {
	if ch.Availability != "" {
		spec.Availability = swarm.NodeAvailability(ch.Availability)
	}
	if ch.Role != "" {
		spec.Role = swarm.NodeRole(ch.Role)
	}
	labels := maps.Clone(spec.Labels)
	if ch.Labels != nil {
		labels = maps.Clone(ch.Labels)
	}
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, ch.LabelsAdd)
	for _, k := range ch.LabelsRemove {
		delete(labels, k)
	}
	spec.Labels = labels
	return spec
}

// checkDemotion refuses to demote n when the swarm would lose its last
// manager or when n is the leader: swarmkit would have to move the
// leadership in the middle of the change, and the call that asked for it
// may be the one cut off.
func checkDemotion(cluster string, n swarm.Node, all []swarm.Node) error {
	if n.Spec.Role != swarm.NodeRoleManager {
		return nil
	}
	managers := 0
	for _, o := range all {
		if o.Spec.Role == swarm.NodeRoleManager {
			managers++
		}
	}
	if managers <= 1 {
		return errs.Conflict("node %q is the last manager of cluster %q; promote another node to manager first", n.Description.Hostname, cluster)
	}
	if n.ManagerStatus != nil && n.ManagerStatus.Leader {
		return errs.Conflict("node %q is the leader of cluster %q and is not demoted while it leads: "+
			"move the leadership first (restart its engine; another manager takes over), then demote it", n.Description.Hostname, cluster)
	}
	return nil
}

// UpdateNode changes a node's availability, role or labels against a fresh
// read of its spec under the node's lock. caller is the role of who asks:
// changing the role needs auth.NodeManage, the rest auth.NodeUpdate.
func (f *Fleet) UpdateNode(ctx context.Context, cluster, id string, caller auth.Role, ch NodeChange) (s NodeSummary, err error) {
	var n swarm.Node
	var spec swarm.NodeSpec
	err = f.mutate(ctx, mutation{
		action: "node.update", cluster: cluster, kind: "node", target: id,
		check:   ch.validate,
		resolve: resolveNode(cluster, id),
		prepare: func(ctx context.Context, api Engine, o *ref) (err error) {
			if n, err = inspectNode(ctx, api, cluster, o.ID); err != nil {
				return err
			}
			var all []swarm.Node
			if ch.Role == string(swarm.NodeRoleWorker) {
				// Whether a demotion leaves a manager takes the whole list.
				if all, err = api.NodeList(ctx, swarm.NodeListOptions{}); err != nil {
					return err
				}
			}
			spec = ch.apply(n.Spec)
			return checkRoleChange(cluster, caller, ch, n, all)
		},
		write: func(ctx context.Context, api Engine, _ *ref) error {
			return api.NodeUpdate(ctx, n.ID, n.Version, spec)
		},
		refused: refusedAsConflict,
		reread: func(ctx context.Context, api Engine, _ *ref) error {
			d, err := nodeSummary(ctx, api, cluster, n.ID)
			s = d.Summary
			return err
		},
		// The change is made; a failed read after it must not say otherwise:
		// answer the node as changed, without its running task count.
		rereadFailed: func(error) error {
			n.Spec = spec
			s = summarizeNode(n, 0)
			return nil
		},
	})
	return s, err
}

// checkRoleChange refuses a role change that caller may not make, or a
// demotion that checkDemotion refuses. A role sent unchanged (a form that
// shows every field) is no role change and needs no admin.
func checkRoleChange(cluster string, caller auth.Role, ch NodeChange, n swarm.Node, all []swarm.Node) error {
	if ch.Role == "" || ch.Role == string(n.Spec.Role) {
		return nil
	}
	if !caller.Can(auth.NodeManage) {
		return errs.Forbidden("changing a node's role needs role %s; %s may change availability and labels only",
			auth.NodeManage.MinRole(), caller)
	}
	if ch.Role == string(swarm.NodeRoleWorker) {
		return checkDemotion(cluster, n, all)
	}
	return nil
}

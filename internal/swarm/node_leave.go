package swarm

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// NodeLeave asks an engine of the cluster to leave the swarm.
type NodeLeave struct {
	Endpoint string
	TLS      *TLS // nil: the cluster's TLS material
	// Force lets a manager leave even when the swarm then loses quorum.
	Force bool
	// Remove also removes the node from the node list (demoting it first
	// if it was a manager), instead of leaving it listed as down.
	Remove bool
}

// LeftNode is the answer to a leave.
type LeftNode struct {
	ID       string `json:"id"`
	Hostname string `json:"hostname"`
	Role     string `json:"role"`    // the role it had
	Removed  bool   `json:"removed"` // removed from the node list too
}

func (l NodeLeave) validate() error {
	_, err := validEngine(l.Endpoint, l.TLS, "the leaving engine's API, e.g. tcp://10.0.0.7:2375")
	return err
}

// LeaveNode tells the engine at l.Endpoint to leave the cluster and drops
// it from the cluster's stored endpoints. A manager had better be demoted
// first: the engine refuses to leave when the swarm would lose quorum.
func (f *Fleet) LeaveNode(ctx context.Context, cluster string, l NodeLeave) (LeftNode, error) {
	m := mutation{action: "node.leave", cluster: cluster, target: l.Endpoint, check: l.validate}
	return mutateLocked(ctx, f, m, func(ctx context.Context, c store.Cluster) (LeftNode, error) {
		return f.leave(ctx, c, l)
	})
}

// leave is LeaveNode under the cluster's lock.
func (f *Fleet) leave(ctx context.Context, c store.Cluster, l NodeLeave) (out LeftNode, err error) {
	l.TLS = cmp.Or(l.TLS, tlsOf(c.TLS))
	st, nodes, err := f.engineAndNodes(ctx, c, l.Endpoint, l.TLS)
	if err != nil {
		return LeftNode{}, err
	}
	n, err := leavingNode(c.Name, l, st, nodes)
	if err != nil {
		return LeftNode{}, err
	}
	out = LeftNode{ID: n.ID, Hostname: n.Description.Hostname, Role: string(n.Spec.Role)}
	if err := f.swarmLeave(ctx, l); err != nil {
		return out, err
	}
	// The engine is no manager of this swarm any more (a manager
	// demoted before it left was one until then): calls after this one
	// must not go to it.
	if c, err = f.dropLeftEndpoints(ctx, c, l.Endpoint, n); err != nil {
		return out, err
	}
	if l.Remove {
		if err := f.removeLeft(ctx, c, n); err != nil {
			return out, err
		}
		out.Removed = true
	}
	return out, nil
}

// leavingNode finds the engine's node in the cluster's node list and
// refuses what would destroy the swarm.
func leavingNode(cluster string, l NodeLeave, st swarm.Info, nodes []swarm.Node) (swarm.Node, error) {
	if st.LocalNodeState == swarm.LocalNodeStateInactive {
		return swarm.Node{}, errs.Conflict("the engine at %s is not part of a swarm", l.Endpoint)
	}
	i := slices.IndexFunc(nodes, func(n swarm.Node) bool { return n.ID == st.NodeID })
	if i < 0 {
		return swarm.Node{}, errs.Conflict("the engine at %s is not a node of cluster %q", l.Endpoint, cluster)
	}
	n := nodes[i]
	if n.Spec.Role == swarm.NodeRoleManager && !l.Force {
		managers := 0
		for _, o := range nodes {
			if o.Spec.Role == swarm.NodeRoleManager {
				managers++
			}
		}
		if managers <= 1 {
			return swarm.Node{}, errs.Conflict("node %q is the last manager of cluster %q: leaving would erase the swarm's state; "+
				"promote another node first (or pass force to really do it)", n.Description.Hostname, cluster)
		}
	}
	return n, nil
}

func (f *Fleet) swarmLeave(ctx context.Context, l NodeLeave) error {
	// A manager leaves the raft group before it answers.
	return f.swarmCall(ctx, l.Endpoint, l.TLS, func(ctx context.Context, api Engine) error {
		return api.SwarmLeave(ctx, l.Force)
	}, func(err error, timedOut bool) error {
		if err := f.unanswered(err, timedOut, l.Endpoint, "leave", "leaving", "check the node list"); err != nil {
			return err
		}
		// The engine refuses a leave it finds unsafe (quorum) and says why,
		// as a 503 that here means "not now", not "unreachable".
		return errs.Conflict("the engine at %s refused to leave: %s", l.Endpoint, engineMessage(err)).With(err)
	})
}

// dropLeftEndpoints forgets the stored endpoints that reach the engine
// that left, keeping at least one.
func (f *Fleet) dropLeftEndpoints(ctx context.Context, c store.Cluster, given string, n swarm.Node) (store.Cluster, error) {
	gone := []string{given}
	if n.Spec.Role == swarm.NodeRoleManager {
		gone = append(gone, managerEndpoint(c.Endpoints, given, n))
	}
	kept := slices.DeleteFunc(slices.Clone(c.Endpoints), func(e string) bool { return slices.Contains(gone, e) })
	if len(kept) == len(c.Endpoints) || len(kept) == 0 {
		return c, nil
	}
	c.Endpoints = kept
	c.UpdatedAt = f.now().UTC()
	if err := f.store.UpdateCluster(ctx, c); err != nil {
		return c, fmt.Errorf("drop the endpoint of the manager that left cluster %q: %w", c.Name, err)
	}
	return c, nil
}

// removeLeft removes a node that has just left from the node list; a
// manager's node object must be demoted before the engine removes it.
func (f *Fleet) removeLeft(ctx context.Context, c store.Cluster, n swarm.Node) error {
	_, err := f.do(ctx, c, write, func(ctx context.Context, api Engine) error {
		cur, _, err := api.NodeInspectWithRaw(ctx, n.ID)
		if err != nil {
			return err
		}
		if cur.Spec.Role == swarm.NodeRoleManager {
			spec := cur.Spec
			spec.Role = swarm.NodeRoleWorker
			if err := api.NodeUpdate(ctx, cur.ID, cur.Version, spec); err != nil {
				return err
			}
		}
		return api.NodeRemove(ctx, n.ID, swarm.NodeRemoveOptions{Force: true})
	})
	if err != nil {
		pe, _ := errs.Public(err)
		msg := err.Error()
		if pe != nil {
			msg = pe.Message
		}
		return errs.Conflict("the engine left the swarm, but node %q could not be removed from the node list (%s); remove it later with DELETE .../nodes/%s?force=true",
			n.Description.Hostname, msg, n.ID).With(err)
	}
	return nil
}

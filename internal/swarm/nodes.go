package swarm

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"

	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/lock"
	"github.com/swarmops/swarmops/internal/store"
)

// NodeSummary is a node as lists show it.
type NodeSummary struct {
	ID            string            `json:"id"`
	Hostname      string            `json:"hostname"`
	Addr          string            `json:"addr"`
	Role          string            `json:"role"`
	Leader        bool              `json:"leader"`
	Status        string            `json:"status"`
	Availability  string            `json:"availability"`
	Reachability  string            `json:"reachability"` // managers only; "" for workers
	EngineVersion string            `json:"engine_version"`
	CPUs          float64           `json:"cpus"`
	MemoryBytes   int64             `json:"memory_bytes"`
	Labels        map[string]string `json:"labels"`
	TasksRunning  int               `json:"tasks_running"`
}

// NodeDetail is a node with the engine's own object.
type NodeDetail struct {
	Summary NodeSummary `json:"summary"`
	Node    swarm.Node  `json:"node"`
}

// nodeEngine is what node reads need of an engine.
type nodeEngine interface {
	NodeInspectWithRaw(ctx context.Context, id string) (swarm.Node, []byte, error)
	NodeList(ctx context.Context, o swarm.NodeListOptions) ([]swarm.Node, error)
	TaskList(ctx context.Context, o swarm.TaskListOptions) ([]swarm.Task, error)
}

func summarizeNode(n swarm.Node, running int) NodeSummary {
	s := NodeSummary{
		ID: n.ID, Hostname: n.Description.Hostname, Addr: nodeAddr(n), Role: string(n.Spec.Role),
		Status: string(n.Status.State), Availability: string(n.Spec.Availability),
		EngineVersion: n.Description.Engine.EngineVersion,
		CPUs:          float64(n.Description.Resources.NanoCPUs) / 1e9,
		MemoryBytes:   n.Description.Resources.MemoryBytes,
		Labels:        maps.Clone(n.Spec.Labels), TasksRunning: running,
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	if m := n.ManagerStatus; m != nil {
		s.Leader, s.Reachability = m.Leader, string(m.Reachability)
	}
	return s
}

// nodeAddr answers the address a node is reached at. Some engines report a
// manager's node address as 0.0.0.0 when it listens on all interfaces; its
// raft address is the real one.
func nodeAddr(n swarm.Node) string {
	if m := n.ManagerStatus; m != nil && (n.Status.Addr == "" || n.Status.Addr == "0.0.0.0") {
		if host, _, err := net.SplitHostPort(m.Addr); err == nil {
			return host
		}
	}
	return n.Status.Addr
}

// runningTasks counts the running tasks per node ID in one TaskList call,
// whatever the number of nodes.
func runningTasks(ctx context.Context, api nodeEngine, nodeID string) (map[string]int, error) {
	f := filters.NewArgs(filters.Arg("desired-state", "running"))
	if nodeID != "" {
		f.Add("node", nodeID)
	}
	tasks, err := api.TaskList(ctx, swarm.TaskListOptions{Filters: f})
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, t := range tasks {
		if t.Status.State == swarm.TaskStateRunning {
			counts[t.NodeID]++
		}
	}
	return counts, nil
}

// listNodes answers the summaries of every node matching flt, sorted by
// hostname, with one NodeList and one TaskList call.
func listNodes(ctx context.Context, api nodeEngine, flt Filter) ([]NodeSummary, error) {
	nodes, err := api.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return nil, err
	}
	counts, err := runningTasks(ctx, api, "")
	if err != nil {
		return nil, err
	}
	out := make([]NodeSummary, 0, len(nodes))
	for _, n := range nodes {
		if flt.Match(n.Description.Hostname, n.Spec.Labels) {
			out = append(out, summarizeNode(n, counts[n.ID]))
		}
	}
	slices.SortFunc(out, func(a, b NodeSummary) int {
		return cmp.Or(strings.Compare(a.Hostname, b.Hostname), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// inspectNode finds a node by ID, unique ID prefix or hostname.
func inspectNode(ctx context.Context, api nodeEngine, cluster, id string) (swarm.Node, error) {
	n, _, err := api.NodeInspectWithRaw(ctx, id)
	return n, lookupError(err, "node", id, cluster)
}

// lookupError names the object and the cluster when the engine knows no
// such object, and the id when a prefix or name is ambiguous.
func lookupError(err error, kind, id, cluster string) error {
	switch {
	case err == nil:
		return nil
	case isNotFound(err):
		return errs.NotFound("%s %q not found in cluster %q", kind, id, cluster)
	case cerrdefs.IsInvalidArgument(err) || strings.Contains(err.Error(), "ambiguous"):
		return errs.Invalid("id", "%s", engineMessage(err))
	}
	return err
}

// nodeSummary reads one node's summary: its object and its running tasks.
func nodeSummary(ctx context.Context, api nodeEngine, cluster, id string) (NodeDetail, error) {
	n, err := inspectNode(ctx, api, cluster, id)
	if err != nil {
		return NodeDetail{}, err
	}
	counts, err := runningTasks(ctx, api, n.ID)
	if err != nil {
		return NodeDetail{}, err
	}
	return NodeDetail{Summary: summarizeNode(n, counts[n.ID]), Node: n}, nil
}

// ListNodes answers the cluster's nodes matching flt (q: hostname).
func (f *Fleet) ListNodes(ctx context.Context, cluster string, flt Filter) ([]NodeSummary, error) {
	c, err := f.cluster(ctx, cluster)
	if err != nil {
		return nil, err
	}
	var out []NodeSummary
	_, err = f.do(ctx, c, read, func(ctx context.Context, api Engine) (err error) {
		out, err = listNodes(ctx, api, flt)
		return err
	})
	return out, err
}

// GetNode answers one node by ID, ID prefix or hostname.
func (f *Fleet) GetNode(ctx context.Context, cluster, id string) (NodeDetail, error) {
	c, err := f.cluster(ctx, cluster)
	if err != nil {
		return NodeDetail{}, err
	}
	var d NodeDetail
	_, err = f.do(ctx, c, read, func(ctx context.Context, api Engine) (err error) {
		d, err = nodeSummary(ctx, api, cluster, id)
		return err
	})
	return d, err
}

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
	target := id
	defer func() { f.audit.Record(ctx, "", "node.update", cluster, target, err) }()
	if err := ch.validate(); err != nil {
		return NodeSummary{}, err
	}
	c, err := f.cluster(ctx, cluster)
	if err != nil {
		return NodeSummary{}, err
	}
	var n swarm.Node
	if _, err := f.do(ctx, c, read, func(ctx context.Context, api Engine) (err error) {
		n, err = inspectNode(ctx, api, cluster, id)
		return err
	}); err != nil {
		return NodeSummary{}, err
	}
	target = n.Description.Hostname
	err = f.withLock(ctx, lock.ObjectKey(cluster, "node", n.ID), func(ctx context.Context) error {
		var all []swarm.Node
		if _, err := f.do(ctx, c, read, func(ctx context.Context, api Engine) (err error) {
			if n, err = inspectNode(ctx, api, cluster, n.ID); err != nil || ch.Role != string(swarm.NodeRoleWorker) {
				return err
			}
			// Whether a demotion leaves a manager takes the whole list.
			all, err = api.NodeList(ctx, swarm.NodeListOptions{})
			return err
		}); err != nil {
			return err
		}
		// A role sent unchanged (a form that shows every field) is no
		// role change and needs no admin.
		if ch.Role != "" && ch.Role != string(n.Spec.Role) {
			if !caller.Can(auth.NodeManage) {
				return errs.Forbidden("changing a node's role needs role %s; %s may change availability and labels only",
					auth.NodeManage.MinRole(), caller)
			}
			if ch.Role == string(swarm.NodeRoleWorker) {
				if err := checkDemotion(cluster, n, all); err != nil {
					return err
				}
			}
		}
		spec := ch.apply(n.Spec)
		if _, err := f.do(ctx, c, write, func(ctx context.Context, api Engine) error {
			return api.NodeUpdate(ctx, n.ID, n.Version, spec)
		}); err != nil {
			return refusedAsConflict(err)
		}
		// The change is made; a failed read after it must not say otherwise:
		// answer the node as changed, without its running task count.
		if _, err := f.do(ctx, c, read, func(ctx context.Context, api Engine) error {
			d, err := nodeSummary(ctx, api, cluster, n.ID)
			s = d.Summary
			return err
		}); err != nil {
			n.Spec = spec
			s = summarizeNode(n, 0)
		}
		return nil
	})
	return s, err
}

// refusedAsConflict turns the engine's refusals of a state change, which
// it answers as bad requests (failed preconditions: "in use", "last
// manager", "loss of quorum"), into conflicts: the request was well formed,
// the object's state is what stands in the way.
func refusedAsConflict(err error) error {
	pe, ok := errs.Public(err)
	if !ok || pe.Kind != errs.ErrInvalid || pe.Field != "" {
		return err
	}
	return errs.Conflict("%s", pe.Message).With(pe.Err)
}

// RemoveNode removes a node from the swarm's node list. A manager must be
// demoted first, and a node that is not down needs force.
func (f *Fleet) RemoveNode(ctx context.Context, cluster, id string, force bool) (err error) {
	target := id
	defer func() { f.audit.Record(ctx, "", "node.remove", cluster, target, err) }()
	c, err := f.cluster(ctx, cluster)
	if err != nil {
		return err
	}
	var n swarm.Node
	if _, err := f.do(ctx, c, read, func(ctx context.Context, api Engine) (err error) {
		n, err = inspectNode(ctx, api, cluster, id)
		return err
	}); err != nil {
		return err
	}
	target = n.Description.Hostname
	return f.withLock(ctx, lock.ObjectKey(cluster, "node", n.ID), func(ctx context.Context) error {
		if _, err := f.do(ctx, c, read, func(ctx context.Context, api Engine) (err error) {
			n, err = inspectNode(ctx, api, cluster, n.ID)
			return err
		}); err != nil {
			return err
		}
		if err := checkRemoval(cluster, n, force); err != nil {
			return err
		}
		_, err := f.do(ctx, c, write, func(ctx context.Context, api Engine) error {
			return api.NodeRemove(ctx, n.ID, swarm.NodeRemoveOptions{Force: force})
		})
		return refusedAsConflict(err)
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

// NodeJoin asks an engine that is in no swarm to join the cluster.
type NodeJoin struct {
	// Endpoint is the joining engine's own API, tcp://host:port or unix://.
	Endpoint string
	// TLS for Endpoint; nil: the cluster's TLS material.
	TLS  *store.TLS
	Role string // worker (default) or manager
	// AdvertiseAddr is the address other nodes reach it at; default: the
	// endpoint's host when that is an IP address.
	AdvertiseAddr string
}

func (j *NodeJoin) validate() error {
	u, err := validEngine(j.Endpoint, j.TLS, "the joining engine's API, e.g. tcp://10.0.0.7:2375")
	if err != nil {
		return err
	}
	switch j.Role {
	case "":
		j.Role = string(swarm.NodeRoleWorker)
	case string(swarm.NodeRoleWorker), string(swarm.NodeRoleManager):
	default:
		return errs.Invalid("role", "expected worker or manager")
	}
	if j.AdvertiseAddr == "" && u.Scheme == "tcp" {
		if host, _, _ := net.SplitHostPort(u.Host); net.ParseIP(host) != nil {
			j.AdvertiseAddr = host
		}
	}
	return validAdvertiseAddr(j.AdvertiseAddr)
}

// validAdvertiseAddr accepts what swarm join does: an IP address or a
// network interface name, with an optional port.
func validAdvertiseAddr(s string) error {
	if s == "" {
		return nil
	}
	host := s
	if h, port, err := net.SplitHostPort(s); err == nil {
		if port == "" {
			return errs.Invalid("advertise_addr", "expected an IP address or interface name, with an optional :port")
		}
		host = h
	}
	if net.ParseIP(host) == nil && !ifaceNameRE.MatchString(host) {
		return errs.Invalid("advertise_addr", "expected an IP address or interface name, with an optional :port, e.g. 10.0.0.7 or eth0")
	}
	return nil
}

var ifaceNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,14}$`)

// joinSettle bounds the wait for a joined node to show in the node list.
const joinSettle = 30 * time.Second

// JoinNode tells the engine at j.Endpoint to join the cluster with the
// swarm's join token, waits until the node is listed with the asked role,
// and, for a manager, stores its endpoint with the cluster's.
func (f *Fleet) JoinNode(ctx context.Context, cluster string, j NodeJoin) (s NodeSummary, err error) {
	defer func() { f.audit.Record(ctx, "", "node.join", cluster, j.Endpoint, err) }()
	if err := j.validate(); err != nil {
		return NodeSummary{}, err
	}
	err = f.withLock(ctx, lock.ClusterKey(cluster), func(ctx context.Context) error {
		c, err := f.cluster(ctx, cluster)
		if err != nil {
			return err
		}
		if j.TLS == nil {
			j.TLS = c.TLS
		}
		info, err := f.probeEngine(ctx, j.Endpoint, j.TLS)
		if err != nil {
			return err
		}
		var jt JoinTokens
		var nodes []swarm.Node
		if _, err := f.do(ctx, c, read, func(ctx context.Context, api Engine) (err error) {
			if jt, err = joinTokens(ctx, api); err != nil {
				return err
			}
			nodes, err = api.NodeList(ctx, swarm.NodeListOptions{})
			return err
		}); err != nil {
			return err
		}
		if err := checkJoinable(c, j.Endpoint, info.Swarm, nodes); err != nil {
			return err
		}
		if err := f.swarmJoin(ctx, j, jt); err != nil {
			return err
		}
		after, err := f.probeEngine(ctx, j.Endpoint, j.TLS)
		if err != nil {
			return err
		}
		d, err := f.awaitNode(ctx, c, after.Swarm.NodeID, j.Role)
		if err != nil {
			return err
		}
		s = d.Summary
		if j.Role == string(swarm.NodeRoleManager) {
			return f.addManagerEndpoint(ctx, c, j.Endpoint, d.Node)
		}
		return nil
	})
	return s, err
}

// checkJoinable refuses an engine that is already in a swarm.
func checkJoinable(c store.Cluster, endpoint string, st swarm.Info, nodes []swarm.Node) error {
	if st.LocalNodeState == swarm.LocalNodeStateInactive {
		return nil
	}
	for _, n := range nodes {
		if n.ID == st.NodeID && st.NodeID != "" {
			return errs.Conflict("the engine at %s is already node %q of cluster %q", endpoint, n.Description.Hostname, c.Name)
		}
	}
	if st.LocalNodeState == swarm.LocalNodeStateActive {
		return errs.Conflict("the engine at %s is part of another swarm; make it leave that swarm first", endpoint)
	}
	return errs.Conflict("the engine at %s is in swarm state %q; make it leave (docker swarm leave --force) before joining it", endpoint, st.LocalNodeState)
}

func (f *Fleet) swarmJoin(ctx context.Context, j NodeJoin, jt JoinTokens) error {
	token := jt.Worker
	if j.Role == string(swarm.NodeRoleManager) {
		token = jt.Manager
	}
	api, release, err := f.pool.Temporary(j.Endpoint, j.TLS)
	if err != nil {
		return err
	}
	defer release()
	// The engine answers a join only once it has its certificate from a
	// manager, which takes longer than an ordinary call.
	jctx, cancel := context.WithTimeout(ctx, 3*f.timeout)
	defer cancel()
	err = api.SwarmJoin(jctx, swarm.JoinRequest{
		ListenAddr: "0.0.0.0:2377", AdvertiseAddr: j.AdvertiseAddr,
		RemoteAddrs: []string{jt.ManagerAddr}, JoinToken: token,
	})
	switch {
	case err == nil:
		return nil
	case jctx.Err() != nil && ctx.Err() == nil:
		return errs.Unavailable(err, "the engine at %s did not finish joining within %s; it may still join: check the node list before retrying", j.Endpoint, 3*f.timeout)
	case !engineAnswered(err):
		return errs.Unavailable(err, "the engine at %s stopped answering during the join: %s", j.Endpoint, shortCause(err, false))
	}
	return errs.Engine(err, "the engine at %s could not join: %s", j.Endpoint, engineMessage(err))
}

// engineAnswered reports whether err is an answer of the engine (any
// status), rather than a failure to reach it. Unlike classify, it counts a
// 503 as an answer: the engine one talks to directly is not a manager
// among others, there is no other one to try.
func engineAnswered(err error) bool {
	var ns *notSentError
	return !errors.As(err, &ns) && !client.IsErrConnectionFailed(err) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// awaitNode polls the node list until node id has role (and, within the
// same bound, is ready); a node listed with the role but not yet ready is
// answered as it is once the bound passes.
func (f *Fleet) awaitNode(ctx context.Context, c store.Cluster, id, role string) (NodeDetail, error) {
	deadline := time.Now().Add(joinSettle)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		var d NodeDetail
		_, err := f.do(ctx, c, read, func(ctx context.Context, api Engine) (err error) {
			d, err = nodeSummary(ctx, api, c.Name, id)
			return err
		})
		hasRole := err == nil && string(d.Node.Spec.Role) == role &&
			(role != string(swarm.NodeRoleManager) || d.Node.ManagerStatus != nil)
		if hasRole && d.Node.Status.State == swarm.NodeStateReady {
			return d, nil
		}
		if time.Now().After(deadline) {
			if hasRole {
				return d, nil
			}
			if err == nil {
				err = fmt.Errorf("listed as %s, %s", d.Node.Spec.Role, d.Node.Status.State)
			}
			return NodeDetail{}, errs.Unavailable(err, "node %s joined but is not listed as a %s of cluster %q after %s; check the node list", id, role, c.Name, joinSettle)
		}
		select {
		case <-ctx.Done():
			return NodeDetail{}, ctx.Err()
		case <-tick.C:
		}
	}
}

// managerEndpoint answers the engine endpoint of manager n, with the
// scheme and port of the cluster's stored tcp endpoints, as registration
// derives them (managerEndpoints); joined is the fallback.
func managerEndpoint(stored []string, joined string, n swarm.Node) string {
	addr := ""
	if n.ManagerStatus != nil {
		addr, _, _ = net.SplitHostPort(n.ManagerStatus.Addr)
	}
	if addr == "" {
		return joined
	}
	for _, e := range stored {
		if u, err := ParseEndpoint(e); err == nil && u.Scheme == "tcp" {
			_, port, _ := net.SplitHostPort(u.Host)
			return "tcp://" + net.JoinHostPort(addr, port)
		}
	}
	return joined
}

func (f *Fleet) addManagerEndpoint(ctx context.Context, c store.Cluster, joined string, n swarm.Node) error {
	ep := managerEndpoint(c.Endpoints, joined, n)
	if slices.Contains(c.Endpoints, ep) {
		return nil
	}
	c.Endpoints = append(slices.Clone(c.Endpoints), ep)
	c.UpdatedAt = f.now().UTC()
	if err := f.store.UpdateCluster(ctx, c); err != nil {
		return fmt.Errorf("store the new manager's endpoint of cluster %q: %w", c.Name, err)
	}
	return nil
}

// NodeLeave asks an engine of the cluster to leave the swarm.
type NodeLeave struct {
	Endpoint string
	TLS      *store.TLS // nil: the cluster's TLS material
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
func (f *Fleet) LeaveNode(ctx context.Context, cluster string, l NodeLeave) (out LeftNode, err error) {
	defer func() { f.audit.Record(ctx, "", "node.leave", cluster, l.Endpoint, err) }()
	if err := l.validate(); err != nil {
		return LeftNode{}, err
	}
	err = f.withLock(ctx, lock.ClusterKey(cluster), func(ctx context.Context) error {
		c, err := f.cluster(ctx, cluster)
		if err != nil {
			return err
		}
		if l.TLS == nil {
			l.TLS = c.TLS
		}
		info, err := f.probeEngine(ctx, l.Endpoint, l.TLS)
		if err != nil {
			return err
		}
		var nodes []swarm.Node
		if _, err := f.do(ctx, c, read, func(ctx context.Context, api Engine) (err error) {
			nodes, err = api.NodeList(ctx, swarm.NodeListOptions{})
			return err
		}); err != nil {
			return err
		}
		n, err := leavingNode(c.Name, l, info.Swarm, nodes)
		if err != nil {
			return err
		}
		out = LeftNode{ID: n.ID, Hostname: n.Description.Hostname, Role: string(n.Spec.Role)}
		if err := f.swarmLeave(ctx, l); err != nil {
			return err
		}
		// The engine is no manager of this swarm any more (a manager
		// demoted before it left was one until then): calls after this one
		// must not go to it.
		if c, err = f.dropLeftEndpoints(ctx, c, l.Endpoint, n); err != nil {
			return err
		}
		if l.Remove {
			if err := f.removeLeft(ctx, c, n); err != nil {
				return err
			}
			out.Removed = true
		}
		return nil
	})
	return out, err
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
	api, release, err := f.pool.Temporary(l.Endpoint, l.TLS)
	if err != nil {
		return err
	}
	defer release()
	// A manager leaves the raft group before it answers.
	lctx, cancel := context.WithTimeout(ctx, 3*f.timeout)
	defer cancel()
	err = api.SwarmLeave(lctx, l.Force)
	switch {
	case err == nil:
		return nil
	case lctx.Err() != nil && ctx.Err() == nil:
		return errs.Unavailable(err, "the engine at %s did not finish leaving within %s; check the node list", l.Endpoint, 3*f.timeout)
	case !engineAnswered(err):
		return errs.Unavailable(err, "the engine at %s stopped answering during the leave: %s", l.Endpoint, shortCause(err, false))
	}
	// The engine refuses a leave it finds unsafe (quorum) and says why, as
	// a 503 that here means "not now", not "unreachable".
	return errs.Conflict("the engine at %s refused to leave: %s", l.Endpoint, engineMessage(err)).With(err)
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

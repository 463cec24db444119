package swarm

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
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

// readNodes lists the nodes with only what readNode reads (node lists,
// health, task names) when the engine's answer is ours to read (a pooled
// client), else as the docker client decodes them: that decoding was most
// of a health probe's CPU (issue 16).
func readNodes(ctx context.Context, api interface {
	NodeList(ctx context.Context, o swarm.NodeListOptions) ([]swarm.Node, error)
}) ([]swarm.Node, error) {
	return readList(ctx, "/nodes", func(ctx context.Context) ([]swarm.Node, error) {
		return api.NodeList(ctx, swarm.NodeListOptions{})
	}, readNode, func(n swarm.Node) swarm.Node { return n })
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
// whatever the number of nodes: the tasks swarm wants running (on nodeIDs
// only, when given: pending tasks, on no node, are then not listed at
// all), of which only the node and state are read.
func runningTasks(ctx context.Context, api nodeEngine, nodeIDs ...string) (map[string]int, error) {
	f := filters.NewArgs(filters.Arg("desired-state", "running"))
	for _, id := range nodeIDs {
		f.Add("node", id)
	}
	tasks, err := readList(ctx, "/tasks", func(ctx context.Context) ([]swarm.Task, error) {
		return api.TaskList(ctx, swarm.TaskListOptions{Filters: f})
	}, readRunningTask, func(t swarm.Task) runningTask {
		return runningTask{NodeID: t.NodeID, State: string(t.Status.State)}
	})
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, t := range tasks {
		if t.State == string(swarm.TaskStateRunning) {
			counts[t.NodeID]++
		}
	}
	return counts, nil
}

// maxNodeFilter is the most nodes whose running tasks are listed by node
// (one lookup of each by the engine) rather than all the tasks swarm wants
// running, pending ones included.
const maxNodeFilter = 16

// listKnownNodes answers the summaries of every node matching flt,
// sorted by hostname, with one NodeList and one TaskList call. known are
// the IDs of the cluster's nodes when it was last listed (nil: none):
// while they are few, the running tasks of those nodes are listed at once
// with the nodes (from a pooled client), and again after them only if the
// nodes changed meanwhile.
func listKnownNodes(ctx context.Context, api nodeEngine, flt Filter, known []string) ([]NodeSummary, error) {
	var (
		nodes  []swarm.Node
		counts map[string]int
		err    error
	)
	_, pooled := api.(*client.Client)
	if pooled && len(known) > 0 && len(known) <= maxNodeFilter {
		var early error
		err = together(ctx, true, func(ctx context.Context) (err error) {
			nodes, err = readNodes(ctx, api)
			return err
		}, func(ctx context.Context) error {
			// Its failure (a node gone, say) only makes the count again.
			counts, early = runningTasks(ctx, api, known...)
			return nil
		})
		if err != nil {
			return nil, err
		}
		if early != nil || !sameNodes(nodes, known) {
			counts = nil
		}
	} else if nodes, err = readNodes(ctx, api); err != nil {
		return nil, err
	}
	if counts == nil {
		var ids []string
		if len(nodes) <= maxNodeFilter {
			ids = nodeIDs(nodes)
		}
		counts, err = runningTasks(ctx, api, ids...)
		if err != nil && len(ids) > 0 && cerrdefs.IsNotFound(err) {
			// A node left between the two calls: count without naming them.
			counts, err = runningTasks(ctx, api)
		}
		if err != nil {
			return nil, err
		}
	}
	out := make([]NodeSummary, 0, len(nodes))
	for _, n := range nodes {
		if flt.Match(n.Description.Hostname, n.Spec.Labels) {
			out = append(out, summarizeNode(n, counts[n.ID]))
		}
	}
	slices.SortFunc(out, CompareNodes)
	return out, nil
}

// CompareNodes is the order of node lists: by hostname, then ID.
func CompareNodes(a, b NodeSummary) int {
	return cmp.Or(strings.Compare(a.Hostname, b.Hostname), strings.Compare(a.ID, b.ID))
}

func nodeIDs(nodes []swarm.Node) []string {
	ids := make([]string, 0, len(nodes))
	for _, n := range nodes {
		ids = append(ids, n.ID)
	}
	return ids
}

// sameNodes reports whether nodes are those of ids, in any order.
func sameNodes(nodes []swarm.Node, ids []string) bool {
	if len(nodes) != len(ids) {
		return false
	}
	for _, n := range nodes {
		if !slices.Contains(ids, n.ID) {
			return false
		}
	}
	return true
}

// knownNodes answers the IDs of the cluster's nodes as this instance last
// listed them all (its snapshot of the unfiltered list), nil if it holds
// none.
func (f *Fleet) knownNodes(cluster string) []string {
	s, ok := f.snaps.get(cluster + "\x00" + heldNodesKey)
	if !ok {
		return nil
	}
	nodes, _ := s.v.([]NodeSummary)
	ids := make([]string, 0, len(nodes))
	for _, n := range nodes {
		ids = append(ids, n.ID)
	}
	return ids
}

// inspectNode finds a node by ID, unique ID prefix or hostname.
func inspectNode(ctx context.Context, api nodeEngine, cluster, id string) (swarm.Node, error) {
	n, _, err := api.NodeInspectWithRaw(ctx, id)
	return n, lookupError(err, "node", id, cluster)
}

// resolveNode finds the node a change names by id (an ID, a unique ID
// prefix or a hostname).
func resolveNode(cluster, id string) func(context.Context, Engine) (ref, error) {
	return func(ctx context.Context, api Engine) (ref, error) {
		n, err := inspectNode(ctx, api, cluster, id)
		return ref{ID: n.ID, Name: n.Description.Hostname}, err
	}
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
	known := f.knownNodes(c.Name)
	return readSnapshot(ctx, f, c, "nodes?"+fmt.Sprint(flt), func(ctx context.Context, api Engine) ([]NodeSummary, error) {
		return listKnownNodes(ctx, api, flt, known)
	})
}

// GetNode answers one node by ID, ID prefix or hostname.
func (f *Fleet) GetNode(ctx context.Context, cluster, id string) (NodeDetail, error) {
	c, err := f.cluster(ctx, cluster)
	if err != nil {
		return NodeDetail{}, err
	}
	return readSnapshot(ctx, f, c, "node/"+id, func(ctx context.Context, api Engine) (NodeDetail, error) {
		return nodeSummary(ctx, api, cluster, id)
	})
}

package swarm

import (
	"context"
	"errors"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	"github.com/google/go-cmp/cmp"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// listFake answers node, service and task lists from fixtures and counts
// the calls; any other engine call panics on the nil embedded interfaces.
type listFake struct {
	client.NodeAPIClient
	client.ServiceAPIClient
	nodes    []swarm.Node
	services []swarm.Service
	tasks    []swarm.Task
	// taskFilter, when set, checks the TaskList options.
	taskFilter func(swarm.TaskListOptions) []swarm.Task
	// onServiceList, when set, runs as ServiceList is called.
	onServiceList func()
	calls         map[string]int
}

func (f *listFake) count(name string) {
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[name]++
}

func (f *listFake) NodeList(context.Context, swarm.NodeListOptions) ([]swarm.Node, error) {
	f.count("NodeList")
	return f.nodes, nil
}

func (f *listFake) ServiceList(context.Context, swarm.ServiceListOptions) ([]swarm.Service, error) {
	f.count("ServiceList")
	if f.onServiceList != nil {
		f.onServiceList()
	}
	return f.services, nil
}

func (f *listFake) TaskList(_ context.Context, o swarm.TaskListOptions) ([]swarm.Task, error) {
	f.count("TaskList")
	if f.taskFilter != nil {
		return f.taskFilter(o), nil
	}
	return f.tasks, nil
}

func (f *listFake) NodeInspectWithRaw(_ context.Context, id string) (swarm.Node, []byte, error) {
	f.count("NodeInspect")
	for _, n := range f.nodes {
		if n.ID == id || n.Description.Hostname == id {
			return n, nil, nil
		}
	}
	return swarm.Node{}, nil, cerrdefs.ErrNotFound
}

// node builds a node fixture; opts change it.
func node(id, hostname string, opts ...func(*swarm.Node)) swarm.Node {
	n := swarm.Node{ID: id}
	n.Description.Hostname = hostname
	n.Spec.Role = swarm.NodeRoleWorker
	n.Spec.Availability = swarm.NodeAvailabilityActive
	n.Status.State = swarm.NodeStateReady
	n.Status.Addr = "10.0.0." + id[len(id)-1:]
	n.Description.Engine.EngineVersion = "20.10.24"
	n.Description.Resources.NanoCPUs = 2_500_000_000
	n.Description.Resources.MemoryBytes = 1 << 30
	for _, o := range opts {
		o(&n)
	}
	return n
}

func manager(leader bool) func(*swarm.Node) {
	return func(n *swarm.Node) {
		n.Spec.Role = swarm.NodeRoleManager
		n.ManagerStatus = &swarm.ManagerStatus{Leader: leader, Reachability: swarm.ReachabilityReachable, Addr: n.Status.Addr + ":2377"}
	}
}

func labels(kv ...string) func(*swarm.Node) {
	return func(n *swarm.Node) {
		n.Spec.Labels = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			n.Spec.Labels[kv[i]] = kv[i+1]
		}
	}
}

func task(id, service, nodeID string, slot int, state swarm.TaskState) swarm.Task {
	t := swarm.Task{ID: id, ServiceID: service, NodeID: nodeID, Slot: slot, DesiredState: swarm.TaskStateRunning}
	t.Status.State = state
	return t
}

func TestListNodes_OneTaskListForEveryNode(t *testing.T) {
	f := &listFake{
		nodes: []swarm.Node{
			node("n3", "web-2", labels("zone", "b")),
			node("n1", "mgr-1", manager(true), func(n *swarm.Node) { n.Status.Addr = "0.0.0.0" }),
			node("n2", "web-1", labels("zone", "a")),
		},
		tasks: []swarm.Task{
			task("t1", "s1", "n2", 1, swarm.TaskStateRunning),
			task("t2", "s1", "n2", 2, swarm.TaskStateRunning),
			task("t3", "s1", "n3", 3, swarm.TaskStateStarting), // not running yet
			task("t4", "s2", "n1", 1, swarm.TaskStateRunning),
		},
	}
	f.taskFilter = func(o swarm.TaskListOptions) []swarm.Task {
		if got := o.Filters.Get("desired-state"); len(got) != 1 || got[0] != "running" {
			t.Errorf("TaskList filter desired-state %v, want [running]", got)
		}
		return f.tasks
	}
	got, err := listKnownNodes(context.Background(), f, Filter{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []NodeSummary{
		// 0.0.0.0 is replaced by the host of the manager's raft address.
		{ID: "n1", Hostname: "mgr-1", Addr: "10.0.0.1", Role: "manager", Leader: true, Status: "ready", Availability: "active",
			Reachability: "reachable", EngineVersion: "20.10.24", CPUs: 2.5, MemoryBytes: 1 << 30, Labels: map[string]string{}, TasksRunning: 1},
		{ID: "n2", Hostname: "web-1", Addr: "10.0.0.2", Role: "worker", Status: "ready", Availability: "active",
			EngineVersion: "20.10.24", CPUs: 2.5, MemoryBytes: 1 << 30, Labels: map[string]string{"zone": "a"}, TasksRunning: 2},
		{ID: "n3", Hostname: "web-2", Addr: "10.0.0.3", Role: "worker", Status: "ready", Availability: "active",
			EngineVersion: "20.10.24", CPUs: 2.5, MemoryBytes: 1 << 30, Labels: map[string]string{"zone": "b"}, TasksRunning: 0},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("summaries (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(f.calls, map[string]int{"NodeList": 1, "TaskList": 1}); diff != "" {
		t.Errorf("engine calls (-got +want):\n%s", diff)
	}

	got, err = listKnownNodes(context.Background(), f, Filter{Q: "web", Labels: map[string]string{"zone": "b"}}, nil)
	if err != nil || len(got) != 1 || got[0].ID != "n3" {
		t.Errorf("filtered list: %+v, %v", got, err)
	}
}

func TestNodeChange_Validate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ch    NodeChange
		field string // "" = valid
	}{
		{"availability", NodeChange{Availability: "drain"}, ""},
		{"role", NodeChange{Role: "manager"}, ""},
		{"labels cleared", NodeChange{Labels: map[string]string{}}, ""},
		{"add and remove", NodeChange{LabelsAdd: map[string]string{"a": "1"}, LabelsRemove: []string{"b"}}, ""},
		{"nothing", NodeChange{}, "body"},
		{"empty patches", NodeChange{LabelsAdd: map[string]string{}, LabelsRemove: []string{}}, "body"},
		{"bad availability", NodeChange{Availability: "off"}, "availability"},
		{"bad role", NodeChange{Role: "leader"}, "role"},
		{"replace and patch", NodeChange{Labels: map[string]string{}, LabelsAdd: map[string]string{"a": "1"}}, "labels"},
		{"bad label key", NodeChange{Labels: map[string]string{"a b": "1"}}, "labels"},
		{"bad added key", NodeChange{LabelsAdd: map[string]string{"": "1"}}, "labels_add"},
		{"empty removed key", NodeChange{LabelsRemove: []string{""}}, "labels_remove"},
		{"added and removed", NodeChange{LabelsAdd: map[string]string{"a": "1"}, LabelsRemove: []string{"a"}}, "labels_remove"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.ch.validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("valid change refused: %v", err)
				}
				return
			}
			if pe, ok := errs.Public(err); !ok || pe.Kind != errs.ErrInvalid || pe.Field != tc.field {
				t.Fatalf("error %v, want invalid %s", err, tc.field)
			}
		})
	}
}

func TestNodeChange_Apply(t *testing.T) {
	orig := swarm.NodeSpec{Role: swarm.NodeRoleWorker, Availability: swarm.NodeAvailabilityActive}
	orig.Labels = map[string]string{"zone": "a", "tier": "web"}
	for _, tc := range []struct {
		name string
		ch   NodeChange
		want swarm.NodeSpec
	}{
		{"drain", NodeChange{Availability: "drain"},
			swarm.NodeSpec{Role: "worker", Availability: "drain", Annotations: swarm.Annotations{Labels: map[string]string{"zone": "a", "tier": "web"}}}},
		{"promote", NodeChange{Role: "manager"},
			swarm.NodeSpec{Role: "manager", Availability: "active", Annotations: swarm.Annotations{Labels: map[string]string{"zone": "a", "tier": "web"}}}},
		{"replace", NodeChange{Labels: map[string]string{"rack": "1"}},
			swarm.NodeSpec{Role: "worker", Availability: "active", Annotations: swarm.Annotations{Labels: map[string]string{"rack": "1"}}}},
		{"clear", NodeChange{Labels: map[string]string{}},
			swarm.NodeSpec{Role: "worker", Availability: "active", Annotations: swarm.Annotations{Labels: map[string]string{}}}},
		{"patch", NodeChange{LabelsAdd: map[string]string{"zone": "b", "new": "1"}, LabelsRemove: []string{"tier", "absent"}},
			swarm.NodeSpec{Role: "worker", Availability: "active", Annotations: swarm.Annotations{Labels: map[string]string{"zone": "b", "new": "1"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.ch.apply(orig), tc.want); diff != "" {
				t.Errorf("spec (-got +want):\n%s", diff)
			}
		})
	}
	if diff := cmp.Diff(orig.Labels, map[string]string{"zone": "a", "tier": "web"}); diff != "" {
		t.Errorf("apply changed the spec it was given (-got +want):\n%s", diff)
	}
}

func wantConflict(t *testing.T, err error, words ...string) {
	t.Helper()
	pe, ok := errs.Public(err)
	if !ok || pe.Kind != errs.ErrConflict {
		t.Fatalf("error %v, want a conflict", err)
	}
	for _, w := range words {
		if !strings.Contains(pe.Message, w) {
			t.Errorf("message %q should contain %q", pe.Message, w)
		}
	}
}

func TestCheckDemotion(t *testing.T) {
	leader := node("n1", "m1", manager(true))
	other := node("n2", "m2", manager(false))
	worker := node("n3", "w1")
	wantConflict(t, checkDemotion("prod", leader, []swarm.Node{leader, worker}), "last manager", `"m1"`, `"prod"`)
	wantConflict(t, checkDemotion("prod", leader, []swarm.Node{leader, other, worker}), "leader")
	if err := checkDemotion("prod", other, []swarm.Node{leader, other, worker}); err != nil {
		t.Errorf("demoting a manager that does not lead: %v", err)
	}
	if err := checkDemotion("prod", worker, []swarm.Node{leader, worker}); err != nil {
		t.Errorf("a worker has nothing to demote: %v", err)
	}
}

func TestCheckRemoval(t *testing.T) {
	down := func(n *swarm.Node) { n.Status.State = swarm.NodeStateDown }
	wantConflict(t, checkRemoval("prod", node("n1", "m1", manager(true)), true), "leader", "demote")
	wantConflict(t, checkRemoval("prod", node("n2", "m2", manager(false), down), true), "manager", "demote")
	wantConflict(t, checkRemoval("prod", node("n3", "w1"), false), "not down", "force")
	if err := checkRemoval("prod", node("n3", "w1"), true); err != nil {
		t.Errorf("forced removal of a ready worker: %v", err)
	}
	if err := checkRemoval("prod", node("n4", "w2", down), false); err != nil {
		t.Errorf("removal of a down worker: %v", err)
	}
}

func TestCheckJoinable(t *testing.T) {
	c := store.Cluster{Name: "prod"}
	nodes := []swarm.Node{node("n1", "m1", manager(true)), node("n2", "w1")}
	if err := checkJoinable(c, "tcp://x:2375", swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive}, nodes); err != nil {
		t.Errorf("an engine in no swarm: %v", err)
	}
	wantConflict(t, checkJoinable(c, "tcp://x:2375", swarm.Info{LocalNodeState: swarm.LocalNodeStateActive, NodeID: "n2"}, nodes), "already", `"w1"`)
	wantConflict(t, checkJoinable(c, "tcp://x:2375", swarm.Info{LocalNodeState: swarm.LocalNodeStateActive, NodeID: "other"}, nodes), "another swarm")
	wantConflict(t, checkJoinable(c, "tcp://x:2375", swarm.Info{LocalNodeState: swarm.LocalNodeStateLocked}, nodes), "locked")
}

func TestLeavingNode(t *testing.T) {
	m1, m2, w1 := node("n1", "m1", manager(true)), node("n2", "m2", manager(false)), node("n3", "w1")
	l := NodeLeave{Endpoint: "tcp://x:2375"}
	wantConflict(t, leaving(l, swarm.LocalNodeStateInactive, "", []swarm.Node{m1, w1}), "not part of a swarm")
	wantConflict(t, leaving(l, swarm.LocalNodeStateActive, "elsewhere", []swarm.Node{m1, w1}), "not a node")
	wantConflict(t, leaving(l, swarm.LocalNodeStateActive, "n1", []swarm.Node{m1, w1}), "last manager")
	if err := leaving(NodeLeave{Force: true}, swarm.LocalNodeStateActive, "n1", []swarm.Node{m1, w1}); err != nil {
		t.Errorf("forced leave of the last manager: %v", err)
	}
	if err := leaving(l, swarm.LocalNodeStateActive, "n2", []swarm.Node{m1, m2, w1}); err != nil {
		t.Errorf("leave of one of two managers (the engine judges the quorum): %v", err)
	}
	if err := leaving(l, swarm.LocalNodeStateActive, "n3", []swarm.Node{m1, w1}); err != nil {
		t.Errorf("leave of a worker: %v", err)
	}
}

func leaving(l NodeLeave, state swarm.LocalNodeState, id string, nodes []swarm.Node) error {
	_, err := leavingNode("prod", l, swarm.Info{LocalNodeState: state, NodeID: id}, nodes)
	return err
}

func TestManagerEndpoint(t *testing.T) {
	mgr := node("n7", "m7", manager(false)) // raft address 10.0.0.7:2377
	for _, tc := range []struct {
		name   string
		stored []string
		n      swarm.Node
		want   string
	}{
		{"port and scheme of the stored endpoints", []string{"unix:///var/run/docker.sock", "tcp://10.0.0.1:2376"}, mgr, "tcp://10.0.0.7:2376"},
		{"unix only: the endpoint joined", []string{"unix:///var/run/docker.sock"}, mgr, "tcp://given:2375"},
		{"no raft address yet: the endpoint joined", []string{"tcp://10.0.0.1:2375"}, node("n8", "w8"), "tcp://given:2375"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := managerEndpoint(tc.stored, "tcp://given:2375", tc.n); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestNodeJoin_Validate(t *testing.T) {
	for _, tc := range []struct {
		name      string
		j         NodeJoin
		field     string
		advertise string
	}{
		{"defaults", NodeJoin{Endpoint: "tcp://10.0.0.7:2375"}, "", "10.0.0.7"},
		{"hostname endpoint: the engine picks", NodeJoin{Endpoint: "tcp://node7:2375"}, "", ""},
		{"interface", NodeJoin{Endpoint: "tcp://10.0.0.7:2375", AdvertiseAddr: "eth1"}, "", "eth1"},
		{"address and port", NodeJoin{Endpoint: "tcp://10.0.0.7:2375", AdvertiseAddr: "10.1.0.7:4567"}, "", "10.1.0.7:4567"},
		{"no endpoint", NodeJoin{}, "endpoint", ""},
		{"bad endpoint", NodeJoin{Endpoint: "10.0.0.7"}, "endpoint", ""},
		{"bad role", NodeJoin{Endpoint: "tcp://10.0.0.7:2375", Role: "leader"}, "role", ""},
		{"bad advertise address", NodeJoin{Endpoint: "tcp://10.0.0.7:2375", AdvertiseAddr: "10.0.0.7 eth0"}, "advertise_addr", ""},
		{"empty port", NodeJoin{Endpoint: "tcp://10.0.0.7:2375", AdvertiseAddr: "10.0.0.7:"}, "advertise_addr", ""},
		{"bad tls", NodeJoin{Endpoint: "tcp://10.0.0.7:2376", TLS: &TLS{CA: "nope"}}, "tls.ca", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.j.validate()
			if tc.field != "" {
				if pe, ok := errs.Public(err); !ok || pe.Field != tc.field {
					t.Fatalf("error %v, want invalid %s", err, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.j.Role != "worker" && tc.j.Role != "manager" || tc.j.AdvertiseAddr != tc.advertise {
				t.Errorf("after validation: role %q, advertise %q; want a role and advertise %q", tc.j.Role, tc.j.AdvertiseAddr, tc.advertise)
			}
		})
	}
}

func TestLookupError(t *testing.T) {
	err := lookupError(cerrdefs.ErrNotFound, "node", "web-9", "prod")
	if pe, ok := errs.Public(err); !ok || pe.Kind != errs.ErrNotFound || pe.Message != `node "web-9" not found in cluster "prod"` {
		t.Errorf("not found: %v", err)
	}
	err = lookupError(cerrdefs.ErrInvalidArgument.WithMessage("node ab is ambiguous (2 matches found)"), "node", "ab", "prod")
	if pe, ok := errs.Public(err); !ok || pe.Kind != errs.ErrInvalid || pe.Field != "id" || !strings.Contains(pe.Message, "ambiguous") {
		t.Errorf("ambiguous: %v", err)
	}
	other := errors.New("connection reset")
	if got := lookupError(other, "node", "x", "prod"); got != other {
		t.Errorf("other errors must pass unchanged for the failover: %v", got)
	}
	if lookupError(nil, "node", "x", "prod") != nil {
		t.Error("nil became an error")
	}
}

func TestRefusedAsConflict(t *testing.T) {
	refused := errs.Invalid("", "secret 'db' is in use by the following service: api")
	if got := refusedAsConflict(refused); errs.KindOf(got) != errs.ErrConflict || !strings.Contains(got.Error(), "api") {
		t.Errorf("an engine refusal: %v", got)
	}
	ours := errs.Invalid("name", "bad")
	if got := refusedAsConflict(ours); got != error(ours) {
		t.Errorf("a field error changed: %v", got)
	}
	if refusedAsConflict(nil) != nil {
		t.Error("nil became an error")
	}
}

package swarm

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/google/go-cmp/cmp"

	"github.com/swarmops/swarmops/internal/errs"
)

func service(id, name string) swarm.Service {
	s := swarm.Service{ID: id}
	s.Spec.Name = name
	return s
}

// taskT0 is when every fixture task was last updated.
var taskT0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// taskFixture is a small cluster: api (two tasks, one of them failed and
// replaced), db (one), and a task of a removed service, on three nodes;
// x2 and x2-old share the hostname w2, as a machine that left and joined again.
func taskFixture() *listFake {
	mk := func(id, svc, nodeID string, slot int, state swarm.TaskState, age time.Duration) swarm.Task {
		t := task(id, svc, nodeID, slot, state)
		t.CreatedAt, t.UpdatedAt = taskT0.Add(-age), taskT0
		t.Spec.ContainerSpec = &swarm.ContainerSpec{Image: "nginx:1.27@sha256:0123"}
		return t
	}
	failed := mk("t1old", "svc-api", "w1", 1, swarm.TaskStateFailed, 2*time.Hour)
	failed.DesiredState = swarm.TaskStateShutdown
	failed.Status.Err = "exit 1"
	return &listFake{
		services: []swarm.Service{service("svc-api", "api"), service("svc-db", "db")},
		nodes:    []swarm.Node{node("m1", "mgr"), node("w1", "w1"), node("x2", "w2"), node("x2-old", "w2")},
		tasks: []swarm.Task{
			mk("t2", "svc-api", "x2", 2, swarm.TaskStateRunning, time.Hour),
			failed,
			mk("t1", "svc-api", "w1", 1, swarm.TaskStateRunning, time.Hour),
			mk("t3", "svc-db", "x2-old", 1, swarm.TaskStateRunning, time.Hour),
			mk("t9", "svc-gone", "m1", 1, swarm.TaskStateShutdown, 3*time.Hour),
		},
	}
}

func ids(tasks []Task) []string {
	out := make([]string, len(tasks))
	for i, t := range tasks {
		out[i] = t.ID
	}
	return out
}

func TestListTasks_NamesAndSorts(t *testing.T) {
	f := taskFixture()
	got, err := listTasks(context.Background(), f, "prod", TaskFilter{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// By service name, slot, node, newest first; a gone service by its ID.
	if diff := cmp.Diff(ids(got), []string{"t1", "t1old", "t2", "t3", "t9"}); diff != "" {
		t.Fatalf("order (-got +want):\n%s", diff)
	}
	want := Task{
		ID: "t1old", Service: "api", ServiceID: "svc-api", Slot: 1, Node: "w1", NodeHostname: "w1",
		State: "failed", DesiredState: "shutdown", Error: "exit 1", Image: "nginx:1.27",
		CreatedAt: taskT0.Add(-2 * time.Hour), UpdatedAt: taskT0,
	}
	if diff := cmp.Diff(got[1], want); diff != "" {
		t.Errorf("failed task (-got +want):\n%s", diff)
	}
	if got[4].Service != "svc-gone" || got[4].NodeHostname != "mgr" {
		t.Errorf("task of a removed service: %+v", got[4])
	}
	if diff := cmp.Diff(f.calls, map[string]int{"ServiceList": 1, "NodeList": 1, "TaskList": 1}); diff != "" {
		t.Errorf("engine calls (-got +want):\n%s", diff)
	}
}

// engineFiltered answers the tasks the engine would for o's service and
// node filters (an empty filter matches every task).
func engineFiltered(tasks []swarm.Task, o swarm.TaskListOptions) []swarm.Task {
	var out []swarm.Task
	for _, t := range tasks {
		if services := o.Filters.Get("service"); len(services) > 0 && !slices.Contains(services, t.ServiceID) {
			continue
		}
		if nodes := o.Filters.Get("node"); len(nodes) > 0 && !slices.Contains(nodes, t.NodeID) {
			continue
		}
		out = append(out, t)
	}
	return out
}

func TestListTasks_Filters(t *testing.T) {
	for _, tc := range []struct {
		name      string
		tf        TaskFilter
		services  []string // the engine filter wanted
		nodes     []string
		wantTasks []string // what listTasks answers
	}{
		{"service by name", TaskFilter{Service: "api"}, []string{"svc-api"}, nil, []string{"t1", "t1old", "t2"}},
		{"service by ID", TaskFilter{Service: "svc-db"}, []string{"svc-db"}, nil, []string{"t3"}},
		{"service by unique prefix", TaskFilter{Service: "svc-d"}, []string{"svc-db"}, nil, []string{"t3"}},
		{"node by ID", TaskFilter{Node: "w1"}, nil, []string{"w1"}, []string{"t1", "t1old"}},
		{"node by a hostname listed twice", TaskFilter{Node: "w2"}, nil, []string{"x2", "x2-old"}, []string{"t2", "t3"}},
		{"node by unique prefix", TaskFilter{Node: "m"}, nil, []string{"m1"}, []string{"t9"}},
		{"state", TaskFilter{State: "failed"}, nil, nil, []string{"t1old"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := taskFixture()
			var asked []swarm.TaskListOptions
			f.taskFilter = func(o swarm.TaskListOptions) []swarm.Task {
				asked = append(asked, o)
				return engineFiltered(f.tasks, o)
			}
			got, err := listTasks(context.Background(), f, "prod", tc.tf, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(asked) != 1 {
				t.Fatalf("TaskList called %d times, want once", len(asked))
			}
			gotS, gotN := asked[0].Filters.Get("service"), asked[0].Filters.Get("node")
			slices.Sort(gotS)
			slices.Sort(gotN)
			if !slices.Equal(gotS, tc.services) || !slices.Equal(gotN, tc.nodes) {
				t.Errorf("engine filters service %v node %v, want %v and %v", gotS, gotN, tc.services, tc.nodes)
			}
			if diff := cmp.Diff(ids(got), tc.wantTasks); diff != "" {
				t.Errorf("tasks (-got +want):\n%s", diff)
			}
		})
	}
}

func TestListTasks_Unknown(t *testing.T) {
	for _, tc := range []struct {
		tf    TaskFilter
		kind  error
		field string
	}{
		{TaskFilter{Service: "web"}, errs.ErrNotFound, ""},
		{TaskFilter{Service: "svc-"}, errs.ErrInvalid, "service"}, // ambiguous prefix
		{TaskFilter{Node: "nowhere"}, errs.ErrNotFound, ""},
		{TaskFilter{Node: "x"}, errs.ErrInvalid, "node"},
	} {
		f := taskFixture()
		_, err := listTasks(context.Background(), f, "prod", tc.tf, nil)
		pe, ok := errs.Public(err)
		if !ok || pe.Kind != tc.kind || pe.Field != tc.field {
			t.Errorf("%+v: error %v, want kind %v field %q", tc.tf, err, tc.kind, tc.field)
		}
		if f.calls["TaskList"] != 0 {
			t.Errorf("%+v: listed tasks although the filter names nothing", tc.tf)
		}
	}
	if err := (TaskFilter{State: "sleeping"}).validate(); errs.KindOf(err) != errs.ErrInvalid {
		t.Errorf("unknown state: %v", err)
	}
	if err := (TaskFilter{State: "running"}).validate(); err != nil {
		t.Errorf("running: %v", err)
	}
}

// TestListTasks_ServiceNamesKept: with a name cache, the service list is
// read once, then only for a task whose service the cache has not seen; a
// list names its tasks as a list without the cache does, but for a
// service removed since, whose tasks keep the name read before.
func TestListTasks_ServiceNamesKept(t *testing.T) {
	ctx := context.Background()
	f := taskFixture()
	names := newServiceNameCache()
	list := func(wantServiceLists int) []Task {
		t.Helper()
		got, err := listTasks(ctx, f, "prod", TaskFilter{}, names)
		if err != nil {
			t.Fatal(err)
		}
		if f.calls["ServiceList"] != wantServiceLists {
			t.Fatalf("service lists read: %d, want %d", f.calls["ServiceList"], wantServiceLists)
		}
		return got
	}
	uncached := func() []Task {
		t.Helper()
		fresh := *f
		fresh.calls = nil
		got, err := listTasks(ctx, &fresh, "prod", TaskFilter{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	want := uncached()
	for i := range 2 { // the gone service's ID is remembered as gone: no second read for it
		if diff := cmp.Diff(list(1), want); diff != "" {
			t.Fatalf("list %d (-cached +uncached):\n%s", i+1, diff)
		}
	}
	if f.calls["NodeList"] != 2 || f.calls["TaskList"] != 2 {
		t.Errorf("node and task lists must be read every time: %v", f.calls)
	}
	// A service created since (through any instance): read, and named.
	f.services = append(slices.Clone(f.services), service("svc-new", "new"))
	f.tasks = append(slices.Clone(f.tasks), task("t10", "svc-new", "w1", 1, swarm.TaskStateRunning))
	got := list(2)
	if diff := cmp.Diff(got, uncached()); diff != "" {
		t.Fatalf("after a new service (-cached +uncached):\n%s", diff)
	}
	// Other names are in another cluster's cache.
	if _, err := listTasks(ctx, f, "stage", TaskFilter{}, names); err != nil || f.calls["ServiceList"] != 3 {
		t.Fatalf("another cluster: %v, %d service lists", err, f.calls["ServiceList"])
	}
	// A service removed since: its task keeps the name read before.
	f.services = slices.DeleteFunc(slices.Clone(f.services), func(s swarm.Service) bool { return s.ID == "svc-db" })
	got = list(3)
	i := slices.IndexFunc(got, func(t Task) bool { return t.ID == "t3" })
	if i < 0 || got[i].Service != "db" {
		t.Fatalf("task of the removed db: %+v", got)
	}
	if u := uncached(); u[slices.IndexFunc(u, func(t Task) bool { return t.ID == "t3" })].Service != "svc-db" {
		t.Error("without the cache, the removed service's task is named by its ID")
	}
}

// TestServiceNameCache_Bound: names learned again are not counted again;
// past the bound the cache starts again empty, and a list whose names
// were emptied meanwhile by another names its tasks all the same.
func TestServiceNameCache_Bound(t *testing.T) {
	names := newServiceNameCache()
	names.max = 6
	svcs := []serviceName{{"a1", "a"}, {"a2", "b"}, {"a3", "c"}}
	for range 5 {
		names.learn("prod", svcs, nil)
	}
	if names.n != 3 || !names.warm("prod") {
		t.Fatalf("the same names learned again: %d kept, want 3", names.n)
	}
	names.learn("stage", []serviceName{{"b1", "x"}, {"b2", "y"}, {"b3", "z"}, {"b4", "w"}}, nil)
	if names.warm("prod") || names.n != 4 {
		t.Fatalf("past the bound: prod warm %v, %d kept, want the 4 of stage only", names.warm("prod"), names.n)
	}

	// A list of prod that reads the services while another list empties
	// the cache.
	f := taskFixture()
	names = newServiceNameCache()
	names.max = 3 // prod's 2 services and its gone one fill it
	names.learn("prod", []serviceName{{"svc-api", "api"}}, nil)
	f.tasks = append(slices.Clone(f.tasks), task("t20", "svc-db", "w1", 2, swarm.TaskStateRunning))
	want, err := listTasks(context.Background(), &listFake{services: f.services, nodes: f.nodes, tasks: f.tasks}, "prod", TaskFilter{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.onServiceList = func() { names.learn("other", []serviceName{{"o1", "o"}, {"o2", "p"}, {"o3", "q"}}, nil) }
	got, err := listTasks(context.Background(), f, "prod", TaskFilter{}, names)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("named while the cache was emptied (-got +want):\n%s", diff)
	}
}

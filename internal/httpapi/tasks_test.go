package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/google/go-cmp/cmp"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/testenv"
)

type taskAnswer struct {
	ID           string    `json:"id"`
	Service      string    `json:"service"`
	ServiceID    string    `json:"service_id"`
	Slot         int       `json:"slot"`
	Node         string    `json:"node"`
	NodeHostname string    `json:"node_hostname"`
	State        string    `json:"state"`
	DesiredState string    `json:"desired_state"`
	Message      string    `json:"message"`
	Error        string    `json:"error"`
	Image        string    `json:"image"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

type taskList struct {
	Items []taskAnswer `json:"items"`
	Total int          `json:"total"`
}

// TestTasks_ListAndFilters lists a service's tasks on the shared swarm by
// service name, ID prefix, node and state, named with one call per kind.
func TestTasks_ListAndFilters(t *testing.T) {
	swm := testenv.SharedSwarm(t)
	in, calls := countingInstance(t)
	admin := in.Admin(t)
	register(t, admin, "tl", swm.Managers[0].Endpoint)
	createService(t, swm.Managers[0], "tl-svc", "--replicas", "2")
	const base = "/api/v1/clusters/tl/tasks"

	var l taskList
	testenv.Poll(t, 60*time.Second, "2 running tasks of tl-svc", func() error {
		admin.MustDo(http.MethodGet, base+"?service=tl-svc&state=running", nil, &l, 200)
		if l.Total != 2 {
			return fmt.Errorf("running tasks: %+v", l.Items)
		}
		return nil
	})
	hosts := map[string]string{} // node ID -> hostname
	for _, n := range swm.Nodes() {
		hosts[n.ID] = n.Name
	}
	var slots []int
	for _, task := range l.Items {
		slots = append(slots, task.Slot)
		if task.Service != "tl-svc" || task.ServiceID == "" || task.Node == "" || task.NodeHostname != hosts[task.Node] ||
			task.State != "running" || task.DesiredState != "running" || task.Image != testenv.HelloImage1 ||
			task.CreatedAt.IsZero() || task.UpdatedAt.Before(task.CreatedAt) || task.Error != "" {
			t.Errorf("task listed as %+v", task)
		}
	}
	if !slices.Equal(slots, []int{1, 2}) {
		t.Errorf("slots %v, want [1 2] in order", slots)
	}
	serviceID := l.Items[0].ServiceID

	// ONE TaskList, ONE NodeList and ONE ServiceList per request.
	calls.reset()
	admin.MustDo(http.MethodGet, base+"?service="+serviceID[:7], nil, &l, 200)
	if diff := cmp.Diff(calls.counts(), map[string]int{"GET /tasks": 1, "GET /nodes": 1, "GET /services": 1}); diff != "" {
		t.Errorf("engine calls of a task list (-got +want):\n%s", diff)
	}
	if l.Total < 2 || slices.ContainsFunc(l.Items, func(x taskAnswer) bool { return x.ServiceID != serviceID }) {
		t.Errorf("?service=<id prefix> listed %+v", l.Items)
	}

	first := l.Items[0]
	admin.MustDo(http.MethodGet, base+"?service=tl-svc&node="+first.NodeHostname, nil, &l, 200)
	if l.Total == 0 || slices.ContainsFunc(l.Items, func(x taskAnswer) bool { return x.NodeHostname != first.NodeHostname }) {
		t.Errorf("?node=%s listed %+v", first.NodeHostname, l.Items)
	}
	admin.MustDo(http.MethodGet, base+"?node="+first.Node, nil, &l, 200)
	if !slices.ContainsFunc(l.Items, func(x taskAnswer) bool { return x.ID == first.ID }) {
		t.Errorf("?node=<id> does not list task %s: %+v", first.ID, l.Items)
	}
	admin.MustDo(http.MethodGet, base+"?service=tl-svc&state=complete", nil, &l, 200)
	if l.Total != 0 {
		t.Errorf("?state=complete listed %+v", l.Items)
	}

	wantBadField(t, admin, http.MethodGet, base+"?state=sleeping", nil, "state")
	wantStatus(t, admin, http.MethodGet, base+"?service=tl-nope", nil, 404, `"tl-nope"`, `"tl"`)
	wantStatus(t, admin, http.MethodGet, base+"?node=tl-nope", nil, 404, `"tl-nope"`, `"tl"`)
	wantStatus(t, admin, http.MethodGet, "/api/v1/clusters/tl-none/tasks", nil, 404, `"tl-none"`)
}

// TestTasks_NamedAfterAWriteOnAnotherInstance: an instance names tasks by
// the service names it read before (a task list then reads tasks and
// nodes only), and names the tasks of a service created since through
// another instance at its first list, read once without retry: a task of
// a service it has not seen makes it read the services again (issue 16).
func TestTasks_NamedAfterAWriteOnAnotherInstance(t *testing.T) {
	swm := testenv.StartSwarm(t, testenv.SwarmOptions{Managers: 1, Name: "tn"})
	m := swm.Managers[0]
	r := testenv.Redis(t)
	prefix := fmt.Sprintf("tn%d:", time.Now().UnixNano())
	a := apitest.Start(t, apitest.Config(t, apitest.WithRedis(r.URL(0), prefix)))
	b, calls := countingInstance(t, apitest.WithRedis(r.URL(0), prefix))
	adminA, adminB := a.Admin(t), b.Admin(t)
	register(t, adminA, "tn", m.Endpoint)
	const base = "/api/v1/clusters/tn/tasks"

	// create makes a service through A whose task stays pending (no node
	// has the label), and answers its ID once the engine lists its task.
	create := func(name string) string {
		t.Helper()
		var s struct {
			ID string `json:"id"`
		}
		adminA.MustDo(http.MethodPost, "/api/v1/clusters/tn/services", map[string]any{
			"name": name, "image": testenv.HelloImage1, "replicas": 1, "constraints": []string{"node.labels.tn-nowhere==1"},
		}, &s, 201)
		removeAfter(t, m, name)
		testenv.Poll(t, 30*time.Second, "the engine to list a task of "+name, func() error {
			tasks, err := m.Client().TaskList(context.Background(), swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", s.ID))})
			if err != nil || len(tasks) == 0 {
				return fmt.Errorf("%d tasks, %v", len(tasks), err)
			}
			return nil
		})
		return s.ID
	}
	// named checks that l lists tasks of service id, all named name.
	named := func(l taskList, id, name string) {
		t.Helper()
		n := 0
		for _, task := range l.Items {
			if task.ServiceID == id {
				n++
				if task.Service != name {
					t.Errorf("task %s of %s named %q, want %q", task.ID, id, task.Service, name)
				}
			}
		}
		if n == 0 {
			t.Errorf("no task of %s (%s) listed: %+v", name, id, l.Items)
		}
	}
	wantCalls := func(want map[string]int) {
		t.Helper()
		if diff := cmp.Diff(calls.counts(), want); diff != "" {
			t.Errorf("engine calls of a task list (-got +want):\n%s", diff)
		}
	}
	stamp := time.Now().UnixNano()
	firstName := fmt.Sprintf("tn1-%d", stamp)
	first := create(firstName)
	var l taskList
	calls.reset()
	adminB.MustDo(http.MethodGet, base, nil, &l, 200)
	named(l, first, firstName)
	wantCalls(map[string]int{"GET /tasks": 1, "GET /nodes": 1, "GET /services": 1})

	calls.reset()
	adminB.MustDo(http.MethodGet, base, nil, &l, 200)
	named(l, first, firstName)
	wantCalls(map[string]int{"GET /tasks": 1, "GET /nodes": 1})

	secondName := fmt.Sprintf("tn2-%d", stamp)
	second := create(secondName)
	calls.reset()
	adminB.MustDo(http.MethodGet, base, nil, &l, 200)
	named(l, second, secondName)
	named(l, first, firstName)
	wantCalls(map[string]int{"GET /tasks": 1, "GET /nodes": 1, "GET /services": 1})
}

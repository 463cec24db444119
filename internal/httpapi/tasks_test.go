package httpapi_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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

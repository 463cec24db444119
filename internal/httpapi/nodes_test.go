package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/server"
	sw "github.com/swarmops/swarmops/internal/swarm"
	"github.com/swarmops/swarmops/internal/testenv"
)

type nodeAnswer struct {
	ID            string            `json:"id"`
	Hostname      string            `json:"hostname"`
	Addr          string            `json:"addr"`
	Role          string            `json:"role"`
	Leader        bool              `json:"leader"`
	Status        string            `json:"status"`
	Availability  string            `json:"availability"`
	Reachability  string            `json:"reachability"`
	EngineVersion string            `json:"engine_version"`
	CPUs          float64           `json:"cpus"`
	MemoryBytes   int64             `json:"memory_bytes"`
	Labels        map[string]string `json:"labels"`
	TasksRunning  int               `json:"tasks_running"`
}

type nodeList struct {
	Items []nodeAnswer `json:"items"`
	Total int          `json:"total"`
}

// nodeNamed answers the listed node of hostname.
func (l nodeList) nodeNamed(hostname string) (nodeAnswer, bool) {
	i := slices.IndexFunc(l.Items, func(n nodeAnswer) bool { return n.Hostname == hostname })
	if i < 0 {
		return nodeAnswer{}, false
	}
	return l.Items[i], true
}

// auditHas reports whether the cluster's audit holds a successful action
// on target ("" = any target).
func auditHas(t *testing.T, c *apitest.Client, cluster, action, target string) bool {
	t.Helper()
	type record struct{ Action, Target, Result string }
	var l struct{ Items []record }
	c.MustDo(http.MethodGet, "/api/v1/audit?cluster="+cluster+"&action="+action, nil, &l, 200)
	return slices.ContainsFunc(l.Items, func(r record) bool {
		return r.Action == action && r.Result == "ok" && (target == "" || r.Target == target)
	})
}

// wantBadField sends a request that must answer 400 naming field, and
// answers the error message.
func wantBadField(t *testing.T, c *apitest.Client, method, path string, body any, field string) string {
	t.Helper()
	status, text := c.Do(method, path, body, nil)
	e := apitest.ParseError(t, text)
	if status != 400 || e.Error.Details["field"] != field {
		t.Errorf("%s %s %v: %d %s; want 400 naming field %q", method, path, body, status, text, field)
	}
	return e.Error.Message
}

// wantStatus sends a request that must answer status with a message
// containing each of words, and answers the message.
func wantStatus(t *testing.T, c *apitest.Client, method, path string, body any, status int, words ...string) string {
	t.Helper()
	got, text := c.Do(method, path, body, nil)
	e := apitest.ParseError(t, text)
	if got != status {
		t.Errorf("%s %s: status %d, want %d: %s", method, path, got, status, text)
	}
	for _, w := range words {
		if !strings.Contains(e.Error.Message, w) {
			t.Errorf("%s %s: message %q should contain %q", method, path, e.Error.Message, w)
		}
	}
	return e.Error.Message
}

// engineCalls counts an instance's engine requests by path, without the
// API version prefix ("/tasks", "/nodes/abc").
type engineCalls struct {
	mu sync.Mutex
	n  map[string]int
}

var apiVersionRE = regexp.MustCompile(`^/v[0-9.]+`)

func (e *engineCalls) reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n = map[string]int{}
}

func (e *engineCalls) counts() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]int{}
	for k, v := range e.n {
		out[k] = v
	}
	return out
}

// countingInstance starts an instance configured by opts whose engine
// requests are counted.
func countingInstance(t *testing.T, opts ...apitest.Option) (*apitest.Instance, *engineCalls) {
	t.Helper()
	calls := &engineCalls{n: map[string]int{}}
	counting := sw.WithTransport(func(_ string, rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if p := apiVersionRE.ReplaceAllString(r.URL.Path, ""); p != "/_ping" {
				calls.mu.Lock()
				calls.n[r.Method+" "+p]++
				calls.mu.Unlock()
			}
			return rt.RoundTrip(r)
		})
	})
	return apitest.Start(t, apitest.Config(t, opts...), server.WithPoolOptions(counting)), calls
}

// createService runs `docker service create` on n without asking a
// registry, and removes the service when the test ends.
func createService(t *testing.T, n *testenv.Node, name string, args ...string) {
	t.Helper()
	all := append([]string{"service", "create", "--no-resolve-image", "--detach", "--name", name}, args...)
	n.Docker(t, append(all, testenv.HelloImage1)...)
	t.Cleanup(func() { _ = n.Client().ServiceRemove(context.Background(), name) })
}

// runningByHost answers the hostnames of a service's running tasks, as
// the API lists them, with their counts.
func runningByHost(c *apitest.Client, cluster, service string) (map[string]int, error) {
	var l struct{ Items []taskAnswer }
	status, text := c.Do(http.MethodGet, "/api/v1/clusters/"+cluster+"/tasks?state=running&service="+service, nil, &l)
	if status != 200 {
		return nil, fmt.Errorf("tasks: %d %s", status, text)
	}
	out := map[string]int{}
	for _, task := range l.Items {
		out[task.NodeHostname]++
	}
	return out, nil
}

// TestNodes_ListAndGet lists the shared swarm's nodes, with running task
// counts from one TaskList call, and finds one by hostname, ID and ID
// prefix.
func TestNodes_ListAndGet(t *testing.T) {
	swm := testenv.SharedSwarm(t)
	in, calls := countingInstance(t)
	admin := in.Admin(t)
	register(t, admin, "nl", swm.Managers[0].Endpoint)
	worker := swm.Workers[0]
	createService(t, swm.Managers[0], "nl-svc", "--replicas", "2", "--constraint", "node.hostname=="+worker.Name)

	var l nodeList
	testenv.Poll(t, 60*time.Second, "2 running tasks counted on the worker", func() error {
		admin.MustDo(http.MethodGet, "/api/v1/clusters/nl/nodes", nil, &l, 200)
		if w, ok := l.nodeNamed(worker.Name); !ok || w.TasksRunning != 2 {
			return fmt.Errorf("worker listed as %+v", w)
		}
		return nil
	})
	if l.Total != 4 || len(l.Items) != 4 {
		t.Fatalf("listed %d nodes, want 4: %+v", l.Total, l.Items)
	}
	var managers, leaders int
	for _, n := range swm.Nodes() {
		got, ok := l.nodeNamed(n.Name)
		if !ok {
			t.Errorf("node %s not listed", n.Name)
			continue
		}
		wantRole := "worker"
		if slices.Contains(swm.Managers, n) {
			wantRole = "manager"
			managers++
			if got.Reachability != "reachable" {
				t.Errorf("manager %s reachability %q", n.Name, got.Reachability)
			}
		}
		if got.Leader {
			leaders++
		}
		if got.ID != n.ID || got.Addr != n.Addr || got.Role != wantRole || got.Status != "ready" || got.Availability != "active" {
			t.Errorf("node %s listed as %+v; want id %s addr %s role %s, ready and active", n.Name, got, n.ID, n.Addr, wantRole)
		}
		if got.EngineVersion == "" || got.CPUs <= 0 || got.MemoryBytes <= 0 || got.Labels == nil {
			t.Errorf("node %s: engine version, cpus, memory or labels missing: %+v", n.Name, got)
		}
	}
	if managers != 3 || leaders != 1 {
		t.Errorf("%d managers and %d leaders listed, want 3 and 1", managers, leaders)
	}

	// One NodeList and one TaskList, whatever the number of nodes.
	calls.reset()
	admin.MustDo(http.MethodGet, "/api/v1/clusters/nl/nodes", nil, &l, 200)
	if diff := cmp.Diff(calls.counts(), map[string]int{"GET /nodes": 1, "GET /tasks": 1}); diff != "" {
		t.Errorf("engine calls of a node list (-got +want):\n%s", diff)
	}

	admin.MustDo(http.MethodGet, "/api/v1/clusters/nl/nodes?q=-w", nil, &l, 200)
	if l.Total != 1 || l.Items[0].Hostname != worker.Name {
		t.Errorf("?q=-w listed %+v, want the worker only", l.Items)
	}

	for _, ref := range []string{worker.Name, worker.ID, worker.ID[:6]} {
		var d struct {
			Summary nodeAnswer `json:"summary"`
			Node    struct {
				ID          string
				Description struct{ Hostname string }
			} `json:"node"`
		}
		admin.MustDo(http.MethodGet, "/api/v1/clusters/nl/nodes/"+ref, nil, &d, 200)
		if d.Summary.ID != worker.ID || d.Node.ID != worker.ID || d.Node.Description.Hostname != worker.Name || d.Summary.TasksRunning != 2 {
			t.Errorf("GET nodes/%s answered %+v", ref, d)
		}
	}
	wantStatus(t, admin, http.MethodGet, "/api/v1/clusters/nl/nodes/nl-nope", nil, 404, `"nl-nope"`, `"nl"`)
	wantStatus(t, admin, http.MethodGet, "/api/v1/clusters/nl-none/nodes", nil, 404, `"nl-none"`)
}

// TestNodes_BadInput: every malformed field answers 400 naming it and
// changes nothing; refused changes of the shared swarm answer 403 or 409
// and change nothing either.
func TestNodes_BadInput(t *testing.T) {
	swm := testenv.SharedSwarm(t)
	in := apitest.Start(t, apitest.Config(t))
	admin := in.Admin(t)
	operator := in.UserWithRole(t, admin, "nb-operator", "operator")
	register(t, admin, "nb", swm.Managers[0].Endpoint)
	worker, manager := swm.Workers[0], swm.Managers[1]
	version := func(id string) uint64 {
		n, _, err := swm.Managers[0].Client().NodeInspectWithRaw(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return n.Version.Index
	}
	before := map[string]uint64{worker.ID: version(worker.ID), manager.ID: version(manager.ID)}

	path := "/api/v1/clusters/nb/nodes/" + worker.Name
	for _, tc := range []struct {
		body  any
		field string
	}{
		{map[string]any{"availability": "sleep"}, "availability"},
		{map[string]any{"role": "boss"}, "role"},
		{map[string]any{"labels": map[string]string{" bad": "x"}}, "labels"},
		{map[string]any{"labels": "zone=a"}, "labels"},
		{map[string]any{"labels_add": map[string]string{"": "x"}}, "labels_add"},
		{map[string]any{"labels_remove": []string{""}}, "labels_remove"},
		{map[string]any{"labels_remove": "zone"}, "labels_remove"},
		{map[string]any{"labels_add": map[string]string{"a": "1"}, "labels_remove": []string{"a"}}, "labels_remove"},
		{map[string]any{"labels": map[string]string{"a": "1"}, "labels_add": map[string]string{"b": "2"}}, "labels"},
		{map[string]any{}, "body"},
		{map[string]any{"availability": "drain", "color": "red"}, "color"},
		{"not json", "body"},
	} {
		wantBadField(t, admin, http.MethodPatch, path, tc.body, tc.field)
	}
	wantStatus(t, admin, http.MethodPatch, "/api/v1/clusters/nb/nodes/nb-nope", map[string]any{"availability": "drain"}, 404, `"nb-nope"`, `"nb"`)
	wantStatus(t, operator, http.MethodPatch, path, map[string]any{"role": "manager"}, 403, "admin")
	wantStatus(t, admin, http.MethodDelete, "/api/v1/clusters/nb/nodes/"+manager.Name, nil, 409, "demote")
	wantStatus(t, admin, http.MethodDelete, path, nil, 409, "not down", "force")
	wantBadField(t, admin, http.MethodDelete, path+"?force=maybe", nil, "force")
	wantStatus(t, admin, http.MethodDelete, "/api/v1/clusters/nb/nodes/nb-nope", nil, 404, `"nb-nope"`)

	join := "/api/v1/clusters/nb/nodes/join"
	nobody := worker.Addr[:strings.LastIndex(worker.Addr, ".")] + ".250" // on the bridge, no host
	for _, tc := range []struct {
		body  any
		field string
	}{
		{map[string]any{}, "endpoint"},
		{map[string]any{"endpoint": "ftp://198.18.0.1:21"}, "endpoint"},
		{map[string]any{"endpoint": worker.Endpoint, "role": "boss"}, "role"},
		{map[string]any{"endpoint": worker.Endpoint, "advertise_addr": "not an address!"}, "advertise_addr"},
		{map[string]any{"endpoint": worker.Endpoint, "tls": map[string]string{"ca": "not PEM"}}, "tls.ca"},
		{map[string]any{"endpoint": worker.Endpoint, "tls": "yes"}, "tls"},
		{map[string]any{"endpoint": "tcp://" + nobody + ":2375"}, "endpoint"},
	} {
		wantBadField(t, admin, http.MethodPost, join, tc.body, tc.field)
	}
	wantStatus(t, admin, http.MethodPost, join, map[string]any{"endpoint": worker.Endpoint}, 409, "already", worker.Name)
	leave := "/api/v1/clusters/nb/nodes/leave"
	wantBadField(t, admin, http.MethodPost, leave, map[string]any{}, "endpoint")
	wantBadField(t, admin, http.MethodPost, leave, map[string]any{"endpoint": "tcp://nohost"}, "endpoint")
	wantBadField(t, admin, http.MethodPost, leave, map[string]any{"endpoint": worker.Endpoint, "force": "yes"}, "force")

	for id, v := range before {
		if got := version(id); got != v {
			t.Errorf("node %s changed (version %d -> %d) after refused requests", id, v, got)
		}
	}
}

// TestNodes_AvailabilityLabelsRoles drains a worker and sees its tasks
// move, patches labels, and promotes and demotes a node, on a swarm of its
// own.
func TestNodes_AvailabilityLabelsRoles(t *testing.T) {
	swm := testenv.StartSwarm(t, testenv.SwarmOptions{Managers: 1, Workers: 2, Name: "nd"})
	in := apitest.Start(t, apitest.Config(t))
	admin := in.Admin(t)
	operator := in.UserWithRole(t, admin, "nd-operator", "operator")
	register(t, admin, "nd", swm.Managers[0].Endpoint)
	m1, w1, w2 := swm.Managers[0], swm.Workers[0], swm.Workers[1]
	nodes := "/api/v1/clusters/nd/nodes/"

	t.Run("drain moves tasks", func(t *testing.T) {
		createService(t, m1, "nd-drain", "--replicas", "2", "--constraint", "node.role==worker")
		testenv.Poll(t, 60*time.Second, "a running task on each worker", func() error {
			got, err := runningByHost(admin, "nd", "nd-drain")
			if err == nil && (got[w1.Name] != 1 || got[w2.Name] != 1) {
				err = fmt.Errorf("running tasks by node: %v", got)
			}
			return err
		})
		var n nodeAnswer
		operator.MustDo(http.MethodPatch, nodes+w1.Name, map[string]any{"availability": "drain"}, &n, 200)
		t.Cleanup(func() { admin.Do(http.MethodPatch, nodes+w1.Name, map[string]any{"availability": "active"}, nil) })
		if n.Availability != "drain" || n.Hostname != w1.Name {
			t.Fatalf("after drain: %+v", n)
		}
		testenv.Poll(t, 60*time.Second, "both tasks running on "+w2.Name+", none on the drained "+w1.Name, func() error {
			got, err := runningByHost(admin, "nd", "nd-drain")
			if err == nil && (got[w1.Name] != 0 || got[w2.Name] != 2) {
				err = fmt.Errorf("running tasks by node: %v", got)
			}
			return err
		})
		var l nodeList
		admin.MustDo(http.MethodGet, "/api/v1/clusters/nd/nodes", nil, &l, 200)
		if a, _ := l.nodeNamed(w1.Name); a.TasksRunning != 0 || a.Availability != "drain" {
			t.Errorf("drained node listed as %+v", a)
		}
		operator.MustDo(http.MethodPatch, nodes+w1.Name, map[string]any{"availability": "active"}, &n, 200)
		if n.Availability != "active" {
			t.Errorf("after reactivation: %+v", n)
		}
	})

	t.Run("labels", func(t *testing.T) {
		t.Cleanup(func() { admin.Do(http.MethodPatch, nodes+w2.ID, map[string]any{"labels": map[string]string{}}, nil) })
		steps := []struct {
			body any
			want map[string]string
		}{
			{map[string]any{"labels_add": map[string]string{"zone": "a", "tier": "web"}}, map[string]string{"zone": "a", "tier": "web"}},
			{map[string]any{"labels_remove": []string{"tier", "absent"}}, map[string]string{"zone": "a"}},
			{map[string]any{"labels_add": map[string]string{"zone": "b"}}, map[string]string{"zone": "b"}},
			{map[string]any{"labels": map[string]string{"rack": "r1"}}, map[string]string{"rack": "r1"}},
		}
		for i, st := range steps {
			var n nodeAnswer
			operator.MustDo(http.MethodPatch, nodes+w2.ID, st.body, &n, 200)
			if diff := cmp.Diff(n.Labels, st.want); diff != "" {
				t.Errorf("step %d: labels answered (-got +want):\n%s", i, diff)
			}
			engine, _, err := m1.Client().NodeInspectWithRaw(context.Background(), w2.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(engine.Spec.Labels, st.want); diff != "" {
				t.Errorf("step %d: labels on the engine (-got +want):\n%s", i, diff)
			}
		}
		var l nodeList
		admin.MustDo(http.MethodGet, "/api/v1/clusters/nd/nodes?label=rack=r1", nil, &l, 200)
		if l.Total != 1 || l.Items[0].Hostname != w2.Name {
			t.Errorf("?label=rack=r1 listed %+v", l.Items)
		}
		admin.MustDo(http.MethodGet, "/api/v1/clusters/nd/nodes?label=zone", nil, &l, 200)
		if l.Total != 0 {
			t.Errorf("?label=zone listed %+v", l.Items)
		}
	})

	t.Run("promote and demote", func(t *testing.T) {
		wantStatus(t, admin, http.MethodPatch, nodes+m1.Name, map[string]any{"role": "worker"}, 409, "last manager")
		wantStatus(t, operator, http.MethodPatch, nodes+w2.Name, map[string]any{"role": "manager"}, 403, "admin")
		// The role it has already is no role change: an operator may send it.
		operator.MustDo(http.MethodPatch, nodes+w2.Name, map[string]any{"role": "worker", "availability": "active"}, nil, 200)

		var n nodeAnswer
		admin.MustDo(http.MethodPatch, nodes+w2.Name, map[string]any{"role": "manager"}, &n, 200)
		if n.Role != "manager" {
			t.Fatalf("after promotion: %+v", n)
		}
		t.Cleanup(func() { admin.Do(http.MethodPatch, nodes+w2.Name, map[string]any{"role": "worker"}, nil) })
		testenv.Poll(t, 60*time.Second, w2.Name+" a reachable manager", func() error {
			var d struct{ Summary nodeAnswer }
			admin.MustDo(http.MethodGet, nodes+w2.Name, nil, &d, 200)
			if d.Summary.Role != "manager" || d.Summary.Reachability != "reachable" {
				return fmt.Errorf("listed as %+v", d.Summary)
			}
			return nil
		})
		wantStatus(t, admin, http.MethodPatch, nodes+m1.Name, map[string]any{"role": "worker"}, 409, "leader")
		wantStatus(t, admin, http.MethodDelete, nodes+w2.Name+"?force=true", nil, 409, "demote")

		admin.MustDo(http.MethodPatch, nodes+w2.Name, map[string]any{"role": "worker"}, &n, 200)
		testenv.Poll(t, 60*time.Second, w2.Name+" a worker again and one manager left", func() error {
			var l nodeList
			admin.MustDo(http.MethodGet, "/api/v1/clusters/nd/nodes", nil, &l, 200)
			var managers []string
			for _, n := range l.Items {
				if n.Role == "manager" {
					managers = append(managers, n.Hostname)
				}
			}
			if !slices.Equal(managers, []string{m1.Name}) {
				return fmt.Errorf("managers %v", managers)
			}
			return nil
		})
	})

	if !auditHas(t, admin, "nd", "node.update", w2.Name) {
		t.Errorf("no successful node.update of %s in the audit", w2.Name)
	}
}

// TestNodes_JoinAndLeave joins fresh engines to a swarm through the API,
// as a worker and as a manager, and makes them leave again.
func TestNodes_JoinAndLeave(t *testing.T) {
	swm := testenv.StartSwarm(t, testenv.SwarmOptions{Managers: 1, Name: "jl"})
	fresh := testenv.StartNode(t, testenv.NodeOptions{Name: "jl-new"})
	fresh2 := testenv.StartNode(t, testenv.NodeOptions{Name: "jl-mgr"})
	in := apitest.Start(t, apitest.Config(t))
	admin := in.Admin(t)
	register(t, admin, "jl", swm.Managers[0].Endpoint)
	// A node that left is marked down after missing heartbeats: make them
	// frequent, so that takes seconds rather than 15.
	swm.Managers[0].Docker(t, "swarm", "update", "--dispatcher-heartbeat", "1s")
	const base = "/api/v1/clusters/jl/nodes"
	listed := func() nodeList {
		var l nodeList
		admin.MustDo(http.MethodGet, base, nil, &l, 200)
		return l
	}
	endpoints := func() []string {
		var c clusterAnswer
		admin.MustDo(http.MethodGet, "/api/v1/clusters/jl", nil, &c, 200)
		return c.Endpoints
	}

	wantStatus(t, admin, http.MethodPost, base+"/leave", map[string]any{"endpoint": fresh.Endpoint}, 409, "not part of a swarm")

	var n nodeAnswer
	admin.MustDo(http.MethodPost, base+"/join", map[string]any{"endpoint": fresh.Endpoint, "role": "worker"}, &n, 200)
	if n.Hostname != fresh.Name || n.Role != "worker" || n.Status != "ready" || n.Addr != fresh.Addr {
		t.Fatalf("joined worker answered %+v", n)
	}
	if got, ok := listed().nodeNamed(fresh.Name); !ok || got.Role != "worker" || got.ID != n.ID {
		t.Fatalf("joined worker listed as %+v (listed: %v)", got, ok)
	}
	wantStatus(t, admin, http.MethodPost, base+"/join", map[string]any{"endpoint": fresh.Endpoint}, 409, "already", fresh.Name)

	var left struct {
		ID, Hostname, Role string
		Removed            bool
	}
	admin.MustDo(http.MethodPost, base+"/leave", map[string]any{"endpoint": fresh.Endpoint}, &left, 200)
	if left.ID != n.ID || left.Hostname != fresh.Name || left.Role != "worker" || left.Removed {
		t.Fatalf("leave answered %+v", left)
	}
	testenv.Poll(t, 60*time.Second, fresh.Name+" listed as down after leaving", func() error {
		if got, ok := listed().nodeNamed(fresh.Name); !ok || got.Status != "down" {
			return fmt.Errorf("listed as %+v (listed: %v)", got, ok)
		}
		return nil
	})
	admin.MustDo(http.MethodDelete, base+"/"+n.ID, nil, nil, 204)
	if got, ok := listed().nodeNamed(fresh.Name); ok {
		t.Fatalf("removed node still listed: %+v", got)
	}

	// A manager: its endpoint is stored with the cluster's until it leaves.
	admin.MustDo(http.MethodPost, base+"/join", map[string]any{"endpoint": fresh2.Endpoint, "role": "manager"}, &n, 200)
	if n.Hostname != fresh2.Name || n.Role != "manager" {
		t.Fatalf("joined manager answered %+v", n)
	}
	if eps := endpoints(); !slices.Contains(eps, fresh2.Endpoint) {
		t.Errorf("the new manager's endpoint %s is not stored: %v", fresh2.Endpoint, eps)
	}
	// Leaving would cost a swarm of two managers its quorum: the engine
	// refuses and says why.
	wantStatus(t, admin, http.MethodPost, base+"/leave", map[string]any{"endpoint": fresh2.Endpoint}, 409, "quorum")
	admin.MustDo(http.MethodPatch, base+"/"+fresh2.Name, map[string]any{"role": "worker"}, nil, 200)
	testenv.Poll(t, 60*time.Second, fresh2.Name+" demoted", func() error {
		if got, _ := listed().nodeNamed(fresh2.Name); got.Role != "worker" || got.Reachability != "" {
			return fmt.Errorf("listed as %+v", got)
		}
		return nil
	})
	admin.MustDo(http.MethodPost, base+"/leave", map[string]any{"endpoint": fresh2.Endpoint, "remove": true}, &left, 200)
	if left.Hostname != fresh2.Name || !left.Removed {
		t.Fatalf("leave with remove answered %+v", left)
	}
	if got, ok := listed().nodeNamed(fresh2.Name); ok {
		t.Errorf("node removed on leave still listed: %+v", got)
	}
	if eps := endpoints(); !slices.Equal(eps, []string{swm.Managers[0].Endpoint}) {
		t.Errorf("endpoints after the manager left: %v, want only %s", eps, swm.Managers[0].Endpoint)
	}

	for _, a := range []string{"node.join", "node.leave", "node.remove", "node.update"} {
		if !auditHas(t, admin, "jl", a, "") {
			t.Errorf("no successful %s in the audit", a)
		}
	}
}

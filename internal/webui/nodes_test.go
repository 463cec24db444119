package webui_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/google/go-cmp/cmp"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/testenv"
)

// ntRegister registers the swarm of endpoint as cluster name.
func ntRegister(t *testing.T, admin *apitest.Client, name, endpoint string) {
	t.Helper()
	admin.MustDo(http.MethodPost, "/api/v1/clusters", map[string]any{"name": name, "endpoint": endpoint}, nil, 201)
}

// ntService creates a service of the hello image through the API and
// removes it when the test ends.
func ntService(t *testing.T, admin *apitest.Client, cluster string, form map[string]any) {
	t.Helper()
	form["image"] = testenv.HelloImage1
	admin.MustDo(http.MethodPost, "/api/v1/clusters/"+cluster+"/services", form, nil, 201)
	t.Cleanup(func() {
		admin.Do(http.MethodDelete, "/api/v1/clusters/"+cluster+"/services/"+form["name"].(string), nil, nil)
	})
}

// ntRunningOn answers the running tasks of service per node ID, read on
// the engine.
func ntRunningOn(n *testenv.Node, service string) (map[string]int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tasks, err := n.Client().TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", service))})
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, task := range tasks {
		if task.Status.State == swarm.TaskStateRunning {
			out[task.NodeID]++
		}
	}
	return out, nil
}

// ntNode reads a node on the engine.
func ntNode(t *testing.T, n *testenv.Node, id string) swarm.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	node, _, err := n.Client().NodeInspectWithRaw(ctx, id)
	if err != nil {
		t.Fatalf("inspect node %s: %v", id, err)
	}
	return node
}

// ntConfirm accepts the confirmation dialog a data-confirm form opened,
// after checking what it says.
func ntConfirm(b *browser, wantText string) {
	b.t.Helper()
	b.waitText("#confirm-text", wantText, 10*time.Second)
	b.run("confirm", chromedp.Click(`#confirm-dialog [data-dialog-ok]`, chromedp.ByQuery))
}

// ntPostForms counts the mutating forms in the page's content.
func ntPostForms(b *browser) int { return b.count(`main form[method="post"]`) }

// TestNodes_ListDrainLabelsRoles: the node list shows the shared swarm's
// four nodes with the leader marked; draining the worker from its page
// moves its tasks away (on the engine too) and activating it brings it
// back; labels saved there reach the engine and bad ones are refused
// beside the field; demoting the leader is refused with the domain's
// message; a viewer sees no button that changes anything.
func TestNodes_ListDrainLabelsRoles(t *testing.T) {
	sw := testenv.SharedSwarm(t)
	in, b := startUI(t)
	admin := in.Admin(t)
	ntRegister(t, admin, "ui-nodes", sw.Managers[0].Endpoint)
	m0, worker := sw.Managers[0], sw.Workers[0]
	leader, err := sw.Leader()
	if err != nil {
		t.Fatal(err)
	}

	// A service with a task on every node, the worker's among them.
	ntService(t, admin, "ui-nodes", map[string]any{"name": "uinodes-web", "replicas": 4})
	testenv.Poll(t, 90*time.Second, "a running task of uinodes-web on the worker", func() error {
		got, err := ntRunningOn(m0, "uinodes-web")
		if err == nil && got[worker.ID] == 0 {
			err = fmt.Errorf("running tasks by node: %v", got)
		}
		return err
	})

	t.Run("list", func(t *testing.T) {
		if st := b.open("/c/ui-nodes/nodes"); st != 200 {
			t.Fatalf("nodes list answered %d", st)
		}
		if n := b.count(`#nodes tbody tr`); n != 4 {
			t.Fatalf("listed %d nodes, want 4", n)
		}
		for _, n := range sw.Nodes() {
			row := "#node-" + n.ID
			b.waitText(row, n.Name, 5*time.Second)
			b.waitText(row, "ready", 5*time.Second)
			b.waitText(row, n.Addr, 5*time.Second)
		}
		if n := b.count(`#nodes .leader`); n != 1 {
			t.Errorf("%d nodes marked leader, want 1", n)
		}
		b.waitText("#node-"+leader.ID, "leader", 5*time.Second)
		b.waitText("#node-"+worker.ID, "worker", 5*time.Second)
		if n := b.count(`a[href="/c/ui-nodes/nodes/join"]`); n != 1 {
			t.Errorf("admin sees %d join links, want 1", n)
		}
		b.screenshot("nodes")
		b.clean("nodes list")
	})

	t.Run("drain moves tasks", func(t *testing.T) {
		t.Cleanup(func() {
			admin.Do(http.MethodPatch, "/api/v1/clusters/ui-nodes/nodes/"+worker.ID, map[string]any{"availability": "active"}, nil)
		})
		page := "/c/ui-nodes/nodes/" + worker.ID
		b.open(page)
		b.waitText("h1", worker.Name, 5*time.Second)
		b.waitText("#node-tasks", "uinodes-web", 10*time.Second)
		var pressed string
		b.eval(`document.querySelector('button[value="active"]').getAttribute('aria-pressed')`, &pressed)
		if pressed != "true" {
			t.Errorf("Active is not pressed on an active node: aria-pressed=%q", pressed)
		}
		b.screenshot("node_detail")

		b.run("drain", chromedp.Click(`button[name="availability"][value="drain"]`, chromedp.ByQuery))
		b.waitText(".flash-ok", worker.Name+" is now drain", 15*time.Second)
		b.waitText("#node-badges", "drain", 5*time.Second)
		if got := ntNode(t, m0, worker.ID).Spec.Availability; got != swarm.NodeAvailabilityDrain {
			t.Fatalf("engine has the worker %s", got)
		}
		testenv.Poll(t, 90*time.Second, "no running task on the drained worker, 4 elsewhere", func() error {
			got, err := ntRunningOn(m0, "uinodes-web")
			total := 0
			for _, n := range got {
				total += n
			}
			if err == nil && (got[worker.ID] != 0 || total != 4) {
				err = fmt.Errorf("running tasks by node: %v", got)
			}
			return err
		})
		// The page follows: its task list empties without a reload.
		b.waitText("#node-tasks", "No tasks on this node", 30*time.Second)

		b.run("activate", chromedp.Click(`button[name="availability"][value="active"]`, chromedp.ByQuery))
		b.waitText(".flash-ok", worker.Name+" is now active", 15*time.Second)
		if got := ntNode(t, m0, worker.ID).Spec.Availability; got != swarm.NodeAvailabilityActive {
			t.Fatalf("engine has the worker %s after activating it", got)
		}
		b.eval(`document.querySelector('button[value="active"]').getAttribute('aria-pressed')`, &pressed)
		if pressed != "true" {
			t.Errorf("Active is not pressed after activating: aria-pressed=%q", pressed)
		}
		b.clean("drain")
	})

	t.Run("labels", func(t *testing.T) {
		before := ntNode(t, m0, worker.ID).Spec.Labels
		t.Cleanup(func() {
			admin.Do(http.MethodPatch, "/api/v1/clusters/ui-nodes/nodes/"+worker.ID, map[string]any{"labels": maps.Clone(before)}, nil)
		})
		b.open("/c/ui-nodes/nodes/" + worker.ID)
		b.run("type labels",
			chromedp.SetValue(`#f-labels`, "zone=ui-a\nrack = r7\n\n", chromedp.ByQuery),
			chromedp.Click(`#labels button[type="submit"]`, chromedp.ByQuery),
		)
		b.waitText(".flash-ok", "Labels of "+worker.Name+" saved", 15*time.Second)
		want := map[string]string{"zone": "ui-a", "rack": "r7"}
		if diff := cmp.Diff(ntNode(t, m0, worker.ID).Spec.Labels, want); diff != "" {
			t.Errorf("labels on the engine (-got +want):\n%s", diff)
		}
		var text string
		b.eval(`document.getElementById('f-labels').value`, &text)
		if text != "rack=r7\nzone=ui-a" {
			t.Errorf("the editor shows %q after saving", text)
		}

		// A line without a key: the message beside the field, what was
		// typed kept, nothing changed.
		b.run("type a bad label",
			chromedp.SetValue(`#f-labels`, "zone=ui-b\n=oops", chromedp.ByQuery),
			chromedp.Click(`#labels button[type="submit"]`, chromedp.ByQuery),
		)
		b.waitText(`#labels .field.invalid .field-error`, "line 2", 15*time.Second)
		b.expect(400)
		b.eval(`document.getElementById('f-labels').value`, &text)
		if !strings.Contains(text, "=oops") {
			t.Errorf("the editor lost what was typed: %q", text)
		}
		if diff := cmp.Diff(ntNode(t, m0, worker.ID).Spec.Labels, want); diff != "" {
			t.Errorf("a refused edit changed the labels (-got +want):\n%s", diff)
		}
		b.clean("labels")
	})

	t.Run("demoting the leader is refused", func(t *testing.T) {
		b.open("/c/ui-nodes/nodes/" + leader.ID)
		b.waitText("#node-badges", "leader", 5*time.Second)
		b.run("demote", chromedp.Click(`form[action$="/role"] button`, chromedp.ByQuery))
		ntConfirm(b, "Demote "+leader.Name)
		b.waitText(".flash-error", "leader", 15*time.Second)
		if got := ntNode(t, m0, leader.ID).Spec.Role; got != swarm.NodeRoleManager {
			t.Fatalf("the leader is a %s after a refused demotion", got)
		}
		b.clean("demote")
	})

	t.Run("viewer", func(t *testing.T) {
		if n := ntPostForms(b); n == 0 {
			t.Fatal("the admin's node page has no forms: the viewer check below would prove nothing")
		}
		admin.MustDo(http.MethodPatch, "/api/v1/clusters/ui-nodes/nodes/"+worker.ID, map[string]any{"labels_add": map[string]string{"zone": "ui-v"}}, nil, 200)
		t.Cleanup(func() {
			admin.Do(http.MethodPatch, "/api/v1/clusters/ui-nodes/nodes/"+worker.ID, map[string]any{"labels_remove": []string{"zone"}}, nil)
		})
		admin.MustDo(http.MethodPost, "/api/v1/users", map[string]string{"username": "ui-nodes-viewer", "password": "password-ui-nodes-viewer", "role": "viewer"}, nil, 201)
		v := newBrowser(t, in.URL)
		v.login("ui-nodes-viewer", "password-ui-nodes-viewer")
		for _, p := range []string{"/c/ui-nodes/nodes", "/c/ui-nodes/nodes/" + worker.ID, "/c/ui-nodes/nodes/" + leader.ID} {
			if st := v.open(p); st != 200 {
				t.Fatalf("viewer: %s answered %d", p, st)
			}
			if n := ntPostForms(v); n != 0 {
				t.Errorf("viewer sees %d mutating forms on %s", n, p)
			}
			if n := v.count(`a[href$="/nodes/join"]`); n != 0 {
				t.Errorf("viewer sees the join link on %s", p)
			}
		}
		v.open("/c/ui-nodes/nodes/" + worker.ID)
		v.waitText("#labels", "zone=ui-v", 5*time.Second) // shown, not editable
		if st := v.open("/c/ui-nodes/nodes/join"); st != 403 {
			t.Errorf("viewer: join form answered %d, want 403", st)
		}
		v.expect(403)
		v.clean("viewer")
	})
}

// TestNodes_JoinAndLeave joins a fresh engine as a worker through the
// join form and makes it leave (and be removed) through the leave form;
// bad input comes back beside its field.
func TestNodes_JoinAndLeave(t *testing.T) {
	own := testenv.StartSwarm(t, testenv.SwarmOptions{Managers: 1, Name: "uijl"})
	fresh := testenv.StartNode(t, testenv.NodeOptions{Name: "uijl-new"})
	in, b := startUI(t)
	admin := in.Admin(t)
	ntRegister(t, admin, "ui-jl", own.Managers[0].Endpoint)
	m := own.Managers[0]

	b.open("/c/ui-jl/nodes")
	b.run("follow the join link", chromedp.Click(`a[href="/c/ui-jl/nodes/join"]`, chromedp.ByQuery))
	b.waitText("h1", "Join an engine", 10*time.Second)

	// Bad input: nothing is asked of the engine.
	b.run("join with a bad advertise address",
		chromedp.SetValue(`#f-endpoint`, fresh.Endpoint, chromedp.ByQuery),
		chromedp.SetValue(`#f-advertise_addr`, "not an address", chromedp.ByQuery),
		chromedp.Click(`form.stacked button[type="submit"]`, chromedp.ByQuery),
	)
	b.waitText(`.field.invalid .field-error`, "IP address or interface name", 15*time.Second)
	b.waitText(`#error-summary`, "advertise_addr", 5*time.Second)
	b.expect(400)
	var kept string
	b.eval(`document.getElementById('f-endpoint').value`, &kept)
	if kept != fresh.Endpoint {
		t.Errorf("the form lost the endpoint: %q", kept)
	}
	info, err := fresh.Client().Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Swarm.LocalNodeState != swarm.LocalNodeStateInactive {
		t.Fatalf("a refused join left the engine %s", info.Swarm.LocalNodeState)
	}
	b.screenshot("nodes_join")

	b.run("join as a worker",
		chromedp.Clear(`#f-advertise_addr`, chromedp.ByQuery),
		chromedp.Click(`form.stacked button[type="submit"]`, chromedp.ByQuery),
	)
	b.waitText(".flash-ok", fresh.Name+" joined the swarm as a worker", 60*time.Second)
	b.waitText("h1", fresh.Name, 5*time.Second)
	var id string
	testenv.Poll(t, 30*time.Second, fresh.Name+" a ready worker on the engine", func() error {
		list, err := m.Client().NodeList(context.Background(), swarm.NodeListOptions{})
		if err != nil {
			return err
		}
		for _, n := range list {
			if n.Description.Hostname == fresh.Name && n.Spec.Role == swarm.NodeRoleWorker && n.Status.State == swarm.NodeStateReady {
				id = n.ID
				return nil
			}
		}
		return fmt.Errorf("%s is not a ready worker in %d nodes", fresh.Name, len(list))
	})

	// Leave, and be removed from the node list.
	b.open("/c/ui-jl/nodes")
	b.waitText("#node-"+id, fresh.Name, 5*time.Second)
	b.run("open the leave form", chromedp.Click(`#leave > summary`, chromedp.ByQuery))
	var removeChecked bool
	b.eval(`document.getElementById('f-remove').checked`, &removeChecked)
	if !removeChecked {
		t.Error("the leave form does not remove the node by default")
	}
	b.screenshot("nodes_leave")
	b.run("leave",
		chromedp.SetValue(`#f-endpoint`, fresh.Endpoint, chromedp.ByQuery),
		chromedp.Click(`#leave button[type="submit"]`, chromedp.ByQuery),
	)
	ntConfirm(b, "leave the swarm")
	b.waitText(".flash-ok", fresh.Name+" left the swarm and was removed", 60*time.Second)
	if n := b.count("#node-" + id); n != 0 {
		t.Errorf("the node that left is still listed")
	}
	list, err := m.Client().NodeList(context.Background(), swarm.NodeListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range list {
		if n.ID == id {
			t.Errorf("the engine still lists %s: %s", fresh.Name, n.Status.State)
		}
	}
	if info, err = fresh.Client().Info(context.Background()); err != nil || info.Swarm.LocalNodeState != swarm.LocalNodeStateInactive {
		t.Errorf("the engine that left is %s (%v)", info.Swarm.LocalNodeState, err)
	}
	b.clean("join and leave")
}

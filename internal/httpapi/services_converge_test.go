package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/testenv"
)

// missingImage exists on no node, and no node can pull it.
const missingImage = "swarmops-test/nope:1"

// convergence is the report of a change made with wait, or of a service.
type convergence struct {
	State    string
	Services []struct {
		ID, Name, State  string
		Desired, Running int
		UpdateStatus     *struct{ State, Message string } `json:"update_status"`
		Errors           []struct {
			Task, Node, Error string
			At                time.Time
		}
	}
}

// changedWithReport is a change's answer.
type changedWithReport struct {
	ID, Name    string
	Warnings    []string
	Convergence *convergence
}

// mustBe checks that a change's answer reports one service, in state.
func (ch changedWithReport) mustBe(t *testing.T, state string) convergence {
	t.Helper()
	c := ch.Convergence
	if c == nil || len(c.Services) != 1 {
		t.Fatalf("answer without a report of one service: %+v", ch)
	}
	if c.State != state || c.Services[0].State != state {
		t.Fatalf("convergence %+v, want %s", *c, state)
	}
	return *c
}

// waitingClient answers an admin client that waits long enough for a
// change made with wait.
func waitingClient(admin *apitest.Client) *apitest.Client {
	admin.HTTP.Timeout = 3 * time.Minute
	return admin
}

// TestServicesConverge_MissingImageThenFixed: a service created on an
// image no node has is reported failed with the engine's reason within
// the wait; GET answers the same report; fixed with a good image and a
// wait it converges, its earlier failed tasks not held against it.
func TestServicesConverge_MissingImageThenFixed(t *testing.T) {
	sw, _, admin := sharedCluster(t, "cvm")
	admin = waitingClient(admin)
	m := sw.Managers[0]
	start := time.Now()
	var ch changedWithReport
	admin.MustDo(http.MethodPost, "/api/v1/clusters/cvm/services", map[string]any{
		"name": "cv-missing", "image": missingImage, "replicas": 2, "resolve_image": false, "wait": "60s",
	}, &ch, 201)
	removeAfter(t, m, "cv-missing")
	took := time.Since(start)
	c := ch.mustBe(t, "failed")
	s := c.Services[0]
	t.Logf("missing image reported failed after %s: %+v", took.Round(100*time.Millisecond), s)
	if s.Name != "cv-missing" || s.ID != ch.ID || s.Desired != 2 || s.Running != 0 || len(s.Errors) == 0 {
		t.Fatalf("report: %+v", s)
	}
	for _, e := range s.Errors {
		if !strings.Contains(e.Error, "No such image: "+missingImage) || !strings.HasPrefix(e.Task, "cv-missing.") || e.Node == "" || e.At.IsZero() {
			t.Errorf("task error: %+v", e)
		}
	}

	// The detail carries the report without a wait.
	var d struct {
		Convergence convergence
	}
	admin.MustDo(http.MethodGet, "/api/v1/clusters/cvm/services/cv-missing", nil, &d, 200)
	if d.Convergence.State != "failed" || len(d.Convergence.Services) != 1 || len(d.Convergence.Services[0].Errors) == 0 {
		t.Errorf("detail's convergence: %+v", d.Convergence)
	}

	// Fixed: converged, the rejected tasks of the old spec not reported.
	ch = changedWithReport{}
	admin.MustDo(http.MethodPatch, "/api/v1/clusters/cvm/services/cv-missing", map[string]any{"image": testenv.HelloImage1, "wait": "60s"}, &ch, 200)
	c = ch.mustBe(t, "converged")
	if s := c.Services[0]; s.Desired != 2 || s.Running != 2 || len(s.Errors) != 0 {
		t.Errorf("after the fix: %+v", s)
	}
	admin.MustDo(http.MethodGet, "/api/v1/clusters/cvm/services/cv-missing", nil, &d, 200)
	if d.Convergence.State != "converged" {
		t.Errorf("detail after the fix: %+v", d.Convergence)
	}

	// The engine's "_up-to-date" filter (engine 20.10) is what leaves the
	// old spec's tasks out: they are still listed without it.
	list := func(upToDate bool) (old int) {
		args := filters.NewArgs(filters.Arg("service", ch.ID))
		if upToDate {
			args.Add("_up-to-date", "true")
		}
		tasks, err := m.Client().TaskList(context.Background(), swarm.TaskListOptions{Filters: args})
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			if strings.HasPrefix(task.Spec.ContainerSpec.Image, missingImage) {
				old++
			}
		}
		return old
	}
	if all, current := list(false), list(true); all == 0 || current != 0 {
		t.Errorf("tasks on the missing image: %d listed, %d up to date; want some and none", all, current)
	}
}

// TestServicesConverge_Healthy: create, scale (wait in the query),
// upgrade, rollback and redeploy (wait in an optional body) of a healthy
// service each answer converged.
func TestServicesConverge_Healthy(t *testing.T) {
	sw, _, admin := sharedCluster(t, "cvh")
	admin = waitingClient(admin)
	m := sw.Managers[0]
	var ch changedWithReport
	admin.MustDo(http.MethodPost, "/api/v1/clusters/cvh/services", map[string]any{
		"name": "cv-healthy", "image": testenv.HelloImage1, "replicas": 2, "wait": "60s",
	}, &ch, 201)
	removeAfter(t, m, "cv-healthy")
	c := ch.mustBe(t, "converged")
	if s := c.Services[0]; s.Desired != 2 || s.Running != 2 || len(s.Errors) != 0 {
		t.Fatalf("created: %+v", s)
	}

	for _, step := range []struct {
		name, path string
		body       any
		running    int
	}{
		{"scale, wait in the query", "/scale?wait=60s", map[string]any{"replicas": 3}, 3},
		{"upgrade", "/image", map[string]any{"image": testenv.HelloImage2, "wait": "60s"}, 3},
		{"rollback asked for", "/rollback", map[string]any{"wait": "60s"}, 3},
		{"redeploy, wait in the query", "/redeploy?wait=60s", nil, 3},
	} {
		ch = changedWithReport{}
		admin.MustDo(http.MethodPost, "/api/v1/clusters/cvh/services/cv-healthy"+step.path, step.body, &ch, 200)
		c := ch.mustBe(t, "converged")
		if s := c.Services[0]; s.Running != step.running || s.Desired != step.running {
			t.Errorf("%s: %+v", step.name, s)
		}
	}
	imgs, err := runningImages(t, m, "cv-healthy")
	if err != nil || len(imgs) != 3 || imgs[0] != testenv.HelloImage1 {
		t.Errorf("after rollback and redeploy: %v %v", imgs, err)
	}
	// Without wait, no report.
	ch = changedWithReport{}
	admin.MustDo(http.MethodPost, "/api/v1/clusters/cvh/services/cv-healthy/scale", map[string]any{"replicas": 1}, &ch, 200)
	if ch.Convergence != nil {
		t.Errorf("a change without wait answered a report: %+v", ch.Convergence)
	}
}

// TestServicesConverge_RolledBackByFailureAction: an upgrade to a missing
// image of a service whose update_config says failure_action rollback is
// reported failed only once the engine has rolled it back, with the
// engine's update status and the reason the new tasks failed.
func TestServicesConverge_RolledBackByFailureAction(t *testing.T) {
	sw, _, admin := sharedCluster(t, "cvr")
	admin = waitingClient(admin)
	m := sw.Managers[0]
	var ch changedWithReport
	admin.MustDo(http.MethodPost, "/api/v1/clusters/cvr/services", map[string]any{
		"name": "cv-rollback", "image": testenv.HelloImage1, "replicas": 2, "wait": "60s",
		"update_config": map[string]any{"failure_action": "rollback", "monitor": "2s", "parallelism": 1},
	}, &ch, 201)
	removeAfter(t, m, "cv-rollback")
	ch.mustBe(t, "converged")

	start := time.Now()
	ch = changedWithReport{}
	admin.MustDo(http.MethodPatch, "/api/v1/clusters/cvr/services/cv-rollback", map[string]any{"image": missingImage, "wait": "90s"}, &ch, 200)
	c := ch.mustBe(t, "failed")
	s := c.Services[0]
	if s.UpdateStatus == nil || s.UpdateStatus.State != "rollback_completed" || s.UpdateStatus.Message == "" {
		t.Fatalf("update status: %+v", s.UpdateStatus)
	}
	t.Logf("rollback reported after %s: %+v, update status %+v", time.Since(start).Round(100*time.Millisecond), s, *s.UpdateStatus)
	if len(s.Errors) == 0 || !strings.Contains(s.Errors[0].Error, "No such image: "+missingImage) {
		t.Errorf("errors of the rolled-back update: %+v", s.Errors)
	}
	if img := inspect(t, m, "cv-rollback").Spec.TaskTemplate.ContainerSpec.Image; !strings.HasPrefix(img, testenv.HelloImage1) {
		t.Errorf("image after the rollback: %s", img)
	}
}

// TestServicesConverge_BadWait: a wait that is too long or no duration is
// a 400 naming "wait", and nothing changes.
func TestServicesConverge_BadWait(t *testing.T) {
	sw, _, admin := sharedCluster(t, "cvb")
	m := sw.Managers[0]
	admin.MustDo(http.MethodPost, "/api/v1/clusters/cvb/services", map[string]any{
		"name": "cv-bad", "image": testenv.HelloImage1, "replicas": 0, "env": []string{"X=1"},
	}, nil, 201)
	removeAfter(t, m, "cv-bad")
	before := inspect(t, m, "cv-bad")
	svc := "/api/v1/clusters/cvb/services/cv-bad"
	for _, wait := range []string{"10m", "abc"} {
		for _, tc := range []struct {
			method, path string
			body         any
		}{
			{http.MethodPost, "/api/v1/clusters/cvb/services", map[string]any{"name": "cv-bad-new", "image": testenv.HelloImage1, "wait": wait}},
			{http.MethodPatch, svc, map[string]any{"env": []string{"X=2"}, "wait": wait}},
			{http.MethodPatch, svc + "?wait=" + wait, map[string]any{"env": []string{"X=2"}}},
			{http.MethodPost, svc + "/scale", map[string]any{"replicas": 1, "wait": wait}},
			{http.MethodPost, svc + "/image", map[string]any{"tag": "2", "wait": wait}},
			{http.MethodPost, svc + "/rollback", map[string]any{"wait": wait}},
			{http.MethodPost, svc + "/redeploy?wait=" + wait, nil},
		} {
			t.Run(fmt.Sprintf("%s %s %s", wait, tc.method, tc.path), func(t *testing.T) {
				status, text := admin.Do(tc.method, tc.path, tc.body, nil)
				e := apitest.ParseError(t, text)
				if status != 400 || e.Error.Details["field"] != "wait" {
					t.Fatalf("status %d field %v, want 400 wait: %s", status, e.Error.Details["field"], text)
				}
			})
		}
	}
	// Members beside the form are named as sent, and so are the form's own.
	for _, tc := range []struct{ method, path, body, field string }{
		{http.MethodPost, "/api/v1/clusters/cvb/services", `{"name":"cv-bad-new","image":"` + testenv.HelloImage1 + `","wait":90}`, "wait"},
		{http.MethodPatch, svc, `{"env":["X=2"],"wait":90}`, "wait"},
		{http.MethodPatch, svc, `{"env":["X=2"],"version":"3"}`, "version"},
		{http.MethodPatch, svc, `{"replicas":"two"}`, "replicas"},
		{http.MethodPost, svc + "/redeploy", `{"wait":"90s","force":true}`, "force"},
	} {
		status, text := admin.Do(tc.method, tc.path, tc.body, nil)
		if e := apitest.ParseError(t, text); status != 400 || e.Error.Details["field"] != tc.field {
			t.Errorf("%s %s %s: status %d field %v, want 400 %q: %s", tc.method, tc.path, tc.body, status, e.Error.Details["field"], tc.field, text)
		}
	}
	if after := inspect(t, m, "cv-bad"); after.Version.Index != before.Version.Index {
		t.Errorf("a refused wait changed the service: version %d -> %d", before.Version.Index, after.Version.Index)
	}
	if _, _, err := m.Client().ServiceInspectWithRaw(context.Background(), "cv-bad-new", swarm.ServiceInspectOptions{}); err == nil {
		_ = m.Client().ServiceRemove(context.Background(), "cv-bad-new")
		t.Errorf("a create with a refused wait made the service")
	}
}

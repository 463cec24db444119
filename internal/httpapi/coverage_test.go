package httpapi_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/google/go-cmp/cmp"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/testenv"
	"github.com/swarmops/swarmops/internal/version"
)

// TestMeta_HealthzAndVersionBodies: /healthz and /api/v1/version answer,
// without credentials, exactly the bodies the contract gives them.
func TestMeta_HealthzAndVersionBodies(t *testing.T) {
	in := apitest.Start(t, apitest.Config(t))
	anon := in.Anonymous(t)

	var health map[string]any
	anon.MustDo(http.MethodGet, "/healthz", nil, &health, 200)
	if diff := cmp.Diff(health, map[string]any{"status": "ok"}); diff != "" {
		t.Errorf("GET /healthz body (-got +want):\n%s", diff)
	}

	var v map[string]any
	anon.MustDo(http.MethodGet, "/api/v1/version", nil, &v, 200)
	want := map[string]any{
		"version": version.Version, "commit": version.Commit, "store": "local", "api": "v1",
		"instance": in.Server.Config.InstanceID,
	}
	if diff := cmp.Diff(v, want); diff != "" {
		t.Errorf("GET /api/v1/version body (-got +want):\n%s", diff)
	}
}

// userItem is what the tests read of a user in the API's answers.
type userItem struct {
	Username  string    `json:"username"`
	Role      string    `json:"role"`
	Source    string    `json:"source"`
	Tokens    *int      `json:"tokens"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// userRow is a user item without its times, for comparing.
type userRow struct {
	Username, Role, Source string
	Tokens                 int // -1: the answer has no tokens field
}

func rowOf(u userItem) userRow {
	r := userRow{Username: u.Username, Role: u.Role, Source: u.Source, Tokens: -1}
	if u.Tokens != nil {
		r.Tokens = *u.Tokens
	}
	return r
}

// listUsers answers GET /api/v1/users as rows sorted by username, checking
// the total and that every item has its times.
func listUsers(t *testing.T, admin *apitest.Client) []userRow {
	t.Helper()
	var l struct {
		Items []userItem `json:"items"`
		Total int        `json:"total"`
	}
	admin.MustDo(http.MethodGet, "/api/v1/users", nil, &l, 200)
	if l.Total != len(l.Items) {
		t.Errorf("GET /api/v1/users: total %d with %d items", l.Total, len(l.Items))
	}
	rows := make([]userRow, len(l.Items))
	for i, u := range l.Items {
		rows[i] = rowOf(u)
		if u.CreatedAt.IsZero() || u.UpdatedAt.Before(u.CreatedAt) {
			t.Errorf("user %s: created_at %v updated_at %v", u.Username, u.CreatedAt, u.UpdatedAt)
		}
	}
	slices.SortFunc(rows, func(a, b userRow) int { return strings.Compare(a.Username, b.Username) })
	return rows
}

// TestUsers_ListItemsAndRoleChange: the user list names every user with
// role, source and token count; PATCH changes a role, answers the changed
// user, and the change is what the list and the user's own session see.
func TestUsers_ListItemsAndRoleChange(t *testing.T) {
	in := apitest.Start(t, apitest.Config(t))
	admin := in.Admin(t)
	op := in.UserWithRole(t, admin, "cu-op", "operator")
	op.WithToken("cu-ci")
	viewer := in.UserWithRole(t, admin, "cu-viewer", "viewer")

	want := []userRow{
		{Username: "admin", Role: "admin", Source: "local", Tokens: 0},
		{Username: "cu-op", Role: "operator", Source: "local", Tokens: 1},
		{Username: "cu-viewer", Role: "viewer", Source: "local", Tokens: 0},
	}
	if diff := cmp.Diff(listUsers(t, admin), want); diff != "" {
		t.Errorf("GET /api/v1/users items (-got +want):\n%s", diff)
	}

	before := time.Now().UTC().Add(-time.Second)
	var changed userItem
	admin.MustDo(http.MethodPatch, "/api/v1/users/cu-viewer", map[string]string{"role": "operator"}, &changed, 200)
	if diff := cmp.Diff(rowOf(changed), userRow{Username: "cu-viewer", Role: "operator", Source: "local", Tokens: -1}); diff != "" {
		t.Errorf("PATCH /api/v1/users/cu-viewer answer (-got +want):\n%s", diff)
	}
	if changed.UpdatedAt.Before(before) || !changed.CreatedAt.Before(changed.UpdatedAt) {
		t.Errorf("PATCH answer: created_at %v updated_at %v; want updated_at now, after created_at", changed.CreatedAt, changed.UpdatedAt)
	}
	want[2].Role = "operator"
	if diff := cmp.Diff(listUsers(t, admin), want); diff != "" {
		t.Errorf("GET /api/v1/users after the role change (-got +want):\n%s", diff)
	}
	var me struct {
		User struct{ Username, Role string }
	}
	viewer.MustDo(http.MethodGet, "/api/v1/auth/me", nil, &me, 200)
	if me.User.Username != "cu-viewer" || me.User.Role != "operator" {
		t.Errorf("the promoted user's own session says %+v; want cu-viewer, operator", me.User)
	}

	// A role that does not exist changes nothing.
	status, text := admin.Do(http.MethodPatch, "/api/v1/users/cu-op", map[string]string{"role": "root"}, nil)
	if e := apitest.ParseError(t, text); status != 400 || e.Error.Details["field"] != "role" {
		t.Errorf("PATCH role root: %d %s; want 400 on field role", status, text)
	}
	if diff := cmp.Diff(listUsers(t, admin), want); diff != "" {
		t.Errorf("GET /api/v1/users after a refused change (-got +want):\n%s", diff)
	}
}

// createLabelled creates a service of no replicas with labels straight on
// the engine, removed when the test ends.
func createLabelled(t *testing.T, n *testenv.Node, name string, labels map[string]string) {
	t.Helper()
	zero := uint64(0)
	spec := swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: name, Labels: labels},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: testenv.HelloImage1}},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &zero}},
	}
	if _, err := n.Client().ServiceCreate(context.Background(), spec, swarm.ServiceCreateOptions{QueryRegistry: false}); err != nil {
		t.Fatalf("create service %s: %v", name, err)
	}
	removeAfter(t, n, name)
}

// TestServices_ListFilters: the services list filters by stack (the
// com.docker.stack.namespace label) and by labels (key=value, or a key
// alone), alone and together, on the shared swarm; services of other
// tests may be listed beside these, so each filter selects names unique
// to this test.
func TestServices_ListFilters(t *testing.T) {
	swm, _, admin := sharedCluster(t, "cv")
	m := swm.Managers[0]
	createStackService(t, m, "cvst", "api", 0)
	createStackService(t, m, "cvst", "web", 0)
	createLabelled(t, m, "cv-ops", map[string]string{"cv-team": "ops"})
	createLabelled(t, m, "cv-dev", map[string]string{"cv-team": "dev"})
	createLabelled(t, m, "cv-plain", nil)

	type item struct {
		Name   string            `json:"name"`
		Stack  string            `json:"stack"`
		Labels map[string]string `json:"labels"`
	}
	list := func(query string) map[string]item {
		t.Helper()
		var l struct {
			Items []item `json:"items"`
			Total int    `json:"total"`
		}
		admin.MustDo(http.MethodGet, "/api/v1/clusters/cv/services"+query, nil, &l, 200)
		if l.Total != len(l.Items) {
			t.Errorf("services%s: total %d with %d items", query, l.Total, len(l.Items))
		}
		out := map[string]item{}
		for _, s := range l.Items {
			out[s.Name] = s
		}
		return out
	}
	names := func(items map[string]item) []string {
		var out []string
		for n := range items {
			if strings.HasPrefix(n, "cv") {
				out = append(out, n)
			}
		}
		slices.Sort(out)
		return out
	}

	all := list("")
	if diff := cmp.Diff(names(all), []string{"cv-dev", "cv-ops", "cv-plain", "cvst_api", "cvst_web"}); diff != "" {
		t.Errorf("unfiltered list, this test's services (-got +want):\n%s", diff)
	}
	for name, stack := range map[string]string{"cvst_api": "cvst", "cvst_web": "cvst", "cv-ops": "", "cv-plain": ""} {
		if got := all[name].Stack; got != stack {
			t.Errorf("%s: stack %q, want %q", name, got, stack)
		}
	}
	if got := all["cv-ops"].Labels["cv-team"]; got != "ops" {
		t.Errorf("cv-ops: labels %v, want cv-team=ops", all["cv-ops"].Labels)
	}

	for _, tc := range []struct {
		query string
		want  []string // every service listed: the filters select only this test's
	}{
		{"?stack=cvst", []string{"cvst_api", "cvst_web"}},
		{"?label=cv-team=ops", []string{"cv-ops"}},
		{"?label=cv-team", []string{"cv-dev", "cv-ops"}},
		{"?label=cv-team=qa", nil},
		{"?stack=cvst&label=cv-team", nil},
		{"?stack=cvst&q=web", []string{"cvst_web"}},
		{"?stack=cv-none", nil},
	} {
		got := list(tc.query)
		var gotNames []string
		for n := range got {
			gotNames = append(gotNames, n)
		}
		slices.Sort(gotNames)
		if diff := cmp.Diff(gotNames, tc.want); diff != "" {
			t.Errorf("services%s (-got +want):\n%s", tc.query, diff)
		}
	}

	status, text := admin.Do(http.MethodGet, "/api/v1/clusters/cv/services?label==ops", nil, nil)
	if e := apitest.ParseError(t, text); status != 400 || e.Error.Details["field"] != "label" {
		t.Errorf("services?label==ops: %d %s; want 400 on field label", status, text)
	}
}

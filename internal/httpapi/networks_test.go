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

type networkAnswer struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Driver     string            `json:"driver"`
	Scope      string            `json:"scope"`
	Attachable bool              `json:"attachable"`
	Internal   bool              `json:"internal"`
	Ingress    bool              `json:"ingress"`
	Labels     map[string]string `json:"labels"`
	Subnets    []string          `json:"subnets"`
	Gateways   []string          `json:"gateways"`
	CreatedAt  time.Time         `json:"created_at"`
	Stack      string            `json:"stack"`
}

type networkList struct {
	Items []networkAnswer `json:"items"`
	Total int             `json:"total"`
}

func (l networkList) names() []string {
	var out []string
	for _, n := range l.Items {
		out = append(out, n.Name)
	}
	return out
}

func TestNetworks_Lifecycle(t *testing.T) {
	swm, _, admin := sharedCluster(t, "nw")
	const base = "/api/v1/clusters/nw/networks"
	m := swm.Managers[0]

	var n networkAnswer
	admin.MustDo(http.MethodPost, base, map[string]any{
		"name": "nw-net", "attachable": true, "subnet": "10.231.7.0/24", "gateway": "10.231.7.1",
		"labels": map[string]string{"team": "a", "com.docker.stack.namespace": "nwstack"},
	}, &n, 201)
	t.Cleanup(func() { admin.Do(http.MethodDelete, base+"/nw-net", nil, nil) })
	want := networkAnswer{
		ID: n.ID, Name: "nw-net", Driver: "overlay", Scope: "swarm", Attachable: true,
		Labels:  map[string]string{"team": "a", "com.docker.stack.namespace": "nwstack"},
		Subnets: []string{"10.231.7.0/24"}, Gateways: []string{"10.231.7.1"}, CreatedAt: n.CreatedAt, Stack: "nwstack",
	}
	if diff := cmp.Diff(n, want); diff != "" || n.ID == "" || n.CreatedAt.IsZero() {
		t.Errorf("created network (-got +want):\n%s", diff)
	}
	if out := m.Docker(t, "network", "inspect", "--format", "{{.Driver}} {{.Scope}} {{.Attachable}}", "nw-net"); out != "overlay swarm true\n" {
		t.Errorf("the engine holds %q", out)
	}
	wantStatus(t, admin, http.MethodPost, base, map[string]any{"name": "nw-net"}, 409, "already exists")
	// Local networks of the manager take names too.
	wantStatus(t, admin, http.MethodPost, base, map[string]any{"name": "host"}, 409, "already exists")

	for _, ref := range []string{"nw-net", n.ID, n.ID[:8]} {
		var d struct {
			Summary networkAnswer             `json:"summary"`
			Network struct{ Id, Name string } `json:"network"`
		}
		admin.MustDo(http.MethodGet, base+"/"+ref, nil, &d, 200)
		if d.Summary.ID != n.ID || d.Network.Id != n.ID || d.Network.Name != "nw-net" {
			t.Errorf("GET networks/%s answered %+v", ref, d)
		}
	}

	var l networkList
	admin.MustDo(http.MethodGet, base, nil, &l, 200)
	if !slices.Contains(l.names(), "nw-net") || !slices.ContainsFunc(l.Items, func(x networkAnswer) bool { return x.Ingress && x.Name == "ingress" }) {
		t.Errorf("list: %+v", l.Items)
	}
	if slices.ContainsFunc(l.Items, func(x networkAnswer) bool { return x.Scope != "swarm" }) {
		t.Errorf("list has networks that are not swarm-scoped: %v", l.Items)
	}
	admin.MustDo(http.MethodGet, base+"?q=nw-&label=team=a", nil, &l, 200)
	if !slices.Equal(l.names(), []string{"nw-net"}) {
		t.Errorf("?q=nw-&label=team=a listed %v", l.names())
	}
	admin.MustDo(http.MethodGet, base+"?label=team=b", nil, &l, 200)
	if l.Total != 0 {
		t.Errorf("?label=team=b listed %v", l.names())
	}

	// In use by a service: refused, naming the service.
	createService(t, m, "nw-user", "--replicas", "1", "--network", "nw-net")
	wantStatus(t, admin, http.MethodDelete, base+"/nw-net", nil, 409, "nw-user")
	if err := m.Client().ServiceRemove(t.Context(), "nw-user"); err != nil {
		t.Fatal(err)
	}
	// The service's tasks hold the network until they are gone.
	testenv.Poll(t, 60*time.Second, "nw-net removed once its service is gone", func() error {
		status, text := admin.Do(http.MethodDelete, base+"/nw-net", nil, nil)
		if status != 204 {
			return fmt.Errorf("%d %s", status, text)
		}
		return nil
	})
	wantStatus(t, admin, http.MethodGet, base+"/nw-net", nil, 404, `"nw-net"`, `"nw"`)
	wantStatus(t, admin, http.MethodDelete, base+"/nw-net", nil, 404, `"nw-net"`)
	// The swarm's predefined networks stay.
	wantStatus(t, admin, http.MethodDelete, base+"/host", nil, 409, "predefined")

	for _, a := range []string{"network.create", "network.remove"} {
		if !auditHas(t, admin, "nw", a, "nw-net") {
			t.Errorf("no successful %s of nw-net in the audit", a)
		}
	}
}

func TestNetworks_BadInput(t *testing.T) {
	_, _, admin := sharedCluster(t, "nwb")
	const base = "/api/v1/clusters/nwb/networks"
	for _, tc := range []struct {
		body  any
		field string
	}{
		{map[string]any{}, "name"},
		{map[string]any{"name": "nwb bad"}, "name"},
		{map[string]any{"name": "nwb.dotted"}, "name"},
		{map[string]any{"name": "nwb-" + string(make([]byte, 70))}, "name"},
		{map[string]any{"name": "nwb-a", "driver": "bridge"}, "driver"},
		{map[string]any{"name": "nwb-a", "subnet": "10.232.0.0/33"}, "subnet"},
		{map[string]any{"name": "nwb-a", "subnet": "10.232.0.5/24"}, "subnet"},
		{map[string]any{"name": "nwb-a", "subnet": "nowhere"}, "subnet"},
		{map[string]any{"name": "nwb-a", "gateway": "10.232.0.1"}, "gateway"},
		{map[string]any{"name": "nwb-a", "subnet": "10.232.0.0/24", "gateway": "10.233.0.1"}, "gateway"},
		{map[string]any{"name": "nwb-a", "subnet": "10.232.0.0/24", "gateway": "gw"}, "gateway"},
		{map[string]any{"name": "nwb-a", "subnet": "10.232.0.0/24", "gateway": "10.232.0.0"}, "gateway"},
		{map[string]any{"name": "nwb-a", "labels": map[string]string{"bad key": "x"}}, "labels"},
		{map[string]any{"name": "nwb-a", "attachable": "yes"}, "attachable"},
		{map[string]any{"name": "nwb-a", "ipv6": true}, "ipv6"},
	} {
		wantBadField(t, admin, http.MethodPost, base, tc.body, tc.field)
	}
	var l networkList
	admin.MustDo(http.MethodGet, base+"?q=nwb", nil, &l, 200)
	if l.Total != 0 {
		t.Errorf("refused requests created networks: %v", l.names())
	}
	wantStatus(t, admin, http.MethodGet, base+"/nwb-nope", nil, 404, `"nwb-nope"`, `"nwb"`)
	wantStatus(t, admin, http.MethodDelete, base+"/nwb-nope", nil, 404, `"nwb-nope"`, `"nwb"`)
	wantStatus(t, admin, http.MethodGet, "/api/v1/clusters/nwb-none/networks", nil, 404, `"nwb-none"`)
}

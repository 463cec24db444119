package httpapi_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/testenv"
)

type clusterAnswer struct {
	Name      string            `json:"name"`
	Endpoints []string          `json:"endpoints"`
	Default   bool              `json:"default"`
	Labels    map[string]string `json:"labels"`
	SwarmID   string            `json:"swarm_id"`
	TLS       *struct {
		CA         bool `json:"ca"`
		ClientCert bool `json:"client_cert"`
	} `json:"tls"`
	Health *healthAnswer `json:"health"`
}

type healthAnswer struct {
	Status       string `json:"status"`
	Leader       string `json:"leader"`
	Managers     struct{ Total, Reachable int }
	Nodes        struct{ Total, Ready int }
	EndpointUsed string   `json:"endpoint_used"`
	Problems     []string `json:"problems"`
}

func endpointsOf(nodes []*testenv.Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.Endpoint)
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// register adds a cluster and removes it when the test ends.
func register(t *testing.T, admin *apitest.Client, name, endpoint string) clusterAnswer {
	t.Helper()
	var c clusterAnswer
	admin.MustDo(http.MethodPost, "/api/v1/clusters", map[string]any{"name": name, "endpoint": endpoint}, &c, 201)
	t.Cleanup(func() { admin.Do(http.MethodDelete, "/api/v1/clusters/"+name, nil, nil) })
	return c
}

func TestClusters_RegisterDiscoversManagers(t *testing.T) {
	sw := testenv.SharedSwarm(t)
	in := apitest.Start(t, apitest.Config(t))
	admin := in.Admin(t)

	c := register(t, admin, "disc", sw.Managers[1].Endpoint)
	if c.Endpoints[0] != sw.Managers[1].Endpoint {
		t.Errorf("first endpoint %s, want the one registered (%s)", c.Endpoints[0], sw.Managers[1].Endpoint)
	}
	if diff := cmp.Diff(sorted(c.Endpoints), sorted(endpointsOf(sw.Managers))); diff != "" {
		t.Errorf("discovered endpoints (-got +want):\n%s", diff)
	}

	var got clusterAnswer
	admin.MustDo(http.MethodGet, "/api/v1/clusters/disc", nil, &got, 200)
	h := got.Health
	if h == nil || h.Status != "healthy" || h.Managers.Total != 3 || h.Managers.Reachable != 3 || h.Nodes.Total != 4 || h.Nodes.Ready != 4 {
		t.Fatalf("health of a whole 3+1 swarm: %+v", h)
	}
	metrics := in.Anonymous(t).MustDo(http.MethodGet, "/metrics", nil, nil, 200)
	if want := `swarmops_engine_requests_total{endpoint="` + sw.Managers[1].Endpoint + `",method="GET",status="200"}`; !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %s", want)
	}
	leaderHost := strings.Split(h.Leader, ":")[0]
	if !slices.ContainsFunc(sw.Managers, func(n *testenv.Node) bool { return n.Addr == leaderHost }) {
		t.Errorf("leader %q is not a manager's address", h.Leader)
	}

	// The same swarm cannot be registered twice; a worker is no manager.
	status, text := admin.Do(http.MethodPost, "/api/v1/clusters", map[string]any{"name": "disc-again", "endpoint": sw.Managers[2].Endpoint}, nil)
	if status != 409 || !strings.Contains(text, `disc`) {
		t.Errorf("same swarm again: %d %s", status, text)
	}
	status, text = admin.Do(http.MethodPost, "/api/v1/clusters", map[string]any{"name": "disc-worker", "endpoint": sw.Workers[0].Endpoint}, nil)
	if e := apitest.ParseError(t, text); status != 400 || e.Error.Details["field"] != "endpoint" || !strings.Contains(e.Error.Message, "worker") {
		t.Errorf("worker endpoint: %d %s", status, text)
	}
}

func TestClusters_PatchRefreshDefault(t *testing.T) {
	sw := testenv.SharedSwarm(t)
	in := apitest.Start(t, apitest.Config(t))
	admin := in.Admin(t)
	register(t, admin, "pr", sw.Managers[0].Endpoint)

	var c clusterAnswer
	admin.MustDo(http.MethodPatch, "/api/v1/clusters/pr", map[string]any{
		"endpoints": []string{sw.Managers[2].Endpoint}, "labels": map[string]string{"env": "test"}, "default": true,
	}, &c, 200)
	if !c.Default || c.Labels["env"] != "test" || !slices.Equal(c.Endpoints, []string{sw.Managers[2].Endpoint}) {
		t.Fatalf("after patch: %+v", c)
	}
	admin.MustDo(http.MethodPost, "/api/v1/clusters/pr/refresh", nil, &c, 200)
	if c.Endpoints[0] != sw.Managers[2].Endpoint || len(c.Endpoints) != 3 {
		t.Fatalf("refresh must keep the known endpoint first and find the others: %v", c.Endpoints)
	}
	var l struct {
		Items []clusterAnswer
		Total int
	}
	admin.MustDo(http.MethodGet, "/api/v1/clusters?label=env=test&health=true", nil, &l, 200)
	if l.Total != 1 || !l.Items[0].Default || l.Items[0].Health == nil || l.Items[0].Health.Status != "healthy" {
		t.Fatalf("filtered list with health: %+v", l)
	}
	admin.MustDo(http.MethodGet, "/api/v1/clusters?label=env=prod", nil, &l, 200)
	if l.Total != 0 {
		t.Fatalf("label filter env=prod matched %d", l.Total)
	}
	// An endpoint of no manager is refused and changes nothing.
	status, text := admin.Do(http.MethodPatch, "/api/v1/clusters/pr", map[string]any{"endpoints": []string{sw.Workers[0].Endpoint}}, nil)
	if status != 400 {
		t.Fatalf("patch to a worker's endpoint: %d %s", status, text)
	}
	admin.MustDo(http.MethodGet, "/api/v1/clusters/pr", nil, &c, 200)
	if len(c.Endpoints) != 3 {
		t.Fatalf("a refused patch changed the endpoints: %v", c.Endpoints)
	}
}

// TestClusters_FailoverWhenManagerDies kills the manager in use: calls go
// on through the others, health turns degraded and says which endpoint
// answered, and turns healthy again when the manager returns.
func TestClusters_FailoverWhenManagerDies(t *testing.T) {
	sw := testenv.StartSwarm(t, testenv.SwarmOptions{Managers: 3, Name: "fo"})
	in := apitest.Start(t, apitest.Config(t, apitest.WithEngineTimeout(3*time.Second)))
	admin := in.Admin(t)
	first := sw.Managers[0]
	register(t, admin, "fo", first.Endpoint)

	var h healthAnswer
	admin.MustDo(http.MethodGet, "/api/v1/clusters/fo/health", nil, &h, 200)
	if h.Status != "healthy" || h.EndpointUsed != first.Endpoint {
		t.Fatalf("before: %+v, want healthy through %s", h, first.Endpoint)
	}

	if err := first.Kill(); err != nil {
		t.Fatal(err)
	}
	testenv.Poll(t, 90*time.Second, "health degraded, answered by another manager", func() error {
		status, text := admin.Do(http.MethodGet, "/api/v1/clusters/fo/health", nil, &h)
		if status != 200 {
			return fmt.Errorf("status %d: %s", status, text)
		}
		if h.Status != "degraded" || h.EndpointUsed == first.Endpoint || h.EndpointUsed == "" || h.Managers.Reachable != 2 {
			return fmt.Errorf("health %+v", h)
		}
		return nil
	})
	if !slices.ContainsFunc(h.Problems, func(p string) bool { return strings.Contains(p, first.Endpoint) }) {
		t.Errorf("problems should name the dead endpoint %s: %v", first.Endpoint, h.Problems)
	}
	// Writes that need the raft leader go on once the swarm has elected
	// a new one.
	testenv.Poll(t, 60*time.Second, "join-token rotation through a surviving manager", func() error {
		status, text := admin.Do(http.MethodPost, "/api/v1/clusters/fo/join-tokens/rotate", map[string]string{"role": "worker"}, nil)
		if status != 200 {
			return fmt.Errorf("status %d: %s", status, text)
		}
		return nil
	})

	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	testenv.Poll(t, 90*time.Second, "health healthy again after the manager returned", func() error {
		admin.MustDo(http.MethodGet, "/api/v1/clusters/fo/health", nil, &h, 200)
		if h.Status != "healthy" {
			return fmt.Errorf("health %+v", h)
		}
		return nil
	})
}

// TestClusters_UnreachableIsQuick: a cluster whose only manager is cut
// off (packets dropped, so connections hang) or dead answers
// "unreachable" within the engine timeout; the client's own deadline
// (timeout + 3 s) fails the test if a request hangs.
func TestClusters_UnreachableIsQuick(t *testing.T) {
	sw := testenv.StartSwarm(t, testenv.SwarmOptions{Managers: 1, Name: "un"})
	const timeout = 2 * time.Second
	in := apitest.Start(t, apitest.Config(t, apitest.WithEngineTimeout(timeout)))
	admin := in.Admin(t)
	admin.HTTP.Timeout = timeout + 3*time.Second
	n := sw.Managers[0]
	register(t, admin, "un", n.Endpoint)

	if err := n.Disconnect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Reconnect() })
	for _, path := range []string{"/api/v1/clusters/un/health", "/api/v1/clusters/un", "/api/v1/clusters?health=true"} {
		status, text := admin.Do(http.MethodGet, path, nil, nil)
		if status != 200 || !strings.Contains(text, `"unreachable"`) {
			t.Errorf("GET %s with the manager cut off: %d %s", path, status, text)
		}
	}
	status, text := admin.Do(http.MethodGet, "/api/v1/clusters/un/join-tokens", nil, nil)
	if e := apitest.ParseError(t, text); status != 503 || e.Error.Code != "unavailable" || !strings.Contains(e.Error.Message, n.Endpoint) {
		t.Errorf("an engine call with no manager answering: %d %s", status, text)
	}

	if err := n.Reconnect(); err != nil {
		t.Fatal(err)
	}
	if err := n.Kill(); err != nil {
		t.Fatal(err)
	}
	status, text = admin.Do(http.MethodGet, "/api/v1/clusters/un/health", nil, nil)
	if status != 200 || !strings.Contains(text, `"unreachable"`) {
		t.Errorf("health with the manager dead: %d %s", status, text)
	}
}

func TestClusters_TLS(t *testing.T) {
	n := testenv.StartTLSNode(t)
	in := apitest.Start(t, apitest.Config(t))
	admin := in.Admin(t)
	tlsOf := func(m testenv.TLSMaterial) map[string]string {
		return map[string]string{"ca": m.CA, "cert": m.Cert, "key": m.Key}
	}

	// A client certificate of another CA is refused by the engine.
	status, text := admin.Do(http.MethodPost, "/api/v1/clusters/init", map[string]any{
		"name": "tls-wrong", "endpoint": n.Endpoint, "advertise_addr": n.Addr, "tls": tlsOf(n.WrongTLS),
	}, nil)
	if e := apitest.ParseError(t, text); status != 400 || e.Error.Details["field"] != "tls" || !strings.Contains(e.Error.Message, "TLS") {
		t.Fatalf("wrong client certificate: %d %s", status, text)
	}
	// No TLS to a TLS engine: told so.
	status, text = admin.Do(http.MethodPost, "/api/v1/clusters/init", map[string]any{
		"name": "tls-none", "endpoint": n.Endpoint, "advertise_addr": n.Addr,
	}, nil)
	if e := apitest.ParseError(t, text); status != 400 || e.Error.Details["field"] != "tls" {
		t.Fatalf("no TLS to a TLS engine: %d %s", status, text)
	}
	// A key that does not match its certificate never reaches the engine.
	bad := tlsOf(n.ClientTLS)
	bad["key"] = n.WrongTLS.Key
	status, text = admin.Do(http.MethodPost, "/api/v1/clusters/init", map[string]any{
		"name": "tls-pair", "endpoint": n.Endpoint, "advertise_addr": n.Addr, "tls": bad,
	}, nil)
	if e := apitest.ParseError(t, text); status != 400 || e.Error.Details["field"] != "tls.cert" || strings.Contains(text, "PRIVATE KEY") {
		t.Fatalf("mismatched key: %d %s", status, text)
	}

	// In redis mode without SWARMOPS_SECRET_KEY a client key cannot be
	// stored: refused before the engine is touched (it stays out of any
	// swarm: the init below works).
	keyless := apitest.Start(t, apitest.Config(t, apitest.WithRedis(testenv.Redis(t).URL(0), fmt.Sprintf("tls-nokey-%d:", time.Now().UnixNano()))))
	status, text = keyless.Admin(t).Do(http.MethodPost, "/api/v1/clusters/init", map[string]any{
		"name": "tls-nokey", "endpoint": n.Endpoint, "advertise_addr": n.Addr, "tls": tlsOf(n.ClientTLS),
	}, nil)
	if e := apitest.ParseError(t, text); status != 400 || e.Error.Details["field"] != "SWARMOPS_SECRET_KEY" {
		t.Fatalf("a TLS key in redis mode without a secret key: %d %s, want 400 naming SWARMOPS_SECRET_KEY", status, text)
	}

	var c clusterAnswer
	text = admin.MustDo(http.MethodPost, "/api/v1/clusters/init", map[string]any{
		"name": "tls", "endpoint": n.Endpoint, "advertise_addr": n.Addr, "tls": tlsOf(n.ClientTLS),
	}, &c, 201)
	t.Cleanup(func() { admin.Do(http.MethodDelete, "/api/v1/clusters/tls", nil, nil) })
	if c.TLS == nil || !c.TLS.CA || !c.TLS.ClientCert || strings.Contains(text, "PRIVATE KEY") || strings.Contains(text, "BEGIN CERTIFICATE") {
		t.Fatalf("answer must describe the TLS material without showing it: %s", text)
	}
	var h healthAnswer
	admin.MustDo(http.MethodGet, "/api/v1/clusters/tls/health", nil, &h, 200)
	if h.Status != "healthy" || h.Managers.Total != 1 {
		t.Fatalf("health over TLS: %+v", h)
	}
	for _, path := range []string{"/api/v1/clusters", "/api/v1/clusters/tls"} {
		if body := admin.MustDo(http.MethodGet, path, nil, nil, 200); strings.Contains(body, "PRIVATE KEY") {
			t.Fatalf("GET %s shows the key", path)
		}
	}
}

func TestClusters_InitAndJoinTokens(t *testing.T) {
	n := testenv.StartNode(t, testenv.NodeOptions{Name: "init"})
	in := apitest.Start(t, apitest.Config(t))
	admin := in.Admin(t)

	var c clusterAnswer
	admin.MustDo(http.MethodPost, "/api/v1/clusters/init", map[string]any{"name": "fresh", "endpoint": n.Endpoint, "advertise_addr": n.Addr}, &c, 201)
	if c.SwarmID == "" || !slices.Equal(c.Endpoints, []string{n.Endpoint}) {
		t.Fatalf("init answer: %+v", c)
	}
	// The engine is in a swarm now: a second init is refused.
	status, text := admin.Do(http.MethodPost, "/api/v1/clusters/init", map[string]any{"name": "fresh2", "endpoint": n.Endpoint, "advertise_addr": n.Addr}, nil)
	if status != 409 {
		t.Fatalf("second init: %d %s", status, text)
	}

	var jt struct{ Worker, Manager, ManagerAddr string }
	admin.MustDo(http.MethodGet, "/api/v1/clusters/fresh/join-tokens", nil, &jt, 200)
	if !strings.HasPrefix(jt.Worker, "SWMTKN-") || !strings.HasPrefix(jt.Manager, "SWMTKN-") {
		t.Fatalf("join tokens: %+v", jt)
	}
	var rotated struct {
		Worker, Manager string
		ManagerAddr     string `json:"manager_addr"`
	}
	admin.MustDo(http.MethodPost, "/api/v1/clusters/fresh/join-tokens/rotate", map[string]string{"role": "worker"}, &rotated, 200)
	if rotated.Worker == jt.Worker || rotated.Manager != jt.Manager || rotated.ManagerAddr != n.Addr+":2377" {
		t.Fatalf("rotate worker: before %+v after %+v", jt, rotated)
	}
	status, text = admin.Do(http.MethodPost, "/api/v1/clusters/fresh/join-tokens/rotate", map[string]string{"role": "boss"}, nil)
	if e := apitest.ParseError(t, text); status != 400 || e.Error.Details["field"] != "role" {
		t.Fatalf("rotate bad role: %d %s", status, text)
	}
	admin.MustDo(http.MethodDelete, "/api/v1/clusters/fresh", nil, nil, 204)
	admin.MustDo(http.MethodGet, "/api/v1/clusters/fresh", nil, nil, 404)
}

// TestClusters_BadInput: every bad registration answers the contract's
// error with the field at fault, and nothing is stored.
func TestClusters_BadInput(t *testing.T) {
	sw := testenv.SharedSwarm(t)
	plain := testenv.StartNode(t, testenv.NodeOptions{Name: "plain"})
	in := apitest.Start(t, apitest.Config(t, apitest.WithEngineTimeout(2*time.Second)))
	admin := in.Admin(t)
	register(t, admin, "taken", sw.Managers[0].Endpoint)

	for _, tc := range []struct {
		name   string
		body   string
		status int
		field  string
	}{
		{"malformed JSON", `{"name": "x",`, 400, "body"},
		{"not an object", `["x"]`, 400, "body"},
		{"unknown field", `{"name":"x","endpoint":"tcp://198.18.0.1:2375","color":"red"}`, 400, "color"},
		{"wrong type", `{"name":"x","endpoint":2375}`, 400, "endpoint"},
		{"uppercase name", `{"name":"Prod","endpoint":"tcp://198.18.0.1:2375"}`, 400, "name"},
		{"long name", `{"name":"` + strings.Repeat("a", 64) + `","endpoint":"tcp://198.18.0.1:2375"}`, 400, "name"},
		{"no endpoint", `{"name":"x"}`, 400, "endpoint"},
		{"http endpoint", `{"name":"x","endpoint":"http://198.18.0.1:2375"}`, 400, "endpoint"},
		{"no port", `{"name":"x","endpoint":"tcp://198.18.0.1"}`, 400, "endpoint"},
		{"unix two slashes", `{"name":"x","endpoint":"unix://var/run/docker.sock"}`, 400, "endpoint"},
		{"bad CA", `{"name":"x","endpoint":"tcp://198.18.0.1:2376","tls":{"ca":"not pem"}}`, 400, "tls.ca"},
		{"cert without key", `{"name":"x","endpoint":"tcp://198.18.0.1:2376","tls":{"cert":"x"}}`, 400, "tls.key"},
		{"bad label", `{"name":"x","endpoint":"tcp://198.18.0.1:2375","labels":{"a b":"c"}}`, 400, "labels"},
		{"nothing listens", `{"name":"x","endpoint":"tcp://127.0.0.1:1"}`, 400, "endpoint"},
		{"not in a swarm", `{"name":"x","endpoint":"` + plain.Endpoint + `"}`, 400, "endpoint"},
		{"worker", `{"name":"x","endpoint":"` + sw.Workers[0].Endpoint + `"}`, 400, "endpoint"},
		{"duplicate name", `{"name":"taken","endpoint":"` + sw.Managers[1].Endpoint + `"}`, 409, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, text := admin.Do(http.MethodPost, "/api/v1/clusters", tc.body, nil)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, text)
			}
			e := apitest.ParseError(t, text)
			if tc.field != "" && e.Error.Details["field"] != tc.field {
				t.Fatalf("details.field %v, want %q: %s", e.Error.Details["field"], tc.field, text)
			}
		})
	}
	var l struct {
		Items []clusterAnswer
		Total int
	}
	admin.MustDo(http.MethodGet, "/api/v1/clusters", nil, &l, 200)
	if l.Total != 1 || l.Items[0].Name != "taken" {
		t.Fatalf("bad input changed the registry: %+v", l)
	}
	// Nothing reached the audit log as a success either.
	var audit struct {
		Items []struct{ Action, Cluster, Result string }
	}
	admin.MustDo(http.MethodGet, "/api/v1/audit?action=cluster.create", nil, &audit, 200)
	ok := 0
	for _, r := range audit.Items {
		if r.Result == "ok" {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("audit shows %d successful registrations, want 1: %+v", ok, audit.Items)
	}
}

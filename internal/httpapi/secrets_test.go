package httpapi_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/config"
	"github.com/swarmops/swarmops/internal/testenv"
)

type secretAnswer struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Labels    map[string]string `json:"labels"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
	Stack     string            `json:"stack"`
}

// recorder keeps every answer a client got, to look for leaks in them.
type recorder struct {
	c       *apitest.Client
	answers []string
}

func (r *recorder) Do(method, path string, body, out any) (int, string) {
	status, text := r.c.Do(method, path, body, out)
	r.answers = append(r.answers, text)
	return status, text
}

func (r *recorder) MustDo(method, path string, body, out any, want int) string {
	text := r.c.MustDo(method, path, body, out, want)
	r.answers = append(r.answers, text)
	return text
}

// TestSecrets_LifecycleNeverShowsData creates, reads, lists and removes
// secrets with recognisable values, and looks for the values (and their
// base64) in every answer, in the audit records and in the instance's
// debug-level logs.
func TestSecrets_LifecycleNeverShowsData(t *testing.T) {
	swm := testenv.SharedSwarm(t)
	debug := func(c *config.Config) { c.LogLevel = "debug" }
	in := apitest.Start(t, apitest.Config(t, debug))
	admin := &recorder{c: in.Admin(t)}
	register(t, admin.c, "sc", swm.Managers[0].Endpoint)
	const base = "/api/v1/clusters/sc/secrets"
	m := swm.Managers[0]

	mark := make([]byte, 12)
	_, _ = rand.Read(mark)
	text := "sc-value-" + hex.EncodeToString(mark)
	binary := append([]byte("sc-binary-"+hex.EncodeToString(mark)), 0, 0xff)
	leaks := []string{text, base64.StdEncoding.EncodeToString([]byte(text)), string(binary[:len(binary)-2]), base64.StdEncoding.EncodeToString(binary)}

	var s secretAnswer
	admin.MustDo(http.MethodPost, base, map[string]any{"name": "sc-text", "data": text, "labels": map[string]string{"app": "sc"}}, &s, 201)
	t.Cleanup(func() { admin.c.Do(http.MethodDelete, base+"/sc-text", nil, nil) })
	if s.Name != "sc-text" || s.ID == "" || s.Labels["app"] != "sc" || s.CreatedAt.IsZero() {
		t.Errorf("created secret answered %+v", s)
	}
	var b secretAnswer
	admin.MustDo(http.MethodPost, base, map[string]any{"name": "sc-bin", "data_base64": base64.StdEncoding.EncodeToString(binary)}, &b, 201)
	t.Cleanup(func() { admin.c.Do(http.MethodDelete, base+"/sc-bin", nil, nil) })
	wantStatus(t, admin.c, http.MethodPost, base, map[string]any{"name": "sc-text", "data": text}, 409, "already exists")

	for _, ref := range []string{"sc-text", s.ID, s.ID[:7]} {
		var d struct {
			Summary secretAnswer `json:"summary"`
			Secret  struct{ ID string }
		}
		admin.MustDo(http.MethodGet, base+"/"+ref, nil, &d, 200)
		if d.Summary.ID != s.ID || d.Secret.ID != s.ID {
			t.Errorf("GET secrets/%s answered %+v", ref, d)
		}
	}
	var l struct{ Items []secretAnswer }
	admin.MustDo(http.MethodGet, base+"?q=sc-", nil, &l, 200)
	if len(l.Items) != 2 || l.Items[0].Name != "sc-bin" || l.Items[1].Name != "sc-text" {
		t.Errorf("?q=sc- listed %+v", l.Items)
	}
	admin.MustDo(http.MethodGet, base+"?label=app=sc", nil, &l, 200)
	if len(l.Items) != 1 || l.Items[0].Name != "sc-text" {
		t.Errorf("?label=app=sc listed %+v", l.Items)
	}

	// In use: the engine refuses and names the service.
	createService(t, m, "sc-user", "--replicas", "0", "--secret", "sc-text")
	wantStatus(t, admin.c, http.MethodDelete, base+"/sc-text", nil, 409, "sc-user")
	if err := m.Client().ServiceRemove(t.Context(), "sc-user"); err != nil {
		t.Fatal(err)
	}
	admin.MustDo(http.MethodDelete, base+"/sc-text", nil, nil, 204)
	admin.MustDo(http.MethodDelete, base+"/"+b.ID, nil, nil, 204)
	wantStatus(t, admin.c, http.MethodGet, base+"/sc-text", nil, 404, `"sc-text"`, `"sc"`)
	wantStatus(t, admin.c, http.MethodDelete, base+"/sc-text", nil, 404, `"sc-text"`, `"sc"`)

	for _, a := range []string{"secret.create", "secret.remove"} {
		if !auditHas(t, admin.c, "sc", a, "sc-text") {
			t.Errorf("no successful %s of sc-text in the audit", a)
		}
	}
	auditText := admin.MustDo(http.MethodGet, "/api/v1/audit?cluster=sc", nil, nil, 200)
	if !strings.Contains(in.Logs.String(), "sc-text") {
		t.Fatalf("the debug logs do not even name the secret's requests; the leak check would prove nothing:\n%s", in.Logs.String())
	}
	for _, leak := range leaks {
		for i, a := range admin.answers {
			if strings.Contains(a, leak) {
				t.Errorf("answer %d carries the secret's data: %s", i, a)
			}
		}
		if strings.Contains(auditText, leak) {
			t.Errorf("the audit carries the secret's data")
		}
		if strings.Contains(in.Logs.String(), leak) {
			t.Errorf("the logs carry the secret's data")
		}
	}
}

func TestSecrets_BadInput(t *testing.T) {
	_, in, admin := sharedCluster(t, "scb")
	const base = "/api/v1/clusters/scb/secrets"
	const value = "scb-value-never-echoed"
	big := strings.Repeat("x", 500*1024)
	for _, tc := range []struct {
		body  any
		field string
	}{
		{map[string]any{"data": value}, "name"},
		{map[string]any{"name": "scb bad", "data": value}, "name"},
		{map[string]any{"name": "-scb", "data": value}, "name"},
		{map[string]any{"name": strings.Repeat("s", 65), "data": value}, "name"},
		{map[string]any{"name": "scb-a"}, "data"},
		{map[string]any{"name": "scb-a", "data": ""}, "data"},
		{map[string]any{"name": "scb-a", "data": big}, "data"},
		{map[string]any{"name": "scb-a", "data": 42}, "data"},
		{map[string]any{"name": "scb-a", "data": value, "data_base64": "eA=="}, "data_base64"},
		{map[string]any{"name": "scb-a", "data_base64": value + "!"}, "data_base64"},
		{map[string]any{"name": "scb-a", "data": value, "labels": map[string]string{"bad key": "x"}}, "labels"},
		{map[string]any{"name": "scb-a", "data": value, "value": value}, "value"},
	} {
		if msg := wantBadField(t, admin, http.MethodPost, base, tc.body, tc.field); strings.Contains(msg, value) {
			t.Errorf("the error quotes the data: %s", msg)
		}
	}
	var l struct{ Total int }
	admin.MustDo(http.MethodGet, base+"?q=scb", nil, &l, 200)
	if l.Total != 0 {
		t.Errorf("refused requests created %d secrets", l.Total)
	}
	if strings.Contains(in.Logs.String(), value) {
		t.Errorf("the logs carry the data of a refused secret")
	}
	if audit := admin.MustDo(http.MethodGet, "/api/v1/audit?cluster=scb&action=secret.create", nil, nil, 200); strings.Contains(audit, value) || !strings.Contains(audit, `"error"`) {
		t.Errorf("the audit of refused secrets should record the failures without the data: %s", audit)
	}
	wantStatus(t, admin, http.MethodGet, base+"/scb-nope", nil, 404, `"scb-nope"`, `"scb"`)
	wantStatus(t, admin, http.MethodDelete, base+"/scb-nope", nil, 404, `"scb-nope"`, `"scb"`)
}

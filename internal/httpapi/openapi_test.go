package httpapi_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/swarmops/swarmops/internal/apitest"
)

// TestOpenAPI_DescribesEveryRoute: the document answered at
// /api/v1/openapi.json names every route with its method, path parameters,
// required role, and schemas that resolve.
func TestOpenAPI_DescribesEveryRoute(t *testing.T) {
	in := apitest.Start(t, apitest.Config(t))
	text := in.Anonymous(t).MustDo(http.MethodGet, "/api/v1/openapi.json", nil, nil, 200)
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	param := regexp.MustCompile(`:([a-zA-Z_]+)`)
	for _, r := range in.Server.API.Routes() {
		path := strings.ReplaceAll(param.ReplaceAllString(r.Path, "{$1}"), "/+/", "/{repository}/")
		raw, ok := doc.Paths[path][strings.ToLower(r.Method)]
		if !ok {
			t.Errorf("%s %s is not in the document", r.Method, path)
			continue
		}
		var op struct {
			Summary    string `json:"summary"`
			Role       string `json:"x-required-role"`
			Parameters []struct {
				Name, In string
			} `json:"parameters"`
		}
		if err := json.Unmarshal(raw, &op); err != nil {
			t.Fatal(err)
		}
		if op.Summary == "" {
			t.Errorf("%s %s has no summary", r.Method, path)
		}
		if r.Perm != nil && op.Role != string(r.Perm.MinRole()) {
			t.Errorf("%s %s: x-required-role %q, want %q", r.Method, path, op.Role, r.Perm.MinRole())
		}
		for _, m := range param.FindAllStringSubmatch(r.Path, -1) {
			found := false
			for _, p := range op.Parameters {
				found = found || (p.Name == m[1] && p.In == "path")
			}
			if !found {
				t.Errorf("%s %s: path parameter %s is not described", r.Method, path, m[1])
			}
		}
	}
	for _, ref := range regexp.MustCompile(`"#/components/schemas/([^"]+)"`).FindAllStringSubmatch(text, -1) {
		if _, ok := doc.Components.Schemas[ref[1]]; !ok {
			t.Errorf("schema %s is referenced but not defined", ref[1])
		}
	}
	if !strings.Contains(text, `"replicas"`) || !strings.Contains(text, `"update_config"`) {
		t.Errorf("the service form is not described")
	}
}

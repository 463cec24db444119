package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/testenv"
)

// servedDocument answers the document an instance serves at
// /api/v1/openapi.json.
func servedDocument(t *testing.T) []byte {
	t.Helper()
	in := apitest.Start(t, apitest.Config(t))
	return []byte(in.Anonymous(t).MustDo(http.MethodGet, "/api/v1/openapi.json", nil, nil, 200))
}

// lintAccepted says whether a Redocly finding is accepted, and why: the
// project has chosen no license (the document does not invent one); a
// public operation that takes no input (no parameter, no body, no
// credentials) has no 4xx answer to document; an operation whose success
// is a redirect has no 2xx one.
func lintAccepted(doc *openapi3.T, rule, pointer string) bool {
	switch rule {
	case "info-license":
		return true
	case "operation-4xx-response", "operation-2xx-response":
	default:
		return false
	}
	parts := strings.Split(strings.TrimPrefix(pointer, "#/paths/"), "/")
	if len(parts) < 2 {
		return false
	}
	path := strings.NewReplacer("~1", "/", "~0", "~").Replace(parts[0])
	op := doc.Paths.Find(path).GetOperation(strings.ToUpper(parts[1]))
	if op == nil {
		return false
	}
	if rule == "operation-2xx-response" {
		for code := range op.Responses.Map() {
			if strings.HasPrefix(code, "3") {
				return true
			}
		}
		return false
	}
	return len(op.Parameters) == 0 && op.RequestBody == nil && op.Security != nil && len(*op.Security) == 0
}

// TestOpenAPI_RedoclyRecommended: the served document passes Redocly CLI's
// recommended rules (the linter most OpenAPI users run) with no error and
// no warning beyond lintAccepted. Redocly rather than a Go linter: its
// recommended set is what users and CI pipelines lint with, while
// kin-openapi (TestOpenAPI_KinOpenAPIValidates, and the validating test
// client) checks the document's structure and every answer against it.
func TestOpenAPI_RedoclyRecommended(t *testing.T) {
	cli := testenv.Redocly(t)
	dir := t.TempDir() // no redocly.yaml there: the built-in recommended rules
	file := filepath.Join(dir, "openapi.json")
	served := servedDocument(t)
	doc, err := openapi3.NewLoader().LoadFromData(served)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := os.WriteFile(file, served, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cli[0], append(cli[1:], "lint", "--extends=recommended", "--format=json", file)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true")
	out, err := cmd.Output()
	var report struct {
		Totals struct {
			Errors, Warnings int
		} `json:"totals"`
		Problems []struct {
			RuleID   string `json:"ruleId"`
			Severity string `json:"severity"`
			Message  string `json:"message"`
			Location []struct {
				Pointer string `json:"pointer"`
			} `json:"location"`
		} `json:"problems"`
	}
	if jerr := json.Unmarshal(out, &report); jerr != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("redocly lint: %v; its output is not its JSON report (%v): %s %s", err, jerr, out, stderr)
	}
	for _, p := range report.Problems {
		where := ""
		if len(p.Location) > 0 {
			where = p.Location[0].Pointer
		}
		if lintAccepted(doc, p.RuleID, where) {
			continue
		}
		t.Errorf("redocly %s %s at %s: %s", p.Severity, p.RuleID, where, p.Message)
	}
	t.Logf("redocly lint (recommended): %d errors, %d warnings", report.Totals.Errors, report.Totals.Warnings)
}

// TestOpenAPI_KinOpenAPIValidates: the served document loads and
// validates as OpenAPI 3.0 with kin-openapi, with every reference
// resolved.
func TestOpenAPI_KinOpenAPIValidates(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(servedDocument(t))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/" {
		t.Errorf("servers %v, want one relative to the instance (/)", doc.Servers)
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Security == nil {
				t.Errorf("%s %s says nothing of security (public operations say [])", method, path)
			}
			for code, ref := range op.Responses.Map() {
				if strings.HasPrefix(code, "4") || strings.HasPrefix(code, "5") {
					if ref.Value == nil || ref.Value.Content.Get("application/json") == nil {
						t.Errorf("%s %s: %s does not answer the error schema", method, path, code)
					}
				}
			}
		}
	}
}

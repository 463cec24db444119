package httpapi_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/auth"
)

var paramRE = regexp.MustCompile(`:[a-zA-Z_]+\+?|\*|\+`)

// TestRoutes_RoleTable walks every route with no credentials and with each
// role: a route answers 401 without credentials, 403 to a role below its
// permission, and neither to a role that holds it.
func TestRoutes_RoleTable(t *testing.T) {
	in := apitest.Start(t, apitest.Config(t))
	admin := in.Admin(t)
	clients := map[auth.Role]*apitest.Client{
		auth.Viewer:   in.UserWithRole(t, admin, "rt-viewer", "viewer").WithToken("rt"),
		auth.Operator: in.UserWithRole(t, admin, "rt-operator", "operator").WithToken("rt"),
		auth.Admin:    admin.WithToken("rt"),
	}
	anon := in.Anonymous(t)
	routes := in.Server.API.Routes()
	if len(routes) < 20 {
		t.Fatalf("only %d routes listed; the table is broken", len(routes))
	}
	for _, r := range routes {
		// Parameters get names no object has; a route must still check
		// the role before it looks anything up.
		path := paramRE.ReplaceAllString(r.Path, "rt-none")
		var body any
		if r.Method != http.MethodGet && r.Method != http.MethodDelete {
			body = "{}"
		}
		t.Run(r.Method+" "+r.Path, func(t *testing.T) {
			status, text := anon.Do(r.Method, path, body, nil)
			if r.Perm == nil {
				if status == 401 || status == 403 {
					t.Fatalf("public route answered %d without credentials: %s", status, text)
				}
				return
			}
			if status != 401 {
				t.Errorf("without credentials: status %d, want 401; body %s", status, text)
			} else {
				apitest.ParseError(t, text)
			}
			for _, role := range []auth.Role{auth.Viewer, auth.Operator, auth.Admin} {
				status, text := clients[role].Do(r.Method, path, body, nil)
				allowed := role.Can(*r.Perm)
				switch {
				case !allowed && status != 403:
					t.Errorf("%s (needs %s): status %d, want 403; body %s", role, r.Perm.MinRole(), status, text)
				case allowed && (status == 401 || status == 403):
					t.Errorf("%s (needs %s): status %d, want the route to run; body %s", role, r.Perm.MinRole(), status, text)
				}
				if status == 403 && !strings.Contains(text, string(r.Perm.MinRole())) {
					t.Errorf("%s: the 403 should say which role is needed: %s", role, text)
				}
			}
		})
	}
}

// TestSession_CSRF: a session needs its CSRF token on mutating requests; a
// token does not.
func TestSession_CSRF(t *testing.T) {
	in := apitest.Start(t, apitest.Config(t))
	admin := in.Admin(t)
	body := `{"username":"csrf-user","password":"password-1","role":"viewer"}`
	for _, tc := range []struct {
		name, csrf string
		want       int
	}{
		{"missing", "", 403},
		{"wrong", "not-the-token", 403},
		{"right", admin.CSRF, 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, text, err := admin.Raw(http.MethodPost, "/api/v1/users", strings.NewReader(body), map[string]string{"X-CSRF-Token": tc.csrf})
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, text)
			}
		})
	}
	// GETs need no CSRF token.
	resp, text, err := admin.Raw(http.MethodGet, "/api/v1/users", nil, map[string]string{"X-CSRF-Token": ""})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET without CSRF: %v %v %s", err, resp, text)
	}
}

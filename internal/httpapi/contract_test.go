package httpapi_test

import (
	"testing"

	"github.com/swarmops/swarmops/internal/apitest"
)

// contractRoles is the minimum role of every route as ../shared/API.md
// fixes it ("" = no authentication, "any" = any logged-in user). A route
// missing here, or a role that differs, fails the test: the route table
// cannot drift from the contract unnoticed.
var contractRoles = map[string]string{
	"GET /healthz":                   "",
	"GET /readyz":                    "",
	"GET /metrics":                   "",
	"GET /api/v1/openapi.json":       "",
	"GET /api/v1/version":            "",
	"POST /api/v1/auth/login":        "",
	"POST /api/v1/auth/logout":       "viewer",
	"GET /api/v1/auth/me":            "viewer",
	"GET /api/v1/auth/providers":     "",
	"GET /api/v1/auth/oidc/login":    "",
	"GET /api/v1/auth/oidc/callback": "",
	"GET /api/v1/tokens":             "viewer",
	"POST /api/v1/tokens":            "viewer",
	"DELETE /api/v1/tokens/:name":    "viewer",
	"GET /api/v1/users":              "admin",
	"POST /api/v1/users":             "admin",
	"PATCH /api/v1/users/:username":  "admin",
	"DELETE /api/v1/users/:username": "admin",

	"GET /api/v1/users/:username/tokens":          "admin",
	"DELETE /api/v1/users/:username/tokens/:name": "admin",

	"GET /api/v1/clusters":                              "viewer",
	"POST /api/v1/clusters":                             "admin",
	"POST /api/v1/clusters/init":                        "admin",
	"GET /api/v1/clusters/:cluster":                     "viewer",
	"PATCH /api/v1/clusters/:cluster":                   "admin",
	"DELETE /api/v1/clusters/:cluster":                  "admin",
	"POST /api/v1/clusters/:cluster/refresh":            "admin",
	"GET /api/v1/clusters/:cluster/health":              "viewer",
	"GET /api/v1/clusters/:cluster/join-tokens":         "admin",
	"POST /api/v1/clusters/:cluster/join-tokens/rotate": "admin",

	"GET /api/v1/clusters/:cluster/services":               "viewer",
	"POST /api/v1/clusters/:cluster/services":              "operator",
	"GET /api/v1/clusters/:cluster/services/:id":           "viewer",
	"PATCH /api/v1/clusters/:cluster/services/:id":         "operator",
	"POST /api/v1/clusters/:cluster/services/:id/scale":    "operator",
	"POST /api/v1/clusters/:cluster/services/:id/image":    "operator",
	"POST /api/v1/clusters/:cluster/services/:id/rollback": "operator",
	"POST /api/v1/clusters/:cluster/services/:id/redeploy": "operator",
	"DELETE /api/v1/clusters/:cluster/services/:id":        "operator",
	"GET /api/v1/clusters/:cluster/services/:id/tasks":     "viewer",
	"GET /api/v1/clusters/:cluster/services/:id/logs":      "viewer",
	"GET /api/v1/clusters/:cluster/services/:id/nginx":     "viewer",
	"GET /api/v1/clusters/:cluster/events":                 "viewer",

	"GET /api/v1/clusters/:cluster/stacks":                         "viewer",
	"POST /api/v1/clusters/:cluster/stacks":                        "operator",
	"GET /api/v1/clusters/:cluster/stacks/:name":                   "viewer",
	"DELETE /api/v1/clusters/:cluster/stacks/:name":                "operator",
	"GET /api/v1/clusters/:cluster/stacks/:name/revisions":         "viewer",
	"GET /api/v1/clusters/:cluster/stacks/:name/revisions/:n":      "viewer",
	"GET /api/v1/clusters/:cluster/stacks/:name/revisions/:n/diff": "viewer",
	"POST /api/v1/clusters/:cluster/stacks/:name/rollback":         "operator",
	"GET /api/v1/clusters/:cluster/stacks/:name/logs":              "viewer",

	"GET /api/v1/clusters/:cluster/nodes":           "viewer",
	"GET /api/v1/clusters/:cluster/nodes/:id":       "viewer",
	"PATCH /api/v1/clusters/:cluster/nodes/:id":     "operator",
	"DELETE /api/v1/clusters/:cluster/nodes/:id":    "admin",
	"POST /api/v1/clusters/:cluster/nodes/join":     "admin",
	"POST /api/v1/clusters/:cluster/nodes/leave":    "admin",
	"GET /api/v1/clusters/:cluster/tasks":           "viewer",
	"GET /api/v1/clusters/:cluster/networks":        "viewer",
	"POST /api/v1/clusters/:cluster/networks":       "operator",
	"GET /api/v1/clusters/:cluster/networks/:id":    "viewer",
	"DELETE /api/v1/clusters/:cluster/networks/:id": "operator",
	"GET /api/v1/clusters/:cluster/secrets":         "viewer",
	"POST /api/v1/clusters/:cluster/secrets":        "operator",
	"GET /api/v1/clusters/:cluster/secrets/:id":     "viewer",
	"DELETE /api/v1/clusters/:cluster/secrets/:id":  "operator",
	"GET /api/v1/clusters/:cluster/configs":         "viewer",
	"POST /api/v1/clusters/:cluster/configs":        "operator",
	"GET /api/v1/clusters/:cluster/configs/:id":     "viewer",
	"DELETE /api/v1/clusters/:cluster/configs/:id":  "operator",

	"GET /api/v1/registries":                                   "viewer",
	"POST /api/v1/registries":                                  "admin",
	"GET /api/v1/registries/:name":                             "viewer",
	"PATCH /api/v1/registries/:name":                           "admin",
	"DELETE /api/v1/registries/:name":                          "admin",
	"GET /api/v1/registries/:name/repositories":                "viewer",
	"GET /api/v1/registries/:name/repositories/+/tags":         "viewer",
	"DELETE /api/v1/registries/:name/repositories/+/tags/:tag": "operator",

	"GET /api/v1/audit": "admin",
}

func TestRoutes_MatchContract(t *testing.T) {
	in := apitest.Start(t, apitest.Config(t))
	seen := map[string]bool{}
	for _, r := range in.Server.API.Routes() {
		key := r.Method + " " + r.Path
		seen[key] = true
		want, ok := contractRoles[key]
		if !ok {
			t.Errorf("route %s is not in the contract table of this test", key)
			continue
		}
		got := ""
		if r.Perm != nil {
			got = string(r.Perm.MinRole())
		}
		if got != want {
			t.Errorf("route %s needs role %q, the contract says %q", key, got, want)
		}
	}
	for key := range contractRoles {
		if !seen[key] {
			t.Errorf("contract route %s is not served", key)
		}
	}
}

package apitest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/httpapi"
)

// A small document in the server's style: one guarded route with a path
// parameter, a body and an answer, one greedy repository route.
const testDoc = `{
 "openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "servers": [{"url": "/"}],
 "paths": {
  "/api/v1/things/{name}": {"post": {"operationId": "postThing", "security": [{"bearer": []}],
   "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
   "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false,
     "properties": {"count": {"type": "integer"}}}}}},
   "responses": {
    "200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false,
      "required": ["name", "count"], "properties": {"name": {"type": "string"}, "count": {"type": "integer"}}}}}},
    "400": {"description": "bad", "content": {"application/json": {"schema": {"type": "object"}}}},
    "401": {"description": "who", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
  "/api/v1/repos/{repository}/tags": {"get": {"operationId": "getTags", "security": [],
   "parameters": [{"name": "repository", "in": "path", "required": true, "schema": {"type": "string"}}],
   "responses": {"200": {"description": "ok", "content": {"text/plain": {"schema": {"type": "string"}}}}}}}
 },
 "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}
}`

func testContract(t *testing.T) *contract {
	t.Helper()
	p := auth.ClusterRead
	c, err := loadContract([]byte(testDoc), []httpapi.RouteInfo{
		{Method: "POST", Path: "/api/v1/things/:name", Perm: &p},
		{Method: "GET", Path: "/api/v1/repos/+/tags"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func call(method, path, body string, headers map[string]string, status int, ct, answer string) (*http.Request, []byte, *http.Response, string) {
	req, _ := http.NewRequest(method, "http://127.0.0.1:1"+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp := &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {ct}}, Request: req}
	return req, []byte(body), resp, answer
}

// TestContract_Check: the validating client passes calls that match the
// document and names the route, the status and the schema path of those
// that do not.
func TestContract_Check(t *testing.T) {
	c := testContract(t)
	bearer := map[string]string{"Authorization": "Bearer sot_x"}
	for _, tc := range []struct {
		name               string
		method, path, body string
		headers            map[string]string
		status             int
		ct, answer         string
		want               []string // "" : no mismatch
	}{
		{"matches", "POST", "/api/v1/things/a", `{"count":1}`, bearer, 200, "application/json", `{"name":"a","count":1}`, nil},
		{"answer field of the wrong type", "POST", "/api/v1/things/a", `{"count":1}`, bearer, 200, "application/json", `{"name":"a","count":"1"}`,
			[]string{"route POST /api/v1/things/:name", "answered 200", "#/paths/~1api~1v1~1things~1{name}/post/responses/200", "/count"}},
		{"answer field missing", "POST", "/api/v1/things/a", `{"count":1}`, bearer, 200, "application/json", `{"name":"a"}`,
			[]string{"count", "required"}},
		{"undocumented answer field", "POST", "/api/v1/things/a", `{"count":1}`, bearer, 200, "application/json", `{"name":"a","count":1,"extra":true}`,
			[]string{"extra"}},
		{"undocumented status", "POST", "/api/v1/things/a", `{"count":1}`, bearer, 409, "application/json", `{}`,
			[]string{"status 409 is not documented", "documented: 200, 400, 401"}},
		{"wrong content type", "POST", "/api/v1/things/a", `{"count":1}`, bearer, 200, "text/html", `<p>`,
			[]string{"answered 200", "text/html"}},
		{"bad request refused: fine", "POST", "/api/v1/things/a", `{"count":"x"}`, bearer, 400, "application/json", `{}`, nil},
		{"bad request accepted", "POST", "/api/v1/things/a", `{"count":"x"}`, bearer, 200, "application/json", `{"name":"a","count":1}`,
			[]string{"the document refuses the request, yet the server answered 200"}},
		{"no credentials accepted", "POST", "/api/v1/things/a", `{"count":1}`, nil, 200, "application/json", `{"name":"a","count":1}`,
			[]string{"the document refuses the request"}},
		{"no credentials refused: fine", "POST", "/api/v1/things/a", `{"count":1}`, nil, 401, "application/json", `{}`, nil},
		{"greedy repository path", "GET", "/api/v1/repos/team/app/tags", "", nil, 200, "text/plain; charset=utf-8", "v1\n", nil},
		{"not an API route", "GET", "/services", "", nil, 200, "text/html", "<p>", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, sent, resp, answer := call(tc.method, tc.path, tc.body, tc.headers, tc.status, tc.ct, tc.answer)
			got := c.check(req, sent, resp, answer, true)
			if len(tc.want) == 0 {
				if got != "" {
					t.Fatalf("mismatch reported for a matching call: %s", got)
				}
				return
			}
			if got == "" {
				t.Fatalf("no mismatch reported, want one saying %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("mismatch %q does not say %q", got, w)
				}
			}
		})
	}
}

// TestContract_Coverage: a route counts as validated only once a call
// answered with success matched the document.
func TestContract_Coverage(t *testing.T) {
	c := testContract(t)
	routes := []httpapi.RouteInfo{{Method: "POST", Path: "/api/v1/things/:name"}}
	key := "POST /api/v1/things/:name"
	validated.Delete(key)
	t.Cleanup(func() { validated.Delete(key) })
	req, sent, resp, answer := call("POST", "/api/v1/things/b", `{"count":1}`, nil, 401, "application/json", `{}`)
	c.check(req, sent, resp, answer, true)
	if got := Unvalidated(routes); len(got) != 1 {
		t.Fatalf("after a 401 only: unvalidated %v, want the route", got)
	}
	req, sent, resp, answer = call("POST", "/api/v1/things/b", `{"count":1}`, map[string]string{"Authorization": "Bearer x"}, 200, "application/json", `{"name":"b","count":1}`)
	c.check(req, sent, resp, answer, true)
	if got := Unvalidated(routes); len(got) != 0 {
		t.Fatalf("after a success: unvalidated %v, want none", got)
	}
}

func TestFiberPattern(t *testing.T) {
	path, names, re := fiberPattern("/api/v1/registries/:name/repositories/+/tags/:tag")
	if path != "/api/v1/registries/{name}/repositories/{repository}/tags/{tag}" {
		t.Errorf("path %s", path)
	}
	m := re.FindStringSubmatch("/api/v1/registries/r1/repositories/team/app/tags/" + url.PathEscape("v1"))
	if m == nil || strings.Join(names, ",") != "name,repository,tag" || m[2] != "team/app" || m[3] != "v1" {
		t.Errorf("names %v match %v", names, m)
	}
}

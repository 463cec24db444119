package httpapi

import (
	"encoding/json"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/httpauth"
	"github.com/swarmops/swarmops/internal/httpx"
)

var (
	openapiOnce sync.Once
	openapiDoc  []byte
)

// OpenAPIDocument answers the API's OpenAPI document as JSON, the bytes
// GET /api/v1/openapi.json answers.
func (a *API) OpenAPIDocument() []byte {
	openapiOnce.Do(func() {
		b, err := json.Marshal(buildOpenAPI(a.routes(), a.Version))
		if err != nil {
			panic("openapi: " + err.Error()) // maps of strings: cannot fail
		}
		openapiDoc = b
	})
	return openapiDoc
}

func (a *API) openapi(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(a.OpenAPIDocument())
}

var paramRE = regexp.MustCompile(`:([a-zA-Z_]+)\+?|\*|\+`)

// openapiPath turns fiber's /clusters/:cluster into /clusters/{cluster}.
func openapiPath(p string) (string, []string) {
	var params []string
	out := paramRE.ReplaceAllStringFunc(p, func(m string) string {
		name := strings.TrimSuffix(strings.TrimPrefix(m, ":"), "+")
		switch m {
		case "*":
			name = "path"
		case "+":
			name = "repository" // the one greedy parameter: a repository path
		}
		params = append(params, name)
		return "{" + name + "}"
	})
	return out, params
}

// buildOpenAPI describes routes as an OpenAPI 3.0 document: every
// operation with its parameters, its body and answer schemas (answers'
// fields that are always there are required; request bodies refuse unknown
// fields, as the server does), the error statuses it can answer with the
// one error schema, and its security (public operations say so with an
// empty list).
func buildOpenAPI(routes []route, version string) map[string]any {
	answers := newSchemaSet(responseMode, nil)
	bodies := newSchemaSet(requestMode, answers)
	problem := answers.ref(reflect.TypeOf(httpx.Problem{}))
	paths := map[string]map[string]any{}
	for _, r := range routes {
		p, params := openapiPath(r.Path)
		op := map[string]any{"summary": r.Summary, "operationId": operationID(r.Method, p), "tags": []string{routeTag(p)}}
		var ps []map[string]any
		for _, name := range params {
			sc := map[string]any{"type": "string"}
			if name == "n" { // a stack's revision number
				sc = map[string]any{"type": "integer", "minimum": 1}
			}
			ps = append(ps, map[string]any{"name": name, "in": "path", "required": true, "schema": sc})
		}
		for _, q := range r.Query {
			ps = append(ps, map[string]any{"name": q, "in": "query", "schema": map[string]any{"type": "string"}})
		}
		if r.Perm != nil && r.Method != fiber.MethodGet {
			ps = append(ps, map[string]any{"$ref": "#/components/parameters/CSRFToken"}, map[string]any{"$ref": "#/components/parameters/IdempotencyKey"})
		}
		if ps != nil {
			op["parameters"] = ps
		}
		if r.Body != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": bodies.ref(reflect.TypeOf(r.Body))}}}
		}
		op["responses"] = responsesOf(r, answers, len(params) > 0)
		if r.Perm != nil {
			op["security"] = []map[string][]string{{"session": {}}, {"bearer": {}}}
			op["x-required-role"] = string(r.Perm.MinRole())
			op["x-permission"] = r.Perm.Name
		} else {
			op["security"] = []map[string][]string{} // public
		}
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		paths[p][strings.ToLower(r.Method)] = op
	}
	schemas := answers.defs
	for name, def := range bodies.defs {
		schemas[name] = def
	}
	errorResponses := map[string]any{}
	for _, e := range errorStatusList {
		resp := map[string]any{"description": e.description, "content": map[string]any{"application/json": map[string]any{"schema": problem}}}
		if e.retryAfter {
			resp["headers"] = map[string]any{"Retry-After": map[string]any{"$ref": "#/components/headers/RetryAfter"}}
		}
		errorResponses[e.name] = resp
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "SwarmOps API", "version": version,
			"description": "Manage many Docker Swarm clusters. Errors answer {\"error\":{\"code\",\"message\",\"details\"}}; a field that fails validation is named in details.field."},
		"servers": []map[string]any{{"url": "/", "description": "the instance that answers this document"}},
		"paths":   paths,
		"components": map[string]any{
			"schemas":   schemas,
			"responses": errorResponses,
			"headers": map[string]any{
				"RetryAfter": map[string]any{"description": "Seconds to wait before trying again", "schema": map[string]any{"type": "integer", "minimum": 0}},
				"Stale": map[string]any{"description": "Set when a read was answered from this instance's snapshot because the swarm has no leader: the snapshot's age in seconds",
					"schema": map[string]any{"type": "integer", "minimum": 0}},
			},
			"parameters": map[string]any{
				"CSRFToken": map[string]any{"name": httpauth.HeaderCSRF, "in": "header", "schema": map[string]any{"type": "string"},
					"description": "The session's csrf_token (answered at login and by GET /api/v1/auth/me); required with the session cookie, not with a bearer token"},
				"IdempotencyKey": map[string]any{"name": HeaderIdempotencyKey, "in": "header", "schema": map[string]any{"type": "string", "minLength": 1, "maxLength": 128},
					"description": "The same key within 24 h answers the first result without acting twice"},
			},
			"securitySchemes": map[string]any{
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": httpauth.CookieName,
					"description": "Session cookie from POST /api/v1/auth/login; mutating requests also need the " + httpauth.HeaderCSRF + " header"},
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "API token from POST /api/v1/tokens"},
			},
		},
	}
}

// routeTag groups an operation by its object kind.
func routeTag(p string) string {
	rest, ok := strings.CutPrefix(p, "/api/v1/")
	if !ok {
		return "meta"
	}
	parts := strings.Split(rest, "/")
	if parts[0] == "clusters" && len(parts) > 2 {
		return parts[2]
	}
	return parts[0]
}

// successOf answers r's success response.
func successOf(r route, answers *schemaSet) (string, map[string]any) {
	status := r.Status
	if status == 0 {
		status = fiber.StatusOK
	}
	ok := map[string]any{"description": "success"}
	switch body := r.Answer.(type) {
	case nil:
	case text:
		content := map[string]any{}
		for _, ct := range strings.Fields(string(body)) {
			content[ct] = map[string]any{"schema": map[string]any{"type": "string"}}
		}
		ok["content"] = content
	default:
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": answers.ref(reflect.TypeOf(body))}}
	}
	switch {
	case status >= 300 && status < 400:
		ok = redirect()
	case strings.HasPrefix(r.Path, clusterPrefix) && r.Method == fiber.MethodGet:
		ok["headers"] = map[string]any{"X-SwarmOps-Stale": map[string]any{"$ref": "#/components/headers/Stale"}}
	}
	return strconv.Itoa(status), ok
}

func redirect() map[string]any {
	return map[string]any{"description": "redirect", "headers": map[string]any{
		"Location": map[string]any{"description": "where to go next", "schema": map[string]any{"type": "string"}}}}
}

const clusterPrefix = "/api/v1/clusters/:cluster"

// errorStatus is one error answer of the contract.
type errorStatus struct {
	status      int
	name        string // its entry in components.responses
	description string
	retryAfter  bool
}

var errorStatusList = []errorStatus{
	{fiber.StatusBadRequest, "BadRequest", "bad input: details.field names the field and the message the expected syntax; nothing was changed", false},
	{fiber.StatusUnauthorized, "Unauthorized", "no or invalid credentials", false},
	{fiber.StatusForbidden, "Forbidden", "the role is too low, or a session's mutating request lacks its CSRF token", false},
	{fiber.StatusNotFound, "NotFound", "no such object", false},
	{fiber.StatusConflict, "Conflict", "a version conflict, a name taken, an object in use, or a request with the same Idempotency-Key still running", false},
	{fiber.StatusRequestEntityTooLarge, "PayloadTooLarge", "the body is over the size limit", false},
	{fiber.StatusLocked, "Locked", "another operation on the same object holds its lock", true},
	{fiber.StatusTooManyRequests, "TooManyRequests", "too many failed logins, open streams or live idempotency keys", true},
	{fiber.StatusInternalServerError, "InternalError", "an unexpected error (its text is logged, not answered)", false},
	{fiber.StatusBadGateway, "BadGateway", "the engine or registry answered with an error", false},
	{fiber.StatusServiceUnavailable, "Unavailable", "the store or every manager is unreachable, the swarm is electing a leader, or the instance is shutting down", true},
}

// routeStatuses are statuses of single routes beyond their success and
// what errorsOf derives from their shape. A sign-in that fails sends a
// browser back to the login page (303), and answers other clients with
// the error.
var routeStatuses = map[string][]int{
	"GET /readyz":                                              {fiber.StatusServiceUnavailable},
	"POST /api/v1/auth/login":                                  {fiber.StatusUnauthorized, fiber.StatusForbidden, fiber.StatusTooManyRequests}, // 403: password sign-in is off
	"GET /api/v1/auth/oidc/login":                              {fiber.StatusSeeOther, fiber.StatusNotFound, fiber.StatusUnauthorized, fiber.StatusForbidden},
	"GET /api/v1/auth/oidc/callback":                           {fiber.StatusNotFound, fiber.StatusUnauthorized, fiber.StatusForbidden, fiber.StatusConflict},
	"POST /api/v1/clusters":                                    {fiber.StatusConflict, fiber.StatusBadGateway},
	"POST /api/v1/clusters/init":                               {fiber.StatusConflict, fiber.StatusBadGateway},
	"POST /api/v1/users":                                       {fiber.StatusConflict},
	"POST /api/v1/tokens":                                      {fiber.StatusConflict},
	"GET /api/v1/registries/:name/repositories":                {fiber.StatusBadGateway},
	"GET /api/v1/registries/:name/repositories/+/tags":         {fiber.StatusBadGateway},
	"DELETE /api/v1/registries/:name/repositories/+/tags/:tag": {fiber.StatusBadGateway},
	"POST /api/v1/registries":                                  {fiber.StatusConflict, fiber.StatusBadGateway},
	"PATCH /api/v1/registries/:name":                           {fiber.StatusBadGateway},
}

// errorsOf answers the error statuses r can answer: from its shape (a
// body or query can be bad, a path can name nothing, a guarded route
// refuses credentials and roles, a cluster's routes reach its engines, a
// mutation can conflict, wait for a lock or be refused for its
// idempotency key, a stream for the streams open) and routeStatuses (a
// redirect there too).
func errorsOf(r route, hasPathParams bool) []int {
	set := map[int]bool{fiber.StatusInternalServerError: true, fiber.StatusServiceUnavailable: true}
	add := func(statuses ...int) {
		for _, s := range statuses {
			set[s] = true
		}
	}
	if r.Body != nil {
		add(fiber.StatusBadRequest, fiber.StatusRequestEntityTooLarge)
	}
	if len(r.Query) > 0 {
		add(fiber.StatusBadRequest)
	}
	if hasPathParams {
		add(fiber.StatusBadRequest, fiber.StatusNotFound) // a name of the wrong syntax, or of nothing
	}
	mutating := r.Method != fiber.MethodGet
	if r.Perm != nil {
		add(fiber.StatusUnauthorized, fiber.StatusForbidden)
		if mutating {
			add(fiber.StatusBadRequest, fiber.StatusConflict, fiber.StatusTooManyRequests)
		}
	}
	if strings.HasPrefix(r.Path, clusterPrefix) {
		add(fiber.StatusBadGateway)
		if mutating {
			add(fiber.StatusLocked)
		}
	}
	if t, ok := r.Answer.(text); ok && strings.Contains(string(t), "event-stream") {
		add(fiber.StatusTooManyRequests)
	}
	add(routeStatuses[r.Method+" "+r.Path]...)
	out := make([]int, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// responsesOf answers r's responses: its success and every error status
// it can answer, each by reference to the one error schema.
func responsesOf(r route, answers *schemaSet, hasPathParams bool) map[string]any {
	status, ok := successOf(r, answers)
	out := map[string]any{status: ok}
	for _, s := range errorsOf(r, hasPathParams) {
		if s >= 300 && s < 400 {
			out[strconv.Itoa(s)] = redirect()
			continue
		}
		for _, e := range errorStatusList {
			if e.status == s {
				out[strconv.Itoa(s)] = map[string]any{"$ref": "#/components/responses/" + e.name}
			}
		}
	}
	return out
}

func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, part := range strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == '{' || r == '}' || r == '-' || r == '.' }) {
		if part == "api" || part == "v1" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// schemaMode says which side of the wire a schema describes.
type schemaMode int

const (
	// responseMode: what the server answers. Go encodes every field
	// without omitempty, so those are required; a nil pointer, slice or
	// map of such a field is null.
	responseMode schemaMode = iota
	// requestMode: what a client sends. Every field may be left out, and
	// fields the server does not know are refused (httpx.BindJSON).
	requestMode
)

// schemaSet builds JSON schemas of Go types from their json tags.
type schemaSet struct {
	mode  schemaMode
	defs  map[string]any
	names map[reflect.Type]string
	taken map[string]bool
	// answers, in requestMode, is the answers' set: a type described there
	// too is named with an Input suffix here.
	answers *schemaSet
}

func newSchemaSet(mode schemaMode, answers *schemaSet) *schemaSet {
	s := &schemaSet{mode: mode, defs: map[string]any{}, names: map[reflect.Type]string{}, taken: map[string]bool{}, answers: answers}
	if answers != nil {
		s.taken = answers.taken // one namespace for both
	}
	return s
}

var timeType = reflect.TypeOf(time.Time{})

// ownType reports whether t is one of this project's types, whose JSON
// the server fully controls (an engine type may gain fields).
func ownType(t reflect.Type) bool {
	return strings.HasPrefix(t.PkgPath(), "github.com/swarmops/")
}

// schemaName names t's schema: DTOs of this package by their own name,
// other packages' types prefixed with the package ("SwarmService"), so an
// engine type never takes a DTO's name.
func (s *schemaSet) schemaName(t reflect.Type) string {
	if name, ok := s.names[t]; ok {
		return name
	}
	n := t.Name()
	if i := strings.Index(n, "["); i >= 0 { // list[pkg.T] -> ListT
		arg := n[i+1 : len(n)-1]
		n = n[:i] + upperFirst(arg[strings.LastIndexAny(arg, "./")+1:])
	}
	n = strings.TrimSuffix(n, "DTO")
	if base, ok := strings.CutSuffix(n, "Req"); ok {
		n = base + "Request"
	}
	n = upperFirst(n)
	switch pkg := t.PkgPath(); {
	case strings.HasPrefix(pkg, "github.com/docker/"), strings.HasPrefix(pkg, "github.com/moby/"):
		n = "Engine" + n // the Docker Engine API's own types
	case path.Base(pkg) != "httpapi":
		n = upperFirst(nonAlnum.ReplaceAllString(path.Base(pkg), "")) + n
	}
	if s.answers != nil {
		if _, ok := s.answers.names[t]; ok {
			n += "Input"
		}
	}
	for i, base := 2, n; s.taken[n]; i++ {
		n = base + strconv.Itoa(i)
	}
	s.names[t], s.taken[n] = n, true
	return n
}

var nonAlnum = regexp.MustCompile(`[^A-Za-z0-9]+`)

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func (s *schemaSet) ref(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == timeType {
		return s.schema(t)
	}
	if t.Name() == "" { // an anonymous struct is described where it is used
		return s.object(t)
	}
	name := s.schemaName(t)
	if _, ok := s.defs[name]; !ok {
		s.defs[name] = map[string]any{} // placeholder against recursion
		s.defs[name] = s.object(t)
	}
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

func (s *schemaSet) schema(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.Struct:
		return s.ref(t)
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte"}
		}
		return map[string]any{"type": "array", "items": s.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": s.schema(t.Elem())}
	}
	return map[string]any{} // any JSON value
}

func (s *schemaSet) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	s.fields(t, props, &required)
	out := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		slices.Sort(required)
		out["required"] = required
	}
	if ownType(t) {
		out["additionalProperties"] = false
	}
	return out
}

// fields describes t's fields in props; in responseMode, the names of
// those always answered are added to required (nil: none are, as in an
// embedded pointer that may be nil).
func (s *schemaSet) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			inner := required
			if ft.Kind() == reflect.Pointer {
				inner = nil
			}
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				s.fields(ft, props, inner)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		omitempty := slices.Contains(strings.Split(opts, ","), "omitempty") || slices.Contains(strings.Split(opts, ","), "omitzero")
		var sc map[string]any
		if f.Type.String() == "json.RawMessage" {
			sc = map[string]any{} // any JSON value
		} else {
			sc = s.schema(f.Type)
		}
		if s.mode == responseMode && !omitempty {
			if required != nil {
				*required = append(*required, name)
			}
			switch f.Type.Kind() {
			case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
				if f.Tag.Get("openapi") != "notnull" { // the server makes it non-nil
					sc = nullable(sc)
				}
			}
		}
		props[name] = sc
	}
}

// nullable answers sc allowing null too; a reference (always to an
// object) is wrapped, as OpenAPI 3.0 ignores siblings of $ref. A schema of
// any value is left as it is: it has no type to make nullable.
func nullable(sc map[string]any) map[string]any {
	if _, ok := sc["$ref"]; ok {
		return map[string]any{"type": "object", "nullable": true, "allOf": []any{sc}}
	}
	if _, ok := sc["type"]; !ok {
		return sc
	}
	out := map[string]any{"nullable": true}
	for k, v := range sc {
		out[k] = v
	}
	return out
}

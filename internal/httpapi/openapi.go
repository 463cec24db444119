package httpapi

import (
	"path"
	"reflect"
	"regexp"
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
	openapiDoc  map[string]any
)

func (a *API) openapi(c *fiber.Ctx) error {
	openapiOnce.Do(func() { openapiDoc = buildOpenAPI(a.routes(), a.Version) })
	return c.JSON(openapiDoc)
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

// buildOpenAPI describes routes as an OpenAPI 3.0 document.
func buildOpenAPI(routes []route, version string) map[string]any {
	s := schemaSet{defs: map[string]any{}, names: map[reflect.Type]string{}, taken: map[string]bool{}}
	problem := s.ref(reflect.TypeOf(httpx.Problem{}))
	paths := map[string]map[string]any{}
	for _, r := range routes {
		p, params := openapiPath(r.Path)
		op := map[string]any{"summary": r.Summary, "operationId": operationID(r.Method, p)}
		if parts := strings.Split(strings.TrimPrefix(p, "/api/v1/"), "/"); strings.HasPrefix(p, "/api/v1/") {
			tag := parts[0]
			if tag == "clusters" && len(parts) > 2 {
				tag = parts[2]
			}
			op["tags"] = []string{tag}
		} else {
			op["tags"] = []string{"meta"}
		}
		var ps []map[string]any
		for _, name := range params {
			ps = append(ps, map[string]any{"name": name, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range r.Query {
			ps = append(ps, map[string]any{"name": q, "in": "query", "schema": map[string]any{"type": "string"}})
		}
		if ps != nil {
			op["parameters"] = ps
		}
		if r.Body != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": s.ref(reflect.TypeOf(r.Body))}}}
		}
		status := r.Status
		if status == 0 {
			status = 200
		}
		ok := map[string]any{"description": "success"}
		switch body := r.Answer.(type) {
		case nil:
		case text:
			ok["content"] = map[string]any{"text/plain": map[string]any{"schema": map[string]any{"type": "string"}}}
		default:
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": s.ref(reflect.TypeOf(body))}}
		}
		responses := map[string]any{strconv.Itoa(status): ok,
			"default": map[string]any{"description": "error", "content": map[string]any{"application/json": map[string]any{"schema": problem}}}}
		op["responses"] = responses
		if r.Perm != nil {
			op["security"] = []map[string][]string{{"session": {}}, {"bearer": {}}}
			op["x-required-role"] = string(r.Perm.MinRole())
			op["x-permission"] = r.Perm.Name
		}
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		paths[p][strings.ToLower(r.Method)] = op
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "SwarmOps API", "version": version,
			"description": "Manage many Docker Swarm clusters. Errors answer {\"error\":{\"code\",\"message\",\"details\"}}."},
		"paths": paths,
		"components": map[string]any{
			"schemas": s.defs,
			"securitySchemes": map[string]any{
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": httpauth.CookieName,
					"description": "Session cookie from POST /api/v1/auth/login; mutating requests also need the " + httpauth.HeaderCSRF + " header"},
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "API token from POST /api/v1/tokens"},
			},
		},
	}
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

// schemaSet builds JSON schemas of Go types from their json tags.
type schemaSet struct {
	defs  map[string]any
	names map[reflect.Type]string
	taken map[string]bool
}

var timeType = reflect.TypeOf(time.Time{})

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
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
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
	s.fields(t, props)
	return map[string]any{"type": "object", "properties": props}
}

func (s *schemaSet) fields(t reflect.Type, props map[string]any) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				s.fields(ft, props)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if f.Type.String() == "json.RawMessage" {
			props[name] = map[string]any{}
			continue
		}
		props[name] = s.schema(f.Type)
	}
}

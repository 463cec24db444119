package apitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/swarmops/swarmops/internal/httpapi"
	"github.com/swarmops/swarmops/internal/httpauth"
)

// contract checks every call of the test clients against the OpenAPI
// document the server answers at /api/v1/openapi.json: the request (its
// parameters, body and credentials), and the answer (a documented status,
// its content type, its body by the schema). A mismatch fails the test
// that made the call, naming the route, the status and the schema path.
type contract struct {
	doc    *openapi3.T
	routes []contractRoute
}

// contractRoute is one route of the route table, matched by its fiber path.
type contractRoute struct {
	key    string // "METHOD /fiber/:path"
	method string
	re     *regexp.Regexp
	names  []string // path parameters, in order
	route  *routers.Route
}

var (
	contractOnce sync.Once
	theContract  atomic.Pointer[contract]
	contractErr  error
	// validated holds the routes ("METHOD /fiber/:path") of which a
	// successful call (2xx or 3xx) of this test binary was checked: a
	// refusal (401, 403...) does not show that the success is documented.
	validated sync.Map
)

// loadContractOf loads the contract from in's API, once per test binary:
// every instance serves the same document, so every client (hand-made
// ones too) is checked against it from the first Start on.
func loadContractOf(in *Instance) error {
	contractOnce.Do(func() {
		var c *contract
		c, contractErr = loadContract(in.Server.API.OpenAPIDocument(), in.Server.API.Routes())
		theContract.Store(c)
	})
	return contractErr
}

func loadContract(doc []byte, routes []httpapi.RouteInfo) (*contract, error) {
	spec, err := openapi3.NewLoader().LoadFromData(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	if err := spec.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	c := &contract{doc: spec}
	for _, r := range routes {
		path, names, re := fiberPattern(r.Path)
		item := spec.Paths.Value(path)
		if item == nil || item.GetOperation(r.Method) == nil {
			return nil, fmt.Errorf("openapi document: no operation %s %s for route %s", r.Method, path, r.Path)
		}
		c.routes = append(c.routes, contractRoute{
			key: r.Method + " " + r.Path, method: r.Method, re: re, names: names,
			route: &routers.Route{Spec: spec, Path: path, PathItem: item, Method: r.Method, Operation: item.GetOperation(r.Method)},
		})
	}
	return c, nil
}

var fiberParam = regexp.MustCompile(`:([a-zA-Z_]+)|\+`)

// fiberPattern answers the document's path of a fiber route
// (/clusters/:cluster -> /clusters/{cluster}), its parameters' names and a
// regexp matching request paths (the greedy + takes slashes: a
// repository).
func fiberPattern(p string) (string, []string, *regexp.Regexp) {
	var names []string
	var re strings.Builder
	re.WriteString("^")
	last := 0
	for _, m := range fiberParam.FindAllStringSubmatchIndex(p, -1) {
		re.WriteString(regexp.QuoteMeta(p[last:m[0]]))
		if m[2] >= 0 {
			names = append(names, p[m[2]:m[3]])
			re.WriteString(`([^/]+)`)
		} else {
			names = append(names, "repository")
			re.WriteString(`(.+)`)
		}
		last = m[1]
	}
	re.WriteString(regexp.QuoteMeta(p[last:]) + "$")
	path := fiberParam.ReplaceAllStringFunc(p, func(m string) string {
		if m == "+" {
			return "{repository}"
		}
		return "{" + m[1:] + "}"
	})
	return path, names, regexp.MustCompile(re.String())
}

// match answers the route of a request, nil when it is none of the API's.
// A literal segment wins over a parameter (/clusters/init over
// /clusters/:cluster), as in fiber's table the literal route comes first.
func (c *contract) match(method, path string) (*contractRoute, map[string]string) {
	for i := range c.routes {
		r := &c.routes[i]
		if r.method != method {
			continue
		}
		m := r.re.FindStringSubmatch(path)
		if m == nil {
			continue
		}
		params := map[string]string{}
		for j, name := range r.names {
			v, err := url.PathUnescape(m[j+1])
			if err != nil {
				v = m[j+1]
			}
			params[name] = v
		}
		return r, params
	}
	return nil, nil
}

func init() {
	// Streams and text answers are strings to the validator.
	text := func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		b, err := io.ReadAll(body)
		return string(b), err
	}
	openapi3filter.RegisterBodyDecoder("text/event-stream", text)
}

// authPresent is the validator's view of credentials: a request carries
// the session cookie or a bearer token, or it does not (whether they are
// good is the server's to say, with 401).
func authPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	req := in.RequestValidationInput.Request
	switch in.SecuritySchemeName {
	case "session":
		if _, err := req.Cookie(httpauth.CookieName); err == nil {
			return nil
		}
		return errors.New("no session cookie")
	case "bearer":
		if strings.HasPrefix(req.Header.Get("Authorization"), "Bearer ") {
			return nil
		}
		return errors.New("no bearer token")
	}
	return fmt.Errorf("unknown security scheme %q", in.SecuritySchemeName)
}

// check validates one call: req as sent (its body in body) and the answer
// (its body when bodyRead; a stream's is not). It answers what does not
// match the document, "" when all does. A request the document refuses
// must be refused by the server (4xx); the answer must always be
// documented.
func (c *contract) check(req *http.Request, body []byte, resp *http.Response, answer string, bodyRead bool) string {
	r, params := c.match(req.Method, req.URL.Path)
	if r == nil {
		return ""
	}
	if resp.Request != nil && resp.Request.URL.Path != req.URL.Path {
		// A redirect was followed: the route's own answer was a redirect,
		// and what came back is another URL's.
		return ""
	}
	vreq := req.Clone(context.Background())
	vreq.Body = io.NopCloser(bytes.NewReader(body))
	in := &openapi3filter.RequestValidationInput{
		Request: vreq, PathParams: params, Route: r.route,
		Options: &openapi3filter.Options{AuthenticationFunc: authPresent, MultiError: true},
	}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	var problems []string
	if reqErr != nil && resp.StatusCode < 400 {
		problems = append(problems, fmt.Sprintf("the document refuses the request, yet the server answered %d: %v", resp.StatusCode, reqErr))
	}
	respIn := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body:    io.NopCloser(strings.NewReader(answer)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, ExcludeResponseBody: !bodyRead},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), respIn); err != nil {
		problems = append(problems, c.describe(r, resp, err))
	}
	if len(problems) == 0 {
		if resp.StatusCode < 400 {
			validated.Store(r.key, true)
		}
		return ""
	}
	return fmt.Sprintf("openapi: %s %s (route %s) answered %d: %s", req.Method, req.URL.Path, r.key, resp.StatusCode, strings.Join(problems, "; "))
}

// describe names where in the document an answer failed: the response's
// schema path and, for a schema mismatch, the field of the answer.
func (c *contract) describe(r *contractRoute, resp *http.Response, err error) string {
	code := strconv.Itoa(resp.StatusCode)
	where := "#/paths/" + pointerEscape(r.route.Path) + "/" + strings.ToLower(r.method) + "/responses/" + code
	if r.route.Operation.Responses.Value(code) == nil {
		return fmt.Sprintf("status %d is not documented at %s (documented: %s)", resp.StatusCode,
			strings.TrimSuffix(where, "/"+code), strings.Join(documented(r.route.Operation), ", "))
	}
	var details []string
	var me openapi3.MultiError
	if errors.As(err, &me) {
		for _, e := range me {
			details = append(details, schemaDetail(e))
		}
	} else {
		details = append(details, schemaDetail(err))
	}
	ct := resp.Header.Get("Content-Type")
	return fmt.Sprintf("the answer (%s) does not match %s/content: %s", ct, where, strings.Join(details, "; "))
}

func schemaDetail(err error) string {
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		return fmt.Sprintf("at answer /%s: schema field %q: %s", strings.Join(se.JSONPointer(), "/"), se.SchemaField, se.Reason)
	}
	return err.Error()
}

func documented(op *openapi3.Operation) []string {
	var out []string
	for code := range op.Responses.Map() {
		out = append(out, code)
	}
	slices.Sort(out)
	return out
}

func pointerEscape(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// Unvalidated answers the routes of routes (as "METHOD /fiber/:path") of
// which no successful call of this test binary's clients was checked.
func Unvalidated(routes []httpapi.RouteInfo) []string {
	var out []string
	for _, r := range routes {
		if _, ok := validated.Load(r.Method + " " + r.Path); !ok {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}

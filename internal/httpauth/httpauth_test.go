package httpauth

import (
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"

	"github.com/swarmops/swarmops/internal/audit"
	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/httpx"
	"github.com/swarmops/swarmops/internal/signon"
	"github.com/swarmops/swarmops/internal/sso"
	"github.com/swarmops/swarmops/internal/store"
	"github.com/swarmops/swarmops/internal/store/local"
)

type fixture struct {
	app    *fiber.App
	store  store.Store
	cookie string
	csrf   string
	token  string
}

// newFixture serves one mutating route that needs ServiceWrite and one
// read, over a real local store, with an operator logged in and a viewer
// holding an API token.
func newFixture(t *testing.T) *fixture { return newFixtureTrusting(t, "") }

// newFixtureTrusting is newFixture with an auth proxy's X-Forwarded-User
// and X-Forwarded-Groups headers believed from trusted (a CIDR; "" none).
func newFixtureTrusting(t *testing.T, trusted string) *fixture {
	t.Helper()
	st, err := local.Open(t.TempDir(), local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := audit.New(st, "test")
	svc := auth.NewService(st, log, auth.Options{BcryptCost: bcrypt.MinCost})
	ctx := context.Background()
	if _, err := svc.CreateUser(ctx, "olive", "password-1", "operator"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, "vic", "password-1", ""); err != nil {
		t.Fatal(err)
	}
	cookie, p, err := svc.Login(ctx, "olive", "password-1", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := svc.CreateToken(ctx, "vic", "ci", "")
	if err != nil {
		t.Fatal(err)
	}
	roles, err := sso.ParseRoleMap("ops=operator")
	if err != nil {
		t.Fatal(err)
	}
	header := &signon.Header{UserHeader: "X-Forwarded-User", GroupsHeader: "X-Forwarded-Groups", Policy: sso.Policy{Roles: roles}, Auth: svc}
	g := New(svc, log, header)
	var proxies []netip.Prefix
	if trusted != "" {
		proxies = append(proxies, netip.MustParsePrefix(trusted))
	}
	app := httpx.New(httpx.Options{Instance: "test", Log: zerolog.Nop(), TrustedProxies: proxies})
	ok := func(c *fiber.Ctx) error { return c.SendString("ok " + Principal(c).Username) }
	app.Post("/c/:cluster/change", g.Authenticate, g.RequirePerm(auth.ServiceWrite), ok)
	app.Get("/read", g.Authenticate, g.RequirePerm(auth.ServiceRead), ok)
	return &fixture{app: app, store: st, cookie: cookie, csrf: p.CSRFToken, token: tok}
}

func (f *fixture) do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := f.app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (f *fixture) withSession(req *http.Request) *http.Request {
	req.AddCookie(&http.Cookie{Name: CookieName, Value: f.cookie})
	return req
}

func multipartBody(t *testing.T, fields map[string]string) (io.Reader, string) {
	t.Helper()
	var b strings.Builder
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	return strings.NewReader(b.String()), w.FormDataContentType()
}

func TestAuthenticate_CSRF(t *testing.T) {
	f := newFixture(t)
	form := func(v url.Values) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/c/prod/change", strings.NewReader(v.Encode()))
		r.Header.Set("Content-Type", fiber.MIMEApplicationForm)
		return f.withSession(r)
	}
	mp, ct := multipartBody(t, map[string]string{FormCSRF: f.csrf, "name": "web"})
	multi := f.withSession(httptest.NewRequest(http.MethodPost, "/c/prod/change", mp))
	multi.Header.Set("Content-Type", ct)
	header := f.withSession(httptest.NewRequest(http.MethodPost, "/c/prod/change", nil))
	header.Header.Set(HeaderCSRF, f.csrf)
	inQuery := f.withSession(httptest.NewRequest(http.MethodPost, "/c/prod/change?"+FormCSRF+"="+url.QueryEscape(f.csrf), nil))
	wrongHeader := f.withSession(httptest.NewRequest(http.MethodPost, "/c/prod/change", nil))
	wrongHeader.Header.Set(HeaderCSRF, "not-the-token")

	for _, tc := range []struct {
		name string
		req  *http.Request
		want int
	}{
		{"header", header, 200},
		{"url-encoded form field", form(url.Values{FormCSRF: {f.csrf}, "replicas": {"3"}}), 200},
		{"multipart form field", multi, 200},
		{"no token", form(url.Values{"replicas": {"3"}}), 403},
		{"wrong form field", form(url.Values{FormCSRF: {f.csrf + "x"}}), 403},
		{"wrong header", wrongHeader, 403},
		{"token in the query string is not accepted", inQuery, 403},
		{"no session", httptest.NewRequest(http.MethodPost, "/c/prod/change", nil), 401},
		{"a read needs no CSRF token", f.withSession(httptest.NewRequest(http.MethodGet, "/read", nil)), 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, body := f.do(t, tc.req); got != tc.want {
				t.Fatalf("status %d (%s), want %d", got, body, tc.want)
			}
		})
	}
	// Refused CSRF attempts are audited as denied changes.
	recs, err := f.store.ListAudit(context.Background(), store.AuditFilter{Action: "access.denied"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 || recs[0].User != "olive" || recs[0].Cluster != "prod" {
		t.Fatalf("want 4 access.denied records by olive on prod, got %+v", recs)
	}
}

func TestRequirePerm_TokenRoles(t *testing.T) {
	f := newFixture(t)
	read := httptest.NewRequest(http.MethodGet, "/read", nil)
	read.Header.Set(fiber.HeaderAuthorization, "Bearer "+f.token)
	if got, body := f.do(t, read); got != 200 || body != "ok vic" {
		t.Fatalf("viewer read: %d %s", got, body)
	}
	// A bearer token needs no CSRF token, but a viewer may not change.
	change := httptest.NewRequest(http.MethodPost, "/c/prod/change", nil)
	change.Header.Set(fiber.HeaderAuthorization, "Bearer "+f.token)
	if got, body := f.do(t, change); got != 403 || !strings.Contains(body, "needs role operator") {
		t.Fatalf("viewer change: %d %s", got, body)
	}
	bad := httptest.NewRequest(http.MethodGet, "/read", nil)
	bad.Header.Set(fiber.HeaderAuthorization, "Basic dXNlcjpwYXNz")
	if got, _ := f.do(t, bad); got != 401 {
		t.Fatalf("basic auth: %d, want 401", got)
	}
}

// The auth proxy's header signs in only from a trusted address, and a
// change it signs in must not come from another site.
func TestAuthenticate_ProxyHeader(t *testing.T) {
	req := func(method, path string, h map[string]string) *http.Request {
		r := httptest.NewRequest(method, path, nil)
		r.Host = "so.example.com"
		r.Header.Set("X-Forwarded-User", "pat")
		r.Header.Set("X-Forwarded-Groups", "dev, ops")
		for k, v := range h {
			r.Header.Set(k, v)
		}
		return r
	}
	// fiber's in-memory test connections come from 0.0.0.0.
	trusted := newFixtureTrusting(t, "0.0.0.0/32")
	for _, tc := range []struct {
		name string
		req  *http.Request
		want int
	}{
		{"read", req("GET", "/read", nil), 200},
		{"change from this site (Sec-Fetch-Site)", req("POST", "/c/prod/change", map[string]string{"Sec-Fetch-Site": "same-origin"}), 200},
		{"change from this site (Origin)", req("POST", "/c/prod/change", map[string]string{"Origin": "http://so.example.com"}), 200},
		{"change by a script (neither)", req("POST", "/c/prod/change", nil), 200},
		{"cross-site change", req("POST", "/c/prod/change", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://so.example.com"}), 403},
		{"same-site change (a sibling subdomain)", req("POST", "/c/prod/change", map[string]string{"Sec-Fetch-Site": "same-site"}), 403},
		{"change with another Origin", req("POST", "/c/prod/change", map[string]string{"Origin": "http://evil.example"}), 403},
		{"an API token of ours wins over the header", req("GET", "/read", map[string]string{"Authorization": "Bearer " + trusted.token}), 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, body := trusted.do(t, tc.req); got != tc.want {
				t.Fatalf("status %d (%s), want %d", got, body, tc.want)
			}
		})
	}
	if _, body := trusted.do(t, req("GET", "/read", map[string]string{"Authorization": "Bearer " + trusted.token})); body != "ok vic" {
		t.Fatalf("with a token and the header, the caller is %q, want the token's vic", body)
	}
	if u, err := trusted.store.GetUser(context.Background(), "pat"); err != nil || u.Source != auth.MethodHeader || u.Role != "operator" {
		t.Fatalf("the proxy's user as stored: %+v, %v", u, err)
	}
	// From an address outside the trusted proxies the header counts for
	// nothing: anonymous.
	untrusted := newFixtureTrusting(t, "10.9.9.9/32")
	if got, body := untrusted.do(t, req("GET", "/read", nil)); got != 401 {
		t.Fatalf("the header from an untrusted address: %d %s, want 401", got, body)
	}
}

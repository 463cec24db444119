package httpauth

import (
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"

	"github.com/swarmops/swarmops/internal/audit"
	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/httpx"
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
func newFixture(t *testing.T) *fixture {
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
	g := New(svc, log)
	app := httpx.New(httpx.Options{Instance: "test", Log: zerolog.Nop()})
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

package httpapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/config"
	"github.com/swarmops/swarmops/internal/sso"
	"github.com/swarmops/swarmops/internal/testenv"
)

// ssoSetup is a SwarmOps instance signing users in with a real OpenID
// provider started for the test.
type ssoSetup struct {
	idp *testenv.OIDCProvider
	in  *apitest.Instance
}

var ssoUsers = []testenv.OIDCUser{
	{ID: "u-alice", Username: "alice", Password: "alice-pw", Email: "alice@example.com", Groups: []string{"platform-admins"}},
	{ID: "u-bob", Username: "bob", Password: "bob-pw", Email: "bob@example.com", Groups: []string{"ops"}},
	{ID: "u-carol", Username: "carol", Password: "carol-pw", Email: "carol@example.com"},
	{ID: "u-dave", Username: "dave", Password: "dave-pw", Email: "dave@example.com", Groups: []string{"platform-admins"}},
	{ID: "u-erin", Username: "erin", Password: "erin-pw", Email: "erin@blocked.example", Groups: []string{"ops"}},
	{ID: "u-admin", Username: "admin", Password: "idp-admin-pw", Email: "admin@example.com", Groups: []string{"platform-admins"}},
}

// startSSO starts the provider and an instance whose OIDC settings point
// at it; change adjusts the configuration.
func startSSO(t *testing.T, change func(*config.Config)) ssoSetup {
	t.Helper()
	cfg, idp := apitest.OIDCConfig(t, ssoUsers, "platform-admins=admin,ops=operator")
	var err error
	if cfg.SSODeny, err = sso.ParseList("dave,@blocked.example"); err != nil {
		t.Fatal(err)
	}
	if change != nil {
		change(&cfg)
	}
	return ssoSetup{idp: idp, in: apitest.Start(t, cfg)}
}

// browser is a client with its own cookies that asks for JSON answers
// (so a failed sign-in answers its error rather than the login page).
func (s ssoSetup) browser(t *testing.T, accept string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: acceptTransport(accept)}
}

type acceptTransport string

func (a acceptTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if a != "" {
		r = r.Clone(r.Context())
		r.Header.Set("Accept", string(a))
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (s ssoSetup) start(next string) string {
	return s.in.URL + "/api/v1/auth/oidc/login?next=" + url.QueryEscape(next)
}

// signIn signs user in and answers the callback's answer: status, where it
// sends the browser, and the body.
func (s ssoSetup) signIn(t *testing.T, c *http.Client, user, password string) (int, string, string) {
	t.Helper()
	resp, err := s.idp.Login(c, s.start("/services"), user, password)
	if err != nil {
		t.Fatalf("sign in %s: %v", user, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(body)
}

// whoami is GET /auth/me as c's session sees it.
type whoami struct {
	status    int
	user, via string // user is "name/role"
	csrf      string
}

// me answers the signed-in user of c's session.
func (s ssoSetup) me(t *testing.T, c *http.Client) whoami {
	t.Helper()
	resp, err := c.Get(s.in.URL + "/api/v1/auth/me")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		User struct{ Username, Role string }
		Via  string
		CSRF string `json:"csrf_token"`
	}
	body, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(body, &out)
	return whoami{resp.StatusCode, out.User.Username + "/" + out.User.Role, out.Via, out.CSRF}
}

func wantSignedIn(t *testing.T, s ssoSetup, c *http.Client, user, password, want string) {
	t.Helper()
	status, loc, body := s.signIn(t, c, user, password)
	if status != http.StatusSeeOther || loc != "/services" {
		t.Fatalf("sign-in of %s answered %d to %q (%s); want 303 to /services, the next given at the start", user, status, loc, body)
	}
	if w := s.me(t, c); w.status != 200 || w.user != want || w.via != "session" {
		t.Fatalf("GET /auth/me after %s signed in = %+v, want 200 %s via session", user, w, want)
	}
}

func wantSSORefused(t *testing.T, s ssoSetup, user, password string, status int, words string) {
	t.Helper()
	c := s.browser(t, "application/json")
	got, _, body := s.signIn(t, c, user, password)
	if got != status || !strings.Contains(body, words) {
		t.Fatalf("sign-in of %s answered %d %s; want %d saying %q", user, got, body, status, words)
	}
	if st := s.me(t, c).status; st != http.StatusUnauthorized {
		t.Fatalf("after a refused sign-in, GET /auth/me = %d, want 401", st)
	}
}

func TestOIDC_SignInRolesAndRefusals(t *testing.T) {
	t.Parallel()
	s := startSSO(t, nil)
	admin := s.in.Admin(t)

	var prov struct {
		Password bool
		OIDC     *struct{ Name, LoginURL string } `json:"oidc"`
		Header   bool
	}
	s.in.Anonymous(t).MustDo("GET", "/api/v1/auth/providers", nil, &prov, 200)
	if !prov.Password || prov.OIDC == nil || prov.OIDC.Name != "TestIdP" || prov.Header {
		t.Fatalf("providers = %+v, want password, oidc TestIdP, no header", prov)
	}

	// Groups map to roles; the highest wins.
	alice := s.browser(t, "")
	wantSignedIn(t, s, alice, "alice", "alice-pw", "alice/admin")
	bob := s.browser(t, "")
	wantSignedIn(t, s, bob, "bob", "bob-pw", "bob/operator")

	// Refusals: no group maps, on the deny list by name and by domain,
	// and the IdP's "admin" is not the local admin.
	wantSSORefused(t, s, "carol", "carol-pw", 403, "no group maps to a role")
	wantSSORefused(t, s, "dave", "dave-pw", 403, "deny list")
	wantSSORefused(t, s, "erin", "erin-pw", 403, "deny list")
	wantSSORefused(t, s, "admin", "idp-admin-pw", 409, "belongs to a local user")
	admin.MustDo("GET", "/api/v1/auth/me", nil, nil, 200)

	// A browser (no JSON asked for) goes back to the login page, which
	// says why in its own words.
	status, loc, _ := s.signIn(t, s.browser(t, ""), "carol", "carol-pw")
	if status != http.StatusSeeOther || loc != "/login?sso_error=refused" {
		t.Fatalf("a refused browser sign-in answered %d to %q, want 303 to /login?sso_error=refused", status, loc)
	}

	// bob's token, and the user list's view of him.
	var tok struct{ Token string }
	bobAPI := (&apitest.Client{Base: s.in.URL, HTTP: bob, CSRF: sessionCSRF(t, s, bob)}).For(t)
	bobAPI.MustDo("POST", "/api/v1/tokens", map[string]string{"name": "ci"}, &tok, 201)
	bobToken := (&apitest.Client{Base: s.in.URL, HTTP: &http.Client{Timeout: 30 * time.Second}, Token: tok.Token}).For(t)
	bobToken.MustDo("GET", "/api/v1/auth/me", nil, nil, 200)
	var users struct {
		Items []struct{ Username, Role, Source string }
	}
	admin.MustDo("GET", "/api/v1/users", nil, &users, 200)
	sources := map[string]string{}
	for _, u := range users.Items {
		sources[u.Username] = u.Source + "/" + u.Role
	}
	if sources["bob"] != "oidc/operator" || sources["alice"] != "oidc/admin" || sources["admin"] != "local/admin" || sources["carol"] != "" {
		t.Fatalf("users by source/role = %v; want bob oidc/operator, alice oidc/admin, admin local/admin, no carol", sources)
	}

	// bob loses his group: his next sign-in is refused, his session and
	// his API token stop at once.
	s.idp.SetGroups("u-bob", nil)
	wantSSORefused(t, s, "bob", "bob-pw", 403, "no group maps to a role")
	if st := s.me(t, bob).status; st != http.StatusUnauthorized {
		t.Fatalf("bob's earlier session after a refused sign-in: %d, want 401", st)
	}
	if st, body := bobToken.Do("GET", "/api/v1/auth/me", nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("bob's API token after a refused sign-in: %d %s, want 401", st, body)
	}
	// His groups come back, higher: the role follows at the next sign-in,
	// and the token works again with it.
	s.idp.SetGroups("u-bob", []string{"ops", "platform-admins"})
	bob = s.browser(t, "")
	wantSignedIn(t, s, bob, "bob", "bob-pw", "bob/admin")
	var me struct{ User struct{ Role string } }
	bobToken.MustDo("GET", "/api/v1/auth/me", nil, &me, 200)
	if me.User.Role != "admin" {
		t.Fatalf("bob's token after his groups changed has role %q, want admin", me.User.Role)
	}

	// Every sign-in, refusal and logout is audited with its method.
	bobAPI = (&apitest.Client{Base: s.in.URL, HTTP: bob, CSRF: sessionCSRF(t, s, bob)}).For(t)
	bobAPI.MustDo("POST", "/api/v1/auth/logout", nil, nil, 204)
	var audit struct {
		Items []struct{ User, Action, Result, Error string }
	}
	admin.MustDo("GET", "/api/v1/audit?action=auth.&limit=100", nil, &audit, 200)
	seen := map[string]bool{}
	for _, r := range audit.Items {
		seen[r.Action+" "+r.User+" "+r.Result] = true
	}
	for _, want := range []string{"auth.login.oidc alice ok", "auth.login.oidc carol error", "auth.login.oidc dave error",
		"auth.login.oidc admin error", "auth.login.oidc bob error", "auth.logout.oidc bob ok"} {
		if !seen[want] {
			t.Errorf("audit log lacks %q; has %v", want, seen)
		}
	}
}

// sessionCSRF answers the CSRF token of c's session.
func sessionCSRF(t *testing.T, s ssoSetup, c *http.Client) string {
	t.Helper()
	w := s.me(t, c)
	if w.csrf == "" {
		t.Fatalf("no CSRF token in /auth/me: %+v", w)
	}
	return w.csrf
}

// A sign-in's state is used once, only by the browser that began it; ID
// tokens for another audience or past their expiry are refused.
func TestOIDC_StateAndTokenChecks(t *testing.T) {
	t.Parallel()
	s := startSSO(t, nil)

	c := s.browser(t, "application/json")
	cb, err := s.idp.LoginCallbackURL(c, s.start("/"), "alice", "alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	get := func(c *http.Client, u string) (int, string) {
		t.Helper()
		nc := *c
		nc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := nc.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// Another browser cannot complete it (no sign-in cookie), and its
	// attempt uses the state up.
	if st, body := get(s.browser(t, "application/json"), cb.String()); st != 401 || !strings.Contains(body, "another browser") {
		t.Fatalf("callback from another browser = %d %s, want 401 saying it began in another browser", st, body)
	}
	cb2, err := s.idp.LoginCallbackURL(c, s.start("/"), "alice", "alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	if st, body := get(c, cb2.String()); st != http.StatusSeeOther {
		t.Fatalf("callback = %d %s, want 303", st, body)
	}
	if st, body := get(c, cb2.String()); st != 401 || !strings.Contains(body, "already completed") {
		t.Fatalf("replayed callback = %d %s, want 401 saying it was already completed", st, body)
	}

	s.idp.NextIDToken(func(tw *testenv.TokenTweak) { tw.Audience = []string{"someone-else"} })
	wantSSORefused(t, s, "alice", "alice-pw", 401, "audience")
	s.idp.NextIDToken(func(tw *testenv.TokenTweak) { tw.Lifetime = -time.Minute })
	wantSSORefused(t, s, "alice", "alice-pw", 401, "expired")
	// And a good one still works.
	wantSignedIn(t, s, s.browser(t, ""), "alice", "alice-pw", "alice/admin")
}

// An unreachable provider stops no one else: SSO answers 503 until its
// discovery succeeds, local users and tokens work throughout.
func TestOIDC_UnreachableProvider(t *testing.T) {
	t.Parallel()
	s := startSSO(t, nil)
	s.idp.Stop()
	admin := s.in.Admin(t)
	token := admin.WithToken("ci")
	resp, body, err := s.in.Anonymous(t).Raw("GET", "/api/v1/auth/oidc/login", nil, map[string]string{"Accept": "application/json"})
	if err != nil {
		t.Fatal(err)
	}
	if st := resp.StatusCode; st != http.StatusServiceUnavailable || !strings.Contains(body, "cannot be reached") {
		t.Fatalf("OIDC login while the provider is down = %d %s, want 503 saying it cannot be reached", st, body)
	}
	token.MustDo("GET", "/api/v1/auth/me", nil, nil, 200)
	if err := s.idp.Start(); err != nil {
		t.Fatal(err)
	}
	testenv.Poll(t, 20*time.Second, "OIDC sign-in once the provider is back", func() error {
		status, loc, body := s.signIn(t, s.browser(t, "application/json"), "alice", "alice-pw")
		if status != http.StatusSeeOther {
			return fmt.Errorf("sign-in answered %d to %q: %s", status, loc, body)
		}
		return nil
	})
}

// With password sign-in off, the password route refuses and says how to
// sign in; SSO still works.
func TestOIDC_LocalLoginOff(t *testing.T) {
	t.Parallel()
	s := startSSO(t, func(c *config.Config) { c.LocalLogin = false })
	st, body := s.in.Anonymous(t).Do("POST", "/api/v1/auth/login", map[string]string{"username": "admin", "password": apitest.AdminPassword}, nil)
	if st != http.StatusForbidden || !strings.Contains(body, "SWARMOPS_LOCAL_LOGIN=false") {
		t.Fatalf("password login with local login off = %d %s, want 403 naming SWARMOPS_LOCAL_LOGIN", st, body)
	}
	var prov struct{ Password bool }
	s.in.Anonymous(t).MustDo("GET", "/api/v1/auth/providers", nil, &prov, 200)
	if prov.Password {
		t.Fatal("providers says password sign-in is on")
	}
	wantSignedIn(t, s, s.browser(t, ""), "alice", "alice-pw", "alice/admin")
}

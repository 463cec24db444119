package deploy_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/testenv"
)

// The auth-proxy test's users: olive and ada sign in at the auth service
// (olive with its session cookie, ada with basic credentials), mallory is
// on SWARMOPS_SSO_DENY, and ap-nogroups is in no group the role map names.
var (
	apOlive    = authUser{Name: "ap-olive", Cookie: "ap-olive-session-4f1c9e", Groups: []string{"ops"}}
	apAda      = authUser{Name: "ap-ada", Password: "ap-ada-password", Groups: []string{"admins", "ops"}}
	apMallory  = authUser{Name: "mallory", Cookie: "ap-mallory-session-77d0b2", Groups: []string{"admins"}}
	apNoGroups = authUser{Name: "ap-nogroups", Cookie: "ap-nogroups-session-c3a5"}
)

// creds answers the headers that sign u in at the auth service.
func (u authUser) creds() map[string]string {
	if u.Cookie != "" {
		return map[string]string{"Cookie": authCookie + "=" + u.Cookie}
	}
	return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(u.Name+":"+u.Password))}
}

// with answers h with more headers.
func with(h map[string]string, more ...string) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		out[k] = v
	}
	for i := 0; i+1 < len(more); i += 2 {
		out[more[i]] = more[i+1]
	}
	return out
}

type meAnswer struct {
	User struct {
		Username string `json:"username"`
		Role     string `json:"role"`
	} `json:"user"`
	Via string `json:"via"`
}

type auditRecord struct {
	User     string `json:"user"`
	Action   string `json:"action"`
	Target   string `json:"target"`
	Instance string `json:"instance"`
	Result   string `json:"result"`
	Error    string `json:"error"`
}

// TestAuthProxyHeader runs one SwarmOps process behind a real nginx with
// deploy/nginx/auth-proxy.conf and an auth service written here, and shows
// that only the auth service decides who the caller is: nginx replaces the
// user headers a client sends, SwarmOps believes them only from nginx's
// address, and a change signed in by the proxy cannot come from another
// site.
func TestAuthProxyHeader(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx and a SwarmOps process")
	}
	as := startAuthService(t, []authUser{apOlive, apAda, apMallory, apNoGroups})
	in := startInstance(t, "ap-1", map[string]string{
		"SWARMOPS_AUTH_HEADER":        "X-Forwarded-User",
		"SWARMOPS_AUTH_GROUPS_HEADER": "X-Forwarded-Groups",
		"SWARMOPS_OIDC_ROLE_MAP":      "ops=operator,admins=admin",
		"SWARMOPS_SSO_DENY":           "mallory",
		// nginx connects from proxyBindAddr; the test itself from
		// 127.0.0.1, which is not trusted.
		"SWARMOPS_TRUSTED_PROXIES": proxyBindAddr + "/32",
	})
	in.waitReady(t)
	x := startNginxWith(t, authProxyConf(t, as, nil, in))
	api := x.URL + "/api/v1"

	me := func(t *testing.T, h map[string]string) (int, meAnswer, []byte) {
		t.Helper()
		st, body, _, err := send(httpClient, http.MethodGet, api+"/auth/me", h, "")
		if err != nil {
			t.Fatalf("GET /api/v1/auth/me through nginx: %v", err)
		}
		var m meAnswer
		if st == 200 {
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatalf("GET /api/v1/auth/me: %v in %s", err, body)
			}
		}
		return st, m, body
	}

	t.Run("HealthChecksNeedNoSignIn", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz"} {
			if st, body, _, err := send(noRedirect, http.MethodGet, x.URL+p, nil, ""); err != nil || st != 200 {
				t.Errorf("GET %s through nginx without credentials: %d %v %s; want 200", p, st, err, body)
			}
		}
	})

	t.Run("GroupsGiveRoles", func(t *testing.T) {
		for _, c := range []struct {
			u    authUser
			role string
		}{{apOlive, "operator"}, {apAda, "admin"}} {
			st, m, body := me(t, c.u.creds())
			if st != 200 || m.User.Username != c.u.Name || m.User.Role != c.role || m.Via != "header" {
				t.Errorf("%s (groups %v): GET /auth/me %d %s; want 200 as %s, role %s, via header", c.u.Name, c.u.Groups, st, body, c.u.Name, c.role)
			}
		}
		// nginx asked with the original method and URI, without a body.
		a, err := as.lastAsked("/api/v1/auth/me")
		if err != nil {
			t.Fatal(err)
		}
		if a.Method != http.MethodGet || a.OriginalMethod != http.MethodGet || a.BodyLen != 0 {
			t.Errorf("the auth service was asked %+v; want a GET about GET /api/v1/auth/me without a body", a)
		}
	})

	t.Run("OperatorMakesAChange", func(t *testing.T) {
		h := with(apOlive.creds(), "Content-Type", "application/json", "Sec-Fetch-Site", "same-origin", "Origin", x.URL)
		st, body, hdr, err := send(httpClient, http.MethodPost, api+"/tokens", h, `{"name":"ap-olive-token"}`)
		if err != nil || st != 201 {
			t.Fatalf("ap-olive: POST /api/v1/tokens (same-origin) through nginx: %d %v %s; want 201", st, err, body)
		}
		// The auth service's refreshed cookie reaches the browser.
		if !slices.ContainsFunc((&http.Response{Header: hdr}).Cookies(), func(c *http.Cookie) bool {
			return c.Name == authRefreshCookie && c.Value == apOlive.Name
		}) {
			t.Errorf("POST through nginx: Set-Cookie %q; want the auth service's %s cookie handed on", hdr.Values("Set-Cookie"), authRefreshCookie)
		}
		a, err := as.lastAsked("/api/v1/tokens")
		if err != nil {
			t.Fatal(err)
		}
		if a.Method != http.MethodGet || a.OriginalMethod != http.MethodPost || a.BodyLen != 0 || a.ContentLength > 0 {
			t.Errorf("the auth service was asked %+v; want a GET about POST /api/v1/tokens without the body", a)
		}
		if names := tokenNames(t, api, apOlive.creds()); !slices.Contains(names, "ap-olive-token") {
			t.Errorf("ap-olive's tokens after the POST: %v; want ap-olive-token among them", names)
		}
	})

	t.Run("RefusedUsers", func(t *testing.T) {
		// mallory is denied although the auth service signed them in
		// and their group maps to admin; ap-nogroups has no mapped group.
		for _, u := range []authUser{apMallory, apNoGroups} {
			if st, _, body := me(t, u.creds()); st != 403 {
				t.Errorf("%s: GET /auth/me through nginx %d %s; want 403", u.Name, st, body)
			}
		}
	})

	t.Run("NobodySignedIn", func(t *testing.T) {
		// An API call: nginx's own 401, in the API's shape.
		st, body, _, err := send(noRedirect, http.MethodGet, api+"/auth/me", nil, "")
		if p, ok := parseProblem(body); err != nil || st != 401 || !ok || p.Error.Code != "unauthorized" {
			t.Errorf("GET /api/v1/auth/me without credentials: %d %v %s; want nginx's 401 with code unauthorized", st, err, body)
		}
		// A page: to the auth service's sign-in, with the URL asked for.
		st, body, h, err := send(noRedirect, http.MethodGet, x.URL+"/clusters?view=all", nil, "")
		want := "/oauth2/start?rd=" + x.URL + "/clusters?view=all"
		if err != nil || st != 302 || h.Get("Location") != want {
			t.Errorf("GET /clusters without credentials: %d %v Location %q %s; want 302 to %s", st, err, h.Get("Location"), body, want)
		}
		// ... which nginx serves without a sign-in.
		if st, body, _, err := send(noRedirect, http.MethodGet, x.URL+want, nil, ""); err != nil || st != 200 || !strings.Contains(string(body), "sign-in page") {
			t.Errorf("GET %s: %d %v %s; want the auth service's sign-in page", want, st, err, body)
		}
	})

	t.Run("ForgedHeadersThroughNginx", func(t *testing.T) {
		forged := map[string]string{"X-Forwarded-User": apAda.Name, "X-Forwarded-Groups": "admins"}
		// Without a sign-in, the claim does not get past nginx.
		if st, _, body := me(t, forged); st != 401 {
			t.Errorf("no credentials, X-Forwarded-User: %s: %d %s; want 401", apAda.Name, st, body)
		}
		// Signed in as olive and claiming to be ada: nginx writes olive.
		st, m, body := me(t, with(apOlive.creds(), "X-Forwarded-User", apAda.Name, "X-Forwarded-Groups", "admins"))
		if st != 200 || m.User.Username != apOlive.Name || m.User.Role != "operator" {
			t.Errorf("ap-olive claiming X-Forwarded-User %s, groups admins: %d %s; want 200 as ap-olive, operator", apAda.Name, st, body)
		}
		// Nor did nginx pass the client's claim to the auth service.
		if a, err := as.lastAsked("/api/v1/auth/me"); err != nil || a.ForwardedUser != "" || a.User != apOlive.Name {
			t.Errorf("the auth service was asked %+v (%v); want a question about ap-olive without X-Forwarded-User", a, err)
		}
		// The auth service answered no groups for ap-nogroups: nginx
		// sends none, not the client's.
		if st, _, body := me(t, with(apNoGroups.creds(), "X-Forwarded-Groups", "admins")); st != 403 {
			t.Errorf("ap-nogroups claiming X-Forwarded-Groups admins: %d %s; want 403 (no groups)", st, body)
		}
	})

	t.Run("HeaderDirectlyToSwarmOps", func(t *testing.T) {
		const warning = "ignoring the auth proxy's user header from an address outside SWARMOPS_TRUSTED_PROXIES (logged once)"
		for i := 0; i < 2; i++ {
			st, body, _, err := send(httpClient, http.MethodGet, in.URL+"/api/v1/auth/me",
				map[string]string{"X-Forwarded-User": apAda.Name, "X-Forwarded-Groups": "admins"}, "")
			if err != nil || st != 401 {
				t.Fatalf("X-Forwarded-User sent from 127.0.0.1 straight to SwarmOps: %d %v %s; want 401", st, err, body)
			}
		}
		testenv.Poll(t, 5*time.Second, "the warning in ap-1's log", func() error {
			if countLogMessages(in.Log, warning) == 0 {
				return errNotYet
			}
			return nil
		})
		if n := countLogMessages(in.Log, warning); n != 1 {
			t.Errorf("ap-1's log has the warning %d times after two requests; want once", n)
		}
	})

	t.Run("CrossSiteFormPosts", func(t *testing.T) {
		form := "application/x-www-form-urlencoded"
		crossSite := []map[string]string{
			{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
			{"Origin": "http://evil.example"}, // a browser without Sec-Fetch-*
			{"Origin": "http://sibling." + x.Addr, "Sec-Fetch-Site": "same-site"},
		}
		for _, cs := range crossSite {
			h := with(apOlive.creds(), "Content-Type", form)
			for k, v := range cs {
				h[k] = v
			}
			st, body, _, err := send(httpClient, http.MethodPost, api+"/tokens", h, "name=ap-evil-token")
			if err != nil || st != 403 {
				t.Errorf("ap-olive: cross-site form POST /api/v1/tokens with %v: %d %v %s; want 403", cs, st, err, body)
			}
			st, body, _, err = send(noRedirect, http.MethodPost, x.URL+"/logout", with(h), "")
			if err != nil || st != 403 {
				t.Errorf("ap-olive: cross-site POST /logout with %v: %d %v %s; want 403", cs, st, err, body)
			}
			h = with(apAda.creds(), "Content-Type", form)
			for k, v := range cs {
				h[k] = v
			}
			st, body, _, err = send(noRedirect, http.MethodPost, x.URL+"/users", h,
				url.Values{"username": {"ap-evil-user"}, "role": {"admin"}, "password": {"ap-evil-password-123"}}.Encode())
			if err != nil || st != 403 {
				t.Errorf("ap-ada: cross-site form POST /users (the UI's form) with %v: %d %v %s; want 403", cs, st, err, body)
			}
		}
		if names := tokenNames(t, api, apOlive.creds()); slices.Contains(names, "ap-evil-token") {
			t.Errorf("ap-olive's tokens after cross-site posts: %v; want no ap-evil-token", names)
		}
		if names := userNames(t, api, apAda.creds()); slices.Contains(names, "ap-evil-user") {
			t.Errorf("users after cross-site posts: %v; want no ap-evil-user", names)
		}
		// The same form from a page of this site is let in: the refusals
		// above are about the site, not the form. Also from a browser
		// without Sec-Fetch-* (Origin only), on this port that is not 80.
		for i, so := range []map[string]string{
			{"Origin": x.URL, "Sec-Fetch-Site": "same-origin"},
			{"Origin": x.URL},
		} {
			name := fmt.Sprintf("ap-form-user-%d", i)
			h := with(apAda.creds(), "Content-Type", form)
			for k, v := range so {
				h[k] = v
			}
			st, body, _, err := send(noRedirect, http.MethodPost, x.URL+"/users", h,
				url.Values{"username": {name}, "role": {"viewer"}, "password": {"ap-form-password-123"}}.Encode())
			if err != nil || st != 303 {
				t.Errorf("ap-ada: same-origin form POST /users with %v: %d %v %.300s; want 303", so, st, err, body)
			}
			if names := userNames(t, api, apAda.creds()); !slices.Contains(names, name) {
				t.Errorf("users after a same-origin form post with %v: %v; want %s among them", so, names, name)
			}
		}
	})

	t.Run("Audit", func(t *testing.T) {
		recs := auditRecords(t, api+"/audit?action=auth.login.header&limit=200", apAda.creds())
		for _, want := range []struct{ user, result string }{
			{apOlive.Name, "ok"}, {apAda.Name, "ok"}, {apMallory.Name, "error"}, {apNoGroups.Name, "error"},
		} {
			if !slices.ContainsFunc(recs, func(r auditRecord) bool { return r.User == want.user && r.Result == want.result }) {
				t.Errorf("no auth.login.header record of %s with result %s in %+v", want.user, want.result, recs)
			}
		}
		denied := auditRecords(t, api+"/audit?action=access.denied&user="+apOlive.Name+"&limit=200", apAda.creds())
		if !slices.ContainsFunc(denied, func(r auditRecord) bool { return strings.Contains(r.Target, "/api/v1/tokens") }) {
			t.Errorf("no access.denied record of ap-olive's cross-site POST /api/v1/tokens in %+v", denied)
		}
	})

	t.Run("NginxWarnsOfNothing", func(t *testing.T) {
		// e.g. "using uninitialized variable" where no auth request is made.
		b, err := os.ReadFile(filepath.Join(x.Dir, "error.log"))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "[warn]") || strings.Contains(l, "[error]") {
				t.Errorf("nginx error log: %s", l)
			}
		}
	})

	t.Run("AuthServiceDown", func(t *testing.T) {
		as.Stop()
		st, body, _, err := send(httpClient, http.MethodGet, api+"/auth/me", apOlive.creds(), "")
		if p, ok := parseProblem(body); err != nil || st != 503 || !ok || p.Error.Code != "unavailable" {
			t.Errorf("GET /api/v1/auth/me with the auth service down: %d %v %s; want 503 unavailable", st, err, body)
		}
		if st, body, _, err := send(httpClient, http.MethodGet, x.URL+"/readyz", nil, ""); err != nil || st != 200 {
			t.Errorf("GET /readyz with the auth service down: %d %v %s; want 200", st, err, body)
		}
	})
}

// tokenNames answers the names of the caller's API tokens.
func tokenNames(t *testing.T, api string, h map[string]string) []string {
	t.Helper()
	var out struct {
		Items []struct {
			Name string `json:"name"`
		} `json:"items"`
	}
	getJSON(t, api+"/tokens", h, &out)
	var names []string
	for _, i := range out.Items {
		names = append(names, i.Name)
	}
	return names
}

// userNames answers the names of every user (an admin's call).
func userNames(t *testing.T, api string, h map[string]string) []string {
	t.Helper()
	var out struct {
		Items []struct {
			Username string `json:"username"`
		} `json:"items"`
	}
	getJSON(t, api+"/users", h, &out)
	var names []string
	for _, i := range out.Items {
		names = append(names, i.Username)
	}
	return names
}

func auditRecords(t *testing.T, url string, h map[string]string) []auditRecord {
	t.Helper()
	var out struct {
		Items []auditRecord `json:"items"`
	}
	getJSON(t, url, h, &out)
	return out.Items
}

func getJSON(t *testing.T, url string, h map[string]string, v any) {
	t.Helper()
	st, body, _, err := send(httpClient, http.MethodGet, url, h, "")
	if err != nil || st != 200 {
		t.Fatalf("GET %s: %d %v %s", url, st, err, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
}

// TestOIDCAcrossInstances signs a user in with OpenID Connect through a
// real nginx in front of two SwarmOps processes that share Redis: the
// sign-in starts on one instance and the provider sends the browser back
// to the other, which completes it; the session then works on both.
func TestOIDCAcrossInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server, nginx, an OpenID provider and two SwarmOps processes")
	}
	// nginx must know the instances' addresses, the instances nginx's
	// URL (SWARMOPS_PUBLIC_URL) and the provider the callback URL: pick
	// the addresses, start nginx, then the provider, then the instances.
	// The instances' addresses are on loopback addresses of their own: a
	// port only looked up on 127.0.0.1 could be the one the provider or
	// Redis (which listen there) get next.
	ids := []string{"oa-1", "oa-2"}
	addrs := []string{
		fmt.Sprintf("127.0.0.31:%d", testenv.FreePort(t)),
		fmt.Sprintf("127.0.0.32:%d", testenv.FreePort(t)),
	}
	x := startNginx(t, &instance{Addr: addrs[0]}, &instance{Addr: addrs[1]})
	const clientID, clientSecret = "swarmops-oa", "oa-client-secret-5b7e"
	user := testenv.OIDCUser{ID: "oa-olive-sub", Username: "oa-olive", Password: "oa-olive-password", Email: "oa-olive@example.test", Groups: []string{"oa-ops"}}
	p := testenv.StartOIDC(t, testenv.OIDCOptions{
		Users: []testenv.OIDCUser{user}, ClientID: clientID, ClientSecret: clientSecret,
		RedirectURIs: []string{x.URL + "/api/v1/auth/oidc/callback"},
	})
	r := testenv.NewRedis(t, "oa-redis-password")
	env := redisEnv(t, r, "oa-test:")
	for k, v := range map[string]string{
		"SWARMOPS_OIDC_ISSUER":        p.Issuer,
		"SWARMOPS_OIDC_CLIENT_ID":     clientID,
		"SWARMOPS_OIDC_CLIENT_SECRET": clientSecret,
		"SWARMOPS_PUBLIC_URL":         x.URL,
		"SWARMOPS_OIDC_ROLE_MAP":      "oa-ops=operator,oa-admins=admin",
	} {
		env[k] = v
	}
	var ins []*instance
	for i, id := range ids {
		ins = append(ins, startInstanceAt(t, id, addrs[i], env))
	}
	for _, in := range ins {
		in.waitReady(t)
	}

	// Sign in until the login and the callback were answered by
	// different instances (round robin usually does so at once).
	var (
		jar                http.CookieJar
		session, next      string
		started, completed string
		callback           *url.URL
	)
	for try := 1; ; try++ {
		if try > 10 {
			t.Fatalf("in 10 sign-ins, the login and the callback were always answered by the same instance")
		}
		jar, _ = cookiejar.New(nil)
		c := &http.Client{Jar: jar, Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		st, body, h, err := send(c, http.MethodGet, x.URL+"/api/v1/auth/oidc/login?next=/clusters", nil, "")
		if err != nil || st != 302 || !strings.HasPrefix(h.Get("Location"), p.Issuer+"/") {
			t.Fatalf("GET /api/v1/auth/oidc/login through nginx: %d %v Location %q %s; want 302 to the provider", st, err, h.Get("Location"), body)
		}
		started = h.Get("X-SwarmOps-Instance")
		callback, err = p.LoginCallbackURL(c, h.Get("Location"), user.Username, user.Password)
		if err != nil {
			t.Fatalf("sign-in at the provider: %v", err)
		}
		if got := callback.Scheme + "://" + callback.Host + callback.Path; got != x.URL+"/api/v1/auth/oidc/callback" {
			t.Fatalf("the provider sent the browser to %s; want nginx's callback", got)
		}
		st, body, h, err = send(c, http.MethodGet, callback.String(), nil, "")
		if err != nil || st != 303 {
			t.Fatalf("GET the callback through nginx: %d %v %s; want 303", st, err, body)
		}
		completed, next = h.Get("X-SwarmOps-Instance"), h.Get("Location")
		session = ""
		for _, ck := range (&http.Response{Header: h}).Cookies() {
			if ck.Name == "swarmops_session" && ck.Value != "" {
				session = ck.Value
			}
		}
		t.Logf("sign-in %d: login answered by %q, callback by %q", try, started, completed)
		if started != "" && completed != "" && started != completed {
			break
		}
	}
	if next != "/clusters" || session == "" {
		t.Fatalf("the callback on %s redirected to %q with session cookie %q; want /clusters and a session", completed, next, session)
	}

	// The session works through nginx, answered by each instance.
	seen := map[string]int{}
	for i := 0; i < 20 && len(seen) < len(ins); i++ {
		st, body, h, err := get(x.URL+"/api/v1/auth/me", session)
		var m meAnswer
		if err != nil || st != 200 || json.Unmarshal(body, &m) != nil || m.User.Username != user.Username || m.User.Role != "operator" || m.Via != "session" {
			t.Fatalf("GET /api/v1/auth/me through nginx with the new session: %d %v %s; want 200 as %s, operator, via session", st, err, body, user.Username)
		}
		seen[h.Get("X-SwarmOps-Instance")]++
	}
	for _, id := range ids {
		if seen[id] == 0 {
			t.Errorf("the session was never answered by %s in 20 requests: %v", id, seen)
		}
	}

	// The sign-in's state was used once, whichever instance sees it again.
	for range ins {
		c := &http.Client{Jar: jar, Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		st, body, h, err := send(c, http.MethodGet, callback.String(), nil, "")
		if err != nil || st != 303 || !strings.HasPrefix(h.Get("Location"), "/login?sso_error=") {
			t.Errorf("the callback replayed (answered by %q): %d %v Location %q %s; want 303 to /login?sso_error=...", h.Get("X-SwarmOps-Instance"), st, err, h.Get("Location"), body)
		}
	}

	// The audit log says which instance completed the sign-in.
	admin := mustLogin(t, x.URL)
	var out struct {
		Items []auditRecord `json:"items"`
	}
	st, body, _, err := get(x.URL+"/api/v1/audit?action=auth.login.oidc&limit=50", admin.Cookie)
	if err != nil || st != 200 || json.Unmarshal(body, &out) != nil {
		t.Fatalf("GET /api/v1/audit as admin: %d %v %s", st, err, body)
	}
	if !slices.ContainsFunc(out.Items, func(r auditRecord) bool {
		return r.User == user.Username && r.Result == "ok" && r.Instance == completed
	}) {
		t.Errorf("no auth.login.oidc record of %s by %s with result ok in %+v", user.Username, completed, out.Items)
	}
}

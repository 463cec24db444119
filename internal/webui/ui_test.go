package webui_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/server"
	"github.com/swarmops/swarmops/internal/swarm"
	"github.com/swarmops/swarmops/internal/testenv"
)

// countingTransport counts engine calls, to see what a page costs.
func countingTransport(n *atomic.Int64) server.Option {
	return server.WithPoolOptions(swarm.WithTransport(func(_ string, rt http.RoundTripper) http.RoundTripper {
		return roundTrip(func(r *http.Request) (*http.Response, error) {
			n.Add(1)
			return rt.RoundTrip(r)
		})
	}))
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestFleet_LoginDegradedLogout: log in through the form; the fleet shows
// two swarms, the degraded one (a manager stopped) first and saying why;
// its first answer costs no engine call; logging out ends the session.
func TestFleet_LoginDegradedLogout(t *testing.T) {
	shared := testenv.SharedSwarm(t)
	second := testenv.StartSwarm(t, testenv.SwarmOptions{Managers: 2})
	var calls atomic.Int64
	in := apitest.Start(t, apitest.Config(t, apitest.WithEngineTimeout(4*time.Second)), countingTransport(&calls))
	admin := in.Admin(t)
	admin.MustDo(http.MethodPost, "/api/v1/clusters", map[string]any{"name": "fleet-a", "endpoint": shared.Managers[0].Endpoint}, nil, 201)
	admin.MustDo(http.MethodPost, "/api/v1/clusters", map[string]any{
		"name": "fleet-b", "endpoint": second.Managers[0].Endpoint,
		"labels": map[string]string{"swarmops.color": "red", "swarmops.env": "production"},
	}, nil, 201)
	stopped := second.Managers[1]
	if err := stopped.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stopped.Start() })

	b := newBrowser(t, in.URL)
	// Not logged in: the fleet sends the browser to the login form.
	b.open("/")
	var loc string
	b.run("read the location", chromedp.Location(&loc))
	if !strings.Contains(loc, "/login?next=%2F") {
		t.Fatalf("anonymous / went to %s, want /login?next=%%2F", loc)
	}
	b.login("admin", apitest.AdminPassword)
	b.run("read the location", chromedp.Location(&loc))
	if !strings.HasSuffix(loc, "/") {
		t.Fatalf("after login: at %s, want the fleet (/)", loc)
	}

	// The page probes live; the degraded swarm comes first and says why.
	b.waitText("#fleet-fleet-b", "degraded", 30*time.Second)
	b.waitText("#fleet-fleet-a", "healthy", 30*time.Second)
	problems := b.text("#fleet-fleet-b")
	if !strings.Contains(problems, stopped.Addr) {
		t.Errorf("the degraded row does not name the stopped manager %s:\n%s", stopped.Addr, problems)
	}
	var order []string
	b.eval(`Array.from(document.querySelectorAll('#fleet tbody tr')).map(r => r.id)`, &order)
	if !slices.Equal(order, []string{"fleet-fleet-b", "fleet-fleet-a"}) {
		t.Errorf("fleet rows in order %v; want the degraded one first", order)
	}
	if row := b.text("#fleet-fleet-b"); !strings.Contains(row, "production") {
		t.Errorf("the row of fleet-b does not show its environment label: %q", row)
	}
	b.screenshot("fleet")

	// The first answer of the page is the last known state: no engine call.
	before := calls.Load()
	admin.Raw(http.MethodGet, "/", nil, nil)
	if got := calls.Load() - before; got != 0 {
		t.Errorf("GET / (last known health) made %d engine calls; want 0", got)
	}
	// A fresh round probes, once the last round (the page's own) is more
	// than a few seconds old.
	testenv.Poll(t, 15*time.Second, "GET /?fresh=1 to probe the engines", func() error {
		before := calls.Load()
		admin.Raw(http.MethodGet, "/?fresh=1", nil, nil)
		if calls.Load() == before {
			return fmt.Errorf("no engine call")
		}
		return nil
	})

	// Log out through the button: the session ends, / is refused.
	b.run("log out",
		chromedp.Click(`.usermenu button[type=submit]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#f-username`, chromedp.ByQuery),
	)
	if txt := b.text(".loginbox"); !strings.Contains(txt, "logged out") {
		t.Errorf("after logout the login page says %q; want a logged-out note", txt)
	}
	b.open("/")
	b.run("read the location", chromedp.Location(&loc))
	if !strings.Contains(loc, "/login") {
		t.Errorf("after logout / went to %s, want the login form", loc)
	}
	b.clean("fleet, login and logout")
}

// noRedirect is an HTTP client of c's session that shows redirects.
func noRedirect(c *apitest.Client) *http.Client {
	return &http.Client{Jar: c.HTTP.Jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func postForm(t *testing.T, hc *http.Client, u string, v url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := hc.PostForm(u, v)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func getPage(t *testing.T, hc *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := hc.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var loginTokenRE = regexp.MustCompile(`name="login_token" value="([0-9a-f]+)"`)

// TestPages_Security: headers, static caching, CSRF on every post, the
// login form's own token, no open redirect, roles on posts.
func TestPages_Security(t *testing.T) {
	in := apitest.Start(t, apitest.Config(t))
	admin := in.Admin(t)
	viewer := in.UserWithRole(t, admin, "sec-viewer", "viewer")
	hc := noRedirect(admin)

	resp, body := getPage(t, hc, in.URL+"/")
	if resp.StatusCode != 200 {
		t.Fatalf("GET / as admin: %d", resp.StatusCode)
	}
	for h, want := range map[string]string{
		"Content-Security-Policy": "script-src 'self'", "X-Content-Type-Options": "nosniff",
		"X-Frame-Options": "DENY", "Cache-Control": "no-store",
	} {
		if got := resp.Header.Get(h); !strings.Contains(got, want) {
			t.Errorf("GET /: %s = %q, want it to contain %q", h, got, want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q: want frame-ancestors 'none' and no unsafe-inline", csp)
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, " style=") || regexp.MustCompile(`\son[a-z]+=`).MatchString(body) {
		t.Errorf("the fleet page has inline script, style or handler attributes")
	}

	// Static files: hashed URLs cached for a year; another hash is served
	// but not cached.
	css := regexp.MustCompile(`href="(/static/[0-9a-f]+/app\.css)"`).FindStringSubmatch(body)
	if css == nil {
		t.Fatalf("no hashed app.css link in the page")
	}
	resp, _ = getPage(t, hc, in.URL+css[1])
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Errorf("GET %s: %d, Cache-Control %q, Content-Type %q", css[1], resp.StatusCode, resp.Header.Get("Cache-Control"), resp.Header.Get("Content-Type"))
	}
	resp, _ = getPage(t, hc, in.URL+"/static/000000000000/app.css")
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("an old hash: %d, Cache-Control %q; want 200 and no-cache", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}

	// A page that does not exist is a 404 page, not a JSON error.
	resp, body = getPage(t, hc, in.URL+"/no/such/page")
	if resp.StatusCode != 404 || !strings.Contains(body, "There is no page at /no/such/page") {
		t.Errorf("GET /no/such/page: %d %.200s", resp.StatusCode, body)
	}

	// A post without the session's CSRF token is refused and changes
	// nothing: the session lives on.
	resp, body = postForm(t, hc, in.URL+"/logout", url.Values{})
	if resp.StatusCode != 403 || !strings.Contains(body, "CSRF") {
		t.Errorf("POST /logout without csrf_token: %d %.300s", resp.StatusCode, body)
	}
	if st, _ := admin.Do(http.MethodGet, "/api/v1/auth/me", nil, nil); st != 200 {
		t.Errorf("after a refused logout, the session answers %d; want it alive", st)
	}

	// A viewer posting a change gets the 403 page.
	resp, body = postForm(t, noRedirect(viewer), in.URL+"/clusters", url.Values{"csrf_token": {viewer.CSRF}, "name": {"x"}, "endpoint": {"tcp://198.18.0.1:2375"}})
	if resp.StatusCode != 403 || !strings.Contains(body, "needs role admin") {
		t.Errorf("viewer POST /clusters: %d %.300s", resp.StatusCode, body)
	}

	// The login form needs its own token; the next page stays on this site.
	anon := in.Anonymous(t)
	ahc := noRedirect(anon)
	resp, _ = postForm(t, ahc, in.URL+"/login", url.Values{"username": {"admin"}, "password": {apitest.AdminPassword}})
	if resp.StatusCode != 403 || hasSession(resp) {
		t.Errorf("login without the form's token: %d, session set %v; want 403 and none", resp.StatusCode, hasSession(resp))
	}
	for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "/\t/evil.example", "/\n/evil.example", "/%09/x\x7f"} {
		ahc := noRedirect(in.Anonymous(t))
		_, form := getPage(t, ahc, in.URL+"/login")
		m := loginTokenRE.FindStringSubmatch(form)
		if m == nil {
			t.Fatalf("no login_token in the login form")
		}
		resp, _ = postForm(t, ahc, in.URL+"/login", url.Values{
			"username": {"admin"}, "password": {apitest.AdminPassword}, "login_token": {m[1]}, "next": {next},
		})
		if resp.StatusCode != 303 || resp.Header.Get("Location") != "/" {
			t.Errorf("login with next=%q: %d to %q; want 303 to /", next, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	ahc = noRedirect(in.Anonymous(t))
	_, form := getPage(t, ahc, in.URL+"/login")
	m := loginTokenRE.FindStringSubmatch(form)
	resp, body = postForm(t, ahc, in.URL+"/login", url.Values{"username": {"admin"}, "password": {"wrong-password"}, "login_token": {m[1]}})
	if resp.StatusCode != 401 || !strings.Contains(body, "invalid username or password") || hasSession(resp) {
		t.Errorf("login with a wrong password: %d %.200s", resp.StatusCode, body)
	}
}

func hasSession(resp *http.Response) bool {
	for _, c := range resp.Cookies() {
		if c.Name == "swarmops_session" && c.Value != "" {
			return true
		}
	}
	return false
}

// apiOnly lists the mutating API routes that have no page, each with the
// reason.
var apiOnly = map[string]string{}

// TestPages_CoverTheAPI: every mutating API route has a page that does
// its work, or is listed in apiOnly with the reason; every API route a
// page names exists.
func TestPages_CoverTheAPI(t *testing.T) {
	in := apitest.Start(t, apitest.Config(t))
	api := map[string]bool{}
	for _, r := range in.Server.API.Routes() {
		api[r.Method+" "+r.Path] = true
	}
	covered := map[string]bool{}
	for _, p := range in.Server.UI.Pages() {
		for _, a := range p.API {
			if !api[a] {
				t.Errorf("page %s %s names API route %q, which does not exist", p.Method, p.Path, a)
			}
			covered[a] = true
		}
	}
	for r := range api {
		method := strings.Fields(r)[0]
		if method == http.MethodGet || method == http.MethodHead {
			continue
		}
		if !covered[r] && apiOnly[r] == "" {
			t.Errorf("API route %s has no page and is not listed as API-only", r)
		}
		if covered[r] && apiOnly[r] != "" {
			t.Errorf("API route %s has a page but is listed as API-only", r)
		}
	}
}

// pagePaths answers a path for every GET page, its parameters filled from
// the objects of cluster.
func pagePaths(t *testing.T, in *apitest.Instance, cluster string, ids map[string]string) []string {
	t.Helper()
	var out []string
	for _, p := range in.Server.UI.Pages() {
		if p.Method != http.MethodGet {
			continue
		}
		path := strings.ReplaceAll(p.Path, ":cluster", cluster)
		for _, kind := range []string{"services", "nodes", "configs"} {
			path = strings.ReplaceAll(path, "/"+kind+"/:id", "/"+kind+"/"+ids[kind])
		}
		path = strings.ReplaceAll(path, "/stacks/:name", "/stacks/"+ids["stack"])
		path = strings.ReplaceAll(path, "/registries/:name", "/registries/"+ids["registry"])
		if strings.HasSuffix(path, "/tags") {
			path += "?repo=" + url.QueryEscape(ids["repository"])
		}
		if strings.Contains(path, ":") {
			t.Fatalf("page %s: no value for its parameters; teach pagePaths", p.Path)
		}
		out = append(out, path)
	}
	return out
}

// TestPages_EveryPageLoads: each page, loaded once in Chromium as admin,
// answers 200 with no console error, no CSP violation and no request to
// another origin.
func TestPages_EveryPageLoads(t *testing.T) {
	sw := testenv.SharedSwarm(t)
	in, b := startUI(t)
	admin := in.Admin(t)
	const cluster = "pages-all"
	admin.MustDo(http.MethodPost, "/api/v1/clusters", map[string]any{"name": cluster, "endpoint": sw.Managers[0].Endpoint}, nil, 201)
	api := "/api/v1/clusters/" + cluster
	var svc struct{ ID string }
	admin.MustDo(http.MethodPost, api+"/services", map[string]any{"name": "pages-all-web", "image": testenv.HelloImage1, "replicas": 1,
		"labels": map[string]string{"com.docker.stack.namespace": "pages-all-stack"}}, &svc, 201)
	t.Cleanup(func() { admin.Do(http.MethodDelete, api+"/services/"+svc.ID, nil, nil) })
	var cfg struct{ ID string }
	admin.MustDo(http.MethodPost, api+"/configs", map[string]any{"name": "pages-all-cfg", "data": "k=v\n"}, &cfg, 201)
	t.Cleanup(func() { admin.Do(http.MethodDelete, api+"/configs/"+cfg.ID, nil, nil) })
	var nodes struct{ Items []struct{ ID string } }
	admin.MustDo(http.MethodGet, api+"/nodes", nil, &nodes, 200)

	reg := testenv.StartRegistry(t)
	reg.PushRandom(t, "pages/app", "1")
	admin.MustDo(http.MethodPost, "/api/v1/registries", map[string]any{"name": "pages-reg", "url": reg.URL}, nil, 201)

	ids := map[string]string{"services": svc.ID, "nodes": nodes.Items[0].ID, "configs": cfg.ID,
		"stack": "pages-all-stack", "registry": "pages-reg", "repository": "pages/app"}
	for _, path := range pagePaths(t, in, cluster, ids) {
		if path == "/logout" || path == "/login" {
			continue // the form of the session itself; /login redirects a logged-in user
		}
		st := b.open(path)
		if st != 200 {
			t.Errorf("GET %s: status %d", path, st)
		}
		var title string
		b.run("read the title of "+path, chromedp.Title(&title))
		if !strings.HasSuffix(title, "SwarmOps") {
			t.Errorf("GET %s: title %q", path, title)
		}
		b.clean("GET " + path)
	}
	st := b.open("/login")
	if st != 200 {
		t.Errorf("GET /login while logged in: %d after redirects", st)
	}
	b.clean("GET /login")
}

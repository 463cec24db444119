package webui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/config"
	"github.com/swarmops/swarmops/internal/testenv"
)

// ssoBrowserUsers are the provider's users: bob's group maps to operator,
// carol's groups map to nothing.
var ssoBrowserUsers = []testenv.OIDCUser{
	{ID: "u-bob", Username: "bob", Password: "bob-pw", Email: "bob@example.com", Groups: []string{"ops"}},
	{ID: "u-carol", Username: "carol", Password: "carol-pw", Email: "carol@example.com", Groups: []string{"sales"}},
}

// ssoUI is an instance signing in with a provider started for the test,
// and a browser on it.
type ssoUI struct {
	idp *testenv.OIDCProvider
	in  *apitest.Instance
	b   *browser
	nav *navLog
}

// startSSOUI starts a provider and an instance whose OIDC settings point
// at it (change adjusts them), and a Chromium of its own on the instance.
func startSSOUI(t *testing.T, change func(*config.Config)) ssoUI {
	t.Helper()
	cfg, idp := apitest.OIDCConfig(t, ssoBrowserUsers, "platform-admins=admin,ops=operator")
	if change != nil {
		change(&cfg)
	}
	in := apitest.Start(t, cfg)
	b := newBrowser(t, in.URL)
	return ssoUI{idp: idp, in: in, b: b, nav: watchDocuments(b)}
}

// clean is browser.clean, except that the tab may go to the provider: the
// one origin besides the instance's that single sign-on needs. Chromium
// also asks the provider for /favicon.ico on its login form, which the
// test provider answers 404: the provider's page, not SwarmOps'.
func (s ssoUI) clean(where string) {
	s.b.t.Helper()
	providerFavicon := "Failed to load resource: the server responded with a status of 404 (Not Found) " + s.idp.Issuer + "/favicon.ico"
	s.b.mu.Lock()
	var kept []string
	for _, p := range s.b.problems {
		if !strings.HasPrefix(p, "request to another origin: "+s.idp.Issuer+"/") && !strings.HasSuffix(p, providerFavicon) {
			kept = append(kept, p)
		}
	}
	s.b.problems = kept
	s.b.mu.Unlock()
	s.b.clean(where)
	s.nav.wantAllOK(s.b.t, where)
}

// location answers the tab's URL.
func (s ssoUI) location() string {
	s.b.t.Helper()
	var loc string
	s.b.run("read the location", chromedp.Location(&loc))
	return loc
}

// waitLocation waits until the tab is at want.
func (s ssoUI) waitLocation(want string) {
	s.b.t.Helper()
	testenv.Poll(s.b.t, 30*time.Second, "the browser at "+want, func() error {
		ctx, cancel := context.WithTimeout(s.b.ctx, 5*time.Second)
		defer cancel()
		var loc string
		if err := chromedp.Run(ctx, chromedp.Location(&loc)); err != nil {
			return err
		}
		if loc != want {
			return fmt.Errorf("at %s", loc)
		}
		return nil
	})
}

// signIn clicks the login page's SSO button, which must lead to the
// provider's form, and signs user in there.
func (s ssoUI) signIn(user, password string) {
	s.b.t.Helper()
	s.b.run("click Sign in with TestIdP", chromedp.Click(`.loginbox a.sso`, chromedp.ByQuery), chromedp.WaitVisible(`#username`, chromedp.ByQuery))
	if loc := s.location(); !strings.HasPrefix(loc, s.idp.Issuer+"/login/username?") {
		s.b.t.Fatalf("the SSO button led to %s, want the provider's form at %s/login/username", loc, s.idp.Issuer)
	}
	s.b.run("sign in at the provider as "+user,
		chromedp.SendKeys(`#username`, user, chromedp.ByQuery),
		chromedp.SendKeys(`#password`, password, chromedp.ByQuery),
		chromedp.Click(`button[type=submit]`, chromedp.ByQuery),
	)
}

// navLog records the tab's documents: each request (redirect hops
// included) and each final answer.
type navLog struct {
	mu        sync.Mutex
	requests  []string // "GET http://..."
	responses []string // "200 http://..."
	bad       []string // answers other than 200, not yet reported
}

// watchDocuments starts a navLog on b's tab.
func watchDocuments(b *browser) *navLog {
	n := &navLog{}
	chromedp.ListenTarget(b.ctx, func(ev any) {
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			if e.Type == network.ResourceTypeDocument {
				n.mu.Lock()
				n.requests = append(n.requests, e.Request.Method+" "+e.Request.URL)
				n.mu.Unlock()
			}
		case *network.EventResponseReceived:
			if e.Type == network.ResourceTypeDocument {
				n.mu.Lock()
				r := fmt.Sprintf("%d %s", e.Response.Status, e.Response.URL)
				n.responses = append(n.responses, r)
				if e.Response.Status != http.StatusOK {
					n.bad = append(n.bad, r)
				}
				n.mu.Unlock()
			}
		}
	})
	return n
}

// wantAllOK fails the test with every page answered other than 200 since
// the last call.
func (n *navLog) wantAllOK(t *testing.T, where string) {
	t.Helper()
	n.mu.Lock()
	bad := n.bad
	n.bad = nil
	n.mu.Unlock()
	for _, r := range bad {
		t.Errorf("%s: a page answered %s, want 200", where, r)
	}
}

// mark answers how many requests were recorded so far; since answers the
// requests after a mark.
func (n *navLog) mark() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.requests)
}

func (n *navLog) since(mark int) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.requests[mark:]...)
}

// endSessionEndpoint answers the provider's end_session_endpoint, from its
// discovery document.
func endSessionEndpoint(t *testing.T, idp *testenv.OIDCProvider) string {
	t.Helper()
	resp, err := http.Get(idp.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || d.EndSession == "" {
		t.Fatalf("the provider's discovery names no end_session_endpoint (%v)", err)
	}
	return d.EndSession
}

// TestSSO_Browser signs in through the login page's "Sign in with
// TestIdP" and the provider's own form in a real Chromium: the mapped
// role shows, logging out goes through the provider's end-session and
// back to the login page, a user whom no group lets in is told so, and
// with password sign-in off the page offers only the button. Every page
// answers 200 with no console error and no CSP violation; the tab leaves
// the instance's origin only for the provider.
func TestSSO_Browser(t *testing.T) {
	s := startSSOUI(t, nil)
	b := s.b

	// The login page offers the button, and the password form below it.
	if st := b.open("/login?next=" + url.QueryEscape("/tokens")); st != http.StatusOK {
		t.Fatalf("GET /login = %d, want 200", st)
	}
	b.run("wait for the login page", chromedp.WaitVisible(`.loginbox a.sso`, chromedp.ByQuery))
	if got := strings.TrimSpace(b.text(`.loginbox a.sso`)); got != "Sign in with TestIdP" {
		t.Errorf("the SSO button says %q, want %q", got, "Sign in with TestIdP")
	}
	if n := b.count(`.loginbox form[action="/login"] #f-username`) + b.count(`.loginbox form[action="/login"] #f-password`); n != 2 {
		t.Errorf("the login page has %d of the password form's username and password fields, want 2", n)
	}
	if got := b.text(`.loginbox .or`); !strings.Contains(got, "or with a SwarmOps password") {
		t.Errorf("the separator says %q, want %q", got, "or with a SwarmOps password")
	}
	b.screenshot("login_sso")
	s.clean("the login page")

	// bob signs in at the provider and lands on the page he asked for, as
	// an operator: the user menu says so, admin pages are not offered.
	s.signIn("bob", "bob-pw")
	b.run("wait for the signed-in page", chromedp.WaitVisible(`.usermenu`, chromedp.ByQuery))
	if loc := s.location(); loc != s.in.URL+"/tokens" {
		t.Errorf("after signing in the browser is at %s, want %s/tokens (the next page)", loc, s.in.URL)
	}
	if user, role := strings.TrimSpace(b.text(`.usermenu a`)), strings.TrimSpace(b.text(`.usermenu .badge`)); user != "bob" || role != "operator" {
		t.Errorf("the user menu shows %q with role %q, want bob, operator", user, role)
	}
	if n := b.count(`.sidenav a[href="/users"]`) + b.count(`.sidenav a[href="/audit"]`); n != 0 {
		t.Errorf("an operator is offered %d admin pages (users, audit log), want none", n)
	}
	if n := b.count(`.sidenav a[href="/tokens"]`); n != 1 {
		t.Errorf("the operator's menu has %d links to his API tokens, want 1", n)
	}
	s.clean("signed in as bob")

	// Logging out goes through the provider's end-session and back to
	// the login page; the session is gone.
	endSession := endSessionEndpoint(t, s.idp)
	mark := s.nav.mark()
	b.run("log out", chromedp.Click(`.usermenu form[action="/logout"] button`, chromedp.ByQuery))
	s.waitLocation(s.in.URL + "/login")
	b.run("wait for the login page after logout", chromedp.WaitVisible(`.loginbox a.sso`, chromedp.ByQuery))
	trip := s.nav.since(mark)
	wantTrip := []string{"POST " + s.in.URL + "/logout", "GET " + endSession + "?", "GET " + s.in.URL + "/login"}
	at := 0
	for _, r := range trip {
		if at < len(wantTrip) && (r == wantTrip[at] || strings.HasSuffix(wantTrip[at], "?") && strings.HasPrefix(r, wantTrip[at])) {
			at++
		}
	}
	if at != len(wantTrip) {
		t.Errorf("logging out went %q, want through %q in that order", trip, wantTrip)
	}
	for _, r := range trip {
		if strings.HasPrefix(r, "GET "+endSession+"?") && !strings.Contains(r, "post_logout_redirect_uri="+url.QueryEscape(s.in.URL+"/login")) {
			t.Errorf("the provider's logout was asked as %s, without post_logout_redirect_uri=%s/login", r, s.in.URL)
		}
	}
	s.clean("logged out through the provider")
	b.open("/tokens")
	if loc := s.location(); loc != s.in.URL+"/login?next=%2Ftokens" {
		t.Errorf("after logging out, /tokens went to %s, want the login page", loc)
	}
	s.clean("a page after logging out")

	// carol's groups map to no role: she comes back to the login page,
	// which says why, signed out.
	s.signIn("carol", "carol-pw")
	b.waitText(`.loginbox .flash-error`, "did not let you in", 30*time.Second)
	if loc := s.location(); loc != s.in.URL+"/login?sso_error=refused" {
		t.Errorf("carol's refused sign-in ended at %s, want %s/login?sso_error=refused", loc, s.in.URL)
	}
	if n := b.count(`.usermenu`); n != 0 {
		t.Error("carol's refused sign-in shows a user menu")
	}
	b.screenshot("login_sso_refused")
	s.clean("carol refused")
	b.open("/tokens")
	if loc := s.location(); loc != s.in.URL+"/login?next=%2Ftokens" {
		t.Errorf("after carol's refused sign-in, /tokens went to %s, want the login page", loc)
	}
	s.clean("a page after carol's refusal")

	// The local admin's users page marks bob as an OIDC user, with no
	// password to set.
	b.login("admin", apitest.AdminPassword)
	b.open("/users")
	if got := b.text(`#user-bob`); !strings.Contains(got, "oidc") || !strings.Contains(got, "no password: signs in through oidc") {
		t.Errorf("bob's row on the users page says %q, want the oidc mark and no password form", got)
	}
	if n := b.count(`#user-bob input[type=password]`) + b.count(`#user-admin input[type=password]`); n != 1 {
		t.Errorf("the users page offers %d password fields for bob and admin, want 1 (admin's only)", n)
	}
	b.screenshot("users_sso")
	s.clean("the users page with an OIDC user")

	// With password sign-in off the page has the button only.
	off := startSSOUI(t, func(c *config.Config) { c.LocalLogin = false })
	if st := off.b.open("/login"); st != http.StatusOK {
		t.Fatalf("GET /login with local login off = %d, want 200", st)
	}
	off.b.run("wait for the login page", chromedp.WaitVisible(`.loginbox a.sso`, chromedp.ByQuery))
	if got := strings.TrimSpace(off.b.text(`.loginbox a.sso`)); got != "Sign in with TestIdP" {
		t.Errorf("with local login off the SSO button says %q, want %q", got, "Sign in with TestIdP")
	}
	if n := off.b.count(`.loginbox form, #f-username, #f-password, .loginbox .or`); n != 0 {
		t.Errorf("with local login off the login page has %d parts of the password form, want none", n)
	}
	off.clean("the login page with local login off")
}

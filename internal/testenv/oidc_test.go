package testenv_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/swarmops/swarmops/internal/testenv"
)

// oidcUsers are the users of the tests' providers.
var oidcUsers = []testenv.OIDCUser{
	{ID: "u-alice", Username: "alice", Password: "alice-pw", Email: "alice@example.org", Groups: []string{"ops", "admins"}},
	{ID: "u-bob", Username: "bob", Password: "bob-pw", Email: "bob@example.org"},
}

// testRP is a relying party: golang.org/x/oauth2 and go-oidc behind a
// loopback /login and /callback. /callback exchanges the code (with the
// PKCE verifier of the login's state), verifies the ID token for its client
// id and answers rpResult: 200 when the token verifies, 401 when not.
type testRP struct {
	srv      *httptest.Server
	oauth    oauth2.Config
	provider *oidc.Provider

	mu        sync.Mutex
	verifiers map[string]string // PKCE code verifier by state
	callbacks int
}

// rpResult is what the relying party's callback answers.
type rpResult struct {
	// VerifyError is why the ID token did not verify for the client id.
	VerifyError string `json:"verify_error,omitempty"`
	// Claims are the ID token's claims, verified for signature and
	// issuer only (audience and expiry unchecked).
	Claims   map[string]any `json:"claims"`
	UserInfo map[string]any `json:"userinfo,omitempty"`
	IDToken  string         `json:"id_token"`
}

// startRP starts a relying party; connect makes it a client of a provider.
func startRP(t *testing.T) *testRP {
	rp := &testRP{verifiers: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", rp.login)
	mux.HandleFunc("GET /callback", rp.callback)
	rp.srv = httptest.NewServer(mux)
	t.Cleanup(rp.srv.Close)
	return rp
}

func (rp *testRP) callbackURL() string { return rp.srv.URL + "/callback" }
func (rp *testRP) loginURL() string    { return rp.srv.URL + "/login" }

func (rp *testRP) connect(t *testing.T, issuer, clientID, secret string, style oauth2.AuthStyle) {
	t.Helper()
	provider, err := oidc.NewProvider(t.Context(), issuer)
	if err != nil {
		t.Fatalf("discovery of %s: %v", issuer, err)
	}
	rp.provider = provider
	rp.oauth = oauth2.Config{
		ClientID:     clientID,
		ClientSecret: secret,
		Endpoint:     provider.Endpoint(),
		RedirectURL:  rp.callbackURL(),
		Scopes:       []string{oidc.ScopeOpenID, "profile", "email", "groups"},
	}
	rp.oauth.Endpoint.AuthStyle = style
}

func (rp *testRP) login(w http.ResponseWriter, r *http.Request) {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	state, verifier := hex.EncodeToString(b), oauth2.GenerateVerifier()
	rp.mu.Lock()
	rp.verifiers[state] = verifier
	rp.mu.Unlock()
	http.Redirect(w, r, rp.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

func (rp *testRP) verifier(state string) string {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.verifiers[state]
}

func (rp *testRP) callbackCount() int {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.callbacks
}

func (rp *testRP) callback(w http.ResponseWriter, r *http.Request) {
	rp.mu.Lock()
	rp.callbacks++
	rp.mu.Unlock()
	q := r.URL.Query()
	verifier := rp.verifier(q.Get("state"))
	if verifier == "" || q.Get("code") == "" {
		http.Error(w, "expected a code and the state of a login, got "+r.URL.RawQuery, http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	tok, err := rp.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		http.Error(w, "exchange: "+err.Error(), http.StatusBadGateway)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	var res rpResult
	res.IDToken = raw
	lenient := rp.provider.Verifier(&oidc.Config{SkipClientIDCheck: true, SkipExpiryCheck: true})
	idt, err := lenient.Verify(ctx, raw)
	if err != nil {
		http.Error(w, "ID token not signed by the issuer: "+err.Error(), http.StatusBadGateway)
		return
	}
	if err := idt.Claims(&res.Claims); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	status := http.StatusOK
	if _, err := rp.provider.Verifier(&oidc.Config{ClientID: rp.oauth.ClientID}).Verify(ctx, raw); err != nil {
		res.VerifyError, status = err.Error(), http.StatusUnauthorized
	}
	if info, err := rp.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
		res.VerifyError += "; userinfo: " + err.Error()
	} else if err := info.Claims(&res.UserInfo); err != nil {
		res.VerifyError += "; userinfo claims: " + err.Error()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(res)
}

// oidcBrowser answers an HTTP client with a cookie jar.
func oidcBrowser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

// startOIDCWithRP starts a provider with oidcUsers and a relying party
// that is its client "swarmops".
func startOIDCWithRP(t *testing.T, style oauth2.AuthStyle) (*testenv.OIDCProvider, *testRP) {
	rp := startRP(t)
	p := testenv.StartOIDC(t, testenv.OIDCOptions{
		Users:                  oidcUsers,
		ClientID:               "swarmops",
		ClientSecret:           "swarmops-secret",
		RedirectURIs:           []string{rp.callbackURL()},
		PostLogoutRedirectURIs: []string{rp.srv.URL + "/signed-out"},
	})
	rp.connect(t, p.Issuer, "swarmops", "swarmops-secret", style)
	return p, rp
}

// loginRP signs username in through rp and answers the callback's status
// and result.
func loginRP(t *testing.T, p *testenv.OIDCProvider, rp *testRP, username, password string) (int, rpResult) {
	t.Helper()
	resp, err := p.Login(oidcBrowser(t), rp.loginURL(), username, password)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.Request.URL.Path != "/callback" {
		t.Fatalf("Login answered %s from %s, expected the callback's answer: %s", resp.Status, resp.Request.URL, body)
	}
	var res rpResult
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatalf("callback answered %s: %s", resp.Status, body)
	}
	return resp.StatusCode, res
}

func TestStartOIDC_Discovery(t *testing.T) {
	t.Parallel()
	p, _ := startOIDCWithRP(t, oauth2.AuthStyleInHeader)
	u, err := url.Parse(p.Issuer)
	if err != nil || u.Scheme != "http" || u.Hostname() != "127.0.0.1" || u.Port() == "" {
		t.Fatalf("Issuer %q: expected http://127.0.0.1:PORT", p.Issuer)
	}
	body := testenv.WaitHTTP(t, p.Issuer+"/.well-known/openid-configuration", 5*time.Second)
	var doc struct {
		Issuer            string   `json:"issuer"`
		EndSession        string   `json:"end_session_endpoint"`
		Userinfo          string   `json:"userinfo_endpoint"`
		JWKS              string   `json:"jwks_uri"`
		CodeChallenge     []string `json:"code_challenge_methods_supported"`
		TokenAuthMethods  []string `json:"token_endpoint_auth_methods_supported"`
		ResponseTypes     []string `json:"response_types_supported"`
		IDTokenAlgorithms []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("discovery: %v: %s", err, body)
	}
	if doc.Issuer != p.Issuer {
		t.Errorf("issuer %q, want %q", doc.Issuer, p.Issuer)
	}
	for name, endpoint := range map[string]string{"end_session_endpoint": doc.EndSession, "userinfo_endpoint": doc.Userinfo, "jwks_uri": doc.JWKS} {
		if !strings.HasPrefix(endpoint, p.Issuer+"/") {
			t.Errorf("%s %q, want a URL under the issuer", name, endpoint)
		}
	}
	// Without a client, end_session sends the browser to the provider's
	// own signed-out page.
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp, err := c.Get(doc.EndSession); err != nil {
		t.Errorf("GET end_session_endpoint: %v", err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/logged-out" {
		t.Errorf("GET %s: %s to %q, want 302 to /logged-out", doc.EndSession, resp.Status, resp.Header.Get("Location"))
	}
	for _, want := range []struct {
		name string
		got  []string
		want string
	}{
		{"code_challenge_methods_supported", doc.CodeChallenge, "S256"},
		{"token_endpoint_auth_methods_supported", doc.TokenAuthMethods, "client_secret_basic"},
		{"token_endpoint_auth_methods_supported", doc.TokenAuthMethods, "client_secret_post"},
		{"response_types_supported", doc.ResponseTypes, "code"},
		{"id_token_signing_alg_values_supported", doc.IDTokenAlgorithms, "RS256"},
	} {
		if !slices.Contains(want.got, want.want) {
			t.Errorf("%s %q, want it to hold %q", want.name, want.got, want.want)
		}
	}
}

func TestOIDCProvider_Login_CodeFlowWithPKCE(t *testing.T) {
	t.Parallel()
	p, rp := startOIDCWithRP(t, oauth2.AuthStyleInHeader)
	status, res := loginRP(t, p, rp, "alice", "alice-pw")
	if status != http.StatusOK {
		t.Fatalf("callback answered %d: %s", status, res.VerifyError)
	}
	claims := map[string]any{}
	for _, k := range []string{"iss", "sub", "aud", "azp", "preferred_username", "email", "email_verified", "groups"} {
		if v, ok := res.Claims[k]; ok {
			claims[k] = v
		}
	}
	want := map[string]any{
		"iss": p.Issuer, "sub": "u-alice", "aud": []any{"swarmops"}, "azp": "swarmops",
		"preferred_username": "alice", "email": "alice@example.org", "email_verified": true,
		"groups": []any{"ops", "admins"},
	}
	if diff := cmp.Diff(claims, want); diff != "" {
		t.Errorf("ID token claims (-got +want):\n%s", diff)
	}
	info := map[string]any{}
	for _, k := range []string{"sub", "preferred_username", "email", "email_verified", "groups"} {
		info[k] = res.UserInfo[k]
	}
	delete(want, "iss")
	delete(want, "aud")
	delete(want, "azp")
	if diff := cmp.Diff(info, want); diff != "" {
		t.Errorf("userinfo claims (-got +want):\n%s", diff)
	}

	// A user without groups gets an empty list.
	status, res = loginRP(t, p, rp, "bob", "bob-pw")
	if status != http.StatusOK || res.Claims["sub"] != "u-bob" || !cmp.Equal(res.Claims["groups"], []any{}) {
		t.Errorf("bob's login: %d %s, claims %v, want sub u-bob and groups []", status, res.VerifyError, res.Claims)
	}
}

// TestOIDCProvider_LoginCallbackURL exchanges the code itself: without the
// PKCE verifier, or with another one, the provider refuses it.
func TestOIDCProvider_LoginCallbackURL(t *testing.T) {
	t.Parallel()
	p, rp := startOIDCWithRP(t, oauth2.AuthStyleInParams)
	cb, err := p.LoginCallbackURL(oidcBrowser(t), rp.loginURL(), "alice", "alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	if cb.String() != rp.callbackURL()+"?"+cb.RawQuery || cb.Query().Get("code") == "" {
		t.Fatalf("callback URL %s, want %s with a code and state", cb, rp.callbackURL())
	}
	if n := rp.callbackCount(); n != 0 {
		t.Fatalf("LoginCallbackURL called the callback %d times, want none", n)
	}
	code, verifier := cb.Query().Get("code"), rp.verifier(cb.Query().Get("state"))
	ctx := t.Context()
	if _, err := rp.oauth.Exchange(ctx, code); err == nil {
		t.Fatal("exchange without the PKCE verifier succeeded")
	}
	if _, err := rp.oauth.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
		t.Fatal("exchange with another PKCE verifier succeeded")
	}
	tok, err := rp.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange with the verifier, secret posted: %v", err)
	}
	if _, err := rp.provider.Verifier(&oidc.Config{ClientID: "swarmops"}).Verify(ctx, tok.Extra("id_token").(string)); err != nil {
		t.Fatalf("ID token: %v", err)
	}
	if _, err := rp.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err == nil {
		t.Fatal("second exchange of one code succeeded")
	}
}

func TestOIDCProvider_SetGroups(t *testing.T) {
	t.Parallel()
	p, rp := startOIDCWithRP(t, oauth2.AuthStyleInParams)
	p.SetGroups("u-alice", []string{"viewers"})
	status, res := loginRP(t, p, rp, "alice", "alice-pw")
	if status != http.StatusOK {
		t.Fatalf("callback answered %d: %s", status, res.VerifyError)
	}
	if diff := cmp.Diff(res.Claims["groups"], []any{"viewers"}); diff != "" {
		t.Errorf("ID token groups after SetGroups (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(res.UserInfo["groups"], []any{"viewers"}); diff != "" {
		t.Errorf("userinfo groups after SetGroups (-got +want):\n%s", diff)
	}
}

func TestOIDCProvider_NextIDToken_Audience(t *testing.T) {
	t.Parallel()
	p, rp := startOIDCWithRP(t, oauth2.AuthStyleInHeader)
	p.NextIDToken(func(tw *testenv.TokenTweak) { tw.Audience = []string{"someone-else"} })
	status, res := loginRP(t, p, rp, "alice", "alice-pw")
	if status != http.StatusUnauthorized || !strings.Contains(res.VerifyError, "expected audience") {
		t.Fatalf("callback answered %d %q, want 401 for the audience", status, res.VerifyError)
	}
	if diff := cmp.Diff(res.Claims["aud"], []any{"someone-else"}); diff != "" {
		t.Errorf("aud of the tweaked token (-got +want):\n%s", diff)
	}
	if res.Claims["sub"] != "u-alice" || res.Claims["groups"] == nil {
		t.Errorf("tweaked token claims %v, want alice's", res.Claims)
	}
	// The tweak was for one token only.
	if status, res := loginRP(t, p, rp, "alice", "alice-pw"); status != http.StatusOK {
		t.Errorf("next login: callback answered %d %q, want 200", status, res.VerifyError)
	}
}

func TestOIDCProvider_NextIDToken_Lifetime(t *testing.T) {
	t.Parallel()
	p, rp := startOIDCWithRP(t, oauth2.AuthStyleInHeader)
	p.NextIDToken(func(tw *testenv.TokenTweak) { tw.Lifetime = -time.Minute })
	status, res := loginRP(t, p, rp, "alice", "alice-pw")
	if status != http.StatusUnauthorized || !strings.Contains(res.VerifyError, "expired") {
		t.Fatalf("callback answered %d %q, want 401 for the expiry", status, res.VerifyError)
	}
	exp, _ := res.Claims["exp"].(float64)
	if got := time.Unix(int64(exp), 0); !got.Before(time.Now()) {
		t.Errorf("exp %s, want in the past", got)
	}
	if diff := cmp.Diff(res.Claims["aud"], []any{"swarmops"}); diff != "" {
		t.Errorf("aud of the expired token (-got +want):\n%s", diff)
	}
}

func TestOIDCProvider_Login_WrongPassword(t *testing.T) {
	t.Parallel()
	p, rp := startOIDCWithRP(t, oauth2.AuthStyleInHeader)
	for _, c := range []struct{ name, user, password string }{
		{"wrong password", "alice", "bob-pw"},
		{"unknown user", "mallory", "alice-pw"},
	} {
		resp, err := p.Login(oidcBrowser(t), rp.loginURL(), c.user, c.password)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Request.URL.String(), p.Issuer+"/login/") ||
			!strings.Contains(string(body), "Wrong username or password") {
			t.Errorf("%s: Login answered %s from %s, want 401 from the login form: %s", c.name, resp.Status, resp.Request.URL, body)
		}
		if _, err := p.LoginCallbackURL(oidcBrowser(t), rp.loginURL(), c.user, c.password); err == nil {
			t.Errorf("%s: LoginCallbackURL answered a callback", c.name)
		}
	}
	if n := rp.callbackCount(); n != 0 {
		t.Errorf("the relying party's callback was called %d times, want none", n)
	}
}

func TestOIDCProvider_StopStart(t *testing.T) {
	t.Parallel()
	p, rp := startOIDCWithRP(t, oauth2.AuthStyleInHeader)
	discovery := p.Issuer + "/.well-known/openid-configuration"
	c := &http.Client{Timeout: 5 * time.Second}
	p.Stop()
	if resp, err := c.Get(discovery); err == nil {
		resp.Body.Close()
		t.Fatalf("GET %s after Stop answered %s, want a refused connection", discovery, resp.Status)
	}
	if _, err := p.Login(oidcBrowser(t), rp.loginURL(), "alice", "alice-pw"); err == nil {
		t.Fatal("Login after Stop succeeded")
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	var doc struct{ Issuer string }
	if err := json.Unmarshal(testenv.WaitHTTP(t, discovery, 5*time.Second), &doc); err != nil || doc.Issuer != p.Issuer {
		t.Fatalf("discovery after Start: issuer %q (%v), want %q", doc.Issuer, err, p.Issuer)
	}
	// Same keys: the relying party's cached keys still verify new tokens.
	if status, res := loginRP(t, p, rp, "alice", "alice-pw"); status != http.StatusOK {
		t.Fatalf("login after Start: callback answered %d %q", status, res.VerifyError)
	}
}

func TestOIDCProvider_AddClient(t *testing.T) {
	t.Parallel()
	p, _ := startOIDCWithRP(t, oauth2.AuthStyleInHeader)
	other := startRP(t)
	p.AddClient("other-app", "other-secret", other.callbackURL())
	other.connect(t, p.Issuer, "other-app", "other-secret", oauth2.AuthStyleInHeader)
	status, res := loginRP(t, p, other, "bob", "bob-pw")
	if status != http.StatusOK {
		t.Fatalf("callback answered %d: %s", status, res.VerifyError)
	}
	if diff := cmp.Diff(res.Claims["aud"], []any{"other-app"}); diff != "" {
		t.Errorf("aud for the second client (-got +want):\n%s", diff)
	}
	// Another provider does not know the client.
	q, _ := startOIDCWithRP(t, oauth2.AuthStyleInHeader)
	resp, err := q.Login(oidcBrowser(t), oidcAuthorizeURL(q, "other-app", other.callbackURL()), "bob", "bob-pw")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 || !strings.HasPrefix(resp.Request.URL.String(), q.Issuer+"/") {
		t.Errorf("authorize other-app at another provider: %s from %s, want an error of that provider", resp.Status, resp.Request.URL)
	}
}

// oidcAuthorizeURL answers the URL of an authorization request to p.
func oidcAuthorizeURL(p *testenv.OIDCProvider, clientID, redirectURI string) string {
	return p.Issuer + "/authorize?" + url.Values{
		"client_id": {clientID}, "redirect_uri": {redirectURI}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"s"},
	}.Encode()
}

func TestOIDCProvider_EndSession(t *testing.T) {
	t.Parallel()
	p, rp := startOIDCWithRP(t, oauth2.AuthStyleInHeader)
	_, res := loginRP(t, p, rp, "alice", "alice-pw")
	var doc struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := json.Unmarshal(testenv.WaitHTTP(t, p.Issuer+"/.well-known/openid-configuration", 5*time.Second), &doc); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	endSession := func(postLogout string) (*http.Response, error) {
		return c.Get(doc.EndSession + "?" + url.Values{
			"id_token_hint": {res.IDToken}, "post_logout_redirect_uri": {postLogout}, "state": {"st"},
		}.Encode())
	}
	resp, err := endSession(rp.srv.URL + "/signed-out")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != rp.srv.URL+"/signed-out?state=st" {
		t.Errorf("end_session answered %s to %q, want 302 to the registered post-logout URI", resp.Status, loc)
	}
	resp, err = endSession(rp.srv.URL + "/elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusFound && strings.Contains(resp.Header.Get("Location"), "/elsewhere") {
		t.Errorf("end_session sent the browser to an unregistered post-logout URI")
	}
}

// TestStartOIDC_Parallel runs logins on two providers at once: each has
// its own users, keys and logs.
func TestStartOIDC_Parallel(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 2 {
		p, rp := startOIDCWithRP(t, oauth2.AuthStyleInHeader)
		p.SetGroups("u-alice", []string{fmt.Sprint("g", i)})
		for range 2 {
			wg.Go(func() {
				resp, err := p.Login(oidcBrowser(t), rp.loginURL(), "alice", "alice-pw")
				if err != nil {
					errs <- err
					return
				}
				defer resp.Body.Close()
				var res rpResult
				if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("provider %d: %s %v %s", i, resp.Status, err, res.VerifyError)
					return
				}
				if !cmp.Equal(res.Claims["groups"], []any{fmt.Sprint("g", i)}) {
					errs <- fmt.Errorf("provider %d: groups %v", i, res.Claims["groups"])
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestStartOIDC_RestoresDefaultLogger checks that the op's log goes to the
// provider's log only while a provider lives: afterwards the process's
// default slog logger and the log package's output are what they were.
// It is not parallel, so no other provider lives meanwhile.
func TestStartOIDC_RestoresDefaultLogger(t *testing.T) {
	before, out, flags := slog.Default(), log.Writer(), log.Flags()
	t.Run("provider", func(t *testing.T) {
		testenv.StartOIDC(t, testenv.OIDCOptions{ClientID: "c", ClientSecret: "s", RedirectURIs: []string{"http://127.0.0.1:1/cb"}})
		if slog.Default() == before {
			t.Error("the default slog logger is unchanged while a provider serves, so the op's records are not routed")
		}
		if log.Writer() != out || log.Flags() != flags {
			t.Error("the log package's output or flags changed while a provider serves")
		}
	})
	if slog.Default() != before || log.Writer() != out || log.Flags() != flags {
		t.Error("after the provider, the default slog logger or the log package's output is not the one before")
	}
}

package testenv

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// OIDCUser is a user of the test OpenID Connect provider. ID is the
// subject (sub) of the user's tokens; Username (preferred_username) and
// Password are what the login form accepts; Email is asserted as
// verified; Groups are the user's groups claim until SetGroups changes it.
type OIDCUser struct {
	ID, Username, Password, Email string
	Groups                        []string
}

// OIDCOptions configure StartOIDC. ClientID and ClientSecret register the
// relying party (a confidential web client that authenticates with
// client_secret_basic or client_secret_post), RedirectURIs its callbacks
// (exact matches) and PostLogoutRedirectURIs where end_session may send the
// browser back. Addr is the loopback address to listen on; "" picks a free
// port on 127.0.0.1.
type OIDCOptions struct {
	Users                  []OIDCUser
	ClientID, ClientSecret string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	Addr                   string
}

// TokenTweak changes the next ID token a code exchange issues, so tests can
// see a relying party refuse a token that is properly signed by the
// provider but not acceptable. The zero value changes nothing.
type TokenTweak struct {
	// Audience, when not empty, is the token's aud claim instead of the
	// client's id; the token reads as if issued to the client Audience[0]
	// (azp and client_id are Audience[0]).
	Audience []string
	// Lifetime, when not zero, replaces the client's ID token lifetime:
	// exp is the time of issue plus Lifetime, so a negative Lifetime gives
	// a token that has already expired.
	Lifetime time.Duration
}

// OIDCProvider is an OpenID Connect provider that a test starts with
// StartOIDC: github.com/zitadel/oidc's certified op package over its example
// in-memory storage, with a username/password login form at
// /login/username. Discovery answers at
// Issuer + "/.well-known/openid-configuration"; it supports the
// authorization code flow with PKCE (S256), client_secret_basic and
// client_secret_post, userinfo and end_session. Its log is shown only when
// the test fails.
type OIDCProvider struct {
	// Issuer is the provider's issuer URL: http://127.0.0.1:PORT, or
	// http://ADDR for OIDCOptions.Addr.
	Issuer string

	t        testing.TB
	addr     string // host:port of Issuer
	handler  http.Handler
	example  *storage.Storage
	logs     SyncBuffer
	logger   *slog.Logger
	callback func(context.Context, string) string // the op's URL that finishes a login

	mu      sync.Mutex
	srv     *http.Server
	users   map[string]*storage.User // by ID
	groups  map[string][]string      // by user ID
	clients map[string]*oidcClientConfig
	pending *TokenTweak
}

// oidcClientConfig is a registered relying party.
type oidcClientConfig struct {
	example     *storage.Client
	secret      string
	postLogouts []string
}

// The paths of the login form and of the page end_session shows when the
// relying party names no post_logout_redirect_uri.
const (
	oidcLoginPath     = "/login/username"
	oidcLoggedOutPath = "/logged-out"
)

// oidcGroupsScope is the scope name relying parties commonly request for
// the groups claim; the provider keeps it in the granted scopes, and sends
// groups whether or not it was requested.
const oidcGroupsScope = "groups"

// StartOIDC starts an OpenID Connect provider for opts and serves it until
// the test ends. Each provider has its own signing key, users and clients,
// so tests may run in parallel.
func StartOIDC(t testing.TB, opts OIDCOptions) *OIDCProvider {
	t.Helper()
	if err := checkOIDCOptions(opts); err != nil {
		t.Fatalf("testenv: OIDC provider: %v", err)
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("testenv: OIDC provider: listen on %s: %v", addr, err)
	}
	p := &OIDCProvider{
		t:       t,
		addr:    ln.Addr().String(),
		users:   map[string]*storage.User{},
		groups:  map[string][]string{},
		clients: map[string]*oidcClientConfig{},
	}
	p.Issuer = "http://" + p.addr
	p.logger = slog.New(slog.NewTextHandler(&p.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, u := range opts.Users {
		p.users[u.ID] = &storage.User{
			ID:                u.ID,
			Username:          u.Username,
			Password:          u.Password,
			Email:             u.Email,
			EmailVerified:     true,
			PreferredLanguage: language.English,
		}
		p.groups[u.ID] = slices.Clone(u.Groups)
	}
	p.addClient(opts.ClientID, opts.ClientSecret, opts.RedirectURIs, opts.PostLogoutRedirectURIs)
	if err := p.newHandler(); err != nil {
		_ = ln.Close()
		t.Fatalf("testenv: OIDC provider: %v", err)
	}
	release := routeOIDCLogs()
	p.serve(ln)
	t.Cleanup(func() {
		p.Stop()
		release()
		if t.Failed() {
			t.Logf("testenv: OIDC provider %s log:\n%s", p.Issuer, p.logs.String())
		}
	})
	return p
}

// checkOIDCOptions says what is missing or wrong in opts.
func checkOIDCOptions(opts OIDCOptions) error {
	if opts.ClientID == "" || opts.ClientSecret == "" {
		return errors.New("OIDCOptions: expected a ClientID and a ClientSecret")
	}
	if len(opts.RedirectURIs) == 0 {
		return errors.New("OIDCOptions.RedirectURIs: expected at least one callback URL")
	}
	if opts.Addr != "" {
		host, _, err := net.SplitHostPort(opts.Addr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("OIDCOptions.Addr %q: expected a loopback IP and a port, like 127.0.0.1:8080", opts.Addr)
		}
	}
	ids, names := map[string]bool{}, map[string]bool{}
	for _, u := range opts.Users {
		if u.ID == "" || u.Username == "" || ids[u.ID] || names[u.Username] {
			return fmt.Errorf("OIDCOptions.Users: expected a unique ID and Username for each user, got %q/%q", u.ID, u.Username)
		}
		ids[u.ID], names[u.Username] = true, true
	}
	return nil
}

// newHandler builds the op over the example storage and mounts the login
// form beside it.
func (p *OIDCProvider) newHandler() error {
	var key [32]byte // encrypts the opaque access tokens
	if _, err := rand.Read(key[:]); err != nil {
		return err
	}
	// An empty client map: clients are looked up in p.clients instead, which
	// AddClient may change while the storage serves.
	p.example = storage.NewStorageWithClients(oidcUserStore{p}, map[string]*storage.Client{})
	config := &op.Config{
		CryptoKey:                key,
		CryptoKeyId:              "swarmops-test",
		DefaultLogoutRedirectURI: oidcLoggedOutPath,
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedUILocales:       []language.Tag{language.English},
	}
	provider, err := op.NewProvider(config, &oidcStorage{Storage: p.example, p: p}, op.StaticIssuer(p.Issuer), op.WithAllowInsecure())
	if err != nil {
		return fmt.Errorf("create op: %w", err)
	}
	p.callback = op.AuthCallbackURL(provider)
	withIssuer := op.NewIssuerInterceptor(provider.IssuerFromRequest)
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+oidcLoginPath, p.loginForm)
	mux.HandleFunc("POST "+oidcLoginPath, withIssuer.HandlerFunc(p.checkLogin))
	mux.HandleFunc("GET "+oidcLoggedOutPath, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "signed out\n")
	})
	mux.Handle("/", provider)
	p.handler = p.withRequestState(mux)
	return nil
}

// serve serves on ln until Stop.
func (p *OIDCProvider) serve(ln net.Listener) {
	srv := &http.Server{
		Handler:           p.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(&p.logs, "http: ", log.LstdFlags),
	}
	p.mu.Lock()
	p.srv = srv
	p.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			p.logger.Error("serve", "err", err)
		}
	}()
}

// Stop closes the provider's listener and connections: until Start, its
// issuer is unreachable.
func (p *OIDCProvider) Stop() {
	p.mu.Lock()
	srv := p.srv
	p.srv = nil
	p.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Start serves again, after Stop, on the same address with the same keys,
// users, clients and pending logins; it does nothing while the provider
// serves.
func (p *OIDCProvider) Start() error {
	p.mu.Lock()
	serving := p.srv != nil
	p.mu.Unlock()
	if serving {
		return nil
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("testenv: OIDC provider: listen again on %s: %w", p.addr, err)
	}
	p.serve(ln)
	return nil
}

// SetGroups replaces the groups of the user with ID userID; ID tokens and
// userinfo answers issued from then on carry them.
func (p *OIDCProvider) SetGroups(userID string, groups []string) {
	p.t.Helper()
	p.mu.Lock()
	_, ok := p.users[userID]
	if ok {
		p.groups[userID] = slices.Clone(groups)
	}
	p.mu.Unlock()
	if !ok {
		p.t.Fatalf("testenv: OIDC SetGroups(%q): expected the ID of one of OIDCOptions.Users", userID)
	}
}

// AddClient registers another relying party (another audience) that
// authenticates with secret and may be sent back to redirectURIs.
func (p *OIDCProvider) AddClient(id, secret string, redirectURIs ...string) {
	p.t.Helper()
	p.mu.Lock()
	_, taken := p.clients[id]
	p.mu.Unlock()
	if id == "" || secret == "" || len(redirectURIs) == 0 || taken {
		p.t.Fatalf("testenv: OIDC AddClient(%q): expected a new client id, a secret and at least one redirect URI", id)
	}
	p.addClient(id, secret, redirectURIs, nil)
}

func (p *OIDCProvider) addClient(id, secret string, redirectURIs, postLogouts []string) {
	c := &oidcClientConfig{
		example:     storage.WebClient(id, secret, slices.Clone(redirectURIs)...),
		secret:      secret,
		postLogouts: slices.Clone(postLogouts),
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clients[id] = c
}

// NextIDToken arms a one-shot change for the next ID token that a code
// exchange issues (to whichever client): tweak edits a zero TokenTweak. A
// second call before that token replaces the first.
func (p *OIDCProvider) NextIDToken(tweak func(*TokenTweak)) {
	tw := &TokenTweak{}
	tweak(tw)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending = tw
}

// takeTweak answers the pending TokenTweak, if any, and disarms it.
func (p *OIDCProvider) takeTweak() *TokenTweak {
	p.mu.Lock()
	defer p.mu.Unlock()
	tw := p.pending
	p.pending = nil
	return tw
}

// user answers the user with ID id, nil if there is none.
func (p *OIDCProvider) user(id string) *storage.User {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.users[id]
}

// groupsOf answers a copy of the current groups of the user with ID id,
// never nil, so the claim is always a list.
func (p *OIDCProvider) groupsOf(id string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string{}, p.groups[id]...)
}

// oidcUserStore answers the example storage's questions about users from
// the provider's users.
type oidcUserStore struct{ p *OIDCProvider }

func (s oidcUserStore) GetUserByID(id string) *storage.User { return s.p.user(id) }

func (s oidcUserStore) GetUserByUsername(username string) *storage.User {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	for _, u := range s.p.users {
		if u.Username == username {
			return u
		}
	}
	return nil
}

// ExampleClientID names the example's JWT-profile service user; no client
// can have an empty id, and oidcStorage refuses JWT-profile keys anyway.
func (oidcUserStore) ExampleClientID() string { return "" }

// oidcStorage is the example storage as the op sees it: only op.Storage, so
// the op offers none of the client-credentials, token-exchange and device
// grants whose example users and keys are public. It adds the provider's
// clients, the groups claim and TokenTweak.
type oidcStorage struct {
	op.Storage // the *storage.Storage
	p          *OIDCProvider
}

var (
	_ op.Storage                   = (*oidcStorage)(nil)
	_ op.CanSetUserinfoFromRequest = (*oidcStorage)(nil)
)

// GetClientByClientID answers the registered client id, wrapped so that
// the op asserts profile, email and groups claims in ID tokens and asks it
// for TokenTweak.
func (s *oidcStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	s.p.mu.Lock()
	c := s.p.clients[id]
	s.p.mu.Unlock()
	if c == nil {
		return nil, fmt.Errorf("client %q not found", id)
	}
	return &oidcClient{Client: c.example, postLogouts: c.postLogouts, p: s.p, req: oidcRequestState(ctx)}, nil
}

// AuthorizeClientIDSecret checks a client's secret.
func (s *oidcStorage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	s.p.mu.Lock()
	c := s.p.clients[id]
	s.p.mu.Unlock()
	if c == nil || subtle.ConstantTimeCompare([]byte(c.secret), []byte(secret)) != 1 {
		return fmt.Errorf("client %q: wrong client id or secret", id)
	}
	return nil
}

// AuthRequestByCode answers the login that code stands for, wrapped so that
// a TokenTweak can change the audience of the ID token it gets.
func (s *oidcStorage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	r, err := s.Storage.AuthRequestByCode(ctx, code)
	if err != nil {
		return nil, err
	}
	st := oidcRequestState(ctx)
	if st != nil {
		st.codeExchange = true
	}
	return &oidcAuthRequest{AuthRequest: r, req: st}, nil
}

// CreateAccessToken hands the example storage its own request type, which
// it tells apart by a type switch.
func (s *oidcStorage) CreateAccessToken(ctx context.Context, r op.TokenRequest) (string, time.Time, error) {
	return s.Storage.CreateAccessToken(ctx, unwrapOIDCRequest(r))
}

// CreateAccessAndRefreshTokens hands the example storage its own request
// type, as CreateAccessToken does.
func (s *oidcStorage) CreateAccessAndRefreshTokens(ctx context.Context, r op.TokenRequest, refreshToken string) (string, string, time.Time, error) {
	return s.Storage.CreateAccessAndRefreshTokens(ctx, unwrapOIDCRequest(r), refreshToken)
}

// SetUserinfoFromRequest fills the claims of an ID token.
func (s *oidcStorage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, r op.IDTokenRequest, scopes []string) error {
	if err := s.p.example.SetUserinfoFromRequest(ctx, info, r, scopes); err != nil {
		return err
	}
	s.p.addClaims(info)
	return nil
}

// SetUserinfoFromToken fills the userinfo endpoint's answer.
func (s *oidcStorage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, info, tokenID, subject, origin); err != nil {
		return err
	}
	s.p.addClaims(info)
	return nil
}

// GetKeyByIDAndClientID refuses every key: the example's JWT-profile key
// pair is public, and this provider offers no JWT-profile grant.
func (s *oidcStorage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("no JWT-profile keys: expected client_secret_basic or client_secret_post")
}

// addClaims adds the user's current groups to info, and drops the blank
// name that the example makes of users without first and last names.
func (p *OIDCProvider) addClaims(info *oidc.UserInfo) {
	if info.Subject == "" {
		return
	}
	info.AppendClaims("groups", p.groupsOf(info.Subject))
	info.Name = strings.TrimSpace(info.Name)
}

// oidcClient is a registered client as the op sees it for one request.
type oidcClient struct {
	op.Client   // the *storage.Client
	postLogouts []string
	p           *OIDCProvider
	req         *oidcRequest // the HTTP request being served, nil outside one
}

// PostLogoutRedirectURIs answers where end_session may send the browser.
func (c *oidcClient) PostLogoutRedirectURIs() []string { return c.postLogouts }

// IDTokenUserinfoClaimsAssertion puts the profile and email claims into ID
// tokens even though an access token is issued too, as most relying
// parties expect.
func (c *oidcClient) IDTokenUserinfoClaimsAssertion() bool { return true }

// IsScopeAllowed keeps the groups scope among the granted scopes.
func (c *oidcClient) IsScopeAllowed(scope string) bool { return scope == oidcGroupsScope }

// IDTokenLifetime is what the op asks right before it builds an ID token,
// once per token: for a code exchange it takes the pending TokenTweak
// there, so the tweak applies to exactly that token.
func (c *oidcClient) IDTokenLifetime() time.Duration {
	lifetime := c.Client.IDTokenLifetime()
	if c.req == nil || !c.req.codeExchange {
		return lifetime
	}
	tw := c.p.takeTweak()
	if tw == nil {
		return lifetime
	}
	c.req.tweak = tw
	if tw.Lifetime != 0 {
		lifetime = tw.Lifetime
	}
	return lifetime
}

// oidcAuthRequest is a login being exchanged for tokens; once a TokenTweak
// with an Audience was taken for its ID token, it answers that audience.
type oidcAuthRequest struct {
	op.AuthRequest // the *storage.AuthRequest
	req            *oidcRequest
}

func (r *oidcAuthRequest) audience() []string {
	if r.req == nil || r.req.tweak == nil {
		return nil
	}
	return r.req.tweak.Audience
}

// GetAudience answers the tweaked audience, or the client's id.
func (r *oidcAuthRequest) GetAudience() []string {
	if aud := r.audience(); len(aud) > 0 {
		return slices.Clone(aud)
	}
	return r.AuthRequest.GetAudience()
}

// GetClientID answers the first tweaked audience, or the client's id: the
// op adds the client id to the audience of every ID token.
func (r *oidcAuthRequest) GetClientID() string {
	if aud := r.audience(); len(aud) > 0 {
		return aud[0]
	}
	return r.AuthRequest.GetClientID()
}

func unwrapOIDCRequest(r op.TokenRequest) op.TokenRequest {
	if w, ok := r.(*oidcAuthRequest); ok {
		return w.AuthRequest
	}
	return r
}

// oidcRequest is the state of one HTTP request to a provider, in its
// context: whose log the op's records go to, and the TokenTweak taken for
// the ID token it issues. The op serves a request on one goroutine.
type oidcRequest struct {
	p            *OIDCProvider
	codeExchange bool // the request exchanges a code for tokens
	tweak        *TokenTweak
}

type oidcRequestKey struct{}

func oidcRequestState(ctx context.Context) *oidcRequest {
	st, _ := ctx.Value(oidcRequestKey{}).(*oidcRequest)
	return st
}

// withRequestState gives each request its oidcRequest and logs it.
func (p *OIDCProvider) withRequestState(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &oidcStatusRecorder{ResponseWriter: w, status: http.StatusOK}
		started := time.Now()
		ctx := context.WithValue(r.Context(), oidcRequestKey{}, &oidcRequest{p: p})
		next.ServeHTTP(rec, r.WithContext(ctx))
		p.logger.Info("request", "method", r.Method, "url", r.URL.String(), "status", rec.status, "duration", time.Since(started))
	})
}

type oidcStatusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *oidcStatusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// oidcLoginPage is the login form. Its fields are named as most login
// forms name them, so a browser test can fill them in too.
var oidcLoginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head>
<body>
<h1>Sign in</h1>
{{if .Error}}<p role="alert">{{.Error}}</p>{{end}}
<form method="post" action="` + oidcLoginPath + `">
<input type="hidden" name="id" value="{{.ID}}">
<p><label for="username">Username</label> <input id="username" name="username" autocomplete="username" autofocus></p>
<p><label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password"></p>
<p><button type="submit">Sign in</button></p>
</form>
</body></html>
`))

// loginForm shows the form for the pending authorization request that the
// op names in authRequestID.
func (p *OIDCProvider) loginForm(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("authRequestID")
	if _, err := p.example.AuthRequestByID(r.Context(), id); err != nil {
		http.Error(w, "unknown login: expected the authRequestID of a pending authorization request", http.StatusBadRequest)
		return
	}
	p.renderLogin(w, http.StatusOK, id, "")
}

// checkLogin checks the posted credentials: right, it sends the browser
// back to the op, which sends it to the relying party's callback; wrong,
// it shows the form again with 401.
func (p *OIDCProvider) checkLogin(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "expected a form: "+err.Error(), http.StatusBadRequest)
		return
	}
	id, username := r.PostForm.Get("id"), r.PostForm.Get("username")
	if _, err := p.example.AuthRequestByID(r.Context(), id); err != nil {
		http.Error(w, "unknown login: expected the id of a pending authorization request", http.StatusBadRequest)
		return
	}
	if err := p.example.CheckUsernamePassword(username, r.PostForm.Get("password"), id); err != nil {
		p.logger.Info("login refused", "username", username, "err", err)
		p.renderLogin(w, http.StatusUnauthorized, id, "Wrong username or password.")
		return
	}
	p.logger.Info("login", "username", username)
	http.Redirect(w, r, p.callback(r.Context(), id), http.StatusFound)
}

func (p *OIDCProvider) renderLogin(w http.ResponseWriter, status int, id, problem string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := oidcLoginPage.Execute(w, struct{ ID, Error string }{id, problem}); err != nil {
		p.logger.Error("render login form", "err", err)
	}
}

// oidcMaxLoginHops bounds the requests of one Login.
const oidcMaxLoginHops = 20

// Login signs username in through a relying party's login flow, as a
// browser without JavaScript would, with c (give it a cookie jar, so the
// relying party sees its own cookies): it GETs startURL (e.g. SwarmOps'
// /api/v1/auth/oidc/login) and follows redirects to the provider's login
// form, posts the form, and follows the provider's redirects up to the
// relying party's callback. It answers the relying party's response to the
// callback, not followed further (a redirect to its own pages, or its
// error). A flow that ends before answers the first other response that is
// not a redirect: the login form again with 401 for a wrong password, an
// error page of the provider, or the relying party's answer to startURL
// when it did not send the browser to the provider. Every redirect is
// followed with GET. The caller closes the body.
func (p *OIDCProvider) Login(c *http.Client, startURL, username, password string) (*http.Response, error) {
	nc := oidcNoRedirects(c)
	resp, callback, err := p.login(nc, startURL, username, password)
	if err != nil || resp != nil {
		return resp, err
	}
	resp, err = nc.Get(callback.String())
	if err != nil {
		return nil, fmt.Errorf("testenv: OIDC login: GET %s: %w", callback, err)
	}
	return resp, nil
}

// LoginCallbackURL signs username in as Login does but stops before the
// relying party's callback, and answers the callback URL that the provider
// sent the browser to (with code and state, or error), so a test can call
// it, or replay it, itself with c. It fails when the flow ends anywhere
// else, e.g. on a wrong password.
func (p *OIDCProvider) LoginCallbackURL(c *http.Client, startURL, username, password string) (*url.URL, error) {
	resp, callback, err := p.login(oidcNoRedirects(c), startURL, username, password)
	if err != nil {
		return nil, err
	}
	if resp != nil {
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return nil, fmt.Errorf("testenv: OIDC login: expected a redirect to the relying party's callback, got %s from %s %s: %s",
			resp.Status, resp.Request.Method, resp.Request.URL, body)
	}
	return callback, nil
}

// oidcNoRedirects answers a copy of c that answers redirects instead of
// following them, and shares c's cookie jar and transport.
func oidcNoRedirects(c *http.Client) *http.Client {
	nc := &http.Client{}
	if c != nil {
		*nc = *c
	}
	nc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return nc
}

// login runs the flow of Login with c, which does not follow redirects. It
// answers either the relying party's callback URL, or the response the
// flow ended with.
func (p *OIDCProvider) login(c *http.Client, startURL, username, password string) (*http.Response, *url.URL, error) {
	req, err := http.NewRequest(http.MethodGet, startURL, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("testenv: OIDC login: start URL: %w", err)
	}
	posted := false
	for range oidcMaxLoginHops {
		resp, err := c.Do(req)
		if err != nil {
			return nil, nil, fmt.Errorf("testenv: OIDC login: %s %s: %w", req.Method, req.URL, err)
		}
		at := resp.Request.URL
		next, err := resp.Location()
		if resp.StatusCode < 300 || resp.StatusCode > 399 || err != nil {
			if !posted && resp.StatusCode == http.StatusOK && p.owns(at) && at.Path == oidcLoginPath {
				oidcDiscard(resp)
				req, err = p.loginRequest(at.Query().Get("authRequestID"), username, password)
				if err != nil {
					return nil, nil, err
				}
				posted = true
				continue
			}
			return resp, nil, nil
		}
		oidcDiscard(resp)
		if p.owns(at) && !p.owns(next) {
			return nil, next, nil
		}
		if req, err = http.NewRequest(http.MethodGet, next.String(), nil); err != nil {
			return nil, nil, fmt.Errorf("testenv: OIDC login: redirect from %s: %w", at, err)
		}
	}
	return nil, nil, fmt.Errorf("testenv: OIDC login from %s: expected to reach the callback within %d requests", startURL, oidcMaxLoginHops)
}

// loginRequest posts the login form as a browser would.
func (p *OIDCProvider) loginRequest(id, username, password string) (*http.Request, error) {
	form := url.Values{"id": {id}, "username": {username}, "password": {password}}
	req, err := http.NewRequest(http.MethodPost, p.Issuer+oidcLoginPath, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("testenv: OIDC login: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

// owns says whether u is one of the provider's URLs.
func (p *OIDCProvider) owns(u *url.URL) bool {
	return u.Scheme == "http" && u.Host == p.addr
}

func oidcDiscard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
}

// oidcLogs is the state of routeOIDCLogs.
var oidcLogs struct {
	sync.Mutex
	users  int
	prev   *slog.Logger // the default logger before the first provider
	router *slog.Logger
	out    io.Writer // the log package's output and flags before
	flags  int
}

// routeOIDCLogs makes the process's default slog logger, the only one the
// op logs to, send the records logged while a provider serves a request to
// that provider's log (shown if the test fails), and every other record
// where it went before. release puts the previous logger back once the
// last provider is done, unless someone else replaced it meanwhile.
func routeOIDCLogs() (release func()) {
	l := &oidcLogs
	l.Lock()
	defer l.Unlock()
	if l.users == 0 {
		l.prev = slog.Default()
		l.out, l.flags = log.Writer(), log.Flags()
		l.router = slog.New(oidcLogRouter{next: l.prev.Handler()})
		slog.SetDefault(l.router)
		// SetDefault also sends the log package's output through the new
		// handler; keep it writing where it wrote.
		log.SetOutput(l.out)
		log.SetFlags(l.flags)
	}
	l.users++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.Lock()
			defer l.Unlock()
			l.users--
			if l.users == 0 && slog.Default() == l.router {
				slog.SetDefault(l.prev)
				log.SetOutput(l.out)
				log.SetFlags(l.flags)
			}
		})
	}
}

// oidcLogRouter sends a record to the log of the provider whose request
// its context belongs to, and any other record to next.
type oidcLogRouter struct {
	next slog.Handler
	with func(slog.Handler) slog.Handler // the WithAttrs and WithGroup calls so far
}

func (h oidcLogRouter) target(ctx context.Context) slog.Handler {
	st := oidcRequestState(ctx)
	if st == nil {
		return h.next
	}
	t := st.p.logger.Handler()
	if h.with != nil {
		t = h.with(t)
	}
	return t
}

func (h oidcLogRouter) Enabled(ctx context.Context, level slog.Level) bool {
	return h.target(ctx).Enabled(ctx, level)
}

func (h oidcLogRouter) Handle(ctx context.Context, r slog.Record) error {
	return h.target(ctx).Handle(ctx, r)
}

func (h oidcLogRouter) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.derive(func(t slog.Handler) slog.Handler { return t.WithAttrs(attrs) })
}

func (h oidcLogRouter) WithGroup(name string) slog.Handler {
	return h.derive(func(t slog.Handler) slog.Handler { return t.WithGroup(name) })
}

func (h oidcLogRouter) derive(f func(slog.Handler) slog.Handler) oidcLogRouter {
	prev := h.with
	return oidcLogRouter{next: f(h.next), with: func(t slog.Handler) slog.Handler {
		if prev != nil {
			t = prev(t)
		}
		return f(t)
	}}
}

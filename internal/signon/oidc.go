package signon

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/rs/zerolog"
	"golang.org/x/oauth2"

	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/sso"
	"github.com/swarmops/swarmops/internal/store"
)

// OIDCConfig is an OpenID Connect relying party's settings.
type OIDCConfig struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	RedirectURL  string
	Scopes       []string
	// Name is the provider's name on the login page ("Sign in with Name").
	Name          string
	UsernameClaim string // default preferred_username
	GroupsClaim   string // default groups
	// PostLogoutURL is where the provider sends the browser back after
	// its logout ("" leaves it to the provider).
	PostLogoutURL string
	Policy        sso.Policy
	// HTTPClient talks to the provider; nil is a client with timeouts.
	HTTPClient *http.Client
	// StateTTL is how long a started sign-in may take (default 10 min).
	StateTTL time.Duration
	// Now answers the time ID tokens are checked against (default time.Now).
	Now func() time.Time
}

// OIDC signs users in with an OpenID Connect provider: the authorization
// code flow with PKCE, state and nonce. The state lives in the shared
// store, so the provider may send the browser back to any instance.
type OIDC struct {
	cfg    OIDCConfig
	auth   *auth.Service
	states store.LoginStates

	mu       sync.Mutex
	disc     *discovered
	lastErr  error
	lastTry  time.Time
	retryGap time.Duration
}

// discovered is what the provider's discovery document told us.
type discovered struct {
	provider   *oidc.Provider
	verifier   *oidc.IDTokenVerifier
	endSession string
}

// NewOIDC makes the relying party. Nothing is fetched until the first
// sign-in: an unreachable provider does not stop SwarmOps.
func NewOIDC(cfg OIDCConfig, a *auth.Service, states store.LoginStates) *OIDC {
	if cfg.UsernameClaim == "" {
		cfg.UsernameClaim = "preferred_username"
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{oidc.ScopeOpenID, "profile", "email"}
	}
	if cfg.StateTTL <= 0 {
		cfg.StateTTL = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	return &OIDC{cfg: cfg, auth: a, states: states, retryGap: 5 * time.Second}
}

// Name answers the provider's name for the login page.
func (o *OIDC) Name() string { return o.cfg.Name }

// discovered answers what the provider's discovery document says, read
// once it answers; until then why not, trying again at most every few
// seconds.
func (o *OIDC) discovered(ctx context.Context) (*discovered, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.disc != nil {
		return o.disc, nil
	}
	if o.lastErr != nil && time.Since(o.lastTry) < o.retryGap {
		return nil, o.lastErr
	}
	o.lastTry = time.Now()
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(oidc.ClientContext(dctx, o.cfg.HTTPClient), o.cfg.Issuer)
	if err != nil {
		o.lastErr = errs.Unavailable(err, "single sign-on is unavailable: the identity provider at %s cannot be reached or answered no valid discovery document (%v); password sign-in and API tokens still work", o.cfg.Issuer, err)
		zerolog.Ctx(ctx).Warn().Err(err).Str("issuer", o.cfg.Issuer).Msg("OIDC discovery failed; sign-ins through the provider wait for it")
		return nil, o.lastErr
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	_ = p.Claims(&meta)
	o.disc = &discovered{
		provider:   p,
		verifier:   p.Verifier(&oidc.Config{ClientID: o.cfg.ClientID, Now: o.cfg.Now}),
		endSession: meta.EndSession,
	}
	o.lastErr = nil
	return o.disc, nil
}

func (o *OIDC) oauth2(d *discovered) *oauth2.Config {
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret,
		Endpoint: d.provider.Endpoint(), RedirectURL: o.cfg.RedirectURL, Scopes: o.cfg.Scopes}
}

// pending is a started sign-in, kept in the store under the state's hash.
type pending struct {
	Nonce    string    `json:"nonce"`
	Verifier string    `json:"verifier"` // PKCE
	Next     string    `json:"next"`
	Binding  string    `json:"binding"` // hash of the browser cookie's value
	Started  time.Time `json:"started"`
}

// Start is a sign-in begun: the provider's URL to send the browser to,
// and the value of the cookie that ties the sign-in to that browser.
type Start struct {
	URL     string
	Binding string
}

// Begin starts a sign-in that returns to next (a local path) afterwards.
func (o *OIDC) Begin(ctx context.Context, next string) (Start, error) {
	d, err := o.discovered(ctx)
	if err != nil {
		return Start{}, err
	}
	state, binding := randomText(), randomText()
	p := pending{Nonce: randomText(), Verifier: oauth2.GenerateVerifier(), Next: next,
		Binding: hashText(binding), Started: time.Now().UTC()}
	data, err := json.Marshal(p)
	if err != nil {
		return Start{}, err
	}
	if err := o.states.PutLoginState(ctx, "oidc:"+hashText(state), data, o.cfg.StateTTL); err != nil {
		return Start{}, fmt.Errorf("start sign-in: %w", err)
	}
	u := o.oauth2(d).AuthCodeURL(state, oidc.Nonce(p.Nonce), oauth2.S256ChallengeOption(p.Verifier))
	return Start{URL: u, Binding: binding}, nil
}

// Callback is what the provider sent the browser back with.
type Callback struct {
	State, Code string
	// Error and ErrorDescription are the provider's refusal, if any.
	Error, ErrorDescription string
	// Binding is the value of the browser's sign-in cookie.
	Binding string
}

// Finish completes a sign-in on any instance: the state is used once, the
// code is exchanged with the PKCE verifier, and the ID token checked
// (signature, issuer, audience, expiry, nonce) before the policy decides.
// It answers the session cookie's value, the principal, and where the
// browser goes next.
func (o *OIDC) Finish(ctx context.Context, cb Callback) (cookie string, p auth.Principal, next string, err error) {
	id, pend, err := o.check(ctx, cb)
	if err != nil {
		o.auth.SignOnFailed(ctx, auth.MethodOIDC, err)
		return "", auth.Principal{}, "", err
	}
	role, why := o.cfg.Policy.Decide(id.Identity)
	x := auth.ExternalUser{Method: auth.MethodOIDC, Subject: id.subject, Username: id.Username, Role: auth.Role(role)}
	if why != nil {
		return "", auth.Principal{}, "", o.auth.RefuseSignOn(ctx, x, why)
	}
	cookie, p, err = o.auth.SignOn(ctx, x)
	return cookie, p, pend.Next, err
}

// check takes the sign-in's state (once) and answers who the provider
// says signed in.
func (o *OIDC) check(ctx context.Context, cb Callback) (verified, pending, error) {
	var pend pending
	if cb.State == "" {
		return verified{}, pend, errs.Invalid("state", "the provider's answer has no state; start the sign-in again")
	}
	raw, err := o.states.TakeLoginState(ctx, "oidc:"+hashText(cb.State))
	if errors.Is(err, errs.ErrNotFound) {
		return verified{}, pend, errs.Unauthorized("this sign-in was already completed or took longer than %s; start it again", o.cfg.StateTTL)
	}
	if err != nil {
		return verified{}, pend, fmt.Errorf("finish sign-in: %w", err)
	}
	if err := json.Unmarshal(raw, &pend); err != nil {
		return verified{}, pend, fmt.Errorf("finish sign-in: read state: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(hashText(cb.Binding)), []byte(pend.Binding)) != 1 {
		return verified{}, pend, errs.Unauthorized("this sign-in was started in another browser; start it again here")
	}
	if cb.Error != "" {
		return verified{}, pend, errs.Unauthorized("the identity provider refused the sign-in: %s %s", bound(cb.Error), bound(cb.ErrorDescription))
	}
	if cb.Code == "" {
		return verified{}, pend, errs.Invalid("code", "the provider's answer has no code; start the sign-in again")
	}
	id, err := o.identify(ctx, cb.Code, pend)
	return id, pend, err
}

// verified is the identity an ID token (and the userinfo endpoint) gave.
type verified struct {
	sso.Identity
	subject string // issuer|sub
}

// identify exchanges the code and checks the ID token.
func (o *OIDC) identify(ctx context.Context, code string, pend pending) (verified, error) {
	d, err := o.discovered(ctx)
	if err != nil {
		return verified{}, err
	}
	cctx := oidc.ClientContext(ctx, o.cfg.HTTPClient)
	tok, err := o.oauth2(d).Exchange(cctx, code, oauth2.VerifierOption(pend.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return verified{}, errs.Unauthorized("the identity provider refused the code: %s %s", bound(re.ErrorCode), bound(re.ErrorDescription))
		}
		return verified{}, errs.Unavailable(err, "the identity provider's token endpoint failed: %v", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return verified{}, errs.Unauthorized("the identity provider answered no ID token; is the openid scope in SWARMOPS_OIDC_SCOPES?")
	}
	idt, err := d.verifier.Verify(cctx, rawID)
	if err != nil {
		return verified{}, errs.Unauthorized("the ID token was refused: %v", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(pend.Nonce)) != 1 {
		return verified{}, errs.Unauthorized("the ID token's nonce does not match this sign-in")
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return verified{}, errs.Unauthorized("the ID token's claims cannot be read: %v", err)
	}
	if _, ok := claims[o.cfg.UsernameClaim]; !ok || claims[o.cfg.GroupsClaim] == nil {
		// Many providers put profile and group claims only in userinfo.
		if err := o.userinfo(cctx, d, tok, idt.Subject, claims); err != nil {
			return verified{}, err
		}
	}
	name, _ := claims[o.cfg.UsernameClaim].(string)
	if name == "" {
		return verified{}, errs.Unauthorized("the identity provider gave no %q claim (SWARMOPS_OIDC_USERNAME_CLAIM) for this user", o.cfg.UsernameClaim)
	}
	// An address counts (for @domain allow and deny entries) only when
	// the provider says it checked it.
	email, _ := claims["email"].(string)
	if verified, _ := claims["email_verified"].(bool); !verified {
		email = ""
	}
	return verified{
		Identity: sso.Identity{Username: name, Email: email, Groups: stringList(claims[o.cfg.GroupsClaim])},
		subject:  idt.Issuer + "|" + idt.Subject,
	}, nil
}

// userinfo adds the userinfo endpoint's claims that the ID token lacks;
// the answer must be about the ID token's subject.
func (o *OIDC) userinfo(ctx context.Context, d *discovered, tok *oauth2.Token, subject string, claims map[string]any) error {
	if d.provider.UserInfoEndpoint() == "" {
		return nil
	}
	ui, err := d.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return errs.Unavailable(err, "the identity provider's userinfo endpoint failed: %v", err)
	}
	if ui.Subject != subject {
		return errs.Unauthorized("the userinfo answer is about another subject than the ID token")
	}
	more := map[string]any{}
	if err := ui.Claims(&more); err != nil {
		return errs.Unauthorized("the userinfo claims cannot be read: %v", err)
	}
	for k, v := range more {
		if _, ok := claims[k]; !ok {
			claims[k] = v
		}
	}
	return nil
}

// LogoutURL answers where the browser of an ended OIDC session goes: the
// provider's end_session_endpoint, or "" when it has none (or cannot be
// reached now).
func (o *OIDC) LogoutURL(ctx context.Context) string {
	d, err := o.discovered(ctx)
	if err != nil || d.endSession == "" {
		return ""
	}
	u, err := url.Parse(d.endSession)
	if err != nil {
		return ""
	}
	q := u.Query()
	q.Set("client_id", o.cfg.ClientID)
	if o.cfg.PostLogoutURL != "" {
		q.Set("post_logout_redirect_uri", o.cfg.PostLogoutURL)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// stringList reads a groups claim: a JSON array of strings, or one string
// (some providers send a single group so).
func stringList(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, g := range v {
			if s, ok := g.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// bound keeps a provider's words short in our messages.
func bound(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func hashText(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/swarmops/swarmops/internal/config"
	"github.com/swarmops/swarmops/internal/server"
	"github.com/swarmops/swarmops/internal/sso"
	"github.com/swarmops/swarmops/internal/testenv"
)

// AdminPassword is the first admin's password in every test instance.
const AdminPassword = "admin-password-for-tests"

// Instance is a running SwarmOps server.
type Instance struct {
	URL    string
	Server *server.Server
	Logs   *testenv.SyncBuffer
	stop   context.CancelFunc
	done   chan error
}

// Option changes the configuration of a test instance.
type Option func(*config.Config)

// WithRedis runs the instance in redis mode on r with key prefix prefix.
func WithRedis(url, prefix string) Option {
	return func(c *config.Config) {
		c.Store, c.RedisURL, c.RedisPrefix = "redis", url, prefix
	}
}

// WithEngineTimeout sets the per-call engine timeout.
func WithEngineTimeout(d time.Duration) Option {
	return func(c *config.Config) { c.EngineTimeout = d }
}

// Config answers the configuration of a test instance: loopback, a fresh
// bbolt directory, no autoregistration, a known admin password.
func Config(t testing.TB, opts ...Option) config.Config {
	t.Helper()
	env := config.Env{
		Getenv: func(k string) string {
			switch k {
			case "SWARMOPS_DATA_DIR":
				return t.TempDir()
			case "SWARMOPS_AUTOREGISTER":
				return "false"
			case "SWARMOPS_ADMIN_PASSWORD":
				return AdminPassword
			case "SWARMOPS_SHUTDOWN_DRAIN":
				return "0s"
			case "SWARMOPS_LISTEN":
				return "127.0.0.1:0"
			case "SWARMOPS_LOG_LEVEL":
				return "warn"
			case "SWARMOPS_LOCK_WAIT":
				return "2s"
			}
			return ""
		},
		Hostname: func() (string, error) { return "test-" + t.Name(), nil },
	}
	cfg, _, err := config.Load(nil, env, io.Discard)
	if err != nil {
		t.Fatalf("apitest: config: %v", err)
	}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// Start runs an instance until the test ends and waits until the first
// admin exists.
func Start(t testing.TB, cfg config.Config, opts ...server.Option) *Instance {
	t.Helper()
	logs := &testenv.SyncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	// The least bcrypt cost: every test logs in, and under the race
	// detector a hash of the default cost takes most of a second. A test's
	// own options come after, and may set it back.
	opts = append([]server.Option{server.WithBcryptCost(bcrypt.MinCost)}, opts...)
	s, err := server.New(ctx, cfg, logs, opts...)
	if err != nil {
		cancel()
		t.Fatalf("apitest: new server: %v", err)
	}
	// cfg.Listen is 127.0.0.1:0, or the address of a listener OIDCConfig
	// holds for the instance (its URL had to be known beforehand).
	var ln net.Listener
	if held, ok := reserved.LoadAndDelete(cfg.Listen); ok {
		ln = held.(net.Listener)
	} else {
		ln, err = net.Listen("tcp", cfg.Listen)
	}
	if err != nil {
		cancel()
		t.Fatalf("apitest: listen: %v", err)
	}
	in := &Instance{URL: "http://" + ln.Addr().String(), Server: s, Logs: logs, stop: cancel, done: make(chan error, 1)}
	if err := loadContractOf(in); err != nil {
		cancel()
		t.Fatalf("apitest: %v", err)
	}
	go func() { in.done <- s.Serve(ctx, ln) }()
	t.Cleanup(in.Stop)
	testenv.Poll(t, 10*time.Second, "the first admin can log in", func() error {
		if !cfg.LocalLogin {
			// No password sign-in: the admin exists once the store is ready.
			return waitReady(in.URL)
		}
		_, err := in.tryLogin("admin", AdminPassword)
		return err
	})
	return in
}

// Stop stops the instance and waits for it.
func (in *Instance) Stop() {
	in.stop()
	select {
	case <-in.done:
	case <-time.After(40 * time.Second):
	}
}

// Client is an HTTP client of one instance, with a session or a token.
type Client struct {
	t       testing.TB
	Base    string
	HTTP    *http.Client
	CSRF    string
	Token   string
	Headers map[string]string
}

// Anonymous answers a client without credentials.
func (in *Instance) Anonymous(t testing.TB) *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{t: t, Base: in.URL, HTTP: &http.Client{Jar: jar, Timeout: 60 * time.Second}}
}

func (in *Instance) tryLogin(user, password string) (*Client, error) {
	jar, _ := cookiejar.New(nil)
	c := &Client{Base: in.URL, HTTP: &http.Client{Jar: jar, Timeout: 60 * time.Second}}
	var out struct {
		CSRFToken string `json:"csrf_token"`
	}
	status, body, err := c.do(http.MethodPost, "/api/v1/auth/login", map[string]string{"username": user, "password": password}, &out)
	if err != nil {
		return nil, err
	}
	if status != 200 {
		return nil, fmt.Errorf("login %s: %d %s", user, status, body)
	}
	c.CSRF = out.CSRFToken
	return c, nil
}

// Login answers a session client of user.
func (in *Instance) Login(t testing.TB, user, password string) *Client {
	t.Helper()
	c, err := in.tryLogin(user, password)
	if err != nil {
		t.Fatalf("apitest: %v", err)
	}
	c.t = t
	return c
}

// Admin answers a session client of the first admin.
func (in *Instance) Admin(t testing.TB) *Client {
	t.Helper()
	return in.Login(t, "admin", AdminPassword)
}

// UserWithRole creates a user of role and answers a session client of it.
func (in *Instance) UserWithRole(t testing.TB, admin *Client, name, role string) *Client {
	t.Helper()
	admin.MustDo(http.MethodPost, "/api/v1/users", map[string]string{"username": name, "password": "password-" + name, "role": role}, nil, 201)
	return in.Login(t, name, "password-"+name)
}

// WithToken answers a client of the same instance authenticating with an
// API token made by c.
func (c *Client) WithToken(name string) *Client {
	c.t.Helper()
	var tok struct {
		Token string `json:"token"`
	}
	c.MustDo(http.MethodPost, "/api/v1/tokens", map[string]string{"name": name}, &tok, 201)
	return &Client{t: c.t, Base: c.Base, HTTP: &http.Client{Timeout: 60 * time.Second}, Token: tok.Token}
}

// Do sends a request; body is JSON-encoded unless it is a string or
// []byte. out, when not nil, receives the decoded JSON answer.
func (c *Client) Do(method, path string, body, out any) (int, string) {
	c.t.Helper()
	status, text, err := c.do(method, path, body, out)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return status, text
}

// MustDo is Do, failing the test unless the status is want.
func (c *Client) MustDo(method, path string, body, out any, want int) string {
	c.t.Helper()
	status, text := c.Do(method, path, body, out)
	if status != want {
		c.t.Fatalf("%s %s: status %d, want %d; body: %s", method, path, status, want, text)
	}
	return text
}

// Raw sends a request and answers the response with its body read. The
// call is checked against the OpenAPI document (see contract): a mismatch
// fails the client's test, or is Raw's error for a client with no test.
func (c *Client) Raw(method, path string, body io.Reader, headers map[string]string) (*http.Response, string, error) {
	var sent []byte
	if body != nil {
		b, err := io.ReadAll(body)
		if err != nil {
			return nil, "", err
		}
		sent, body = b, bytes.NewReader(b)
	}
	req, err := c.request(context.Background(), method, path, body, headers)
	if err != nil {
		return nil, "", err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp, string(b), err
	}
	return resp, string(b), c.report(req, sent, resp, string(b), true)
}

// Open sends a bodiless request whose answer is a stream (logs, events)
// and answers the response with its body unread; ctx ends the stream. Its
// status and headers are checked against the OpenAPI document as Raw
// checks a call, and its body too when the status is an error (read
// whole; the answered response still holds it).
func (c *Client) Open(ctx context.Context, path string, headers map[string]string) (*http.Response, error) {
	req, err := c.request(ctx, http.MethodGet, path, nil, headers)
	if err != nil {
		return nil, err
	}
	// No client timeout: a stream lasts as long as ctx.
	hc := &http.Client{Jar: c.HTTP.Jar, Transport: c.HTTP.Transport, CheckRedirect: c.HTTP.CheckRedirect}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 300 {
		if err := c.report(req, nil, resp, "", false); err != nil {
			resp.Body.Close()
			return nil, err
		}
		return resp, nil
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return resp, err
	}
	return resp, c.report(req, nil, resp, string(b), true)
}

// request builds a request of c: its credentials, c's headers, then
// headers (an empty value removes one).
func (c *Client) request(ctx context.Context, method, path string, body io.Reader, headers map[string]string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if c.CSRF != "" && method != http.MethodGet {
		req.Header.Set("X-CSRF-Token", c.CSRF)
	}
	for k, v := range c.Headers {
		req.Header.Set(k, v)
	}
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	return req, nil
}

// report checks a call against the OpenAPI document (the answer's body
// only when read): a mismatch fails c's test, or is the error for a
// client with no test.
func (c *Client) report(req *http.Request, sent []byte, resp *http.Response, answer string, bodyRead bool) error {
	ct := theContract.Load()
	if ct == nil {
		return nil
	}
	mismatch := ct.check(req, sent, resp, answer, bodyRead)
	if mismatch == "" {
		return nil
	}
	if c.t == nil {
		return errors.New(mismatch)
	}
	c.t.Helper()
	c.t.Errorf("%s", mismatch)
	return nil
}

func (c *Client) do(method, path string, body, out any) (int, string, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return 0, "", err
		}
		r = bytes.NewReader(j)
	}
	resp, text, err := c.Raw(method, path, r, nil)
	if err != nil {
		return 0, "", err
	}
	if out != nil && resp.StatusCode < 300 && text != "" {
		if err := json.Unmarshal([]byte(text), out); err != nil {
			return resp.StatusCode, text, fmt.Errorf("decode answer: %w; body: %s", err, text)
		}
	}
	return resp.StatusCode, text, nil
}

// ErrorBody is the contract's error answer.
type ErrorBody struct {
	Error struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Details map[string]any `json:"details"`
	} `json:"error"`
}

// ParseError decodes an error answer, failing the test when it is not one.
func ParseError(t testing.TB, body string) ErrorBody {
	t.Helper()
	var e ErrorBody
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("answer is not the contract's error shape: %s", body)
	}
	return e
}

// For binds a hand-made client to t.
func (c *Client) For(t testing.TB) *Client {
	c.t = t
	return c
}

func waitReady(base string) error {
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /readyz: %s", resp.Status)
	}
	return nil
}

// reserved holds the listeners OIDCConfig opened, by address, until Start
// serves on them.
var reserved sync.Map

// OIDCClientSecret is the client secret of test instances' OIDC client.
const OIDCClientSecret = "client-secret-for-tests"

// OIDCConfig starts a real OpenID provider with users and answers it with
// the configuration of an instance that signs users in through it: a port
// chosen beforehand (the redirect URL must be registered before the
// instance starts), client "swarmops", the provider named TestIdP, and
// roleMap as SWARMOPS_OIDC_ROLE_MAP.
func OIDCConfig(t testing.TB, users []testenv.OIDCUser, roleMap string, opts ...Option) (config.Config, *testenv.OIDCProvider) {
	t.Helper()
	// The instance's listener is opened now and held until Start takes it:
	// a port only looked up could be the one the provider gets next.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("apitest: listen: %v", err)
	}
	addr := ln.Addr().String()
	reserved.Store(addr, ln)
	t.Cleanup(func() {
		if held, ok := reserved.LoadAndDelete(addr); ok {
			_ = held.(net.Listener).Close()
		}
	})
	public := "http://" + addr
	idp := testenv.StartOIDC(t, testenv.OIDCOptions{
		Users: users, ClientID: "swarmops", ClientSecret: OIDCClientSecret,
		RedirectURIs:           []string{public + config.OIDCCallbackPath},
		PostLogoutRedirectURIs: []string{public + "/login"},
	})
	cfg := Config(t, opts...)
	cfg.Listen, cfg.PublicURL, cfg.OIDCRedirectURL = addr, public, public+config.OIDCCallbackPath
	cfg.OIDCIssuer, cfg.OIDCClientID, cfg.OIDCClientSecret, cfg.OIDCName = idp.Issuer, "swarmops", OIDCClientSecret, "TestIdP"
	cfg.OIDCScopes = []string{"openid", "profile", "email"}
	cfg.OIDCUsernameClaim, cfg.OIDCGroupsClaim = "preferred_username", "groups"
	if cfg.SSORoles, err = sso.ParseRoleMap(roleMap); err != nil {
		t.Fatalf("apitest: role map: %v", err)
	}
	return cfg, idp
}

package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/distribution/registry/client/auth/challenge"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/swarmops/swarmops/internal/errs"
)

// Limits of the client. Registries cap a page at 1000 names (ECR refuses
// more), and Distribution refuses manifests over 4 MiB.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
	workers         = 8        // manifests fetched at once by Tags and TagsOnDigest
	maxListBody     = 16 << 20 // one page of repository or tag names
	maxSmallBody    = 64 << 10 // /v2/ answers and error bodies read here
	maxConfigSize   = 8 << 20  // image configs read for their created time
	maxTransports   = 128      // authenticated transports kept per client
	callTimeout     = 2 * time.Minute
)

// Endpoint is how one registry is reached.
type Endpoint struct {
	URL                string // https://host[:port] or http://host[:port]; no path, query or user info
	Username, Password string // both empty: anonymous
	InsecureSkipVerify bool
	CA                 string // PEM bundle trusted in addition to the system roots; optional
}

// Client speaks the registry API v2 to one registry with one set of
// credentials. It keeps an authenticated transport per repository (and one
// for the catalog), so a bearer token is fetched once and reused until the
// registry refuses it, when go-containerregistry fetches a new one. A
// transport that failed is dropped and built again by the next call. A
// Client is safe for concurrent use.
type Client struct {
	url   *url.URL // scheme://host[:port] as given
	host  string   // Host()
	reg   name.Registry
	nopts []name.Option
	auth  authn.Authenticator
	anon  bool
	pass  string // scrubbed from every message, should a registry echo it
	base  *guard

	mu  sync.Mutex
	trs map[string]http.RoundTripper

	// scanPage is the registry page size Repositories asks for while it
	// filters with q (at least n).
	scanPage int
}

// NewClient checks e and answers a client for it. Nothing is sent until a
// method is called.
func NewClient(e Endpoint) (*Client, error) {
	u, err := parseURL(e.URL)
	if err != nil {
		return nil, err
	}
	switch {
	case e.Username != "" && e.Password == "":
		return nil, errs.Invalid("password", "a user name needs a password (or leave both empty for anonymous access)")
	case e.Username == "" && e.Password != "":
		return nil, errs.Invalid("username", "a password needs a user name (or leave both empty for anonymous access)")
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: e.InsecureSkipVerify} //nolint:gosec // an admin's explicit choice for this registry
	if strings.TrimSpace(e.CA) != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM([]byte(e.CA)) {
			return nil, errs.Invalid("ca", "no certificate found: expected the PEM of the CA that signed the registry's certificate (-----BEGIN CERTIFICATE----- ...)")
		}
		tlsConf.RootCAs = pool
	}
	c := &Client{url: u, host: refHost(u), trs: map[string]http.RoundTripper{}, scanPage: defaultPageSize, pass: e.Password}
	if u.Scheme == "http" {
		c.nopts = append(c.nopts, name.Insecure)
	}
	regName := u.Host
	if c.host == dockerHub {
		regName = "index.docker.io" // where go-containerregistry sends Docker Hub's API calls
	}
	if c.reg, err = name.NewRegistry(regName, c.nopts...); err != nil {
		return nil, errs.Invalid("url", "%q is not a registry address: %v", e.URL, err)
	}
	c.auth = authn.Anonymous
	c.anon = e.Username == ""
	if !c.anon {
		c.auth = authn.FromConfig(authn.AuthConfig{Username: e.Username, Password: e.Password})
	}
	c.base = newGuard(u.Scheme, c.reg.RegistryStr(), &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   workers,
		ForceAttemptHTTP2:     true,
	})
	return c, nil
}

const urlSyntax = "expected https://host[:port] or http://host[:port], without path, query or user info"

func parseURL(raw string) (*url.URL, error) {
	// The text given is not repeated before user info is ruled out: it
	// may hold a password.
	u, err := url.Parse(strings.TrimSpace(raw))
	switch {
	case err != nil:
		return nil, errs.Invalid("url", "not a URL: %s", urlSyntax)
	case u.User != nil:
		return nil, errs.Invalid("url", "the URL must not carry user info; give username and password separately: %s", urlSyntax)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errs.Invalid("url", "%q: the scheme must be https or http: %s", raw, urlSyntax)
	case u.Hostname() == "" || u.Opaque != "":
		return nil, errs.Invalid("url", "%q has no host: %s", raw, urlSyntax)
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, errs.Invalid("url", "%q has a path, query or fragment: %s", raw, urlSyntax)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, errs.Invalid("url", "%q has an invalid port: %s", raw, urlSyntax)
		}
	}
	u.Host = strings.ToLower(u.Host)
	u.Path = ""
	return u, nil
}

// dockerHub is Docker Hub's name in image references.
const dockerHub = "docker.io"

// dockerHubHosts are the names Docker Hub's registry API answers on; image
// references call it docker.io.
var dockerHubHosts = map[string]bool{
	"docker.io": true, "index.docker.io": true, "registry-1.docker.io": true, "registry.hub.docker.com": true,
}

// refHost answers u's host as image references name it: the default port
// of the scheme dropped, Docker Hub as docker.io.
func refHost(u *url.URL) string {
	h, p := u.Hostname(), u.Port()
	if dockerHubHosts[h] && (p == "" || p == "443") {
		return dockerHub
	}
	if p == "" || p == defaultPort(u.Scheme) {
		if strings.Contains(h, ":") {
			return "[" + h + "]"
		}
		return h
	}
	return u.Host
}

func defaultPort(scheme string) string {
	if scheme == "http" {
		return "80"
	}
	return "443"
}

// Host answers host[:port] as image references name this registry
// (docker.io for Docker Hub).
func (c *Client) Host() string { return c.host }

// Ping checks that the registry answers GET /v2/ with the credentials
// (through its token service when it uses bearer tokens). It answers
// errs.Invalid on "url" when the registry cannot be reached, its TLS
// certificate is not trusted or it is no registry API v2, and on
// "password" (or "username" without credentials) when the credentials are
// refused, with the registry's own message.
func (c *Client) Ping(ctx context.Context) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	// A fresh transport: Ping checks the credentials as they are now.
	tr, err := c.authenticate(ctx, nil)
	if err != nil {
		return c.pingError(ctx, err)
	}
	resp, err := c.do(ctx, tr, http.MethodGet, c.endpoint("/v2/"))
	if err != nil {
		return c.pingError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return c.pingError(ctx, checkError(resp))
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxSmallBody))
	if resp.Header.Get("Docker-Distribution-Api-Version") == "" && !json.Valid(body) {
		return errs.Invalid("url", "%s answers GET /v2/ but not as a registry API v2 (no Docker-Distribution-Api-Version header, no JSON); %s", c.url, urlSyntax)
	}
	return nil
}

// withTimeout bounds a call whose ctx has no deadline.
func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, callTimeout)
}

// endpoint answers the URL of path on the registry.
func (c *Client) endpoint(path string) string {
	u := url.URL{Scheme: c.url.Scheme, Host: c.reg.RegistryStr(), Path: path}
	return u.String()
}

// do sends a request without body through tr.
func (c *Client) do(ctx context.Context, tr http.RoundTripper, method, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	return (&http.Client{Transport: tr}).Do(req)
}

// checkError turns a registry's error answer into a *transport.Error,
// reading at most maxSmallBody of it.
func checkError(resp *http.Response) error {
	resp.Body = io.NopCloser(io.LimitReader(resp.Body, maxSmallBody))
	return transport.CheckError(resp, http.StatusOK)
}

// transport answers the authenticated transport kept under key, building
// it (a ping, and a token for scopes when the registry uses bearer auth)
// if there is none.
func (c *Client) transport(ctx context.Context, key string, scopes []string) (http.RoundTripper, error) {
	c.mu.Lock()
	tr := c.trs[key]
	c.mu.Unlock()
	if tr != nil {
		return tr, nil
	}
	tr, err := c.authenticate(ctx, scopes)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.trs[key]; old != nil {
		return old, nil
	}
	if len(c.trs) >= maxTransports {
		for k := range c.trs {
			delete(c.trs, k)
			break
		}
	}
	c.trs[key] = tr
	return tr, nil
}

// authenticate asks the registry how it authenticates (GET /v2/ without
// credentials, with the URL's scheme only) and answers a transport that
// sends the credentials that way: basic auth on every request, or a bearer
// token for scopes, fetched here from the token service the registry
// names. go-containerregistry fetches a new token when the registry
// refuses the one it has (expired, or a scope it lacks, as for deletes).
func (c *Client) authenticate(ctx context.Context, scopes []string) (http.RoundTripper, error) {
	ch, err := c.challenge(ctx)
	if err != nil {
		return nil, err
	}
	t := transport.NewUserAgent(c.base, userAgent)
	if !strings.EqualFold(ch.Scheme, "bearer") {
		return transport.FromToken(c.reg, c.auth, t, ch, &transport.Token{})
	}
	tok, err := transport.Exchange(ctx, c.reg, c.auth, t, scopes, ch)
	if err != nil {
		return nil, err
	}
	if tok.Token == "" {
		tok.Token = tok.AccessToken
	}
	return transport.FromToken(c.reg, c.auth, t, ch, tok)
}

// userAgent is sent with every request.
const userAgent = "swarmops"

// challenge GETs /v2/ without credentials and answers how the registry
// wants to be authenticated (no scheme when it does not).
func (c *Client) challenge(ctx context.Context) (*transport.Challenge, error) {
	resp, err := c.do(ctx, c.base, http.MethodGet, c.endpoint("/v2/"))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	ch := &transport.Challenge{Insecure: c.url.Scheme == "http"}
	switch resp.StatusCode {
	case http.StatusOK:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxSmallBody))
		return ch, nil
	case http.StatusUnauthorized:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxSmallBody))
		for _, wac := range challenge.ResponseChallenges(resp) {
			if s := strings.ToLower(wac.Scheme); s == "basic" || s == "bearer" {
				ch.Scheme, ch.Parameters = wac.Scheme, wac.Parameters
				return ch, nil
			}
		}
		return nil, fmt.Errorf("GET /v2/ answered 401 without a basic or bearer challenge (WWW-Authenticate: %.200q)", resp.Header.Get("WWW-Authenticate"))
	}
	return nil, checkError(resp)
}

// forget drops the transport under key after a failure, so that the next
// call pings and authenticates again.
func (c *Client) forget(key string) {
	c.mu.Lock()
	delete(c.trs, key)
	c.mu.Unlock()
}

// guard is the innermost transport. It sends requests for the registry's
// host with the scheme of the registry's URL (go-containerregistry guesses
// http for loopback and private addresses), and refuses to send
// credentials over plain http to another host (a token service) for an
// https registry. go-containerregistry itself sets credentials only on
// requests for the registry's host:port and its token service, so a
// redirect elsewhere (blob storage) goes without them.
type guard struct {
	inner    http.RoundTripper
	scheme   string
	hostname string
	port     string
}

func newGuard(scheme, hostport string, inner http.RoundTripper) *guard {
	u := &url.URL{Host: hostport}
	g := &guard{inner: inner, scheme: scheme, hostname: strings.ToLower(u.Hostname()), port: u.Port()}
	if g.port == "" {
		g.port = defaultPort(scheme)
	}
	return g
}

// isRegistry reports whether u names the registry's host and port (a URL
// without port names the default one of the registry's scheme, which
// guard sends it with).
func (g *guard) isRegistry(u *url.URL) bool {
	port := u.Port()
	if port == "" {
		port = defaultPort(g.scheme)
	}
	return strings.EqualFold(u.Hostname(), g.hostname) && port == g.port
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	switch {
	case g.isRegistry(req.URL):
		if req.URL.Scheme != g.scheme {
			req = req.Clone(req.Context())
			req.URL.Scheme = g.scheme
		}
	case g.scheme == "https" && req.URL.Scheme != "https" && req.Header.Get("Authorization") != "":
		u := *req.URL
		u.RawQuery = ""
		return nil, &plainRealmError{realm: u.Redacted()}
	}
	return g.inner.RoundTrip(req)
}

// plainRealmError refuses to send an https registry's credentials to its
// token service over plain http.
type plainRealmError struct{ realm string }

func (e *plainRealmError) Error() string {
	return fmt.Sprintf("the registry names a plain http token service (%s): credentials for an https registry are not sent over it; serve the token service over https", e.realm)
}

// redactPassword removes the password from s, should a registry or token
// service have echoed it.
func (c *Client) redactPassword(s string) string {
	if len(c.pass) < 4 {
		return s
	}
	return strings.ReplaceAll(s, c.pass, "***")
}

package swarm

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/client"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// Pool keeps one engine client per endpoint (and TLS material), created on
// first use and reused by every request, and remembers which endpoints of
// a cluster answered last.
type Pool struct {
	dialTimeout time.Duration
	wrap        func(endpoint string, rt http.RoundTripper) http.RoundTripper

	mu      sync.Mutex
	clients map[poolKey]*client.Client
	// preferred is, per cluster, the endpoint that answered last.
	preferred map[string]string
	// downUntil marks endpoints that failed recently, so later calls try
	// them last instead of waiting for them again.
	downUntil map[string]time.Time
	now       func() time.Time
}

type poolKey struct{ endpoint, tls string }

// downFor is how long a failed endpoint is tried last.
const downFor = 5 * time.Second

// PoolOption changes a Pool.
type PoolOption func(*Pool)

// WithTransport wraps every engine client's transport, e.g. to count or
// time engine calls. Several wrap in the order given, the last outermost.
func WithTransport(wrap func(endpoint string, rt http.RoundTripper) http.RoundTripper) PoolOption {
	return func(p *Pool) {
		inner := p.wrap
		if inner == nil {
			p.wrap = wrap
			return
		}
		p.wrap = func(endpoint string, rt http.RoundTripper) http.RoundTripper {
			return wrap(endpoint, inner(endpoint, rt))
		}
	}
}

// NewPool makes a pool whose connections give up dialing after dialTimeout.
func NewPool(dialTimeout time.Duration, opts ...PoolOption) *Pool {
	p := &Pool{
		dialTimeout: dialTimeout,
		clients:     map[poolKey]*client.Client{},
		preferred:   map[string]string{},
		downUntil:   map[string]time.Time{},
		now:         time.Now,
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func tlsKey(t *store.TLS) string {
	if t == nil {
		return ""
	}
	h := sha256.Sum256([]byte(t.CA + "\x00" + t.Cert + "\x00" + t.Key))
	return hex.EncodeToString(h[:8])
}

// Client answers the pooled client of endpoint with t.
func (p *Pool) Client(endpoint string, t *store.TLS) (*client.Client, error) {
	k := poolKey{endpoint, tlsKey(t)}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[k]; ok {
		return c, nil
	}
	c, err := newClient(endpoint, t, p.dialTimeout, p.wrap)
	if err != nil {
		return nil, err
	}
	p.clients[k] = c
	return c, nil
}

// Temporary answers the pooled client of endpoint when there is one, or a
// new client that release closes: engines that are probed, initialised,
// joined or left, but not (yet) registered, keep no client (and no TLS
// key) in the pool.
func (p *Pool) Temporary(endpoint string, t *store.TLS) (api *client.Client, release func(), err error) {
	p.mu.Lock()
	c, ok := p.clients[poolKey{endpoint, tlsKey(t)}]
	p.mu.Unlock()
	if ok {
		return c, func() {}, nil
	}
	c, err = newClient(endpoint, t, p.dialTimeout, p.wrap)
	if err != nil {
		return nil, nil, err
	}
	return c, func() { _ = c.Close() }, nil
}

// Forget closes the clients of a cluster's endpoints and its failover state.
func (p *Pool) Forget(c store.Cluster) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.preferred, c.Name)
	for k, cl := range p.clients {
		for _, e := range c.Endpoints {
			if k.endpoint == e {
				_ = cl.Close()
				delete(p.clients, k)
			}
		}
	}
}

// Close closes every client.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, c := range p.clients {
		_ = c.Close()
		delete(p.clients, k)
	}
}

// order answers the cluster's endpoints in the order to try them: the one
// that answered last, then the others, then those that failed recently.
func (p *Pool) order(c store.Cluster) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	var first, rest, down []string
	for _, e := range c.Endpoints {
		switch {
		case p.downUntil[e].After(now):
			down = append(down, e)
		case e == p.preferred[c.Name]:
			first = append(first, e)
		default:
			rest = append(rest, e)
		}
	}
	return append(append(first, rest...), down...)
}

func (p *Pool) markUp(cluster, endpoint string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.preferred[cluster] = endpoint
	delete(p.downUntil, endpoint)
}

func (p *Pool) markDown(endpoint string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.downUntil[endpoint] = p.now().Add(downFor)
}

// ParseEndpoint checks an engine address: tcp://host:port or unix:///path.
func ParseEndpoint(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, errors.New("expected tcp://host:port or unix:///path/to/docker.sock")
	}
	switch u.Scheme {
	case "tcp":
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil || host == "" || port == "" || u.Path != "" && u.Path != "/" {
			return nil, errors.New("expected tcp://host:port, e.g. tcp://10.0.0.5:2375 (2376 with TLS)")
		}
	case "unix":
		if u.Host != "" || u.Path == "" || u.Path == "/" {
			return nil, errors.New("expected unix:///path/to/docker.sock (three slashes)")
		}
	default:
		return nil, errors.New("expected tcp://host:port or unix:///path/to/docker.sock")
	}
	return u, nil
}

// TLSConfig builds the client TLS configuration of t; the error names the
// field at fault.
func TLSConfig(t *store.TLS) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CA != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(t.CA)) {
			return nil, errs.Invalid("tls.ca", "expected a PEM-encoded CA certificate")
		}
		cfg.RootCAs = pool
	}
	switch {
	case t.Cert != "" && t.Key != "":
		pair, err := tls.X509KeyPair([]byte(t.Cert), []byte(t.Key))
		if err != nil {
			return nil, errs.Invalid("tls.cert", "expected a PEM certificate and the PEM private key that matches it (%s)", tlsPairProblem(err))
		}
		cfg.Certificates = []tls.Certificate{pair}
	case t.Cert != "":
		return nil, errs.Invalid("tls.key", "a client certificate needs its private key")
	case t.Key != "":
		return nil, errs.Invalid("tls.cert", "a private key needs its client certificate")
	}
	return cfg, nil
}

// tlsPairProblem says what is wrong with a key pair without quoting it.
func tlsPairProblem(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "private key does not match"):
		return "the key does not match the certificate"
	case strings.Contains(s, "failed to find any PEM data in key"):
		return "no PEM private key found"
	case strings.Contains(s, "failed to find any PEM data in certificate"):
		return "no PEM certificate found"
	}
	return "unreadable certificate or key"
}

func newClient(endpoint string, t *store.TLS, dialTimeout time.Duration, wrap func(string, http.RoundTripper) http.RoundTripper) (*client.Client, error) {
	u, err := ParseEndpoint(endpoint)
	if err != nil {
		return nil, errs.Invalid("endpoint", "%v", err)
	}
	tr := &http.Transport{
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: dialTimeout,
	}
	if t != nil {
		if tr.TLSClientConfig, err = TLSConfig(t); err != nil {
			return nil, err
		}
	}
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	dial := dialer.DialContext
	if u.Scheme == "unix" {
		path := u.Path
		dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "unix", path)
		}
	}
	hc := &http.Client{Transport: tr}
	c, err := client.NewClientWithOpts(
		client.WithHTTPClient(hc),
		client.WithHost(endpoint),
		client.WithDialContext(dial),
		client.WithAPIVersionNegotiation(),
	)
	if err != nil {
		return nil, fmt.Errorf("engine client for %s: %w", endpoint, err)
	}
	// The options above configure the *http.Transport itself, so the
	// tracker wraps whatever the client made of it afterwards.
	hc.Transport = &sentTracker{next: hc.Transport}
	if wrap != nil {
		hc.Transport = wrap(endpoint, hc.Transport)
	}
	return c, nil
}

// sentTracker marks failures that happened before a connection was had
// (dial, TLS handshake): the request never reached the engine, so even a
// mutation may be retried on another manager. The docker client folds most
// network errors into one "cannot connect" error; notSentError survives that.
type sentTracker struct{ next http.RoundTripper }

func (s *sentTracker) RoundTrip(req *http.Request) (*http.Response, error) {
	var got bool
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { got = true }}
	resp, err := s.next.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	if err != nil && !got && req.Context().Err() == nil {
		return nil, &notSentError{msg: err.Error()}
	}
	return resp, err
}

// notSentError deliberately does not unwrap to the network error: the docker
// client would then replace it with its generic message.
type notSentError struct{ msg string }

func (e *notSentError) Error() string { return e.msg }

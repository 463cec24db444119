package swarm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
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
	// gates make each pooled client agree its API version with the engine
	// once, before any call uses it (see ready).
	gates map[*client.Client]chan struct{}
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
		gates:       map[*client.Client]chan struct{}{},
		preferred:   map[string]string{},
		downUntil:   map[string]time.Time{},
		now:         time.Now,
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Client answers the pooled client of endpoint with t.
func (p *Pool) Client(endpoint string, t *TLS) (*client.Client, error) {
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
	p.gates[c] = make(chan struct{}, 1)
	return c, nil
}

// ready agrees api's API version with its engine, once, before its first
// call. The docker client would do it lazily inside the first calls, but
// writes the version there while concurrent calls read it unguarded (a
// data race its own lock does not cover): a pooled client is shared by
// every request, so its version is settled here, one caller pinging while
// the others wait, and only then used. A client not in the pool (a
// temporary one, a fake) is left to itself. A failed ping is notSent: the
// call it came before was not sent.
func (p *Pool) ready(ctx context.Context, api Engine) error {
	c, ok := api.(*client.Client)
	if !ok {
		return nil
	}
	p.mu.Lock()
	gate := p.gates[c]
	p.mu.Unlock()
	if gate == nil {
		return nil
	}
	select {
	case gate <- struct{}{}:
	case <-ctx.Done():
		// Waited for another caller's ping: nothing of this call was sent.
		return &notSentError{msg: "waiting for the engine's first answer: " + ctx.Err().Error()}
	}
	defer func() { <-gate }()
	p.mu.Lock()
	done := p.gates[c] == nil
	p.mu.Unlock()
	if done {
		return nil
	}
	ping, err := c.Ping(ctx)
	if err != nil {
		var ns *notSentError
		if errors.As(err, &ns) {
			return err
		}
		return &notSentError{msg: err.Error()}
	}
	c.NegotiateAPIVersionPing(ping)
	p.mu.Lock()
	delete(p.gates, c) // settled: no gate to pass any more
	p.mu.Unlock()
	return nil
}

// Temporary answers the pooled client of endpoint when there is one, or a
// new client that release closes: engines that are probed, initialised,
// joined or left, but not (yet) registered, keep no client (and no TLS
// key) in the pool.
func (p *Pool) Temporary(endpoint string, t *TLS) (api *client.Client, release func(), err error) {
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

// forget closes the clients of a cluster's endpoints and its failover state.
func (p *Pool) forget(c store.Cluster) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.preferred, c.Name)
	for k, cl := range p.clients {
		for _, e := range c.Endpoints {
			if k.endpoint == e {
				_ = cl.Close()
				delete(p.clients, k)
				delete(p.gates, cl)
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
		delete(p.gates, c)
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

func newClient(endpoint string, t *TLS, dialTimeout time.Duration, wrap func(string, http.RoundTripper) http.RoundTripper) (*client.Client, error) {
	u, err := ParseEndpoint(endpoint)
	if err != nil {
		return nil, errs.Invalid("endpoint", "%v", err)
	}
	tr := &http.Transport{
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    16,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    dialTimeout,
		MaxResponseHeaderBytes: maxEngineHeaders,
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
	// An engine is never followed elsewhere: a redirect from a rogue or
	// intercepted endpoint would resend the request, body and client
	// certificate included, to wherever it points.
	hc := &http.Client{Transport: tr, CheckRedirect: refuseRedirect(endpoint)}
	c, err := client.NewClientWithOpts(
		client.WithHTTPClient(hc),
		client.WithHost(endpoint),
		client.WithDialContext(dial),
		client.WithAPIVersionNegotiation(),
	)
	if err != nil {
		return nil, fmt.Errorf("engine client for %s: %w", endpoint, err)
	}
	// The options above configure the *http.Transport itself (tr); the
	// client then wraps it in OpenTelemetry's transport, which SwarmOps
	// does not use and which cost about half of SwarmOps's own CPU per
	// engine call: the tracker wraps tr itself.
	hc.Transport = &errorBodyLimit{next: &sentTracker{next: tr}}
	if wrap != nil {
		hc.Transport = wrap(endpoint, hc.Transport)
	}
	hc.Transport = withListBodies(hc.Transport) // list_body.go
	return c, nil
}

// maxEngineHeaders bounds the header block of an engine's answer.
const maxEngineHeaders = 64 << 10

// maxErrorBody bounds the error body of an engine's answer that is read at
// all; a longer one is replaced, so no engine can make an answer or a log
// line carry megabytes of its text.
const maxErrorBody = 4 << 10

// errEngineRedirect marks an engine that answered with a redirect.
var errEngineRedirect = errors.New("engine redirect refused")

// refuseRedirect stops the HTTP client at the first redirect of the engine
// at endpoint, with an error that names neither the target nor anything
// else the engine said.
func refuseRedirect(endpoint string) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, _ []*http.Request) error {
		status := 0
		if req.Response != nil {
			status = req.Response.StatusCode
		}
		return errs.Engine(errEngineRedirect, "the engine at %s answered with a redirect (%d); SwarmOps never follows redirects from engines: check the endpoint", endpoint, status)
	}
}

// errorBodyLimit cuts an engine's error answer (status 400 and above)
// whose body exceeds maxErrorBody down to a short message of its own.
type errorBodyLimit struct{ next http.RoundTripper }

func (l *errorBodyLimit) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(req)
	if err != nil || resp.StatusCode < http.StatusBadRequest || resp.Body == nil {
		return resp, err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody+1))
	_ = resp.Body.Close()
	if len(body) > maxErrorBody {
		body, _ = json.Marshal(map[string]string{"message": fmt.Sprintf(
			"the engine answered %d with an error message of more than %d bytes, not shown", resp.StatusCode, maxErrorBody)})
		resp.Header.Set("Content-Type", "application/json")
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
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

package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/testenv"
)

// newTransport answers a keep-alive transport of its own, the same for
// SwarmOps's and the engine's side: no compression (neither compresses),
// no proxy, a few idle connections per host.
func newTransport() *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     5 * time.Minute,
		DisableCompression:  true,
	}
}

// timedGet answers the time a GET of url takes, from the request sent to
// the body read, failing the test unless it answers 200.
func timedGet(t *testing.T, c *http.Client, method, url string, header http.Header) time.Duration {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if header != nil {
		req.Header = header
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	took := time.Since(start)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %v", method, url, resp.StatusCode, err)
	}
	return took
}

func fetch(t *testing.T, c *http.Client, url string, header http.Header) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if header != nil {
		req.Header = header
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v: %.300s", url, resp.StatusCode, err, b)
	}
	return b
}

// apiClient is a session client of a SwarmOps instance: the cookie is
// sent as a header, with no jar.
type apiClient struct {
	base    string
	http    *http.Client
	session string // the swarmops_session cookie's value
	csrf    string
	header  http.Header
}

func (c *apiClient) fetch(t *testing.T, path string) []byte {
	t.Helper()
	return fetch(t, c.http, c.base+path, c.header.Clone())
}

func (c *apiClient) timeGet(t *testing.T, path string) time.Duration {
	t.Helper()
	return timedGet(t, c.http, http.MethodGet, c.base+path, c.header.Clone())
}

// register registers a swarm by a manager's endpoint.
func (c *apiClient) register(t *testing.T, name, endpoint string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"name": name, "endpoint": endpoint})
	req, err := http.NewRequest(http.MethodPost, c.base+"/api/v1/clusters", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = c.header.Clone()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", c.csrf)
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register %s (%s): %d %s", name, endpoint, resp.StatusCode, b)
	}
}

// engineClient asks an engine's API directly, as a plain HTTP client, on
// the TCP endpoint SwarmOps uses.
type engineClient struct {
	base    string // http://addr:2375
	api     string // the API version both sides speak, e.g. 1.41
	version string // the engine's version
	http    *http.Client
}

func newEngineClient(t *testing.T, n *testenv.Node) *engineClient {
	t.Helper()
	e := &engineClient{base: "http://" + strings.TrimPrefix(n.Endpoint, "tcp://"), http: &http.Client{Transport: newTransport(), Timeout: 2 * time.Minute}}
	var v struct{ Version, APIVersion string }
	if err := json.Unmarshal(fetch(t, e.http, e.base+"/version", nil), &v); err != nil {
		t.Fatalf("engine %s /version: %v", n.Name, err)
	}
	if v.APIVersion == "" {
		t.Fatalf("engine %s /version names no API version", n.Name)
	}
	// The docker client negotiates down to the engine's version (SwarmOps
	// does so), and its own is newer than any engine here.
	e.api, e.version = v.APIVersion, v.Version
	return e
}

func (e *engineClient) fetch(t *testing.T, path string) []byte {
	t.Helper()
	return fetch(t, e.http, fmt.Sprintf("%s/v%s%s", e.base, e.api, path), nil)
}

func (e *engineClient) timeGet(t *testing.T, path string) time.Duration {
	t.Helper()
	return timedGet(t, e.http, http.MethodGet, fmt.Sprintf("%s/v%s%s", e.base, e.api, path), nil)
}

// timeRaw times an unversioned HEAD, such as the docker client's ping.
func (e *engineClient) timeRaw(t *testing.T, path string) time.Duration {
	t.Helper()
	return timedGet(t, e.http, http.MethodHead, e.base+path, nil)
}

package bench

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/testenv"
)

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
type engineClient struct{ testenv.EngineAPI }

func newEngineClient(t *testing.T, n *testenv.Node) *engineClient {
	t.Helper()
	api, err := testenv.NewEngineAPI(&http.Client{Transport: testenv.KeepAliveTransport(64, 8), Timeout: 2 * time.Minute}, n.Endpoint)
	if err != nil {
		t.Fatalf("%s: %v", n.Name, err)
	}
	return &engineClient{api}
}

func (e *engineClient) fetch(t *testing.T, path string) []byte {
	t.Helper()
	return fetch(t, e.HTTP, e.URL(path), nil)
}

func (e *engineClient) timeGet(t *testing.T, path string) time.Duration {
	t.Helper()
	return timedGet(t, e.HTTP, http.MethodGet, e.URL(path), nil)
}

// timeRaw times an unversioned HEAD, such as the docker client's ping.
func (e *engineClient) timeRaw(t *testing.T, path string) time.Duration {
	t.Helper()
	return timedGet(t, e.HTTP, http.MethodHead, e.Base+path, nil)
}

// timedGet answers the time a method request of url takes, from the
// request sent to the body read, failing the test unless it answers 200.
func timedGet(t *testing.T, c *http.Client, method, url string, header http.Header) time.Duration {
	t.Helper()
	took, _, err := testenv.TimedGet(c, method, url, header)
	if err != nil {
		t.Fatal(err)
	}
	return took
}

// fetch answers the body of a GET of url, failing the test unless it
// answers 200.
func fetch(t *testing.T, c *http.Client, url string, header http.Header) []byte {
	t.Helper()
	b, err := testenv.Fetch(c, url, header)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/apitest"
	swarmops "github.com/swarmops/swarmops/internal/swarm"
)

// TestEngineRedirect_NotFollowed: an endpoint that answers every request
// with a 307 to another server makes a registration fail cleanly, and a
// pooled client's write (a body that may hold secrets) is not resent:
// the other server receives nothing.
func TestEngineRedirect_NotFollowed(t *testing.T) {
	var elsewhere atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.Header().Set("Api-Version", "1.41")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(target.Close)
	rogue := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	t.Cleanup(rogue.Close)
	endpoint := "tcp://" + strings.TrimPrefix(rogue.URL, "http://")

	in := apitest.Start(t, apitest.Config(t))
	admin := in.Admin(t)
	status, text := admin.Do(http.MethodPost, "/api/v1/clusters", map[string]any{"name": "rogue", "endpoint": endpoint}, nil)
	if status != http.StatusBadRequest || !strings.Contains(text, "redirect") {
		t.Errorf("register an endpoint that redirects: %d %s, want 400 saying the engine redirected", status, text)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the redirect target received %d requests during the registration, want 0", n)
	}

	pool := swarmops.NewPool(2 * time.Second)
	t.Cleanup(pool.Close)
	api, err := pool.Client(endpoint, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = api.SecretCreate(ctx, swarm.SecretSpec{Annotations: swarm.Annotations{Name: "s"}, Data: []byte("top secret")})
	if err == nil || !strings.Contains(err.Error(), "never follows redirects") {
		t.Errorf("SecretCreate through a redirecting endpoint: %v, want the redirect refused", err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the redirect target received %d requests, want 0", n)
	}
}

// fakeManager answers /_ping and /info as a swarm manager would, and
// every other call with a 500 whose JSON message is about 1 MB.
func fakeManager(t *testing.T) string {
	t.Helper()
	big, _ := json.Marshal(map[string]string{"message": "HUGE-ENGINE-ERROR " + strings.Repeat("x", 1_000_000)})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.41")
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/_ping"):
			_, _ = w.Write([]byte("OK"))
		case strings.HasSuffix(r.URL.Path, "/info"):
			_, _ = fmt.Fprint(w, `{"ID":"fake","Name":"fake","Swarm":{"NodeID":"n1","LocalNodeState":"active",`+
				`"ControlAvailable":true,"Cluster":{"ID":"fakeswarm0000000000000000"}}}`)
		default:
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write(big)
		}
	}))
	t.Cleanup(srv.Close)
	return "tcp://" + strings.TrimPrefix(srv.URL, "http://")
}

// TestEngineError_Bounded: an engine whose error body is about 1 MB
// yields an answer and log lines of bounded size.
func TestEngineError_Bounded(t *testing.T) {
	in := apitest.Start(t, apitest.Config(t))
	admin := in.Admin(t)
	register(t, admin, "bigerr", fakeManager(t))

	status, text := admin.Do(http.MethodGet, "/api/v1/clusters/bigerr/services", nil, nil)
	if status < 500 {
		t.Fatalf("list services of an engine answering 500: %d %s", status, text)
	}
	if len(text) > 4096 {
		t.Errorf("the answer carries %d bytes of the engine's error, want at most 4096: %.200s...", len(text), text)
	}
	for _, line := range strings.Split(in.Logs.String(), "\n") {
		if len(line) > 8192 {
			t.Errorf("a log line of %d bytes: %.200s...", len(line), line)
		}
	}
}

package deploy_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// nginxRequestID is what nginx's $request_id looks like.
var nginxRequestID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// rawGet sends "GET path" as written (no client-side cleaning of the
// path) to addr and answers the status line's code, the headers and
// whether the body holds metrics.
func rawGet(t *testing.T, addr, path string, headers map[string]string) (int, http.Header, bool) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET " + path + " HTTP/1.1\r\nHost: swarmops.test\r\nConnection: close\r\n"
	for k, v := range headers {
		req += k + ": " + v + "\r\n"
	}
	if _, err := conn.Write([]byte(req + "\r\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
	return resp.StatusCode, resp.Header, strings.Contains(b.String(), "# TYPE go_goroutines")
}

// TestProxy_Hardening: behind the project's nginx config, no spelling of
// /metrics reaches the metrics, the request id is nginx's and not the
// client's, a client cannot make the session cookie Secure or not through
// scheme headers other than the one nginx sets, and every answer says
// nosniff once.
func TestProxy_Hardening(t *testing.T) {
	in := startInstance(t, "px-1", nil)
	in.waitReady(t)
	x := startNginx(t, in)

	// The instance itself serves exactly /metrics; nginx blocks that.
	if st, _, metrics := rawGet(t, in.Addr, "/metrics", nil); st != 200 || !metrics {
		t.Fatalf("GET /metrics on the instance: %d, metrics %v", st, metrics)
	}
	for _, p := range []string{
		"/metrics", "/metrics/", "/METRICS", "/Metrics", "/metrics%2F", "/metrics%2f", "/%6Detrics", "/%6detrics",
		"//metrics", "/./metrics", "/x/../metrics", "/metrics?x=1", "/metrics/.", "/metrics;", "/metrics%20",
	} {
		st, h, metrics := rawGet(t, x.Addr, p, nil)
		if st != 404 || metrics {
			t.Errorf("GET %s through nginx: %d, metrics %v; want 404 without metrics", p, st, metrics)
		}
		if got := h.Values("X-Content-Type-Options"); len(got) != 1 || got[0] != "nosniff" {
			t.Errorf("GET %s through nginx: X-Content-Type-Options %q, want nosniff once", p, got)
		}
	}

	claimed := fmt.Sprintf("client-chosen-%d", time.Now().UnixNano())
	st, h, _ := rawGet(t, x.Addr, "/api/v1/version", map[string]string{"X-Request-ID": claimed})
	if id := h.Get("X-Request-ID"); st != 200 || id == claimed || !nginxRequestID.MatchString(id) {
		t.Errorf("GET /api/v1/version through nginx: %d, X-Request-ID %q; want nginx's own $request_id, not %q", st, id, claimed)
	}
	if got := h.Values("X-Content-Type-Options"); len(got) != 1 || got[0] != "nosniff" {
		t.Errorf("GET /api/v1/version through nginx: X-Content-Type-Options %q, want nosniff once", got)
	}

	for _, claim := range []map[string]string{
		{"X-Forwarded-Ssl": "on"}, {"X-Url-Scheme": "https"}, {"X-Forwarded-Protocol": "https"}, {"X-Forwarded-Proto": "https"},
	} {
		st, _, h, err := do(httpClient, http.MethodPost, x.URL+"/api/v1/auth/login", session{},
			map[string]string{"username": "admin", "password": adminPassword}, claim)
		if err != nil || st != 200 {
			t.Fatalf("login through nginx with %v: %d %v", claim, st, err)
		}
		for _, c := range (&http.Response{Header: h}).Cookies() {
			if c.Name == "swarmops_session" && c.Secure {
				t.Errorf("login over plain HTTP through nginx with %v: the session cookie is Secure", claim)
			}
		}
	}
}

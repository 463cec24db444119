package httpapi_test

import (
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/config"
)

// rawGet sends a GET of a raw path (escapes kept as written) with headers.
func rawGet(t *testing.T, base, path string, headers map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// metricsLookalikes are paths a proxy's `location = /metrics` does not
// block; none of them may reach the metrics.
var metricsLookalikes = []string{
	"/metrics/", "/METRICS", "/Metrics", "/metricS", "/metrics%2F", "/metrics%2f", "/metrics/.",
	"/metrics/x", "/metrics.", "/metrics%20", "/metrics;", "/%4Detrics",
}

// TestRouting_MetricsOnlyAtItsPath: routing is strict and case-sensitive,
// so only /metrics itself answers metrics; with SWARMOPS_METRICS_LISTEN
// not even that, on the main listener: metrics are on their own address.
func TestRouting_MetricsOnlyAtItsPath(t *testing.T) {
	t.Parallel()
	isMetrics := func(body string) bool { return strings.Contains(body, "# TYPE go_goroutines") }
	refused := func(t *testing.T, base string, paths []string) {
		t.Helper()
		for _, p := range paths {
			resp, body := rawGet(t, base, p, nil)
			if resp.StatusCode != 404 || isMetrics(body) {
				t.Errorf("GET %s%s: %d, metrics %v; want 404 without metrics", base, p, resp.StatusCode, isMetrics(body))
			}
		}
	}

	t.Run("on the main listener", func(t *testing.T) {
		t.Parallel()
		in := apitest.Start(t, apitest.Config(t))
		if resp, body := rawGet(t, in.URL, "/metrics", nil); resp.StatusCode != 200 || !isMetrics(body) {
			t.Fatalf("GET /metrics: %d, metrics %v", resp.StatusCode, isMetrics(body))
		}
		refused(t, in.URL, metricsLookalikes)
	})

	t.Run("on SWARMOPS_METRICS_LISTEN only", func(t *testing.T) {
		t.Parallel()
		in := apitest.Start(t, apitest.Config(t, func(c *config.Config) { c.MetricsListen = "127.0.0.1:0" }))
		refused(t, in.URL, append([]string{"/metrics"}, metricsLookalikes...))
		m := "http://" + in.Server.MetricsAddr()
		resp, body := rawGet(t, m, "/metrics", nil)
		if resp.StatusCode != 200 || !isMetrics(body) || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("GET %s/metrics: %d, metrics %v, headers %v", m, resp.StatusCode, isMetrics(body), resp.Header)
		}
		refused(t, m, []string{"/metrics/", "/METRICS", "/", "/api/v1/version", "/healthz"})
	})

	t.Run("the API and the UI keep their paths", func(t *testing.T) {
		t.Parallel()
		in := apitest.Start(t, apitest.Config(t))
		for _, tc := range []struct {
			path string
			want int
		}{
			{"/healthz", 200}, {"/api/v1/version", 200}, {"/api/v1/openapi.json", 200}, {"/login", 200},
			{"/api/v1/clusters", 401}, {"/static/x/app.css", 200},
			{"/healthz/", 404}, {"/HEALTHZ", 404}, {"/api/v1/version/", 404}, {"/API/v1/version", 404},
			{"/api/v1/Version", 404}, {"/login/", 404}, {"/LOGIN", 404},
		} {
			if resp, body := rawGet(t, in.URL, tc.path, nil); resp.StatusCode != tc.want {
				t.Errorf("GET %s: %d, want %d: %.200s", tc.path, resp.StatusCode, tc.want, body)
			}
		}
	})
}

// TestHeaders_EveryAnswer: every answer says nosniff; HTML answers carry
// a Content-Security-Policy without inline script that forbids framing,
// and Referrer-Policy same-origin.
func TestHeaders_EveryAnswer(t *testing.T) {
	t.Parallel()
	in := apitest.Start(t, apitest.Config(t))
	for _, p := range []string{"/healthz", "/api/v1/version", "/api/v1/clusters", "/api/v1/nope", "/metrics", "/login", "/no-such-page"} {
		resp, _ := rawGet(t, in.URL, p, nil)
		h := resp.Header
		if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s (%d): X-Content-Type-Options %q, want nosniff", p, resp.StatusCode, got)
		}
		if !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			continue
		}
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") ||
			strings.Contains(csp, "unsafe-inline") || h.Get("Referrer-Policy") != "same-origin" {
			t.Errorf("GET %s (HTML, %d): CSP %q, Referrer-Policy %q", p, resp.StatusCode, csp, h.Get("Referrer-Policy"))
		}
	}
}

// TestForwarded_OnlyProtoFromTrustedProxies: the session cookie is Secure
// when a trusted proxy says X-Forwarded-Proto: https, and not for the
// other scheme headers fiber would otherwise believe (a proxy passes on
// whatever a client put in them), nor for anything an untrusted client
// says.
func TestForwarded_OnlyProtoFromTrustedProxies(t *testing.T) {
	t.Parallel()
	trusted := apitest.Start(t, apitest.Config(t, func(c *config.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	}))
	untrusted := apitest.Start(t, apitest.Config(t))
	for _, tc := range []struct {
		name   string
		in     *apitest.Instance
		header map[string]string
		secure bool
	}{
		{"X-Forwarded-Proto from a trusted proxy", trusted, map[string]string{"X-Forwarded-Proto": "https"}, true},
		{"X-Forwarded-Ssl", trusted, map[string]string{"X-Forwarded-Proto": "http", "X-Forwarded-Ssl": "on"}, false},
		{"X-Url-Scheme", trusted, map[string]string{"X-Url-Scheme": "https"}, false},
		{"X-Forwarded-Protocol", trusted, map[string]string{"X-Forwarded-Protocol": "https"}, false},
		{"X-Forwarded-Proto from anyone else", untrusted, map[string]string{"X-Forwarded-Proto": "https"}, false},
	} {
		headers := map[string]string{"Content-Type": "application/json"}
		for k, v := range tc.header {
			headers[k] = v
		}
		resp, body, err := tc.in.Anonymous(t).Raw(http.MethodPost, "/api/v1/auth/login",
			strings.NewReader(`{"username":"admin","password":"`+apitest.AdminPassword+`"}`), headers)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: login: %v %v %s", tc.name, resp, err, body)
		}
		var secure, found bool
		for _, c := range resp.Cookies() {
			if c.Name == "swarmops_session" {
				found, secure = true, c.Secure
			}
		}
		if !found || secure != tc.secure {
			t.Errorf("%s: session cookie found %v, Secure %v; want Secure %v", tc.name, found, secure, tc.secure)
		}
	}
}

package httpx

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/rs/zerolog"

	"github.com/swarmops/swarmops/internal/errs"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
		msg    string
		field  string
	}{
		{errs.Invalid("ports[1]", "expected host:container"), 400, "bad_request", "expected host:container", "ports[1]"},
		{fmt.Errorf("scale service %q: %w", "web", errs.NotFound("service %q not found", "web")), 404, "not_found", `service "web" not found`, ""},
		{errs.Locked(2*time.Second, "busy"), 423, "locked", "busy", ""},
		{errs.Unavailable(errors.New("dial tcp 10.0.0.1:6379: refused, password hunter2"), "store unavailable"), 503, "unavailable", "store unavailable", ""},
		{errs.Engine(errors.New("x"), "engine said no"), 502, "engine_error", "engine said no", ""},
		// Bare sentinels answer their generic text; internal errors never
		// show their cause.
		{fmt.Errorf("read: %w", errs.ErrConflict), 409, "conflict", "conflict", ""},
		{errors.New("pq: password authentication failed for hunter2"), 500, "internal", "internal error", ""},
	} {
		status, body, _ := Classify(tc.err)
		if status != tc.status || body.Code != tc.code || !strings.HasPrefix(body.Message, tc.msg) {
			t.Errorf("Classify(%v) = %d %s %q, want %d %s %q", tc.err, status, body.Code, body.Message, tc.status, tc.code, tc.msg)
		}
		if strings.Contains(body.Message, "hunter2") {
			t.Errorf("Classify(%v) shows the cause: %q", tc.err, body.Message)
		}
		if got, _ := body.Details["field"].(string); got != tc.field {
			t.Errorf("Classify(%v) field %q, want %q", tc.err, got, tc.field)
		}
	}
}

// TestClientIP: X-Forwarded-For counts only from trusted proxies, read
// from the right, so a client cannot choose its address.
func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")} // the test's own address is the proxy
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		xff     string
		want    string
	}{
		{"untrusted proxy is ignored", nil, "203.0.113.9", "0.0.0.0"},
		{"trusted proxy, one hop", trusted, "203.0.113.9", "203.0.113.9"},
		{"client-made prefix skipped", []netip.Prefix{netip.MustParsePrefix("0.0.0.0/32"), netip.MustParsePrefix("10.0.0.0/8")}, "1.2.3.4, 203.0.113.9, 10.0.0.7", "203.0.113.9"},
		{"garbage falls back to the peer", trusted, "not-an-ip", "0.0.0.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := New(Options{Instance: "t", TrustedProxies: tc.trusted, Log: zerolog.Nop()})
			app.Get("/", func(c *fiber.Ctx) error { return c.SendString(ClientIP(c)) })
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set("X-Forwarded-For", tc.xff)
			resp, err := app.Test(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if string(b) != tc.want {
				t.Errorf("client IP %q, want %q", b, tc.want)
			}
		})
	}
}

func TestRequestID_OnlyFromTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		trusted []netip.Prefix
		keep    bool
	}{{nil, false}, {[]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}, true}} {
		app := New(Options{Instance: "i-1", TrustedProxies: tc.trusted, Log: zerolog.Nop()})
		app.Get("/", func(c *fiber.Ctx) error { return c.SendString(RequestID(c)) })
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("X-Request-ID", "from-outside")
		resp, err := app.Test(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if (string(b) == "from-outside") != tc.keep || resp.Header.Get(HeaderInstance) != "i-1" {
			t.Errorf("trusted=%v: request id %q, instance %q", tc.trusted, b, resp.Header.Get(HeaderInstance))
		}
	}
}

func TestBindJSON(t *testing.T) {
	type body struct {
		Name  string   `json:"name"`
		Count int      `json:"count"`
		Tags  []string `json:"tags"`
	}
	for _, tc := range []struct {
		in, field string
	}{
		{`{"name":"a","count":1}`, ""},
		{``, "body"},
		{`{"name":`, "body"},
		{`{"name":"a"} {"name":"b"}`, "body"},
		{`{"nmae":"a"}`, "nmae"},
		{`{"count":"one"}`, "count"},
		{`{"tags":"x"}`, "tags"},
		{`[1]`, "body"},
	} {
		app := fiber.New(fiber.Config{ErrorHandler: ErrorHandler(zerolog.Nop())})
		app.Post("/", func(c *fiber.Ctx) error {
			var b body
			if err := BindJSON(c, &b); err != nil {
				return err
			}
			return c.SendStatus(204)
		})
		req := httptest.NewRequest("POST", "/", strings.NewReader(tc.in))
		req.Header.Set("Content-Type", "application/json")
		resp, err := app.Test(req)
		if err != nil {
			t.Fatal(err)
		}
		text, _ := io.ReadAll(resp.Body)
		switch {
		case tc.field == "" && resp.StatusCode != 204:
			t.Errorf("%s: %d %s", tc.in, resp.StatusCode, text)
		case tc.field != "" && (resp.StatusCode != 400 || !strings.Contains(string(text), `"field":"`+tc.field+`"`)):
			t.Errorf("%s: %d %s, want 400 naming %s", tc.in, resp.StatusCode, text, tc.field)
		}
	}
}

func TestWriteItem_SSELinesCannotForgeEvents(t *testing.T) {
	var b strings.Builder
	w := bufio.NewWriter(&b)
	writeItem(w, true, StreamItem{Data: "a\rb\r\nc\nd"})
	_ = w.Flush()
	if got, want := b.String(), "data: a\ndata: b\ndata: c\ndata: d\n\n"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}

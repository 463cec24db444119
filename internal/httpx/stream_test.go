package httpx

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/rs/zerolog"

	"github.com/swarmops/swarmops/internal/errs"
)

// serve runs app on a loopback port until the test ends and answers its
// address.
func serve(t *testing.T, app *fiber.App) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.ShutdownWithTimeout(5 * time.Second) })
	return ln.Addr().String()
}

// TestStream_WriteDeadlineCutsAStalledClient: a client that stops reading
// does not hold a stream (and what feeds it) forever: the write deadline
// ends it.
func TestStream_WriteDeadlineCutsAStalledClient(t *testing.T) {
	done := make(chan struct{})
	var sent atomic.Int64
	app := New(Options{Log: zerolog.Nop(), Streams: StreamLimits{WriteTimeout: 300 * time.Millisecond}})
	line := strings.Repeat("x", 32<<10)
	app.Get("/s", func(c *fiber.Ctx) error {
		return Stream(c, StreamOptions{}, func(ctx context.Context, out chan<- StreamItem) error {
			defer close(done)
			for {
				select {
				case out <- StreamItem{Data: line}:
					sent.Add(1)
				case <-ctx.Done():
					return nil
				}
			}
		})
	})
	addr := serve(t, app)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	if _, err := io.WriteString(conn, "GET /s HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// The client reads nothing from here on.
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the stream to a client that reads nothing still runs after 30s (%d lines of 32 KiB sent)", sent.Load())
	}
}

// TestStream_RecheckEndsTheStream: a stream whose caller no longer checks
// out ends with the reason (an `end` event, or a last text line); a check
// that fails once for another reason does not end it, twice does.
func TestStream_RecheckEndsTheStream(t *testing.T) {
	app := New(Options{Log: zerolog.Nop(), Streams: StreamLimits{RecheckEvery: 50 * time.Millisecond}})
	// Each stream sends "tick" lines for a second, then ends by itself.
	checks := map[string]func(n int) error{
		"revoked": func(n int) error {
			if n >= 2 {
				return errs.Unauthorized("invalid or revoked API token")
			}
			return nil
		},
		"blink": func(n int) error {
			if n == 2 {
				return errs.Unavailable(errors.New("dial"), "store unavailable")
			}
			return nil
		},
		"down": func(n int) error {
			if n >= 2 {
				return errs.Unavailable(errors.New("dial"), "store unavailable")
			}
			return nil
		},
	}
	app.Get("/:check", func(c *fiber.Ctx) error {
		check := checks[c.Params("check")]
		var n atomic.Int64
		o := StreamOptions{SSE: WantsSSE(c), Recheck: func(context.Context) error { return check(int(n.Add(1))) }}
		return Stream(c, o, func(ctx context.Context, out chan<- StreamItem) error {
			end := time.After(time.Second)
			for {
				select {
				case <-time.After(20 * time.Millisecond):
					out <- StreamItem{Data: "tick"}
				case <-end:
					return nil
				case <-ctx.Done():
					return nil
				}
			}
		})
	})
	base := "http://" + serve(t, app)
	for _, tc := range []struct {
		path string
		sse  bool
		want string // the end of the answer
	}{
		{"/revoked", true, "event: end\ndata: invalid or revoked API token\n\n"},
		{"/revoked", false, "tick\n\n[stream ended: invalid or revoked API token]\n"},
		{"/down", true, "event: end\ndata: store unavailable\n\n"},
		{"/blink", true, "data: tick\n\n"},
	} {
		req, _ := http.NewRequest(http.MethodGet, base+tc.path, nil)
		if tc.sse {
			req.Header.Set("Accept", "text/event-stream")
		}
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", tc.path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("GET %s: %v", tc.path, err)
		}
		if !strings.HasSuffix(string(b), tc.want) || strings.Count(string(b), "event: end") > 1 {
			t.Errorf("GET %s (sse %v) ended %q; want it to end %q", tc.path, tc.sse, string(b)[max(0, len(b)-120):], tc.want)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", tc.path)
		}
	}
}

// TestStream_OutlivesTheReadTimeout: the deadline for reading the request
// does not end a stream that runs longer.
func TestStream_OutlivesTheReadTimeout(t *testing.T) {
	app := New(Options{Log: zerolog.Nop(), ReadTimeout: 200 * time.Millisecond})
	app.Get("/s", func(c *fiber.Ctx) error {
		return Stream(c, StreamOptions{}, func(ctx context.Context, out chan<- StreamItem) error {
			for i := 0; i < 10; i++ {
				select {
				case <-time.After(100 * time.Millisecond):
				case <-ctx.Done():
					return nil
				}
				out <- StreamItem{Data: fmt.Sprintf("line %d", i)}
			}
			return nil
		})
	})
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + serve(t, app) + "/s")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasSuffix(string(b), "line 9\n") {
		t.Fatalf("a 1s stream with a 200ms read timeout answered %q; want lines 0 to 9", b)
	}
}

// TestStreamSlots: limits per user and per instance, freed once.
func TestStreamSlots(t *testing.T) {
	s := newStreamSlots(StreamLimits{PerUser: 2, PerInstance: 3})
	a1, err := s.acquire("ann")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.acquire("ann"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.acquire("ann"); !errors.Is(err, errs.ErrRateLimited) {
		t.Fatalf("ann's third: %v, want rate limited", err)
	}
	if _, err := s.acquire("bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.acquire("bob"); !errors.Is(err, errs.ErrRateLimited) {
		t.Fatalf("the instance's fourth: %v, want rate limited", err)
	}
	a1.release()
	a1.release() // once only
	if _, err := s.acquire("bob"); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	if _, err := s.acquire("cid"); !errors.Is(err, errs.ErrRateLimited) {
		t.Fatalf("a second release freed a second slot: %v", err)
	}
}

// TestStream_HeartbeatPerApp: each app beats at its own StreamLimits
// heartbeat, set when it is made; two apps serving at once do not share it.
func TestStream_HeartbeatPerApp(t *testing.T) {
	idle := func(c *fiber.Ctx) error {
		return Stream(c, StreamOptions{SSE: true}, func(ctx context.Context, _ chan<- StreamItem) error {
			<-ctx.Done()
			return nil
		})
	}
	fast := New(Options{Log: zerolog.Nop(), Streams: StreamLimits{Heartbeat: 20 * time.Millisecond}})
	fast.Get("/s", idle)
	quiet := New(Options{Log: zerolog.Nop(), Streams: StreamLimits{Heartbeat: time.Hour}})
	quiet.Get("/s", idle)
	open := func(addr string) <-chan string {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/s", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		out := make(chan string, 1024)
		go func() {
			defer close(out)
			br := bufio.NewReader(resp.Body)
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return
				}
				out <- strings.TrimSpace(l)
			}
		}()
		return out
	}
	next := func(lines <-chan string, what string) string {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("%s: stream ended", what)
			}
			return l
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no line within 10s", what)
		}
		return ""
	}
	quietLines := open(serve(t, quiet))
	if l := next(quietLines, "the quiet app's stream"); l != ": stream open" {
		t.Fatalf("the quiet app's stream began %q, want \": stream open\"", l)
	}
	fastLines := open(serve(t, fast))
	for pings := 0; pings < 3; {
		switch l := next(fastLines, "the fast app's stream (heartbeat 20ms)"); l {
		case ": ping":
			pings++
		case "", ": stream open":
		default:
			t.Fatalf("the fast app's stream said %q", l)
		}
	}
	// Three 20ms beats on one app; none on the other, whose beat is an hour.
	for drained := false; !drained; {
		select {
		case l, ok := <-quietLines:
			if !ok {
				t.Fatal("the quiet app's stream ended while the fast one beat")
			}
			if l != "" {
				t.Fatalf("the quiet app's stream (heartbeat 1h) said %q while the fast one beat", l)
			}
		default:
			drained = true
		}
	}
}

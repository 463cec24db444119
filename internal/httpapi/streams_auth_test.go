package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/config"
	"github.com/swarmops/swarmops/internal/testenv"
)

// stream is an open event or log stream of a client.
type stream struct {
	resp  *http.Response
	lines <-chan string
	close context.CancelFunc
}

// tryStream opens a GET that stays open with c's session or token, and
// answers the stream when the status is 200, else the status and body.
func tryStream(t *testing.T, c *apitest.Client, path string, sse bool) (*stream, int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var accept map[string]string
	if sse {
		accept = map[string]string{"Accept": "text/event-stream"}
	}
	resp, err := c.Open(ctx, path, accept)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		return nil, resp.StatusCode, string(b)
	}
	s := &stream{resp: resp, lines: lines(resp.Body), close: func() { cancel(); resp.Body.Close() }}
	t.Cleanup(s.close)
	return s, 200, ""
}

// mustStream is tryStream, failing unless the stream opens.
func mustStream(t *testing.T, c *apitest.Client, path string, sse bool) *stream {
	t.Helper()
	s, status, body := tryStream(t, c, path, sse)
	if s == nil {
		t.Fatalf("GET %s: %d %s, want an open stream", path, status, body)
	}
	return s
}

// endsWithin reads s until it says why it ended (an `end` event, or the
// last line of a text stream) and the connection closes, failing after
// timeout; it answers the reason.
func (s *stream) endsWithin(t *testing.T, timeout time.Duration, sse bool) string {
	t.Helper()
	want := "[stream ended: "
	if sse {
		want = "event: end"
	}
	seen := readUntil(t, s.lines, want, timeout)
	reason := strings.TrimSuffix(strings.TrimPrefix(seen[len(seen)-1], want), "]")
	if sse {
		reason = strings.TrimPrefix(readUntil(t, s.lines, "data: ", time.Second)[0], "data: ")
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				return reason
			}
			if l != "" {
				t.Fatalf("line %q after the stream said it ended (%q)", l, reason)
			}
		case <-deadline:
			t.Fatalf("the stream said it ended (%q) but its connection stayed open for 5s", reason)
		}
	}
}

// TestStreams_EndWhenCredentialsAreTakenBack: an event or log stream
// re-checks its caller while it is open, and ends, saying why, within 10s
// of a logout, the user's removal, a new password or the token's
// revocation; the stream of a user who keeps their rights goes on.
func TestStreams_EndWhenCredentialsAreTakenBack(t *testing.T) {
	swm, in, admin := sharedCluster(t, "sa")
	m := swm.Managers[0]
	admin.MustDo(http.MethodPost, "/api/v1/clusters/sa/services", map[string]any{
		"name": "sa-logs", "image": testenv.HelloImage1, "replicas": 1, "env": []string{"HELLO_LINES=3"},
	}, nil, 201)
	removeAfter(t, m, "sa-logs")
	const (
		events = "/api/v1/clusters/sa/events"
		logs   = "/api/v1/clusters/sa/services/sa-logs/logs?follow=true&tail=all"
	)
	// The bound of the contract (10s), and time for the answer to travel.
	const bound = 12 * time.Second

	keep := in.UserWithRole(t, admin, "sa-keep", "viewer")
	kept := mustStream(t, keep, events, true)
	readUntil(t, kept.lines, ": stream open", 10*time.Second)
	// The log stream is open once the service has written to it.
	testenv.Poll(t, 2*time.Minute, "the service's third log line", func() error {
		status, text := admin.Do(http.MethodGet, "/api/v1/clusters/sa/services/sa-logs/logs", nil, nil)
		if status != 200 || !strings.Contains(text, "line 3") {
			return fmt.Errorf("%d %q", status, text)
		}
		return nil
	})

	cases := []struct {
		name, path string
		sse        bool
		token      bool
		takeBack   func(admin, user *apitest.Client, name string)
		reason     string
	}{
		{"logout ends a session's event stream", events, true, false, func(_, u *apitest.Client, _ string) {
			u.MustDo(http.MethodPost, "/api/v1/auth/logout", nil, nil, 204)
		}, "session"},
		{"removing the user ends a token's log stream", logs, false, true, func(a, _ *apitest.Client, name string) {
			a.MustDo(http.MethodDelete, "/api/v1/users/"+name, nil, nil, 204)
		}, "token"},
		{"removing the user ends a session's log stream", logs, false, false, func(a, _ *apitest.Client, name string) {
			a.MustDo(http.MethodDelete, "/api/v1/users/"+name, nil, nil, 204)
		}, "session"},
		{"a new password ends a session's event stream", events, true, false, func(a, _ *apitest.Client, name string) {
			a.MustDo(http.MethodPatch, "/api/v1/users/"+name, map[string]string{"password": "another-password-1"}, nil, 200)
		}, "session"},
		{"revoking the token ends its event stream", events, true, true, func(_, u *apitest.Client, _ string) {
			u.MustDo(http.MethodDelete, "/api/v1/tokens/sa-stream", nil, nil, 204)
		}, "token"},
	}
	// In a group, so that every case has ended before what follows.
	t.Run("group", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				adm := in.Admin(t)
				name := fmt.Sprintf("sa-u%d", time.Now().UnixNano()%1e9)
				user := in.UserWithRole(t, adm, name, "viewer")
				reader := user
				if tc.token {
					reader = user.WithToken("sa-stream")
				}
				s := mustStream(t, reader, tc.path, tc.sse)
				if tc.sse {
					readUntil(t, s.lines, ": stream open", 10*time.Second)
				} else {
					readUntil(t, s.lines, "line 3", 30*time.Second)
				}
				tc.takeBack(adm, user, name)
				reason := s.endsWithin(t, bound, tc.sse)
				if !strings.Contains(reason, tc.reason) {
					t.Errorf("the stream ended saying %q; want the reason (%q)", reason, tc.reason)
				}
			})
		}
	})
	// The viewer who kept their rights still gets events, after every
	// other stream ended.
	admin.MustDo(http.MethodPost, "/api/v1/clusters/sa/services/sa-logs/scale", map[string]any{"replicas": 0}, nil, 200)
	for _, l := range readUntil(t, kept.lines, "event: service", 30*time.Second) {
		if strings.HasPrefix(l, "event: end") {
			t.Fatalf("the stream of a viewer who kept their rights ended: %q", l)
		}
	}
}

// TestStreams_Limits: one user holds at most SWARMOPS_STREAMS_PER_USER
// streams on an instance and the instance SWARMOPS_STREAMS_PER_INSTANCE;
// past them a new stream answers 429 with Retry-After, and a stream that
// ends frees its slot.
func TestStreams_Limits(t *testing.T) {
	_, in, admin := sharedCluster(t, "sl", func(c *config.Config) { c.StreamsPerUser, c.StreamsPerInstance = 2, 3 })
	const events = "/api/v1/clusters/sl/events"
	ann := in.UserWithRole(t, admin, "sl-ann", "viewer")
	bob := in.UserWithRole(t, admin, "sl-bob", "viewer")

	a1 := mustStream(t, ann, events, true)
	mustStream(t, ann.WithToken("sl-ann"), events, true) // a token counts for its user
	_, status, body := tryStream(t, ann, events, true)
	if status != 429 || !strings.Contains(body, "SWARMOPS_STREAMS_PER_USER") {
		t.Fatalf("ann's third stream: %d %s; want 429 naming the per-user limit", status, body)
	}
	// A refused stream, or a logs request that fails before streaming,
	// holds no slot: bob still gets the instance's third.
	for i := 0; i < 3; i++ {
		admin.MustDo(http.MethodGet, "/api/v1/clusters/sl/services/nope/logs", nil, nil, 404)
	}
	mustStream(t, bob, events, true)
	_, status, body = tryStream(t, bob, events, true)
	if status != 429 || !strings.Contains(body, "SWARMOPS_STREAMS_PER_INSTANCE") {
		t.Fatalf("the instance's fourth stream: %d %s; want 429 naming the per-instance limit", status, body)
	}
	resp, _, err := bob.Raw(http.MethodGet, events, nil, map[string]string{"Accept": "text/event-stream"})
	if err != nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("429 without Retry-After: %v %v", resp, err)
	}
	a1.close()
	testenv.Poll(t, 10*time.Second, "bob's second stream, once ann closed one", func() error {
		s, status, body := tryStream(t, bob, events, true)
		if s == nil {
			return fmt.Errorf("%d %s", status, body)
		}
		return nil
	})
}

// TestServices_LogsTail: a logs request without tail answers the last 1000
// lines, tail=all the last SWARMOPS_LOG_TAIL_MAX, and a larger tail is
// refused naming the field and the bound.
func TestServices_LogsTail(t *testing.T) {
	swm, _, admin := sharedCluster(t, "lt", func(c *config.Config) { c.LogTailMax = 1100 })
	m := swm.Managers[0]
	admin.MustDo(http.MethodPost, "/api/v1/clusters/lt/services", map[string]any{
		"name": "lt", "image": testenv.HelloImage1, "replicas": 1, "env": []string{"HELLO_LINES=1200"},
	}, nil, 201)
	removeAfter(t, m, "lt")
	const path = "/api/v1/clusters/lt/services/lt/logs"
	testenv.Poll(t, 2*time.Minute, "the service's 1200th log line", func() error {
		status, text := admin.Do(http.MethodGet, path+"?tail=5", nil, nil)
		if status != 200 || !strings.Contains(text, "line 1200") {
			return fmt.Errorf("%d %q", status, text)
		}
		return nil
	})
	count := func(q string) int {
		t.Helper()
		return strings.Count(strings.TrimSpace(admin.MustDo(http.MethodGet, path+q, nil, nil, 200)), "\n") + 1
	}
	for _, tc := range []struct {
		query string
		want  int
	}{{"", 1000}, {"?tail=all", 1100}, {"?tail=1100", 1100}, {"?tail=7", 7}} {
		if got := count(tc.query); got != tc.want {
			t.Errorf("logs%s: %d lines, want %d", tc.query, got, tc.want)
		}
	}
	for _, q := range []string{"?tail=1101", "?tail=99999999999", "?tail=-1"} {
		status, body := admin.Do(http.MethodGet, path+q, nil, nil)
		e := apitest.ParseError(t, body)
		if status != 400 || e.Error.Details["field"] != "tail" || !strings.Contains(e.Error.Message, "1100") {
			t.Errorf("logs%s: %d %s; want 400 naming tail and its bound", q, status, body)
		}
	}
}

package deploy_test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/testenv"
)

// TestHA runs three SwarmOps processes in redis mode behind nginx with the
// project's deploy/nginx/swarmops.conf, and shows what a user of the proxy
// sees while Redis and instances fail.
func TestHA(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server, nginx and three SwarmOps processes")
	}
	r := testenv.NewRedis(t, "ha-redis-password")
	env := redisEnv(t, r, "ha-test:")
	ins := []*instance{startInstance(t, "ha-1", env), startInstance(t, "ha-2", env), startInstance(t, "ha-3", env)}
	for _, in := range ins {
		in.waitReady(t)
	}
	x := startNginx(t, ins...)
	s := mustLogin(t, x.URL)
	outer := t // what lives as long as TestHA

	// Metrics stay on the instances; the public side does not show them.
	if st, _, _, err := get(x.URL+"/metrics", ""); err != nil || st != http.StatusNotFound {
		t.Errorf("/metrics through nginx: status %d, err %v; want 404", st, err)
	}

	t.Run("SessionReachesEveryInstance", func(t *testing.T) {
		seen := map[string]int{}
		for i := 0; i < 300; i++ {
			st, body, h, err := get(x.URL+"/api/v1/auth/me", s.Cookie)
			if err != nil || st != 200 {
				t.Fatalf("request %d through nginx: status %d, err %v, body %s", i, st, err, body)
			}
			seen[h.Get("X-SwarmOps-Instance")]++
		}
		for _, in := range ins {
			if seen[in.ID] == 0 {
				t.Errorf("no answer of 300 came from %s: %v", in.ID, seen)
			}
		}
		t.Logf("300 requests with one session cookie, answered by: %v", seen)
	})

	t.Run("ForwardedHeadersBelievedFromTheProxyOnly", func(t *testing.T) {
		// The client connects from 127.0.0.2 and claims another address;
		// nginx sets X-Forwarded-For to the address it saw, and the
		// instances believe nginx (127.0.0.1, SWARMOPS_TRUSTED_PROXIES).
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext,
		}}
		claimed := fmt.Sprintf("xff-%d", time.Now().UnixNano())
		st, body, h, err := do(client, http.MethodGet, x.URL+"/api/v1/auth/me", s, nil,
			map[string]string{"X-Forwarded-For": "203.0.113.9", "X-Request-ID": claimed})
		if err != nil || st != 200 {
			t.Fatalf("GET /auth/me from 127.0.0.2: %d %v %s", st, err, body)
		}
		// The request id is nginx's own, not the client's choice.
		id := h.Get("X-Request-ID")
		if id == claimed || !nginxRequestID.MatchString(id) {
			t.Errorf("X-Request-ID answered %q, want nginx's own $request_id (32 hex digits), not the client's %q", id, claimed)
		}
		served := h.Get("X-SwarmOps-Instance")
		var log string
		for _, in := range ins {
			if in.ID == served {
				log = in.Log
			}
		}
		var ip any
		testenv.Poll(t, 5*time.Second, "the access-log line of request "+id+" in "+served+"'s log", func() error {
			for _, l := range logLines(log) {
				if l["request_id"] == id && l["message"] == "request" {
					ip = l["ip"]
					return nil
				}
			}
			return errNotYet
		})
		if ip != "127.0.0.2" {
			t.Errorf("access log of %s has ip %v, want 127.0.0.2 (the address nginx saw, not the client's claim 203.0.113.9 nor nginx's own)", served, ip)
		}
	})

	t.Run("LogoutEndsTheSessionEverywhere", func(t *testing.T) {
		s2 := mustLogin(t, x.URL)
		for _, in := range ins {
			if st, body, _, err := get(in.URL+"/api/v1/auth/me", s2.Cookie); err != nil || st != 200 {
				t.Fatalf("before logout, %s: %d %v %s", in.ID, st, err, body)
			}
		}
		st, body, _, err := do(httpClient, http.MethodPost, x.URL+"/api/v1/auth/logout", s2, nil, nil)
		if err != nil || st != 204 {
			t.Fatalf("logout through nginx: %d %v %s", st, err, body)
		}
		for _, in := range ins {
			st, body, _, err := get(in.URL+"/api/v1/auth/me", s2.Cookie)
			if err != nil || st != 401 {
				t.Errorf("after logout, %s answered %d %v %s; want 401", in.ID, st, err, body)
			}
		}
	})

	t.Run("InstancesDieUnderLoad", func(t *testing.T) {
		l := startLoad(x.URL, s, "/api/v1/auth/me", "/api/v1/clusters")
		defer l.Stop()
		// Start once every instance carries load, so that what follows
		// tests nginx moving it away.
		l.waitServedBy(t, ins...)

		// A crash: no goodbye, connections reset.
		ins[0].Kill()
		if err := ins[0].Wait(10 * time.Second); err != nil {
			t.Fatalf("%s after SIGKILL: %v", ins[0].ID, err)
		}
		l.waitMore(t, 300)

		// A graceful stop: /readyz fails at once while requests are still
		// served during the drain, then the process exits cleanly.
		term := ins[1]
		l.waitServedBy(t, ins[1:]...)
		term.Term()
		sawDraining := false
		for term.Running() && !sawDraining {
			st, body, _, err := get(term.URL+"/readyz", "")
			if err == nil && st == 503 && strings.Contains(string(body), "shutting down") {
				sawDraining = true
				if st, body, _, err := get(term.URL+"/api/v1/auth/me", s.Cookie); err != nil || st != 200 {
					t.Errorf("%s refused a request during its drain: %d %v %s", term.ID, st, err, body)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !sawDraining {
			t.Errorf("%s never answered /readyz 503 \"shutting down\" before it exited", term.ID)
		}
		if err := term.Wait(45 * time.Second); err != nil {
			t.Fatalf("%s after SIGTERM: %v", term.ID, err)
		}
		if term.err != nil {
			t.Errorf("%s exited with %v after SIGTERM; want status 0\n%s", term.ID, term.err, tailFile(term.Log, 2000))
		}
		if !slices.ContainsFunc(logLines(term.Log), func(m map[string]any) bool { return m["message"] == "stopped" }) {
			t.Errorf("%s did not log its clean stop", term.ID)
		}
		l.waitMore(t, 300)
		all := l.Stop()
		if n, ex := failures(all, 10); n > 0 {
			t.Errorf("%d of %d reads through nginx failed while instances died:\n%s", n, len(all), strings.Join(ex, "\n"))
		}
		by := map[string]int{}
		for _, r := range all {
			by[r.instance]++
		}
		t.Logf("%d reads through nginx, all answered: %v", len(all), by)
	})

	t.Run("RestartedInstancesServeAgain", func(t *testing.T) {
		// What an orchestrator does: new processes at the same addresses,
		// which nginx takes back once they answer (within fail_timeout).
		ins[0], ins[1] = ins[0].restart(outer), ins[1].restart(outer)
		for _, in := range ins {
			in.waitReady(t)
		}
		l := startLoad(x.URL, s, "/api/v1/auth/me")
		defer l.Stop()
		l.waitServedBy(t, ins...)
		if n, ex := failures(l.Stop(), 10); n > 0 {
			t.Errorf("%d reads failed while the instances came back:\n%s", n, strings.Join(ex, "\n"))
		}
	})

	t.Run("RedisOutage", func(t *testing.T) {
		l := startLoad(x.URL, s, "/api/v1/auth/me", "/api/v1/clusters")
		defer l.Stop()
		l.waitMore(t, 50)
		down := time.Now()
		if err := r.Stop(); err != nil {
			t.Fatalf("stop redis: %v", err)
		}
		// Requests started after Redis went away answer 503 with the API's
		// error body naming the store, never anything else.
		testenv.Poll(t, 20*time.Second, "503 answers through nginx while Redis is down", func() error {
			n := 0
			for _, r := range l.since(down) {
				if r.status == 503 {
					n++
				}
			}
			if n < 20 {
				return fmt.Errorf("%d so far", n)
			}
			return nil
		})
		for _, in := range ins {
			if !in.Running() {
				t.Fatalf("%s exited while Redis was down: %v\n%s", in.ID, in.err, tailFile(in.Log, 2000))
			}
			if st, body, _, err := get(in.URL+"/healthz", ""); err != nil || st != 200 {
				t.Errorf("%s /healthz while Redis is down: %d %v %s; want 200 (alive)", in.ID, st, err, body)
			}
			st, body, _, err := get(in.URL+"/readyz", "")
			if err != nil || st != 503 || !strings.Contains(string(body), "redis") {
				t.Errorf("%s /readyz while Redis is down: %d %v %s; want 503 naming redis", in.ID, st, err, body)
			}
		}
		if err := r.Start(); err != nil {
			t.Fatalf("start redis: %v", err)
		}
		up := time.Now()
		// Recovery: every instance ready and the session valid again within
		// 5 s of Redis answering, without restarting anything.
		recoverWithin(t, up, 5*time.Second, "Redis accepted connections again",
			"every instance's /readyz 200 and GET /api/v1/auth/me 200 through nginx", func(c *http.Client) error {
				var seen []string
				for _, in := range ins {
					if st, body, _, err := do(c, http.MethodGet, in.URL+"/readyz", session{}, nil, nil); err != nil || st != 200 {
						seen = append(seen, fmt.Sprintf("%s /readyz: %d %v %.200s", in.ID, st, err, body))
					}
				}
				if st, body, _, err := do(c, http.MethodGet, x.URL+"/api/v1/auth/me", s, nil, nil); err != nil || st != 200 {
					seen = append(seen, fmt.Sprintf("/api/v1/auth/me through nginx: %d %v %.200s", st, err, body))
				}
				if len(seen) > 0 {
					return errors.New(strings.Join(seen, "; "))
				}
				return nil
			})
		green := time.Now()
		l.waitMore(t, 200)
		all := l.Stop()

		var ok, unavailable int
		var wrong []string
		for _, r := range all {
			switch {
			case r.err == nil && r.status == 200:
				ok++
			case r.err == nil && r.status == 503 && r.start.After(down) && r.start.Before(green):
				p, isProblem := parseProblem([]byte(r.body))
				if !isProblem || p.Error.Code != "unavailable" || !strings.Contains(p.Error.Message, "store unavailable") {
					wrong = append(wrong, fmt.Sprintf("503 without the store's message: %.200s", r.body))
				}
				unavailable++
			default:
				wrong = append(wrong, fmt.Sprintf("%s: status %d err %v instance %q body %.200s",
					r.start.Format("15:04:05.000"), r.status, r.err, r.instance, r.body))
			}
		}
		if len(wrong) > 0 {
			t.Errorf("%d answers that are neither 200 nor a 503 naming the store during the outage, e.g.:\n%s",
				len(wrong), strings.Join(wrong[:min(len(wrong), 10)], "\n"))
		}
		if n, ex := failures(l.since(green), 10); n > 0 {
			t.Errorf("%d failures after recovery:\n%s", n, strings.Join(ex, "\n"))
		}
		t.Logf("%d reads: %d ok, %d 503 while Redis was down", len(all), ok, unavailable)
		for _, in := range ins {
			if !in.Running() {
				t.Errorf("%s exited: %v", in.ID, in.err)
			}
		}
	})
}

// TestRedisDownAtStart starts an instance while its Redis is down (a
// first deployment where Redis comes up last): it must serve, say why it
// is not ready, and become usable within 5 s of Redis answering, without
// a restart.
func TestRedisDownAtStart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server and SwarmOps")
	}
	r := testenv.NewRedis(t, "start-redis-password")
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	in := startInstance(t, "late-redis", redisEnv(t, r, "late-redis:"))
	testenv.WaitHTTP(t, in.URL+"/healthz", 20*time.Second)
	st, body, _, err := get(in.URL+"/readyz", "")
	if err != nil || st != 503 || !strings.Contains(string(body), "redis") {
		t.Errorf("/readyz without Redis: %d %v %s; want 503 naming redis", st, err, body)
	}
	st, body, _, err = do(httpClient, http.MethodPost, in.URL+"/api/v1/auth/login", session{},
		map[string]string{"username": "admin", "password": adminPassword}, nil)
	if p, ok := parseProblem(body); err != nil || st != 503 || !ok || p.Error.Code != "unavailable" || !strings.Contains(p.Error.Message, "store unavailable") {
		t.Errorf("login without Redis: %d %v %s; want 503 unavailable naming the store", st, err, body)
	}
	// Let the start (the store's schema check, then the first admin) fail
	// a few times, as it does when Redis takes a while (a first deployment
	// pulling its image).
	testenv.Poll(t, 30*time.Second, "4 failed attempts to check the store in the log", func() error {
		n := 0
		for _, l := range logLines(in.Log) {
			if l["message"] == "cannot check the store's schema yet" {
				n++
			}
		}
		if n < 4 {
			return fmt.Errorf("%d so far", n)
		}
		return nil
	})
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	// Polled through /readyz and the log, not by logging in: failed logins
	// (no admin yet) count towards the login throttle.
	recoverWithin(t, up, 5*time.Second, "Redis accepted connections", "/readyz 200 and the first admin's creation in the log", func(c *http.Client) error {
		var seen []string
		if st, body, _, err := do(c, http.MethodGet, in.URL+"/readyz", session{}, nil, nil); err != nil || st != 200 {
			seen = append(seen, fmt.Sprintf("/readyz: %d %v %.200s", st, err, body))
		}
		if !slices.ContainsFunc(logLines(in.Log), func(m map[string]any) bool {
			return strings.HasPrefix(fmt.Sprint(m["message"]), "created user admin")
		}) {
			seen = append(seen, "no \"created user admin\" line in the log yet")
		}
		if len(seen) > 0 {
			return errors.New(strings.Join(seen, "; "))
		}
		return nil
	})
	if _, err := login(in.URL); err != nil {
		t.Errorf("first admin cannot log in: %v", err)
	}
	if !in.Running() {
		t.Errorf("instance exited: %v", in.err)
	}
}

// recoverWithin checks a promise of recovery within limit of an event at
// since ("ready within 5 s of Redis answering"). It calls check every
// 100 ms, with a client whose requests give up after a second, and returns
// once a check that began by since+limit answers nil. Otherwise it
// fails the test saying what it waited for, after what, for how long, how
// many checks it made, and what the last one saw.
func recoverWithin(t *testing.T, since time.Time, limit time.Duration, event, what string, check func(c *http.Client) error) {
	t.Helper()
	c := &http.Client{Timeout: time.Second}
	deadline := since.Add(limit)
	for n := 1; ; n++ {
		began := time.Now()
		err := check(c)
		if err == nil && began.After(deadline) {
			t.Fatalf("waited %s after %s for %s: the first check to pass began %s after, too late",
				limit, event, what, began.Sub(since).Round(time.Millisecond))
		}
		if err == nil {
			t.Logf("%s %s after %s", what, began.Sub(since).Round(time.Millisecond), event)
			return
		}
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("waited %s after %s for %s: %d checks, none passed; the last, %s after, saw: %v",
				limit, event, what, n, began.Sub(since).Round(time.Millisecond), err)
		}
		next := time.NewTimer(min(100*time.Millisecond, left))
		<-next.C
	}
}

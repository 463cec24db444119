package httpapi_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"go.uber.org/goleak"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/server"
	sw "github.com/swarmops/swarmops/internal/swarm"
	"github.com/swarmops/swarmops/internal/testenv"
)

// openStream starts a GET that stays open and answers its reader.
func openStream(t *testing.T, c *apitest.Client, path string, sse bool) (*http.Response, context.CancelFunc) {
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
		cancel()
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return resp, cancel
}

// lines delivers the lines of r until it ends; the buffer is large enough
// that the reader never waits for the test.
func lines(r io.Reader) <-chan string {
	out := make(chan string, 4096)
	go func() {
		defer close(out)
		br := bufio.NewReader(r)
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			out <- strings.TrimRight(l, "\n")
		}
	}()
	return out
}

// readUntil reads lines until one contains want, failing after timeout.
func readUntil(t *testing.T, in <-chan string, want string, timeout time.Duration) []string {
	t.Helper()
	return readUntilNot(t, in, want, "", timeout)
}

// readUntilNot is readUntil, failing at once on a line containing bad
// (when bad is not empty).
func readUntilNot(t *testing.T, in <-chan string, want, bad string, timeout time.Duration) []string {
	t.Helper()
	var seen []string
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-in:
			if !ok {
				t.Fatalf("stream ended before %q; read %q", want, seen)
			}
			seen = append(seen, l)
			if bad != "" && strings.Contains(l, bad) {
				t.Fatalf("read %q while waiting for %q; read %q", bad, want, seen)
			}
			if strings.Contains(l, want) {
				return seen
			}
		case <-deadline:
			t.Fatalf("no %q within %s; read %q", want, timeout, seen)
		}
	}
}

// quietCluster registers the shared swarm as a cluster of a fresh instance
// whose streams send no heartbeat within a test (one an hour), so that only
// the connection can tell the server that a client went away.
func quietCluster(t *testing.T, name string) (*testenv.Swarm, *apitest.Client) {
	t.Helper()
	sw := testenv.SharedSwarm(t)
	in := apitest.Start(t, apitest.Config(t), server.WithStreamHeartbeat(time.Hour))
	admin := in.Admin(t)
	register(t, admin, name, sw.Managers[0].Endpoint)
	return sw, admin
}

func TestServices_Logs(t *testing.T) {
	swm, admin := quietCluster(t, "lg")
	m := swm.Managers[0]
	admin.MustDo(http.MethodPost, "/api/v1/clusters/lg/services", map[string]any{
		"name": "lg", "image": testenv.HelloImage1, "replicas": 1, "env": []string{"HELLO_LINES=5"},
	}, nil, 201)
	removeAfter(t, m, "lg")

	testenv.Poll(t, 2*time.Minute, "the service's five log lines", func() error {
		status, text := admin.Do(http.MethodGet, "/api/v1/clusters/lg/services/lg/logs?tail=all", nil, nil)
		if status != 200 || !strings.Contains(text, "line 5") {
			return fmt.Errorf("%d %q", status, text)
		}
		return nil
	})
	// Each line names its task and node, as docker service logs does.
	host := nodeHostname(t, m, "lg")
	_, text := admin.Do(http.MethodGet, "/api/v1/clusters/lg/services/lg/logs?tail=all", nil, nil)
	if !regexp.MustCompile(`(?m)^lg\.1@` + regexp.QuoteMeta(host) + ` \| .*line 5`).MatchString(text) {
		t.Errorf("log lines are not tagged lg.1@%s: %q", host, text)
	}
	_, text = admin.Do(http.MethodGet, "/api/v1/clusters/lg/services/lg/logs?tail=2&timestamps=true", nil, nil)
	if lines := strings.Split(strings.TrimSpace(text), "\n"); len(lines) != 2 || !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\S+ lg\.1@\S+ \| `).MatchString(lines[0]) {
		t.Errorf("tail=2 with timestamps: %q", text)
	}
	for _, q := range []string{"tail=many", "since=yesterday", "follow=perhaps"} {
		status, text := admin.Do(http.MethodGet, "/api/v1/clusters/lg/services/lg/logs?"+q, nil, nil)
		if status != 400 {
			t.Errorf("logs?%s: %d %s", q, status, text)
		}
	}
	admin.MustDo(http.MethodGet, "/api/v1/clusters/lg/services/nope/logs", nil, nil, 404)

	// Following streams, as server-sent events and as plain text (which
	// has no heartbeat to notice a client with); when the client goes
	// away from a quiet service, the engine stream and every goroutine
	// behind it end. The instance's heartbeat is an hour: only the
	// connection can tell.
	for _, sse := range []bool{true, false} {
		t.Run(fmt.Sprintf("follow sse=%v", sse), func(t *testing.T) {
			ignore := goleak.IgnoreCurrent()
			resp, cancel := openStream(t, admin, "/api/v1/clusters/lg/services/lg/logs?follow=true&tail=all", sse)
			want, ct := "| line 5", "text/plain; charset=utf-8"
			if sse {
				want, ct = "data: lg.1@", "text/event-stream"
			}
			if got := resp.Header.Get("Content-Type"); got != ct {
				t.Errorf("Content-Type %q, want %q", got, ct)
			}
			readUntil(t, lines(resp.Body), want, 30*time.Second)
			cancel()
			resp.Body.Close()
			testenv.Poll(t, 20*time.Second, "no goroutine left from the log stream", func() error {
				return goleak.Find(ignore,
					goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).getCh.func1"),
					goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).workerFunc"),
					goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
					goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
					goleak.IgnoreAnyFunction("internal/poll.runtime_pollWait"))
			})
		})
	}
}

func TestServices_NginxThroughRealNginx(t *testing.T) {
	swm, _, admin := sharedCluster(t, "ng")
	m := swm.Managers[0]
	m.Docker(t, "network", "create", "--driver", "overlay", "ng-net")
	t.Cleanup(func() { _ = m.Client().NetworkRemove(context.Background(), "ng-net") })

	// No published port: nginx must run inside the overlay; said so.
	admin.MustDo(http.MethodPost, "/api/v1/clusters/ng/services", map[string]any{"name": "ng-none", "image": testenv.HelloImage1, "replicas": 0}, nil, 201)
	removeAfter(t, m, "ng-none")
	conf := admin.MustDo(http.MethodGet, "/api/v1/clusters/ng/services/ng-none/nginx", nil, nil, 200)
	if !strings.Contains(conf, "publishes no TCP port") || !strings.Contains(conf, "tasks.ng-none") {
		t.Errorf("config for a service without ports:\n%s", conf)
	}

	admin.MustDo(http.MethodPost, "/api/v1/clusters/ng/services", map[string]any{
		"name": "ng", "image": testenv.HelloImage1, "replicas": 2, "networks": []string{"ng-net"},
		"ports": []string{"mode=host,target=8080,published=18975"},
	}, nil, 201)
	removeAfter(t, m, "ng")
	var upstreams int
	testenv.Poll(t, 2*time.Minute, "an upstream with both running tasks", func() error {
		conf = admin.MustDo(http.MethodGet, "/api/v1/clusters/ng/services/ng/nginx?server_name=ng.test&listen=8099", nil, nil, 200)
		upstreams = strings.Count(conf, ":18975 max_fails")
		if upstreams != 2 {
			return fmt.Errorf("config:\n%s", conf)
		}
		return nil
	})
	if !strings.Contains(conf, "server_name ng.test;") {
		t.Fatalf("config:\n%s", conf)
	}
	x := testenv.StartNginx(t, testenv.NginxConf(strings.Replace(conf, "listen 8099;", "listen 127.0.0.1:{{PORT}};", 1)))
	hosts := map[string]bool{}
	testenv.Poll(t, time.Minute, "both tasks answering through nginx", func() error {
		req, _ := http.NewRequest(http.MethodGet, x.URL+"/", nil)
		req.Host = "ng.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("%d %s", resp.StatusCode, b)
		}
		hosts[regexp.MustCompile(`"hostname":"([^"]+)"`).FindStringSubmatch(string(b))[1]] = true
		if len(hosts) < 2 {
			return fmt.Errorf("answered by %v so far", hosts)
		}
		return nil
	})
	admin.MustDo(http.MethodGet, "/api/v1/clusters/ng/services/ng/nginx?server_name=bad%20name", nil, nil, 400)
}

func TestEvents_ServiceAndTaskEvents(t *testing.T) {
	swm := testenv.SharedSwarm(t)
	m := swm.Managers[0]
	var streams atomic.Int64
	counting := sw.WithTransport(func(_ string, rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if strings.HasSuffix(r.URL.Path, "/events") {
				streams.Add(1)
			}
			return rt.RoundTrip(r)
		})
	})
	in := apitest.Start(t, apitest.Config(t), server.WithPoolOptions(counting))
	admin := in.Admin(t)
	register(t, admin, "ev", m.Endpoint)
	resp, cancel := openStream(t, admin, "/api/v1/clusters/ev/events", true)
	defer cancel()
	defer resp.Body.Close()
	r := lines(resp.Body)
	readUntil(t, r, `"action":"connected"`, 10*time.Second)
	// A second subscriber shares the engine stream, and is told it is
	// connected too.
	resp2, cancel2 := openStream(t, admin, "/api/v1/clusters/ev/events", true)
	defer cancel2()
	defer resp2.Body.Close()
	r2 := lines(resp2.Body)
	readUntil(t, r2, `"action":"connected"`, 10*time.Second)
	admin.MustDo(http.MethodPost, "/api/v1/clusters/ev/services", map[string]any{"name": "ev", "image": testenv.HelloImage1, "replicas": 1}, nil, 201)
	removeAfter(t, m, "ev")
	seen := readUntil(t, r, `"name":"ev"`, 30*time.Second)
	if !strings.Contains(strings.Join(seen, "\n"), "event: service") {
		t.Errorf("service event without its type line: %q", seen)
	}
	readUntil(t, r, `"action":"running"`, 2*time.Minute)
	readUntil(t, r2, `"name":"ev"`, 30*time.Second)
	if n := streams.Load(); n != 1 {
		t.Errorf("two subscribers opened %d engine event streams, want 1", n)
	}
	admin.MustDo(http.MethodGet, "/api/v1/clusters/nope/events", nil, nil, 404)
}

// TestServices_ListCostsOneEngineCall lists 300 services and counts the
// engine requests the listing makes: one, whatever the number.
func TestServices_ListCostsOneEngineCall(t *testing.T) {
	swm := testenv.StartSwarm(t, testenv.SwarmOptions{Managers: 1, Name: "many"})
	api := swm.Managers[0].Client()
	zero := uint64(0)
	for i := 0; i < 300; i++ {
		spec := swarm.ServiceSpec{
			Annotations:  swarm.Annotations{Name: fmt.Sprintf("many-%03d", i)},
			TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: testenv.HelloImage1}},
			Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &zero}},
		}
		if _, err := api.ServiceCreate(context.Background(), spec, swarm.ServiceCreateOptions{}); err != nil {
			t.Fatalf("create service %d: %v", i, err)
		}
	}
	var calls atomic.Int64
	counting := sw.WithTransport(func(_ string, rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if !strings.HasSuffix(r.URL.Path, "/_ping") {
				calls.Add(1)
			}
			return rt.RoundTrip(r)
		})
	})
	in := apitest.Start(t, apitest.Config(t), server.WithPoolOptions(counting))
	admin := in.Admin(t)
	register(t, admin, "many", swm.Managers[0].Endpoint)

	calls.Store(0)
	var l struct{ Total int }
	admin.MustDo(http.MethodGet, "/api/v1/clusters/many/services", nil, &l, 200)
	if l.Total != 300 {
		t.Fatalf("listed %d services, want 300", l.Total)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("listing 300 services made %d engine calls, want 1", n)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestEvents_ResumeThroughAnotherManager kills the manager that streams
// the events: the stream goes on through another manager and reports the
// reconnection, and later changes still arrive.
func TestEvents_ResumeThroughAnotherManager(t *testing.T) {
	swm := testenv.StartSwarm(t, testenv.SwarmOptions{Managers: 3, Name: "er"})
	cfg := apitest.Config(t, apitest.WithEngineTimeout(3*time.Second))
	cfg.LogLevel = "debug"
	in := apitest.Start(t, cfg)
	admin := in.Admin(t)
	first := swm.Managers[0]
	register(t, admin, "er", first.Endpoint)
	defer func() {
		if t.Failed() {
			t.Logf("instance log:\n%s", in.Logs.String())
		}
	}()
	resp, cancel := openStream(t, admin, "/api/v1/clusters/er/events", true)
	defer cancel()
	defer resp.Body.Close()
	r := lines(resp.Body)
	readUntil(t, r, `"action":"connected"`, 10*time.Second)
	if err := first.Kill(); err != nil {
		t.Fatal(err)
	}
	readUntil(t, r, `"action":"reconnected"`, time.Minute)
	// Writes need a leader again; then the change must come through.
	testenv.Poll(t, time.Minute, "a service created after the new leader is elected", func() error {
		status, text := admin.Do(http.MethodPost, "/api/v1/clusters/er/services", map[string]any{"name": "er", "image": testenv.HelloImage1, "replicas": 0}, nil)
		if status != 201 && status != 409 {
			return fmt.Errorf("%d %s", status, text)
		}
		return nil
	})
	readUntil(t, r, `"name":"er"`, time.Minute)
}

// nodeHostname answers the hostname of the node running service's first
// running task.
func nodeHostname(t *testing.T, n *testenv.Node, service string) string {
	t.Helper()
	ctx := context.Background()
	tasks, err := n.Client().TaskList(ctx, swarm.TaskListOptions{
		Filters: filters.NewArgs(filters.Arg("service", service), filters.Arg("desired-state", "running")),
	})
	if err != nil || len(tasks) == 0 {
		t.Fatalf("tasks of %s: %v %v", service, tasks, err)
	}
	node, _, err := n.Client().NodeInspectWithRaw(ctx, tasks[0].NodeID)
	if err != nil {
		t.Fatal(err)
	}
	return node.Description.Hostname
}

package swarm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"
	"github.com/google/go-cmp/cmp"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/lock/local"
	"github.com/swarmops/swarmops/internal/store"
	localstore "github.com/swarmops/swarmops/internal/store/local"
	"github.com/swarmops/swarmops/internal/testenv"
)

func TestManagerEndpoints(t *testing.T) {
	info := func(self string, peers ...string) system.Info {
		var i system.Info
		i.Swarm.NodeID = self
		for n, p := range peers {
			i.Swarm.RemoteManagers = append(i.Swarm.RemoteManagers, swarm.Peer{NodeID: fmt.Sprint("n", n), Addr: p})
		}
		return i
	}
	for _, tc := range []struct {
		name  string
		given string
		info  system.Info
		want  []string
	}{
		{"tcp keeps scheme and port", "tcp://10.0.0.5:2376", info("n0", "10.0.0.5:2377", "10.0.0.7:2377", "10.0.0.6:2377"),
			[]string{"tcp://10.0.0.5:2376", "tcp://10.0.0.6:2376", "tcp://10.0.0.7:2376"}},
		{"unix reaches only its engine", "unix:///var/run/docker.sock", info("n0", "10.0.0.5:2377", "10.0.0.6:2377"),
			[]string{"unix:///var/run/docker.sock"}},
		{"duplicates dropped", "tcp://h1:2375", info("n0", "10.0.0.6:2377", "10.0.0.6:2377"),
			[]string{"tcp://h1:2375", "tcp://10.0.0.6:2375"}},
		{"ipv6", "tcp://[fd00::1]:2375", info("n0", "[fd00::1]:2377", "[fd00::2]:2377"),
			[]string{"tcp://[fd00::1]:2375", "tcp://[fd00::2]:2375"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(managerEndpoints(tc.given, tc.info), tc.want); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		timedOut bool
		kind     callKind
		want     failure
	}{
		{"never sent", &notSentError{msg: "dial tcp: connection refused"}, false, write, notSent},
		{"timed out", context.DeadlineExceeded, true, read, noAnswer},
		{"not a manager", cerrdefs.ErrUnavailable.WithMessage("This node is not a swarm manager."), false, write, notManager},
		{"demoted, found inside a call", fmt.Errorf("refresh: %w", errNotManager), false, read, notManager},
		{"503 of a write forwarded to the leader", cerrdefs.ErrUnavailable.WithMessage("rpc error: code = Unavailable desc = transport is closing"), false, write, noAnswer},
		{"the same 503 of a read", cerrdefs.ErrUnavailable.WithMessage("rpc error: code = Unavailable desc = transport is closing"), false, read, notManager},
		{"engine said not found", cerrdefs.ErrNotFound.WithMessage("service x not found"), false, read, answered},
		{"ours", errs.Invalid("name", "bad"), false, write, answered},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.err, tc.timedOut, tc.kind); got != tc.want {
				t.Errorf("classify = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestEngineError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		kind error
		msg  string
	}{
		{cerrdefs.ErrNotFound.WithMessage("Error response from daemon: service x not found"), errs.ErrNotFound, "service x not found"},
		{cerrdefs.ErrUnknown.WithMessage("rpc error: code = Unknown desc = update out of sequence"), errs.ErrConflict, "changed since"},
		{cerrdefs.ErrConflict.WithMessage("name conflicts with an existing object"), errs.ErrConflict, "name conflicts"},
		{cerrdefs.ErrInvalidArgument.WithMessage("bad spec"), errs.ErrInvalid, "bad spec"},
		{errors.New("Error response from daemon: boom"), errs.ErrEngine, "boom"},
	} {
		got := engineError(tc.err)
		pe, ok := errs.Public(got)
		if !errors.Is(got, tc.kind) || !ok || !strings.Contains(pe.Message, tc.msg) || strings.Contains(pe.Message, "Error response from daemon") {
			t.Errorf("engineError(%v) = %v (public %v), want kind %v with %q", tc.err, got, pe, tc.kind, tc.msg)
		}
	}
}

func TestLogOptions(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in          LogOptions
		tail, since string
		field       string
	}{
		{LogOptions{}, "all", "", ""},
		{LogOptions{Tail: "10", Since: "10m"}, "10", fmt.Sprint(now.Add(-10 * time.Minute).Unix()), ""},
		{LogOptions{Since: "2026-01-01T00:00:00Z"}, "all", "1767225600", ""},
		{LogOptions{Since: "1700000000"}, "all", "1700000000", ""},
		{LogOptions{Tail: "-1"}, "", "", "tail"},
		{LogOptions{Since: "yesterday"}, "", "", "since"},
	} {
		lo, err := tc.in.engine(now)
		if tc.field != "" {
			if pe, ok := errs.Public(err); !ok || pe.Field != tc.field {
				t.Errorf("%+v: error %v, want one on %s", tc.in, err, tc.field)
			}
			continue
		}
		if err != nil || lo.Tail != tc.tail || lo.Since != tc.since {
			t.Errorf("%+v: tail %q since %q err %v, want %q %q", tc.in, lo.Tail, lo.Since, err, tc.tail, tc.since)
		}
	}
}

func TestNginxConfig(t *testing.T) {
	node := func(id, addr string) swarm.Node {
		var n swarm.Node
		n.ID, n.Status.Addr, n.Status.State, n.Spec.Availability = id, addr, swarm.NodeStateReady, swarm.NodeAvailabilityActive
		return n
	}
	task := func(node string, state swarm.TaskState, published uint32) swarm.Task {
		var tk swarm.Task
		tk.NodeID, tk.Status.State = node, state
		tk.Status.PortStatus.Ports = []swarm.PortConfig{{Protocol: "tcp", PublishMode: "host", TargetPort: 80, PublishedPort: published}}
		return tk
	}
	var s swarm.Service
	s.Spec.Name = "web"
	got := nginxConfig("prod", s,
		[]swarm.Task{task("a", swarm.TaskStateRunning, 8081), task("b", swarm.TaskStateRunning, 8081), task("b", swarm.TaskStatePreparing, 8082)},
		[]swarm.Node{node("a", "10.0.0.1"), node("b", "10.0.0.2")}, NginxOptions{ServerName: "web.example.com", Listen: 80})
	for _, want := range []string{
		"upstream prod_web_80 {", "server 10.0.0.1:8081 max_fails=3 fail_timeout=10s;", "server 10.0.0.2:8081 max_fails=3",
		"server_name web.example.com;", "proxy_pass http://prod_web_80;", "(2 running tasks)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "8082") {
		t.Errorf("a task that is not running is in the upstream:\n%s", got)
	}
}

func TestFilter(t *testing.T) {
	labels, err := ParseLabelFilters([]string{"env=prod", "team"})
	if err != nil {
		t.Fatal(err)
	}
	f := Filter{Q: "web", Labels: labels}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   bool
	}{
		{"web-1", map[string]string{"env": "prod", "team": "a"}, true},
		{"web-2", map[string]string{"env": "dev", "team": "a"}, false},
		{"web-3", map[string]string{"env": "prod"}, false},
		{"db", map[string]string{"env": "prod", "team": "a"}, false},
	} {
		if got := f.Match(tc.name, tc.labels); got != tc.want {
			t.Errorf("Match(%s, %v) = %v", tc.name, tc.labels, got)
		}
	}
	if _, err := ParseLabelFilters([]string{"=x"}); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("label =x: %v", err)
	}
}

// BenchmarkClusterHealth measures one health probe of a 3-manager,
// 1-worker swarm: pings of the three endpoints and a node list, at once.
func BenchmarkClusterHealth(b *testing.B) {
	sw := testenv.SharedSwarm(b)
	st, err := localstore.Open(b.TempDir(), localstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var calls atomic.Int64
	pool := NewPool(3*time.Second, WithTransport(func(_ string, rt http.RoundTripper) http.RoundTripper {
		return countingRT{rt, &calls}
	}))
	defer pool.Close()
	f := NewFleet(st, pool, local.New(time.Second), nil, Options{})
	ctx := context.Background()
	var eps []string
	for _, m := range sw.Managers {
		eps = append(eps, m.Endpoint)
	}
	c := store.Cluster{Name: "bench", Endpoints: eps}
	if h := f.health(ctx, c); h.Status != Healthy {
		b.Fatalf("health before benchmarking: %+v", h)
	}
	calls.Store(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if h := f.health(ctx, c); h.Status != Healthy {
			b.Fatalf("health: %+v", h)
		}
	}
	b.ReportMetric(float64(calls.Load())/float64(b.N), "engine-calls/op")
}

type countingRT struct {
	next  http.RoundTripper
	calls *atomic.Int64
}

func (c countingRT) RoundTrip(r *http.Request) (*http.Response, error) {
	c.calls.Add(1)
	return c.next.RoundTrip(r)
}

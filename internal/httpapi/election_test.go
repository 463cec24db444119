package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/testenv"
)

// read is one answer of the read loop during an election.
type electionRead struct {
	path       string
	at         time.Time
	took       time.Duration
	status     int
	stale      string // X-SwarmOps-Stale
	retryAfter string
	body       string
}

// readLoop reads paths through c in turn, one at a time, until stop.
type readLoop struct {
	mu    sync.Mutex
	reads []electionRead
	stop  chan struct{}
	done  chan struct{}
}

func startReadLoop(c *apitest.Client, paths ...string) *readLoop {
	l := &readLoop{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, p := range paths {
				start := time.Now()
				r := electionRead{path: p, at: start}
				resp, body, err := c.Raw(http.MethodGet, p, nil, nil)
				r.took = time.Since(start)
				if err != nil {
					r.status, r.body = -1, err.Error()
				} else {
					r.status, r.body = resp.StatusCode, body
					r.stale, r.retryAfter = resp.Header.Get("X-SwarmOps-Stale"), resp.Header.Get("Retry-After")
				}
				l.mu.Lock()
				l.reads = append(l.reads, r)
				l.mu.Unlock()
			}
			select {
			case <-l.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return l
}

func (l *readLoop) end() []electionRead {
	close(l.stop)
	<-l.done
	return l.reads
}

// firstFresh answers the first answer of path after t that came from the
// engine (200, not stale).
func (l *readLoop) firstFresh(path string, after time.Time) (electionRead, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.reads {
		if r.path == path && r.at.After(after) && r.status == 200 && r.stale == "" {
			return r, true
		}
	}
	return electionRead{}, false
}

// leaderOf answers the manager the survivors name as leader, asking each
// with a short deadline; nil while none does.
func leaderOf(managers []*testenv.Node) *testenv.Node {
	for _, n := range managers {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		nodes, err := n.Client().NodeList(ctx, swarm.NodeListOptions{})
		cancel()
		if err != nil {
			continue
		}
		for _, sn := range nodes {
			if sn.ManagerStatus != nil && sn.ManagerStatus.Leader {
				for _, m := range managers {
					if strings.HasPrefix(sn.ManagerStatus.Addr, m.Addr+":") {
						return m
					}
				}
			}
		}
	}
	return nil
}

func without(nodes []*testenv.Node, gone ...*testenv.Node) []*testenv.Node {
	var out []*testenv.Node
	for _, n := range nodes {
		keep := true
		for _, g := range gone {
			keep = keep && n != g
		}
		if keep {
			out = append(out, n)
		}
	}
	return out
}

type electionHealth struct {
	Status   string
	Managers struct{ Total, Reachable int }
	Election *struct {
		Status   string
		Since    time.Time
		Managers struct{ Total, Reachable int }
	}
	Problems []string
}

// TestElection_ReadsAnswerWritesSayWhy takes a 3-manager swarm through
// the loss of its leader (killed, then cut off the network) and of its
// quorum, with reads running through SwarmOps all along: reads answer
// within a second (from the snapshot, marked stale, while there is no
// leader), fresh answers resume within 2 s of the new leader's election,
// health says electing / no_quorum, the event stream says so, and a
// change is refused at once with Retry-After, changing nothing.
func TestElection_ReadsAnswerWritesSayWhy(t *testing.T) {
	sw := testenv.StartSwarm(t, testenv.SwarmOptions{Managers: 3, Name: "el"})
	in := apitest.Start(t, apitest.Config(t, apitest.WithEngineTimeout(3*time.Second)))
	admin := in.Admin(t)
	register(t, admin, "el", sw.Managers[0].Endpoint)
	const base = "/api/v1/clusters/el"
	admin.MustDo(http.MethodPost, base+"/services?wait=60s", map[string]any{"name": "el-web", "image": testenv.HelloImage1, "replicas": 1}, nil, 201)
	reads := []string{base + "/services", base + "/nodes", base + "/tasks", base + "/services/el-web", base + "/stacks"}

	events, cancel := openStream(t, admin, base+"/events", true)
	defer cancel()
	lines := lines(events.Body)
	readUntil(t, lines, `"action":"connected"`, 20*time.Second)

	scenario := func(t *testing.T, how string, cut, restore func(n *testenv.Node) error) {
		for _, p := range reads { // snapshots of every read, fresh
			resp, body, err := admin.Raw(http.MethodGet, p, nil, nil)
			if err != nil || resp.StatusCode != 200 || resp.Header.Get("X-SwarmOps-Stale") != "" {
				t.Fatalf("before: GET %s: %v %v %s", p, err, resp, body)
			}
		}
		leader := leaderOf(sw.Managers)
		if leader == nil {
			t.Fatal("no manager names a leader before the test")
		}
		loop := startReadLoop(admin, reads...)
		cutAt := time.Now()
		if err := cut(leader); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s the leader %s at %s", how, leader.Addr, cutAt.Format("15:04:05.000"))

		var h electionHealth
		testenv.Poll(t, 20*time.Second, "health to say electing", func() error {
			admin.MustDo(http.MethodGet, base+"/health", nil, &h, 200)
			if h.Status != "electing" || h.Election == nil || h.Election.Managers.Reachable != 2 || h.Election.Managers.Total != 3 {
				return fmt.Errorf("health %+v", h)
			}
			return nil
		})
		readUntil(t, lines, `"action":"electing"`, 5*time.Second)
		// A read this instance never made has no snapshot: a quick 503.
		start := time.Now()
		resp, body, err := admin.Raw(http.MethodGet, base+"/configs", nil, nil)
		if err != nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "no earlier answer") ||
			time.Since(start) > time.Second {
			t.Errorf("configs (never read) during the election, after %s: %v %v %s", time.Since(start), err, resp, body)
		}
		// The web UI says what the page shows.
		if resp, page, err := admin.Raw(http.MethodGet, "/c/el/services", nil, nil); err != nil || resp.StatusCode != 200 ||
			!strings.Contains(page, "The swarm is electing a new leader: this page shows what it looked like at") || !strings.Contains(page, "el-web") {
			t.Errorf("the services page during the election: %v %v\n%s", err, resp, page)
		}

		// A change during the election: refused at once, nothing made.
		start = time.Now()
		resp, body, err = admin.Raw(http.MethodPost, base+"/services/el-web/scale", strings.NewReader(`{"replicas":2}`),
			map[string]string{"Content-Type": "application/json"})
		if err != nil {
			t.Fatal(err)
		}
		e := apitest.ParseError(t, body)
		if resp.StatusCode != 503 || e.Error.Code != "unavailable" || resp.Header.Get("Retry-After") == "" ||
			!strings.Contains(e.Error.Message, "electing a new leader") || !strings.Contains(e.Error.Message, "nothing was applied") {
			t.Errorf("scale during the election: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("the refused change took %s", took)
		}

		var electedAt time.Time
		testenv.Poll(t, 60*time.Second, "the survivors to elect a leader", func() error {
			if l := leaderOf(without(sw.Managers, leader)); l == nil {
				return fmt.Errorf("no leader yet")
			}
			electedAt = time.Now()
			return nil
		})
		t.Logf("leader elected %s after the %s", electedAt.Sub(cutAt).Round(100*time.Millisecond), how)
		var fresh electionRead
		testenv.Poll(t, 10*time.Second, "a fresh services list after the election", func() error {
			var ok bool
			if fresh, ok = loop.firstFresh(base+"/services", electedAt); !ok {
				return fmt.Errorf("none yet")
			}
			return nil
		})
		all := loop.end()
		readUntil(t, lines, `"action":"leader_elected"`, 5*time.Second)
		if late := fresh.at.Sub(electedAt); late > 2*time.Second {
			t.Errorf("fresh answers resumed %s after the election; want within 2s", late)
		}

		stale := 0
		for _, r := range all {
			switch {
			case r.took > time.Second:
				t.Errorf("GET %s at +%s took %s: %d %s", r.path, r.at.Sub(cutAt).Round(time.Millisecond), r.took, r.status, r.body)
			case r.status == 200 && r.stale != "":
				stale++
				if strings.HasSuffix(r.path, "/services") && !strings.Contains(r.body, `"reason":"electing"`) {
					t.Errorf("a stale list without its stale mark: %s", r.body)
				}
			case r.status == 200:
			default:
				t.Errorf("GET %s at +%s: %d (Retry-After %q) %s", r.path, r.at.Sub(cutAt).Round(time.Millisecond), r.status, r.retryAfter, r.body)
			}
		}
		if stale == 0 {
			t.Errorf("no read was answered from the snapshot during the election (%d reads)", len(all))
		}
		t.Logf("%d reads during the %s, %d stale", len(all), how, stale)

		testenv.Poll(t, 30*time.Second, "health healthy or degraded after the election", func() error {
			admin.MustDo(http.MethodGet, base+"/health", nil, &h, 200)
			if h.Status != "healthy" && h.Status != "degraded" {
				return fmt.Errorf("health %+v", h)
			}
			return nil
		})
		var svc struct {
			Service swarm.Service `json:"service"`
		}
		admin.MustDo(http.MethodGet, base+"/services/el-web", nil, &svc, 200)
		if r := svc.Service.Spec.Mode.Replicated; r == nil || *r.Replicas != 1 {
			t.Errorf("the refused scale changed the service: %+v", svc.Service.Spec.Mode)
		}

		if err := restore(leader); err != nil {
			t.Fatal(err)
		}
		testenv.Poll(t, 120*time.Second, "health healthy with the old leader back", func() error {
			admin.MustDo(http.MethodGet, base+"/health", nil, &h, 200)
			if h.Status != "healthy" {
				return fmt.Errorf("health %+v", h)
			}
			return nil
		})
	}

	t.Run("kill -9", func(t *testing.T) {
		scenario(t, "kill -9 of", (*testenv.Node).Kill, (*testenv.Node).Start)
	})
	t.Run("cut off the network", func(t *testing.T) {
		scenario(t, "cut of", (*testenv.Node).Disconnect, (*testenv.Node).Reconnect)
	})
	t.Run("quorum lost", func(t *testing.T) {
		leader := leaderOf(sw.Managers)
		if leader == nil {
			t.Fatal("no leader before the test")
		}
		survivor := without(sw.Managers, leader)[0]
		for _, n := range without(sw.Managers, survivor) {
			if err := n.Kill(); err != nil {
				t.Fatal(err)
			}
		}
		var h electionHealth
		testenv.Poll(t, 30*time.Second, "health to say no_quorum with 1 of 3 managers", func() error {
			admin.MustDo(http.MethodGet, base+"/health", nil, &h, 200)
			if h.Status != "no_quorum" || h.Managers.Reachable != 1 || h.Managers.Total != 3 {
				return fmt.Errorf("health %+v", h)
			}
			return nil
		})
		resp, body, err := admin.Raw(http.MethodGet, base+"/services", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		var l struct {
			Items []struct{ Name string }
			Stale *struct {
				Since  time.Time
				Reason string
			}
		}
		if err := json.Unmarshal([]byte(body), &l); err != nil || resp.StatusCode != 200 || resp.Header.Get("X-SwarmOps-Stale") == "" ||
			l.Stale == nil || l.Stale.Reason != "no_quorum" || len(l.Items) != 1 {
			t.Errorf("services without quorum: %d %v %s", resp.StatusCode, resp.Header, body)
		}
		wantStatus(t, admin, http.MethodPost, base+"/services/el-web/scale", map[string]any{"replicas": 3}, 503, "lost its quorum", "1 of 3", "nothing was applied")
		readUntil(t, lines, `"action":"no_quorum"`, 5*time.Second)
	})
}

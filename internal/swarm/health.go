package swarm

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// Health statuses.
const (
	Healthy     = "healthy"     // every manager reachable and ready, every node ready
	Degraded    = "degraded"    // the swarm answers, but something is down
	Unreachable = "unreachable" // no endpoint answered
	// Electing and NoQuorum (election.go): managers answer, the swarm has
	// no leader.
)

// Health is a cluster's state as seen now.
type Health struct {
	Status   string `json:"status"`
	Leader   string `json:"leader"`
	Managers struct {
		Total     int `json:"total"`
		Reachable int `json:"reachable"`
	} `json:"managers"`
	Nodes struct {
		Total int `json:"total"`
		Ready int `json:"ready"`
	} `json:"nodes"`
	EndpointUsed string           `json:"endpoint_used"`
	CheckedAt    time.Time        `json:"checked_at"`
	Endpoints    []EndpointHealth `json:"endpoints"`
	// Problems says in words what keeps the cluster from being healthy.
	Problems []string `json:"problems"`
	// Election is set while the swarm has no leader (status electing or
	// no_quorum): since when, and how many managers answer.
	Election *Election `json:"election,omitempty"`
}

// EndpointHealth is one stored endpoint's answer to a ping.
type EndpointHealth struct {
	Endpoint  string  `json:"endpoint"`
	Reachable bool    `json:"reachable"`
	LatencyMS float64 `json:"latency_ms"`
	Error     string  `json:"error,omitempty"`
}

// ClusterHealth probes one cluster.
func (f *Fleet) ClusterHealth(ctx context.Context, name string) (Health, error) {
	c, err := f.cluster(ctx, name)
	if err != nil {
		return Health{}, err
	}
	return f.health(ctx, c), nil
}

// healthOfAll probes every given cluster concurrently, under one
// deadline (the engine timeout); the whole costs about one probe.
func (f *Fleet) healthOfAll(ctx context.Context, cs []store.Cluster) map[string]Health {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	hs := make([]Health, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() { hs[i] = f.probeHealth(ctx, c) })
	}
	wg.Wait()
	out := make(map[string]Health, len(cs))
	for i, c := range cs {
		out[c.Name] = hs[i]
	}
	return out
}

// health probes one cluster within the engine timeout.
func (f *Fleet) health(ctx context.Context, c store.Cluster) Health {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	return f.probeHealth(ctx, c)
}

// nodesRead is a node list read for health.
type nodesRead struct {
	nodes []swarm.Node
	used  string
	err   error
}

// probeHealth pings every stored endpoint at once and, at the same time,
// lists the nodes through the managers in the pool's order (the one that
// answered last first); the node list tells manager reachability and the
// leader as the swarm itself sees them. A probe thus takes about the
// longer of a ping and a node list, not their sum, and makes the same
// engine calls as before (a ping per endpoint, one node list). Pings get
// half the engine timeout, so a manager that accepts connections but
// never answers costs at most that much: when a ping failed and the node
// list has not answered yet, the list starts again once the failed
// endpoints are marked down, so that it asks the others first, as it
// would had it waited for the pings. ctx carries the deadline.
func (f *Fleet) probeHealth(ctx context.Context, c store.Cluster) Health {
	h := Health{CheckedAt: f.now().UTC(), Endpoints: make([]EndpointHealth, len(c.Endpoints)), Problems: []string{}}

	startList := func() (context.CancelFunc, <-chan nodesRead) {
		lctx, lcancel := context.WithCancel(ctx)
		ch := make(chan nodesRead, 1)
		go func() {
			var r nodesRead
			r.nodes, r.used, r.err = readSnapshotAt(lctx, f, c, "health/nodes", func(ctx context.Context, api Engine) ([]swarm.Node, error) {
				return readNodes(ctx, api)
			})
			ch <- r
		}()
		return lcancel, ch
	}
	lcancel, listed := startList()
	defer func() { lcancel() }()

	pctx, pcancel := context.WithTimeout(ctx, f.timeout/2)
	var wg sync.WaitGroup
	for i, ep := range c.Endpoints {
		wg.Go(func() { h.Endpoints[i] = f.ping(pctx, c, ep) })
	}
	wg.Wait()
	pcancel()
	if ctx.Err() != nil {
		// The caller went away: the pings say nothing of the managers.
		h.Status = Unreachable
		h.Problems = append(h.Problems, "the health check was cancelled")
		return h
	}
	reachable := 0
	for _, e := range h.Endpoints {
		if e.Reachable {
			reachable++
			continue
		}
		f.pool.markDown(e.Endpoint) // the node list asks the others first
		h.Problems = append(h.Problems, fmt.Sprintf("endpoint %s: %s", e.Endpoint, e.Error))
	}
	if reachable == 0 {
		h.Status = Unreachable
		return h
	}
	var r nodesRead
	select {
	case r = <-listed:
	default:
		if reachable < len(c.Endpoints) {
			// The list may wait on an endpoint that did not answer its
			// ping: ask again, the others first now (unless it answered
			// meanwhile).
			lcancel()
			if r = <-listed; r.err == nil {
				break
			}
			lcancel, listed = startList()
		}
		r = <-listed
	}
	nodes, err := r.nodes, r.err
	h.EndpointUsed = r.used
	if e, ok := f.ElectionOf(c.Name); ok {
		h.Status, h.Election = e.Status, &e
		h.Managers.Reachable, h.Managers.Total = e.Managers.Reachable, e.Managers.Total
		h.Problems = append(h.Problems, electionProblem(e))
		return h
	}
	if err != nil {
		// An engine answered its ping but not with a node list (no
		// leader, ...): the swarm is there, and not well.
		h.Status = Degraded
		h.Problems = append(h.Problems, publicMessage(err))
		return h
	}
	h.Status = Healthy
	for _, n := range nodes {
		h.Nodes.Total++
		ready := n.Status.State == swarm.NodeStateReady
		if ready {
			h.Nodes.Ready++
		} else {
			h.Problems = append(h.Problems, fmt.Sprintf("node %s (%s) is %s", n.Description.Hostname, n.Status.Addr, n.Status.State))
		}
		if m := n.ManagerStatus; m != nil {
			h.Managers.Total++
			if m.Reachability == swarm.ReachabilityReachable {
				h.Managers.Reachable++
			} else {
				h.Problems = append(h.Problems, fmt.Sprintf("manager %s (%s) is %s", n.Description.Hostname, m.Addr, m.Reachability))
			}
			if m.Leader {
				h.Leader = m.Addr
			}
		}
	}
	sort.Strings(h.Problems)
	if len(h.Problems) > 0 {
		h.Status = Degraded
	}
	return h
}

func (f *Fleet) ping(ctx context.Context, c store.Cluster, ep string) EndpointHealth {
	e := EndpointHealth{Endpoint: ep}
	api, err := f.pool.Client(ep, tlsOf(c.TLS))
	if err != nil {
		e.Error = err.Error()
		return e
	}
	start := time.Now()
	_, err = api.Ping(ctx)
	e.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		e.Error = shortCause(err, ctx.Err() != nil)
		return e
	}
	e.Reachable = true
	return e
}

// publicMessage is the text of err that clients may see.
func publicMessage(err error) string {
	if pe, ok := errs.Public(err); ok {
		return pe.Message
	}
	return err.Error()
}

// electionProblem says an election in words, for health's problems.
func electionProblem(e Election) string {
	if e.Status == NoQuorum {
		return fmt.Sprintf("the swarm has lost its quorum: %d of %d managers answer, for %.0fs; it cannot elect a leader until more are back",
			e.Managers.Reachable, e.Managers.Total, e.Seconds)
	}
	return fmt.Sprintf("the swarm has no leader and is electing one (for %.0fs; %d of %d managers answer)", e.Seconds, e.Managers.Reachable, e.Managers.Total)
}

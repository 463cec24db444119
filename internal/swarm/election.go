package swarm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/rs/zerolog"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// Every manager of a swarm forwards calls that need the raft store to the
// leader; while there is none (the leader died and the others are electing
// a new one, or too few managers are left for a quorum), managers that
// are alive answer their pings but none of those calls. This file tells
// that state apart from dead managers, remembers it per cluster, and ends
// it as soon as a manager answers again.

// Election statuses, also health statuses.
const (
	Electing = "electing"  // a majority of managers answers; the swarm has no leader yet
	NoQuorum = "no_quorum" // too few managers answer for the swarm to elect a leader
)

// Timing of leader probes.
const (
	// hedgeAfter is how long a read waits before it also asks whether the
	// swarm has a leader; a read still running when the answer is "no"
	// is answered from the snapshot at once.
	hedgeAfter = 250 * time.Millisecond
	// probePing and probeLeaderCall bound a quick probe's ping and
	// leader-bound call (both sent at once to every manager).
	probePing       = 250 * time.Millisecond
	probeLeaderCall = 450 * time.Millisecond
	// electionPoll is how often a cluster without a leader is probed
	// again, and watchLeaderCall bounds those probes' leader-bound calls.
	electionPoll    = 250 * time.Millisecond
	watchLeaderCall = time.Second
	// electionRetryAfter is the Retry-After of what is refused during an
	// election.
	electionRetryAfter = 2 * time.Second
)

// Election is a cluster's leaderless state as this instance sees it.
type Election struct {
	Status  string    `json:"status"` // Electing or NoQuorum
	Since   time.Time `json:"since"`
	Seconds float64   `json:"seconds"`
	// Managers counts the registered managers answering a ping now.
	Managers struct {
		Reachable int `json:"reachable"`
		Total     int `json:"total"`
	} `json:"managers"`
}

// election is a cluster's state while it has no leader.
type election struct {
	since            time.Time
	status           string
	reachable, total int
	cancel           context.CancelFunc
}

// elections are the clusters without a leader, by name.
type elections struct {
	mu sync.Mutex
	by map[string]*election
}

// ElectionOf answers the cluster's leaderless state, if it is in one.
func (f *Fleet) ElectionOf(cluster string) (Election, bool) {
	f.elections.mu.Lock()
	defer f.elections.mu.Unlock()
	e := f.elections.by[cluster]
	if e == nil {
		return Election{}, false
	}
	out := Election{Status: e.status, Since: e.since.UTC(), Seconds: time.Since(e.since).Round(100 * time.Millisecond).Seconds()}
	out.Managers.Reachable, out.Managers.Total = e.reachable, e.total
	return out, true
}

// leaderProbe is what a probe found out about a cluster's leader.
type leaderProbe struct {
	leader    bool     // a manager answered a call that needs the leader
	reachable int      // registered endpoints answering a ping
	total     int      // registered endpoints
	down      []string // endpoints that did not answer a ping
	said      string   // what a manager said instead of answering, if anything
	// other is set when a manager refused the leader call for another
	// reason than a missing leader: then nothing is concluded.
	other bool
}

// leaderless reports whether managers answer their pings while every
// call that needs the leader hung or was refused for want of one.
func (p leaderProbe) leaderless() bool { return !p.leader && !p.other && p.reachable > 0 }

func (p leaderProbe) status() string {
	if p.reachable*2 <= p.total {
		return NoQuorum
	}
	return Electing
}

// probeLeader pings every endpoint of c and, at the same time, asks each
// for the swarm (a call every manager forwards to the leader). It returns
// as soon as one answers that, else when every call has ended, within
// max(probePing, leaderCall). Endpoints that do not answer a ping are
// marked down, so that calls try the others first.
func (f *Fleet) probeLeader(ctx context.Context, c store.Cluster, leaderCall time.Duration) leaderProbe {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		ep             string
		pinged, leader bool
		said           string
		// other: the leader call failed in a way that does not mean "no
		// leader" (the manager refused it, or is no manager any more).
		other bool
	}
	answers := make(chan answer, 2*len(c.Endpoints))
	for _, ep := range c.Endpoints {
		api, err := f.pool.Client(ep, tlsOf(c.TLS))
		if err != nil {
			answers <- answer{ep: ep}
			answers <- answer{ep: ep, said: "-"}
			continue
		}
		go func() {
			pctx, pcancel := context.WithTimeout(ctx, probePing)
			defer pcancel()
			_, err := api.Ping(pctx)
			answers <- answer{ep: ep, pinged: err == nil}
		}()
		go func() {
			lctx, lcancel := context.WithTimeout(ctx, leaderCall)
			defer lcancel()
			err := f.pool.ready(lctx, api)
			if err == nil {
				_, err = api.SwarmInspect(lctx)
			}
			a := answer{ep: ep, leader: err == nil, said: "-"}
			switch {
			case err == nil, errors.Is(lctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil:
			case isNoLeader(err):
				a.said = engineMessage(err)
			case engineAnswered(err):
				a.said, a.other = engineMessage(err), true
			}
			answers <- a
		}()
	}
	p := leaderProbe{total: len(c.Endpoints)}
	pinged := map[string]bool{}
	for range 2 * len(c.Endpoints) {
		a := <-answers
		if a.leader {
			p.leader = true
			return p
		}
		if a.pinged {
			pinged[a.ep] = true
		}
		if a.said != "" && a.said != "-" {
			p.said = a.said
		}
		p.other = p.other || a.other
	}
	for _, ep := range c.Endpoints {
		if pinged[ep] {
			p.reachable++
		} else {
			p.down = append(p.down, ep)
			f.pool.markDown(ep)
		}
	}
	return p
}

// beginElection records that c has no leader, as p found, and starts
// probing it until it has one again. It answers the state.
func (f *Fleet) beginElection(ctx context.Context, c store.Cluster, p leaderProbe) Election {
	f.elections.mu.Lock()
	e := f.elections.by[c.Name]
	news := e == nil || e.status != p.status()
	if e == nil {
		wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		e = &election{since: f.now(), cancel: cancel}
		f.elections.by[c.Name] = e
		go f.watchElection(wctx, c.Name, e)
	}
	e.status, e.reachable, e.total = p.status(), p.reachable, p.total
	f.elections.mu.Unlock()
	if !news { // another call of this instance found it first
		out, _ := f.ElectionOf(c.Name)
		return out
	}
	zerolog.Ctx(ctx).Warn().Str("cluster", c.Name).Str("status", p.status()).Int("managers_reachable", p.reachable).
		Int("managers", p.total).Str("said", p.said).Msg("the swarm has no leader; reads answer from snapshots, writes are refused until it has")
	f.publishCluster(c.Name, Event{Type: "swarm", Action: p.status(), Time: f.now().UTC(), Attributes: map[string]string{
		"managers_reachable": fmt.Sprint(p.reachable), "managers": fmt.Sprint(p.total)}})
	out, _ := f.ElectionOf(c.Name)
	return out
}

// watchElection probes the cluster until a manager answers for the
// leader again, the cluster is gone, or no manager answers at all (then it
// is unreachable, which calls report on their own).
func (f *Fleet) watchElection(ctx context.Context, cluster string, e *election) {
	defer e.cancel()
	tick := time.NewTicker(electionPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		c, err := f.store.GetCluster(ctx, cluster)
		if errors.Is(err, errs.ErrNotFound) {
			f.endElection(ctx, cluster, e, "the cluster was removed")
			return
		}
		if err != nil {
			continue // the store is down: nothing to learn, keep the state
		}
		p := f.probeLeader(ctx, c, watchLeaderCall)
		switch {
		case ctx.Err() != nil:
			return
		case p.leader:
			f.endElection(ctx, cluster, e, "leader elected")
			return
		case p.reachable == 0:
			f.endElection(ctx, cluster, e, "no manager answers")
			return
		}
		f.elections.mu.Lock()
		changed := e.status != p.status()
		e.status, e.reachable, e.total = p.status(), p.reachable, p.total
		f.elections.mu.Unlock()
		if changed {
			f.publishCluster(cluster, Event{Type: "swarm", Action: p.status(), Time: f.now().UTC(), Attributes: map[string]string{
				"managers_reachable": fmt.Sprint(p.reachable), "managers": fmt.Sprint(p.total)}})
		}
	}
}

func (f *Fleet) endElection(ctx context.Context, cluster string, e *election, why string) {
	f.elections.mu.Lock()
	if f.elections.by[cluster] == e {
		delete(f.elections.by, cluster)
	}
	f.elections.mu.Unlock()
	took := f.now().Sub(e.since).Round(100 * time.Millisecond)
	zerolog.Ctx(ctx).Info().Str("cluster", cluster).Str("outcome", why).Dur("after", took).Msg("the swarm's leaderless state ended")
	if why == "leader elected" {
		f.publishCluster(cluster, Event{Type: "swarm", Action: "leader_elected", Time: f.now().UTC(),
			Attributes: map[string]string{"after": took.String()}})
	}
}

// electionError is what a call that needs the leader answers while c has
// none: nothing was sent, so nothing was applied.
func electionError(cluster string, e Election, what string) error {
	msg := fmt.Sprintf("cluster %q: the swarm is electing a new leader (for %.0fs; %d of %d managers answer); %s",
		cluster, e.Seconds, e.Managers.Reachable, e.Managers.Total, what)
	if e.Status == NoQuorum {
		msg = fmt.Sprintf("cluster %q: the swarm has lost its quorum (%d of %d managers answer, for %.0fs) and cannot elect a leader "+
			"until more managers are back (or `docker swarm init --force-new-cluster` on a survivor); %s",
			cluster, e.Managers.Reachable, e.Managers.Total, e.Seconds, what)
	}
	return &errs.Error{Kind: errs.ErrUnavailable, Message: msg, RetryAfter: electionRetryAfter,
		Details: map[string]any{"election": e.Status, "since": e.Since}}
}

// nothingSent is the end of an election error for a call of kind.
func nothingSent(kind callKind) string {
	if kind.writes() {
		return "nothing was applied"
	}
	return "retry shortly"
}

// leaderRefused reports whether err says the manager refused the call
// for want of a leader, before forwarding it anywhere: nothing was done.
func leaderRefused(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "does not have a leader") || strings.Contains(msg, "no elected cluster leader")
}

// probeReuse is how long a quick probe's result serves other calls.
const probeReuse = time.Second

// probes share quick leader probes between concurrent calls, by cluster.
type probes struct {
	mu sync.Mutex
	by map[string]*probeCall
}

type probeCall struct {
	done chan struct{}
	at   time.Time
	p    leaderProbe
}

// quickProbe answers a leader probe of c made by this call or, if one is
// under way or ended less than probeReuse ago, that one's.
func (f *Fleet) quickProbe(ctx context.Context, c store.Cluster) leaderProbe {
	f.probes.mu.Lock()
	pc := f.probes.by[c.Name]
	if pc == nil || (!pc.at.IsZero() && time.Since(pc.at) > probeReuse) {
		pc = &probeCall{done: make(chan struct{})}
		f.probes.by[c.Name] = pc
		f.probes.mu.Unlock()
		pc.p = f.probeLeader(context.WithoutCancel(ctx), c, probeLeaderCall)
		f.probes.mu.Lock()
		pc.at = time.Now()
		f.probes.mu.Unlock()
		close(pc.done)
		return pc.p
	}
	f.probes.mu.Unlock()
	select {
	case <-pc.done:
		return pc.p
	case <-ctx.Done():
		return leaderProbe{leader: true} // nothing learnt; the caller is gone anyway
	}
}

// noLeaderText are what managers say when the swarm has no leader.
var noLeaderText = []string{
	"does not have a leader",
	"no elected cluster leader",
	"lost quorum",
	"code = DeadlineExceeded",
	"code = Unavailable",
}

// isNoLeader reports whether err is a manager's answer that the swarm has
// no leader (rather than a failure to reach the manager).
func isNoLeader(err error) bool {
	if err == nil || !engineAnswered(err) {
		return false
	}
	msg := err.Error()
	if strings.Contains(msg, "not a swarm manager") {
		return false
	}
	for _, s := range noLeaderText {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return cerrdefs.IsUnavailable(err)
}

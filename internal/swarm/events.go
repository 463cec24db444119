package swarm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/rs/zerolog"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// Event is one change in a cluster, as the events stream sends it.
type Event struct {
	Type       string            `json:"type"` // service, node, task, network, secret, config
	Action     string            `json:"action"`
	ID         string            `json:"id"`
	Name       string            `json:"name,omitempty"`
	Time       time.Time         `json:"time"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// taskPoll is how often task states are compared: the engine emits no
// task events, so task changes come from one task list per period.
const taskPoll = 2 * time.Second

// feedGiveUp is how long a feed keeps trying to reach a manager before it
// ends its subscribers' streams.
const feedGiveUp = 2 * time.Minute

// subscriberBuffer is how many events a subscriber may fall behind before
// it is cut off (its channel closes; an EventSource then reconnects).
const subscriberBuffer = 256

// feeds fans one engine event stream and one task watcher per cluster out
// to every subscriber of this instance, so a hundred open UI pages cost the
// managers what one does.
type feeds struct {
	mu sync.Mutex
	by map[string]*feed
}

type feed struct {
	subs   map[chan Event]struct{}
	cancel context.CancelFunc
	// stream is the last "stream" event, replayed to late subscribers.
	stream *Event
	// reg is the registration the feed streams from (see registration);
	// recheck asks the feed to read the registration again now.
	reg     string
	recheck chan struct{}
}

// feedRecheck is how often a feed reads its cluster's registration again:
// a cluster deleted, registered again under its name or given other
// endpoints or TLS material, on any instance, moves the feed to the new
// registration (or ends it) within this time.
const feedRecheck = 2 * time.Second

// registration tells apart the registrations a feed must not mix: which
// swarm, through which endpoints, with which TLS material (hashed, never
// the material itself), registered when.
func registration(c store.Cluster) string {
	eps := slices.Clone(c.Endpoints)
	slices.Sort(eps)
	return strings.Join(eps, ",") + "|" + tlsKey(tlsOf(c.TLS)) + "|" + c.SwarmID + "|" + c.CreatedAt.UTC().Format(time.RFC3339Nano)
}

// errReregistered ends a feed's streams on a registration that changed.
var errReregistered = errors.New("the cluster's registration changed")

// SubscribeEvents answers the cluster's swarm-scope events (services,
// nodes, tasks, networks, secrets, configs) until ctx ends, when the
// channel closes. It also closes when the subscriber falls too far behind,
// no manager answers or the cluster is deleted; an event of type "stream"
// says why.
func (f *Fleet) SubscribeEvents(ctx context.Context, cluster string) (<-chan Event, error) {
	c, err := f.cluster(ctx, cluster)
	if err != nil {
		return nil, err
	}
	ch := make(chan Event, subscriberBuffer)
	f.feeds.mu.Lock()
	fd := f.feeds.by[cluster]
	if fd == nil {
		// The feed outlives the request that started it; it keeps the
		// request's logger, not its deadline.
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		fd = &feed{subs: map[chan Event]struct{}{}, cancel: cancel, recheck: make(chan struct{}, 1)}
		f.feeds.by[cluster] = fd
		go f.runFeed(fctx, cluster, fd)
	} else if fd.reg != "" && fd.reg != registration(c) {
		// This subscriber read a newer registration than the feed's.
		select {
		case fd.recheck <- struct{}{}:
		default:
		}
	}
	fd.subs[ch] = struct{}{}
	if fd.stream != nil {
		ch <- *fd.stream
	}
	f.feeds.mu.Unlock()
	context.AfterFunc(ctx, func() { f.unsubscribe(cluster, fd, ch) })
	return ch, nil
}

func (f *Fleet) unsubscribe(cluster string, fd *feed, ch chan Event) {
	f.feeds.mu.Lock()
	defer f.feeds.mu.Unlock()
	if _, ok := fd.subs[ch]; !ok {
		return
	}
	delete(fd.subs, ch)
	close(ch)
	if len(fd.subs) == 0 {
		fd.cancel()
		if f.feeds.by[cluster] == fd {
			delete(f.feeds.by, cluster)
		}
	}
}

// publish hands ev to every subscriber; one that is too far behind is cut
// off instead of slowing the others.
func (f *Fleet) publish(fd *feed, ev Event) {
	f.feeds.mu.Lock()
	defer f.feeds.mu.Unlock()
	if ev.Type == "stream" {
		fd.stream = &ev
	}
	for ch := range fd.subs {
		select {
		case ch <- ev:
		default:
			delete(fd.subs, ch)
			close(ch)
		}
	}
}

// endFeed closes every subscriber after ev (the reason).
func (f *Fleet) endFeed(cluster string, fd *feed, ev Event) {
	f.publish(fd, ev)
	f.feeds.mu.Lock()
	defer f.feeds.mu.Unlock()
	for ch := range fd.subs {
		delete(fd.subs, ch)
		close(ch)
	}
	if f.feeds.by[cluster] == fd {
		delete(f.feeds.by, cluster)
	}
	fd.cancel()
}

// feedPosition is where a feed's engine stream resumes: the time to ask
// from, and the last event sent (events at or before it are not sent
// again).
type feedPosition struct {
	since    time.Time
	lastNano int64
	attempts int
}

// runFeed streams the cluster's events into fd until it has no
// subscribers, following the cluster's registration: when it changes
// (another swarm registered under the name, other endpoints, new TLS
// material) the feed reconnects with the new one, saying "reloaded"; when
// the cluster is deleted the feed ends.
func (f *Fleet) runFeed(ctx context.Context, cluster string, fd *feed) {
	pos := feedPosition{since: f.now()}
	var swarmID string
	for first := true; ; first = false {
		c, err := f.cluster(ctx, cluster)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			f.endFeed(cluster, fd, Event{Type: "stream", Action: "failed", Time: f.now().UTC(), Attributes: map[string]string{"error": publicMessage(err)}})
			return
		}
		f.feeds.mu.Lock()
		fd.reg = registration(c)
		f.feeds.mu.Unlock()
		if !first {
			if c.SwarmID != swarmID { // another swarm: its own history
				pos = feedPosition{since: f.now(), attempts: pos.attempts}
			}
			f.publish(fd, Event{Type: "stream", Action: "reloaded", Time: f.now().UTC(),
				Attributes: map[string]string{"reason": errReregistered.Error()}})
		}
		swarmID = c.SwarmID
		if !f.streamRegistration(ctx, cluster, fd, c, &pos) {
			return
		}
	}
}

// streamRegistration streams the events of registration c into fd until
// ctx ends (false) or the registration changes (true).
func (f *Fleet) streamRegistration(ctx context.Context, cluster string, fd *feed, c store.Cluster, pos *feedPosition) bool {
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go f.watchRegistration(rctx, cancel, cluster, fd, registration(c))
	go f.watchTasks(rctx, c, func(ev Event) { f.publish(fd, ev) })
	f.streamEvents(rctx, cluster, fd, c, pos)
	return ctx.Err() == nil && errors.Is(context.Cause(rctx), errReregistered)
}

// watchRegistration ends ctx with errReregistered once the cluster's
// stored registration is no longer reg, or the cluster is gone. A store
// that does not answer changes nothing: the stream goes on as it is.
func (f *Fleet) watchRegistration(ctx context.Context, cancel context.CancelCauseFunc, cluster string, fd *feed, reg string) {
	tick := time.NewTicker(feedRecheck)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-fd.recheck:
		}
		c, err := f.store.GetCluster(ctx, cluster)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, errs.ErrNotFound), err == nil && registration(c) != reg:
			cancel(errReregistered)
			return
		}
	}
}

// streamEvents streams the engine events of registration c into fd until
// ctx ends. When the manager streaming them stops answering, the stream
// resumes through another manager from the last event's time, so nothing
// in between is lost (events already sent are not sent again). Events of
// type "stream" say when the engine stream is "connected" and
// "reconnected", and through which endpoint.
func (f *Fleet) streamEvents(ctx context.Context, cluster string, fd *feed, c store.Cluster, pos *feedPosition) {
	var failingSince time.Time
	backoff := time.Duration(0)
	for ; ; pos.attempts++ {
		if backoff > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
		}
		var msgs <-chan events.Message
		var errc <-chan error
		ep, err := f.do(ctx, c, stream, func(ctx context.Context, api Engine) error {
			// Ask first: Events itself reports a dead engine only on the
			// error channel, too late to try the next manager, and an
			// engine that was demoted answers but streams no swarm events.
			info, err := api.Info(ctx)
			if err != nil {
				return err
			}
			if !info.Swarm.ControlAvailable {
				return errNotManager
			}
			msgs, errc = api.Events(ctx, events.ListOptions{
				Since:   strconv.FormatInt(pos.since.Unix(), 10),
				Filters: filters.NewArgs(filters.Arg("scope", "swarm")),
			})
			return nil
		})
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			// No manager answers now; during a leader election that lasts
			// a few seconds. Keep trying for a while, saying so.
			if failingSince.IsZero() {
				failingSince = time.Now()
			}
			ev := Event{Type: "stream", Action: "retrying", Time: f.now().UTC(), Attributes: map[string]string{"error": publicMessage(err)}}
			if time.Since(failingSince) > feedGiveUp {
				ev.Action = "failed"
				f.endFeed(cluster, fd, ev)
				return
			}
			f.publish(fd, ev)
			backoff = min(max(2*backoff, 250*time.Millisecond), 10*time.Second)
			continue
		}
		failingSince = time.Time{}
		zerolog.Ctx(ctx).Debug().Str("cluster", cluster).Str("endpoint", ep).Int("attempt", pos.attempts).Msg("events stream open")
		action := "connected"
		if pos.attempts > 0 {
			action = "reconnected"
		}
		f.publish(fd, Event{Type: "stream", Action: action, Time: f.now().UTC(), Attributes: map[string]string{"endpoint": ep}})
		opened := time.Now()
		for done := false; !done; {
			select {
			case <-ctx.Done():
				return
			case m := <-msgs:
				if m.TimeNano <= pos.lastNano { // resumed from a whole second: sent already
					continue
				}
				pos.lastNano = m.TimeNano
				pos.since = time.Unix(0, m.TimeNano)
				f.publish(fd, Event{
					Type: string(m.Type), Action: string(m.Action), ID: m.Actor.ID,
					Name: m.Actor.Attributes["name"], Time: time.Unix(0, m.TimeNano).UTC(), Attributes: m.Actor.Attributes,
				})
			case err := <-errc:
				if ctx.Err() != nil {
					return
				}
				zerolog.Ctx(ctx).Debug().Err(err).Str("cluster", cluster).Str("endpoint", ep).Msg("events stream broke; resuming")
				f.pool.markDown(ep)
				done = true
			}
		}
		// A stream that breaks at once again and again must not spin.
		if time.Since(opened) > 30*time.Second {
			backoff = 0
		} else {
			backoff = min(max(2*backoff, 250*time.Millisecond), 10*time.Second)
		}
	}
}

// watchTasks emits a task event whenever a task appears, changes state or
// goes away.
func (f *Fleet) watchTasks(ctx context.Context, c store.Cluster, emit func(Event)) error {
	type seen struct{ state, service string }
	last := map[string]seen{}
	first := true
	tick := time.NewTicker(taskPoll)
	defer tick.Stop()
	for {
		var tasks []swarm.Task
		_, err := f.do(ctx, c, read, func(ctx context.Context, api Engine) (err error) {
			tasks, err = api.TaskList(ctx, swarm.TaskListOptions{})
			return err
		})
		if err == nil {
			now := map[string]seen{}
			for _, t := range tasks {
				s := seen{state: string(t.Status.State), service: t.ServiceID}
				now[t.ID] = s
				if prev, ok := last[t.ID]; !first && (!ok || prev.state != s.state) {
					emit(Event{Type: "task", Action: s.state, ID: t.ID, Time: t.Status.Timestamp.UTC(),
						Attributes: map[string]string{"service": t.ServiceID, "node": t.NodeID, "slot": fmt.Sprint(t.Slot), "message": t.Status.Message}})
				}
			}
			for id, s := range last {
				if _, ok := now[id]; !ok {
					emit(Event{Type: "task", Action: "removed", ID: id, Time: f.now().UTC(), Attributes: map[string]string{"service": s.service}})
				}
			}
			last, first = now, false
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// publishCluster hands ev to the cluster's feed, if one runs on this
// instance.
func (f *Fleet) publishCluster(cluster string, ev Event) {
	f.feeds.mu.Lock()
	fd := f.feeds.by[cluster]
	f.feeds.mu.Unlock()
	if fd != nil {
		f.publish(fd, ev)
	}
}

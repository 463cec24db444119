package swarm

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/rs/zerolog"
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

// Events sends the cluster's swarm-scope events to out until ctx ends.
// When the manager streaming them stops answering, the stream is resumed
// through another manager from the last event's time, so nothing in
// between is lost. Events of type "stream" say when the engine stream is
// "connected" and "reconnected", and through which endpoint. It returns
// ctx's error, or an error when no manager answers at all.
func (f *Fleet) Events(ctx context.Context, cluster string, out chan<- Event) error {
	c, err := f.cluster(ctx, cluster)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	taskErr := make(chan error, 1)
	go func() { taskErr <- f.watchTasks(ctx, cluster, out) }()

	since := f.now()
	for attempt := 0; ; attempt++ {
		var msgs <-chan events.Message
		var errc <-chan error
		ep, err := f.do(ctx, c, stream, func(ctx context.Context, api Engine) error {
			// Ping first: Events itself reports a dead engine only on
			// the error channel, too late to try the next manager.
			if _, err := api.Ping(ctx); err != nil {
				return err
			}
			msgs, errc = api.Events(ctx, events.ListOptions{
				Since:   strconv.FormatInt(since.Unix(), 10),
				Filters: filters.NewArgs(filters.Arg("scope", "swarm")),
			})
			return nil
		})
		if err != nil {
			return err
		}
		zerolog.Ctx(ctx).Debug().Str("cluster", cluster).Str("endpoint", ep).Int("attempt", attempt).Msg("events stream open")
		action := "connected"
		if attempt > 0 {
			action = "reconnected"
		}
		send(ctx, out, Event{Type: "stream", Action: action, Time: f.now().UTC(), Attributes: map[string]string{"endpoint": ep}})
		for done := false; !done; {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case err := <-taskErr:
				return err
			case m := <-msgs:
				ev := Event{
					Type: string(m.Type), Action: string(m.Action), ID: m.Actor.ID,
					Name: m.Actor.Attributes["name"], Time: time.Unix(0, m.TimeNano).UTC(), Attributes: m.Actor.Attributes,
				}
				if t := time.Unix(0, m.TimeNano); t.After(since) {
					since = t
				}
				send(ctx, out, ev)
			case err := <-errc:
				if ctx.Err() != nil {
					return ctx.Err()
				}
				zerolog.Ctx(ctx).Debug().Err(err).Str("cluster", cluster).Str("endpoint", ep).Msg("events stream broke; resuming")
				f.pool.markDown(ep)
				done = true
			}
		}
	}
}

func send(ctx context.Context, out chan<- Event, ev Event) {
	select {
	case out <- ev:
	case <-ctx.Done():
	}
}

// watchTasks emits a task event whenever a task appears, changes state or
// goes away.
func (f *Fleet) watchTasks(ctx context.Context, cluster string, out chan<- Event) error {
	c, err := f.cluster(ctx, cluster)
	if err != nil {
		return err
	}
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
					send(ctx, out, Event{Type: "task", Action: s.state, ID: t.ID, Time: t.Status.Timestamp.UTC(),
						Attributes: map[string]string{"service": t.ServiceID, "node": t.NodeID, "slot": fmt.Sprint(t.Slot), "message": t.Status.Message}})
				}
			}
			for id, s := range last {
				if _, ok := now[id]; !ok {
					send(ctx, out, Event{Type: "task", Action: "removed", ID: id, Time: f.now().UTC(), Attributes: map[string]string{"service": s.service}})
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

package swarm

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/rs/zerolog"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// Convergence is how far services have come to run their current spec:
// the answer of a change made with "wait", and part of a service's (and a
// stack's) detail.
type Convergence struct {
	// State is "failed" when any service failed, else "updating" when any
	// is still on its way, else "converged".
	State    string               `json:"state"`
	Services []ServiceConvergence `json:"services"` // by name
}

// ServiceConvergence is one service's part of a Convergence.
type ServiceConvergence struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// State is "converged" (every desired task runs the current spec),
	// "updating" (Running of Desired so far) or "failed" (the engine paused
	// or rolled back its update, or tasks of the current spec fail and no
	// update is in progress to do anything about it).
	State string `json:"state"`
	// Desired and Running count tasks of the current spec only. For jobs,
	// Desired is the completions asked for and Running those completed.
	Desired      uint64        `json:"desired"`
	Running      uint64        `json:"running"`
	UpdateStatus *UpdateStatus `json:"update_status,omitempty"`
	// Errors are those of failing tasks of the current spec (of the update
	// rolled back, after an automatic rollback), newest first, at most
	// maxTaskErrors; none once converged.
	Errors []TaskError `json:"errors"`
}

// TaskError is the error of one failing task.
type TaskError struct {
	Task  string    `json:"task"` // "web.2"; a global service's: "web.<node ID prefix>"
	Node  string    `json:"node"` // the node's hostname; "" while unassigned
	Error string    `json:"error"`
	At    time.Time `json:"at"`
}

const (
	stateConverged = "converged"
	stateUpdating  = "updating"
	stateFailed    = "failed"
)

// maxTaskErrors bounds the errors reported per service: the newest say
// enough, and a crash-looping service has hundreds.
const maxTaskErrors = 5

// maxWait bounds a wait: requests (and the shipped nginx config) allow
// five minutes.
const maxWait = 5 * time.Minute

// pollEvery is how often a wait reads the services again.
const pollEvery = 500 * time.Millisecond

// answerMargin is what a wait leaves of its request's time for the answer.
const answerMargin = 2 * time.Second

// ParseWait parses a request's "wait": "" is no wait; else a Go duration
// above zero and up to 5m.
func ParseWait(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d > maxWait {
		return 0, errs.Invalid("wait", "expected a duration up to 5m, e.g. 90s")
	}
	return d, nil
}

// settled reports whether waiting longer can change nothing: every service
// has converged or failed.
func (c Convergence) settled() bool {
	for _, s := range c.Services {
		if s.State == stateUpdating {
			return false
		}
	}
	return true
}

// convergenceEngine is what a convergence report needs of an engine.
type convergenceEngine interface {
	ServiceInspectWithRaw(ctx context.Context, id string, o swarm.ServiceInspectOptions) (swarm.Service, []byte, error)
	TaskList(ctx context.Context, o swarm.TaskListOptions) ([]swarm.Task, error)
	NodeList(ctx context.Context, o swarm.NodeListOptions) ([]swarm.Node, error)
}

// convergenceOf reads the services ids (IDs or names) and reports their
// convergence, in one read round: an inspect per service, one task list
// and one node list (one more task list after an automatic rollback).
func convergenceOf(ctx context.Context, api convergenceEngine, ids []string) (Convergence, error) {
	services := make([]swarm.Service, 0, len(ids))
	for _, id := range ids {
		s, _, err := api.ServiceInspectWithRaw(ctx, id, swarm.ServiceInspectOptions{})
		if isNotFound(err) {
			return Convergence{}, errs.NotFound("service %q not found", id)
		}
		if err != nil {
			return Convergence{}, err
		}
		services = append(services, s)
	}
	return convergenceOfServices(ctx, api, services)
}

// convergenceOfServices reports the convergence of services already read.
func convergenceOfServices(ctx context.Context, api convergenceEngine, services []swarm.Service) (Convergence, error) {
	return convergenceWithNodes(ctx, api, services, nil)
}

// convergenceWithNodes reports the convergence of services already read,
// naming task nodes from nodes, which nil has it list (callers that listed
// them anyway pass theirs).
func convergenceWithNodes(ctx context.Context, api convergenceEngine, services []swarm.Service, nodes []swarm.Node) (Convergence, error) {
	out := Convergence{State: stateConverged, Services: make([]ServiceConvergence, 0, len(services))}
	if len(services) == 0 {
		return out, nil
	}
	// Tasks of the current spec only: "_up-to-date" is the engine's own
	// test (the one its updater uses, swarmkit's IsTaskDirty), which the
	// docker CLI's progress display filters by too. A task of an earlier
	// spec, failed or not, never counts.
	args := filters.NewArgs(filters.Arg("_up-to-date", "true"))
	for _, s := range services {
		args.Add("service", s.ID)
	}
	current, err := api.TaskList(ctx, swarm.TaskListOptions{Filters: args})
	if err != nil {
		return Convergence{}, err
	}
	if nodes == nil {
		if nodes, err = api.NodeList(ctx, swarm.NodeListOptions{}); err != nil {
			return Convergence{}, err
		}
	}
	hostnames := make(map[string]string, len(nodes))
	for _, n := range nodes {
		hostnames[n.ID] = n.Description.Hostname
	}
	// After an automatic rollback the current spec is the old one again:
	// why the update was rolled back is told by the tasks of the rejected
	// spec, which only a list without the filter has.
	var rolledBack []swarm.Task
	if ids := autoRolledBack(services); len(ids) > 0 {
		args := filters.NewArgs()
		for _, id := range ids {
			args.Add("service", id)
		}
		if rolledBack, err = api.TaskList(ctx, swarm.TaskListOptions{Filters: args}); err != nil {
			return Convergence{}, err
		}
	}
	for _, s := range services {
		sc := judge(s, tasksOf(current, s.ID), hostnames)
		if autoRollback(s) {
			sc.Errors = taskErrors(s, rolledBack, hostnames, *s.UpdateStatus.StartedAt)
		}
		out.Services = append(out.Services, sc)
	}
	slices.SortFunc(out.Services, func(a, b ServiceConvergence) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID))
	})
	for _, sc := range out.Services {
		switch {
		case sc.State == stateFailed:
			out.State = stateFailed
		case sc.State == stateUpdating && out.State == stateConverged:
			out.State = stateUpdating
		}
	}
	return out, nil
}

func tasksOf(tasks []swarm.Task, serviceID string) []swarm.Task {
	var out []swarm.Task
	for _, t := range tasks {
		if t.ServiceID == serviceID {
			out = append(out, t)
		}
	}
	return out
}

// autoRollback reports whether the engine rolled s back by its update
// config's failure_action. A rollback asked for (docker service rollback)
// swaps the spec with the previous one; the updater's own rollback drops
// the previous spec, which is how the two differ once completed (both
// then say "rollback completed").
func autoRollback(s swarm.Service) bool {
	u := s.UpdateStatus
	return u != nil && u.StartedAt != nil && s.PreviousSpec == nil &&
		(u.State == swarm.UpdateStateRollbackCompleted || u.State == swarm.UpdateStateRollbackStarted || u.State == swarm.UpdateStateRollbackPaused)
}

func autoRolledBack(services []swarm.Service) []string {
	var out []string
	for _, s := range services {
		if autoRollback(s) {
			out = append(out, s.ID)
		}
	}
	return out
}

// globalTasksGrace is how long after a global service is created or
// changed having no task at all counts as "not made yet" rather than as
// "no node is eligible".
const globalTasksGrace = 10 * time.Second

// judge reports one service's convergence from its tasks of the current
// spec.
func judge(s swarm.Service, tasks []swarm.Task, hostnames map[string]string) ServiceConvergence {
	sc := ServiceConvergence{ID: s.ID, Name: s.Spec.Name, Errors: []TaskError{}}
	if u := s.UpdateStatus; u != nil {
		sc.UpdateStatus = &UpdateStatus{State: string(u.State), Message: u.Message, StartedAt: u.StartedAt, CompletedAt: u.CompletedAt}
	}
	sc.Desired, sc.Running = taskCounts(s, tasks)
	sc.Errors = taskErrors(s, tasks, hostnames, time.Time{})
	sc.State = convergenceState(s, sc.Desired, sc.Running, failing(tasks))
	if sc.State == stateConverged && s.Spec.Mode.Global != nil && sc.Desired == 0 && time.Since(s.UpdatedAt) < globalTasksGrace {
		// Just created or changed: its orchestrator has not made the
		// tasks yet, and 0 of 0 says nothing.
		sc.State = stateUpdating
	}
	if sc.State == stateConverged {
		sc.Errors = []TaskError{} // history of a spec that now runs
	}
	return sc
}

// convergenceState decides a service's state. The engine's update status
// comes first: while it updates (or rolls back), its failure_action
// decides what failing tasks lead to (pause, rollback, continue), so
// failing tasks alone do not make the service failed yet; a pause or an
// automatic rollback does. With no update in progress, a service with
// fewer tasks running than desired has failed when one of its slots fails.
func convergenceState(s swarm.Service, desired, running uint64, failing bool) string {
	if u := s.UpdateStatus; u != nil {
		switch u.State {
		case swarm.UpdateStatePaused, swarm.UpdateStateRollbackPaused:
			return stateFailed
		case swarm.UpdateStateUpdating, swarm.UpdateStateRollbackStarted:
			return stateUpdating
		case swarm.UpdateStateRollbackCompleted:
			if autoRollback(s) {
				return stateFailed
			}
		}
	}
	switch {
	case running >= desired:
		return stateConverged
	case failing:
		return stateFailed
	}
	return stateUpdating
}

// failing reports whether a slot (a node, for a global service) of the
// current spec fails rather than starts: none of its tasks runs, and the
// engine rejected one (it could not make the container: a missing image,
// a bad mount), or one crashed twice, or one crashed and the restart
// policy gave up (no task of the slot is wanted any more), or the
// scheduler says why it cannot place one ("no suitable node"). A single
// crash is not a failure yet: apps often exit once while what they need
// starts, and swarm restarts them.
func failing(tasks []swarm.Task) bool {
	type slot struct {
		running, wanted, rejected, stuck bool
		crashes                          int
	}
	slots := map[string]*slot{}
	for _, t := range tasks {
		key := strconv.Itoa(t.Slot)
		if t.Slot == 0 {
			key = "node " + t.NodeID
		}
		sl := slots[key]
		if sl == nil {
			sl = &slot{}
			slots[key] = sl
		}
		switch st := t.Status.State; {
		case st == swarm.TaskStateRunning:
			sl.running = true
		case st == swarm.TaskStateRejected:
			sl.rejected = true
		case st == swarm.TaskStateFailed:
			sl.crashes++
		case st != swarm.TaskStateComplete && t.Status.Err != "" && wanted(t):
			sl.stuck = true
		}
		// A failed task is wanted until the orchestrator acts on it: then
		// it is shut down, and replaced unless the restart policy gave up.
		if wanted(t) {
			sl.wanted = true
		}
	}
	for _, sl := range slots {
		if !sl.running && (sl.rejected || sl.stuck || sl.crashes >= 2 || (sl.crashes > 0 && !sl.wanted)) {
			return true
		}
	}
	return false
}

// taskCounts answers how many tasks of the current spec s wants and how
// many run. A replicated service wants its replicas. A global service
// wants one task per eligible node, which only the orchestrator knows: it
// made one current task for each (so they are counted, which ServiceStatus
// cannot do, as it counts tasks of every spec version). A task waiting out
// its restart delay is desired "ready", so everything short of shutdown
// counts. A job's tasks count once completed, of its current iteration.
func taskCounts(s swarm.Service, tasks []swarm.Task) (desired, running uint64) {
	m := s.Spec.Mode
	job := m.ReplicatedJob != nil || m.GlobalJob != nil
	nodes := map[string]bool{}
	for _, t := range tasks {
		if job && s.JobStatus != nil && (t.JobIteration == nil || t.JobIteration.Index != s.JobStatus.JobIteration.Index) {
			continue
		}
		if wanted(t) {
			nodes[t.NodeID] = true
		}
		switch {
		case job && t.Status.State == swarm.TaskStateComplete:
			running++
		case !job && t.DesiredState == swarm.TaskStateRunning && t.Status.State == swarm.TaskStateRunning:
			running++
		}
	}
	switch {
	case m.Replicated != nil && m.Replicated.Replicas != nil:
		desired = *m.Replicated.Replicas
	case m.ReplicatedJob != nil:
		desired = 1
		if c := m.ReplicatedJob.TotalCompletions; c != nil {
			desired = *c
		} else if c := m.ReplicatedJob.MaxConcurrent; c != nil {
			desired = *c
		}
	case m.GlobalJob != nil:
		desired = running + uint64(len(nodes))
	default:
		desired = uint64(len(nodes))
	}
	return desired, running
}

// wanted reports whether the orchestrator still wants t to run (or, for a
// job, to complete).
func wanted(t swarm.Task) bool {
	switch t.DesiredState {
	case swarm.TaskStateShutdown, swarm.TaskStateRemove, swarm.TaskStateOrphaned, swarm.TaskStateComplete:
		return false
	}
	return t.Status.State != swarm.TaskStateComplete
}

// taskErrors answers the errors of s's failing tasks (created at or after
// since, when set), newest first.
func taskErrors(s swarm.Service, tasks []swarm.Task, hostnames map[string]string, since time.Time) []TaskError {
	out := []TaskError{}
	for _, t := range tasks {
		if t.ServiceID != s.ID || t.CreatedAt.Before(since) {
			continue
		}
		msg, ok := taskError(t)
		if !ok {
			continue
		}
		node := hostnames[t.NodeID]
		if node == "" {
			node = t.NodeID[:min(len(t.NodeID), 12)]
		}
		out = append(out, TaskError{Task: taskName(s.Spec.Name, t), Node: node, Error: msg, At: t.Status.Timestamp.UTC()})
	}
	slices.SortFunc(out, func(a, b TaskError) int {
		return cmp.Or(b.At.Compare(a.At), strings.Compare(a.Task, b.Task))
	})
	return out[:min(len(out), maxTaskErrors)]
}

// taskError answers why t failed: a task failed or rejected, or one that
// carries an error in another state (pending with "no suitable node",
// shut down with an exit code).
func taskError(t swarm.Task) (string, bool) {
	switch t.Status.State {
	case swarm.TaskStateFailed, swarm.TaskStateRejected:
		return explainTaskError(cmp.Or(t.Status.Err, t.Status.Message, string(t.Status.State))), true
	case swarm.TaskStateRunning, swarm.TaskStateComplete:
		return "", false
	}
	return explainTaskError(t.Status.Err), t.Status.Err != ""
}

// noImageHint follows the engine's "No such image" of a task, which is
// all a node reports when its pull failed (the pull's own error is only in
// the engine's log).
const noImageHint = " (the node could not pull the image: it does not exist in the registry, or the registry refused the node; " +
	"a private registry registered under /api/v1/registries with its credentials has them sent with every deploy)"

// explainTaskError adds what the engine leaves unsaid to a task's error.
func explainTaskError(msg string) string {
	if strings.HasPrefix(msg, "No such image:") {
		return msg + noImageHint
	}
	return msg
}

// convergence reports how far the services ids (IDs or names) have come.
func (f *Fleet) convergence(ctx context.Context, c store.Cluster, ids []string) (out Convergence, err error) {
	_, err = f.do(ctx, c, read, func(ctx context.Context, api Engine) error {
		out, err = convergenceOf(ctx, api, ids)
		return err
	})
	return out, err
}

// AwaitConvergence reads the services' convergence every half second until
// every one has converged or failed, or wait is up, or ctx ends, and
// answers the last report: a wait that runs out is an answer ("updating"),
// not an error. A read that fails between reports (a leader election) is
// tried again; only a first read that fails, or a service that is gone,
// is an error.
func (f *Fleet) AwaitConvergence(ctx context.Context, cluster string, ids []string, wait time.Duration) (Convergence, error) {
	c, err := f.cluster(ctx, cluster)
	if err != nil {
		return Convergence{}, err
	}
	// The first report is read whatever the wait, so there is one to answer.
	last, err := f.convergence(ctx, c, ids)
	if err != nil || last.settled() {
		return last, err
	}
	// The wait ends a little before the request's own deadline, leaving
	// time to answer (and to store the answer for idempotent replays).
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)-answerMargin)
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		select {
		case <-wctx.Done():
			return last, nil
		case <-tick.C:
		}
		r, err := f.convergence(wctx, c, ids)
		switch {
		case err == nil:
			if last = r; r.settled() {
				return r, nil
			}
		case wctx.Err() != nil:
			return last, nil
		case errs.KindOf(err) == errs.ErrNotFound:
			return Convergence{}, err
		}
	}
}

// Await answers out with the convergence of its service after waiting up
// to wait for it (nothing when wait is 0). The change was made: a report
// that cannot be read is a warning of the answer, never its failure.
func (f *Fleet) Await(ctx context.Context, cluster string, out Changed, wait time.Duration) Changed {
	if wait <= 0 || out.ID == "" {
		return out
	}
	conv, err := f.AwaitConvergence(ctx, cluster, []string{out.ID}, wait)
	if err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Str("cluster", cluster).Str("service", out.ID).Msg("convergence not read after a change")
		msg := "the engine did not answer"
		if pe, ok := errs.Public(err); ok {
			msg = pe.Message
		}
		out.Warnings = append(warnings(out.Warnings), "the change was made, but its convergence could not be read: "+msg)
		return out
	}
	out.Convergence = &conv
	return out
}

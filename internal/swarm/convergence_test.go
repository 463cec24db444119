package swarm

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/swarm"
	"github.com/google/go-cmp/cmp"

	"github.com/swarmops/swarmops/internal/errs"
)

// convFake answers inspects, task lists and node lists from fixtures.
// Tasks in current are the up-to-date ones (what the engine answers with
// the "_up-to-date" filter); old holds the others. Each list answers the
// tasks of the services filtered for.
type convFake struct {
	services []swarm.Service
	current  []swarm.Task
	old      []swarm.Task
	nodes    []swarm.Node
	calls    []string
}

func (f *convFake) ServiceInspectWithRaw(_ context.Context, id string, _ swarm.ServiceInspectOptions) (swarm.Service, []byte, error) {
	f.calls = append(f.calls, "ServiceInspect "+id)
	for _, s := range f.services {
		if s.ID == id || s.Spec.Name == id {
			return s, nil, nil
		}
	}
	return swarm.Service{}, nil, cerrdefs.ErrNotFound.WithMessage("service " + id + " not found")
}

func (f *convFake) TaskList(_ context.Context, o swarm.TaskListOptions) ([]swarm.Task, error) {
	ids := o.Filters.Get("service")
	slices.Sort(ids)
	upToDate := o.Filters.Contains("_up-to-date")
	f.calls = append(f.calls, fmt.Sprintf("TaskList %v up-to-date=%v", ids, upToDate))
	tasks := f.current
	if !upToDate {
		tasks = append(slices.Clone(f.old), f.current...)
	}
	var out []swarm.Task
	for _, t := range tasks {
		if slices.Contains(ids, t.ServiceID) {
			out = append(out, t)
		}
	}
	return out, nil
}

func (f *convFake) NodeList(context.Context, swarm.NodeListOptions) ([]swarm.Node, error) {
	f.calls = append(f.calls, "NodeList")
	return f.nodes, nil
}

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// replicated builds a replicated service fixture; opts change it.
func replicated(id, name string, replicas uint64, opts ...func(*swarm.Service)) swarm.Service {
	s := service(id, name)
	s.Spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &replicas}
	s.PreviousSpec = &swarm.ServiceSpec{}
	for _, o := range opts {
		o(&s)
	}
	return s
}

func updateStatus(state swarm.UpdateState, msg string) func(*swarm.Service) {
	return func(s *swarm.Service) {
		started := t0
		s.UpdateStatus = &swarm.UpdateStatus{State: state, Message: msg, StartedAt: &started}
	}
}

// autoRolledBackSpec is what the updater's own rollback leaves: no previous spec.
func autoRolledBackSpec(s *swarm.Service) { s.PreviousSpec = nil }

// ctask builds a task fixture at t0+at; opts change it.
func ctask(id, svc, nodeID string, slot int, state swarm.TaskState, at time.Duration, opts ...func(*swarm.Task)) swarm.Task {
	t := task(id, svc, nodeID, slot, state)
	t.CreatedAt, t.Status.Timestamp = t0.Add(at), t0.Add(at)
	if state == swarm.TaskStateFailed || state == swarm.TaskStateRejected {
		t.DesiredState = swarm.TaskStateShutdown
	}
	for _, o := range opts {
		o(&t)
	}
	return t
}

func withErr(msg string) func(*swarm.Task) { return func(t *swarm.Task) { t.Status.Err = msg } }

func desired(s swarm.TaskState) func(*swarm.Task) { return func(t *swarm.Task) { t.DesiredState = s } }

func TestConvergenceOf_States(t *testing.T) {
	noImage := withErr("No such image: app:9")
	for _, tc := range []struct {
		name    string
		service swarm.Service
		current []swarm.Task
		old     []swarm.Task
		want    ServiceConvergence // ID and Name are filled in
	}{
		{
			name:    "every replica runs",
			service: replicated("s1", "web", 2),
			current: []swarm.Task{ctask("a", "s1", "n1", 1, swarm.TaskStateRunning, 0), ctask("b", "s1", "n2", 2, swarm.TaskStateRunning, 0)},
			want:    ServiceConvergence{State: "converged", Desired: 2, Running: 2},
		},
		{
			name:    "no replicas wanted",
			service: replicated("s1", "web", 0),
			want:    ServiceConvergence{State: "converged"},
		},
		{
			name:    "still starting",
			service: replicated("s1", "web", 2),
			current: []swarm.Task{ctask("a", "s1", "n1", 1, swarm.TaskStateRunning, 0), ctask("b", "s1", "n2", 2, swarm.TaskStatePreparing, 0)},
			want:    ServiceConvergence{State: "updating", Desired: 2, Running: 1},
		},
		{
			name:    "created with a missing image: failed at the first rejection",
			service: replicated("s1", "web", 2),
			current: []swarm.Task{
				ctask("a", "s1", "n1", 1, swarm.TaskStateRejected, time.Second, noImage),
				ctask("b", "s1", "n2", 2, swarm.TaskStatePreparing, 0),
				ctask("c", "s1", "", 1, swarm.TaskStatePending, 2*time.Second, desired(swarm.TaskStateReady)),
			},
			want: ServiceConvergence{State: "failed", Desired: 2, Errors: []TaskError{
				{Task: "web.1", Node: "host-1", Error: "No such image: app:9" + noImageHint, At: t0.Add(time.Second)},
			}},
		},
		{
			name:    "failing during an update: the failure action decides",
			service: replicated("s1", "web", 2, updateStatus(swarm.UpdateStateUpdating, "update in progress")),
			current: []swarm.Task{ctask("a", "s1", "n1", 1, swarm.TaskStateRejected, time.Second, noImage)},
			old:     []swarm.Task{ctask("o1", "s1", "n1", 1, swarm.TaskStateRunning, -time.Hour), ctask("o2", "s1", "n2", 2, swarm.TaskStateRunning, -time.Hour)},
			want: ServiceConvergence{State: "updating", Desired: 2,
				UpdateStatus: &UpdateStatus{State: "updating", Message: "update in progress", StartedAt: &t0},
				Errors:       []TaskError{{Task: "web.1", Node: "host-1", Error: "No such image: app:9" + noImageHint, At: t0.Add(time.Second)}}},
		},
		{
			name:    "update paused",
			service: replicated("s1", "web", 1, updateStatus(swarm.UpdateStatePaused, "update paused due to failure or early termination of task a")),
			current: []swarm.Task{ctask("a", "s1", "n2", 1, swarm.TaskStateFailed, time.Second, withErr("task: non-zero exit (1)"))},
			want: ServiceConvergence{State: "failed", Desired: 1,
				UpdateStatus: &UpdateStatus{State: "paused", Message: "update paused due to failure or early termination of task a", StartedAt: &t0},
				Errors:       []TaskError{{Task: "web.1", Node: "host-2", Error: "task: non-zero exit (1)", At: t0.Add(time.Second)}}},
		},
		{
			name:    "rolled back by failure_action: the rejected spec's errors since the update began",
			service: replicated("s1", "web", 1, updateStatus(swarm.UpdateStateRollbackCompleted, "rollback completed"), autoRolledBackSpec),
			current: []swarm.Task{
				ctask("r", "s1", "n1", 1, swarm.TaskStateRunning, 3*time.Second),
				ctask("before", "s1", "n1", 1, swarm.TaskStateFailed, -time.Hour, withErr("an old crash of this spec")),
			},
			old: []swarm.Task{ctask("a", "s1", "n2", 1, swarm.TaskStateRejected, time.Second, noImage)},
			want: ServiceConvergence{State: "failed", Desired: 1, Running: 1,
				UpdateStatus: &UpdateStatus{State: "rollback_completed", Message: "rollback completed", StartedAt: &t0},
				Errors:       []TaskError{{Task: "web.1", Node: "host-2", Error: "No such image: app:9" + noImageHint, At: t0.Add(time.Second)}}},
		},
		{
			name:    "rolling back by failure_action",
			service: replicated("s1", "web", 1, updateStatus(swarm.UpdateStateRollbackStarted, "update rolled back due to failure or early termination of task a"), autoRolledBackSpec),
			old:     []swarm.Task{ctask("a", "s1", "n2", 1, swarm.TaskStateRejected, time.Second, noImage)},
			want: ServiceConvergence{State: "updating", Desired: 1,
				UpdateStatus: &UpdateStatus{State: "rollback_started", Message: "update rolled back due to failure or early termination of task a", StartedAt: &t0},
				Errors:       []TaskError{{Task: "web.1", Node: "host-2", Error: "No such image: app:9" + noImageHint, At: t0.Add(time.Second)}}},
		},
		{
			name:    "a rollback asked for and completed converges",
			service: replicated("s1", "web", 1, updateStatus(swarm.UpdateStateRollbackCompleted, "rollback completed")),
			current: []swarm.Task{ctask("r", "s1", "n1", 1, swarm.TaskStateRunning, 0)},
			want: ServiceConvergence{State: "converged", Desired: 1, Running: 1,
				UpdateStatus: &UpdateStatus{State: "rollback_completed", Message: "rollback completed", StartedAt: &t0}},
		},
		{
			name:    "tasks of an earlier spec never count",
			service: replicated("s1", "web", 2, updateStatus(swarm.UpdateStateCompleted, "update completed")),
			current: []swarm.Task{ctask("a", "s1", "n1", 1, swarm.TaskStateRunning, 0), ctask("b", "s1", "n2", 2, swarm.TaskStateStarting, 0)},
			old: []swarm.Task{
				ctask("o1", "s1", "n1", 1, swarm.TaskStateRejected, -time.Minute, noImage),
				ctask("o2", "s1", "n2", 2, swarm.TaskStateRunning, -time.Minute),
			},
			want: ServiceConvergence{State: "updating", Desired: 2, Running: 1,
				UpdateStatus: &UpdateStatus{State: "completed", Message: "update completed", StartedAt: &t0}},
		},
		{
			name:    "converged after a crash of the current spec: history, not reported",
			service: replicated("s1", "web", 1),
			current: []swarm.Task{
				ctask("a", "s1", "n1", 1, swarm.TaskStateFailed, 0, withErr("task: non-zero exit (2)")),
				ctask("b", "s1", "n1", 1, swarm.TaskStateRunning, time.Second),
			},
			want: ServiceConvergence{State: "converged", Desired: 1, Running: 1},
		},
		{
			name:    "no node can take the task",
			service: replicated("s1", "web", 1),
			current: []swarm.Task{ctask("a", "s1", "", 1, swarm.TaskStatePending, 0, withErr("no suitable node (scheduling constraints not satisfied on 3 nodes)"))},
			want: ServiceConvergence{State: "failed", Desired: 1, Errors: []TaskError{
				{Task: "web.1", Error: "no suitable node (scheduling constraints not satisfied on 3 nodes)", At: t0},
			}},
		},
		{
			name:    "crashed once, restarting: not a failure yet",
			service: replicated("s1", "web", 1),
			current: []swarm.Task{
				ctask("a", "s1", "n1", 1, swarm.TaskStateFailed, 0, withErr("task: non-zero exit (1)")),
				ctask("b", "s1", "n1", 1, swarm.TaskStateReady, time.Second, desired(swarm.TaskStateReady)),
			},
			want: ServiceConvergence{State: "updating", Desired: 1, Errors: []TaskError{
				{Task: "web.1", Node: "host-1", Error: "task: non-zero exit (1)", At: t0},
			}},
		},
		{
			name:    "crashed, not yet seen by the orchestrator",
			service: replicated("s1", "web", 1),
			current: []swarm.Task{ctask("a", "s1", "n1", 1, swarm.TaskStateFailed, 0, withErr("task: non-zero exit (1)"), desired(swarm.TaskStateRunning))},
			want: ServiceConvergence{State: "updating", Desired: 1, Errors: []TaskError{
				{Task: "web.1", Node: "host-1", Error: "task: non-zero exit (1)", At: t0},
			}},
		},
		{
			name:    "crashed twice",
			service: replicated("s1", "web", 1),
			current: []swarm.Task{
				ctask("a", "s1", "n1", 1, swarm.TaskStateFailed, 0, withErr("task: non-zero exit (1)")),
				ctask("b", "s1", "n1", 1, swarm.TaskStateFailed, time.Second, withErr("task: non-zero exit (1)")),
				ctask("c", "s1", "n1", 1, swarm.TaskStateStarting, 2*time.Second),
			},
			want: ServiceConvergence{State: "failed", Desired: 1, Errors: []TaskError{
				{Task: "web.1", Node: "host-1", Error: "task: non-zero exit (1)", At: t0.Add(time.Second)},
				{Task: "web.1", Node: "host-1", Error: "task: non-zero exit (1)", At: t0},
			}},
		},
		{
			name:    "crashed and the restart policy gave up",
			service: replicated("s1", "web", 1),
			current: []swarm.Task{ctask("a", "s1", "n1", 1, swarm.TaskStateFailed, 0, withErr("task: non-zero exit (1)"))},
			want: ServiceConvergence{State: "failed", Desired: 1, Errors: []TaskError{
				{Task: "web.1", Node: "host-1", Error: "task: non-zero exit (1)", At: t0},
			}},
		},
		{
			name:    "rejected on one node, running on another",
			service: replicated("s1", "web", 2),
			current: []swarm.Task{
				ctask("a", "s1", "n1", 1, swarm.TaskStateRejected, 0, noImage),
				ctask("b", "s1", "n2", 1, swarm.TaskStateRunning, time.Second),
				ctask("c", "s1", "n3", 2, swarm.TaskStateStarting, 0),
			},
			want: ServiceConvergence{State: "updating", Desired: 2, Running: 1, Errors: []TaskError{
				{Task: "web.1", Node: "host-1", Error: "No such image: app:9" + noImageHint, At: t0},
			}},
		},
		{
			name: "global: one task per node, one waiting out its restart delay",
			service: func() swarm.Service {
				s := service("s1", "agent")
				s.Spec.Mode.Global = &swarm.GlobalService{}
				return s
			}(),
			current: []swarm.Task{
				ctask("a", "s1", "n1", 0, swarm.TaskStateRunning, 0),
				ctask("b", "s1", "n2", 0, swarm.TaskStateRunning, 0),
				ctask("c", "s1", "n3", 0, swarm.TaskStateFailed, 0, withErr("task: non-zero exit (1)")),
				ctask("d", "s1", "n3", 0, swarm.TaskStateReady, time.Second, desired(swarm.TaskStateReady)),
			},
			want: ServiceConvergence{State: "updating", Desired: 3, Running: 2, Errors: []TaskError{
				{Task: "agent.n3", Node: "host-3", Error: "task: non-zero exit (1)", At: t0},
			}},
		},
		{
			name: "global: rejected on a node",
			service: func() swarm.Service {
				s := service("s1", "agent")
				s.Spec.Mode.Global = &swarm.GlobalService{}
				return s
			}(),
			current: []swarm.Task{
				ctask("a", "s1", "n1", 0, swarm.TaskStateRunning, 0),
				ctask("c", "s1", "n3", 0, swarm.TaskStateRejected, 0, noImage),
				ctask("d", "s1", "n3", 0, swarm.TaskStateReady, time.Second, desired(swarm.TaskStateReady)),
			},
			want: ServiceConvergence{State: "failed", Desired: 2, Running: 1, Errors: []TaskError{
				{Task: "agent.n3", Node: "host-3", Error: "No such image: app:9" + noImageHint, At: t0},
			}},
		},
		{
			name: "global, changed long ago, with no task: no node is eligible",
			service: func() swarm.Service {
				s := service("s1", "agent")
				s.Spec.Mode.Global = &swarm.GlobalService{}
				return s
			}(),
			want: ServiceConvergence{State: "converged"},
		},
		{
			name: "global, just created, with no task yet: not converged",
			service: func() swarm.Service {
				s := service("s1", "agent")
				s.Spec.Mode.Global = &swarm.GlobalService{}
				s.UpdatedAt = time.Now()
				return s
			}(),
			want: ServiceConvergence{State: "updating"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &convFake{services: []swarm.Service{tc.service}, current: tc.current, old: tc.old,
				nodes: []swarm.Node{node("n1", "host-1"), node("n2", "host-2"), node("n3", "host-3")}}
			got, err := convergenceOf(context.Background(), f, []string{tc.service.ID})
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			want.ID, want.Name = tc.service.ID, tc.service.Spec.Name
			if want.Errors == nil {
				want.Errors = []TaskError{}
			}
			if diff := cmp.Diff(got, Convergence{State: want.State, Services: []ServiceConvergence{want}}); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}
}

func TestConvergenceOf_ManyServices(t *testing.T) {
	f := &convFake{
		services: []swarm.Service{
			replicated("s-web", "web", 1),
			replicated("s-api", "api", 1),
			replicated("s-db", "db", 1, updateStatus(swarm.UpdateStateRollbackCompleted, "rollback completed"), autoRolledBackSpec),
		},
		current: []swarm.Task{
			ctask("w", "s-web", "n1", 1, swarm.TaskStateRunning, 0),
			ctask("a", "s-api", "n1", 1, swarm.TaskStateStarting, 0),
			ctask("d", "s-db", "n1", 1, swarm.TaskStateRunning, 0),
			ctask("x", "s-other", "n1", 1, swarm.TaskStateFailed, 0, withErr("not ours")),
		},
		nodes: []swarm.Node{node("n1", "host-1")},
	}
	got, err := convergenceOf(context.Background(), f, []string{"web", "api", "db"})
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, s := range got.Services {
		states = append(states, s.Name+":"+s.State)
	}
	if diff := cmp.Diff(states, []string{"api:updating", "db:failed", "web:converged"}); diff != "" {
		t.Errorf("services by name (-got +want):\n%s", diff)
	}
	if got.State != "failed" {
		t.Errorf("overall state %q, want failed", got.State)
	}
	// One round: an inspect each, one task list of the current spec for
	// all, one node list, and the unfiltered list for the rolled-back one.
	want := []string{
		"ServiceInspect web", "ServiceInspect api", "ServiceInspect db",
		"TaskList [s-api s-db s-web] up-to-date=true", "NodeList", "TaskList [s-db] up-to-date=false",
	}
	if diff := cmp.Diff(f.calls, want); diff != "" {
		t.Errorf("engine calls (-got +want):\n%s", diff)
	}

	f.services = f.services[:2] // without db: updating wins over converged
	if got, _ := convergenceOf(context.Background(), f, []string{"web", "api"}); got.State != "updating" {
		t.Errorf("overall state %q, want updating", got.State)
	}
	if got, _ := convergenceOf(context.Background(), f, nil); got.State != "converged" || got.Services == nil {
		t.Errorf("no services: %+v", got)
	}
	if _, err := convergenceOf(context.Background(), f, []string{"gone"}); errs.KindOf(err) != errs.ErrNotFound {
		t.Errorf("a missing service: %v", err)
	}
}

func TestConvergenceOf_ErrorsNewestFirstAtMostFive(t *testing.T) {
	f := &convFake{services: []swarm.Service{replicated("s1", "web", 1)}, nodes: []swarm.Node{node("n1", "host-1")}}
	for i := range 8 {
		f.current = append(f.current, ctask(fmt.Sprint("t", i), "s1", "n1", 1, swarm.TaskStateRejected, time.Duration(i)*time.Second,
			withErr(fmt.Sprint("attempt ", i))))
	}
	f.current = append(f.current, ctask("msg", "s1", "n1", 1, swarm.TaskStateFailed, 10*time.Second,
		func(t *swarm.Task) { t.Status.Message = "only a message" }))
	got, err := convergenceOf(context.Background(), f, []string{"s1"})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range got.Services[0].Errors {
		msgs = append(msgs, e.Error)
	}
	if diff := cmp.Diff(msgs, []string{"only a message", "attempt 7", "attempt 6", "attempt 5", "attempt 4"}); diff != "" {
		t.Errorf("errors (-got +want):\n%s", diff)
	}
}

func TestParseWait(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, true},
		{"90s", 90 * time.Second, true},
		{"5m", 5 * time.Minute, true},
		{"1m30s", 90 * time.Second, true},
		{"5m1s", 0, false},
		{"10m", 0, false},
		{"0s", 0, false},
		{"-1s", 0, false},
		{"abc", 0, false},
		{"90", 0, false},
	} {
		got, err := ParseWait(tc.in)
		if tc.ok {
			if err != nil || got != tc.want {
				t.Errorf("ParseWait(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
			continue
		}
		if pe, ok := errs.Public(err); !ok || pe.Kind != errs.ErrInvalid || pe.Field != "wait" {
			t.Errorf("ParseWait(%q): error %v, want invalid wait", tc.in, err)
		}
	}
}

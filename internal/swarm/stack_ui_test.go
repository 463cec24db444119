package swarm

import (
	"encoding/json"
	"testing"

	"github.com/docker/docker/api/types/swarm"
	"github.com/google/go-cmp/cmp"
)

func TestStackStates(t *testing.T) {
	one := uint64(1)
	svc := func(id, name, stack string, running uint64) swarm.Service {
		s := swarm.Service{ID: id, Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: name, Labels: map[string]string{StackLabel: stack}},
			Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}}}}
		s.ServiceStatus = &swarm.ServiceStatus{RunningTasks: running, DesiredTasks: 1}
		return s
	}
	services := []swarm.Service{
		svc("a1", "shop_api", "shop", 1), svc("a2", "shop_web", "shop", 0), svc("b1", "blog_web", "blog", 1), svc("c1", "cms_app", "cms", 0),
	}
	conv := Convergence{Services: []ServiceConvergence{
		{ID: "a1", State: stateConverged}, {ID: "a2", State: stateFailed},
		{ID: "b1", State: stateConverged}, {ID: "c1", State: stateUpdating},
	}}
	got := stackStates(services, conv)
	want := []StackState{
		{StackSummary: StackSummary{Name: "blog", Services: 1, Desired: 1, Running: 1}, State: stateConverged},
		{StackSummary: StackSummary{Name: "cms", Services: 1, Desired: 1, Running: 0}, State: stateUpdating, Updating: 1},
		{StackSummary: StackSummary{Name: "shop", Services: 2, Desired: 2, Running: 1}, State: stateFailed, Failed: 1},
	}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("stackStates (-got +want):\n%s", d)
	}
	if got := stackStates(nil, Convergence{}); got == nil || len(got) != 0 {
		t.Errorf("no services: %#v, want an empty list", got)
	}
}

func TestStackRevision_Outcome(t *testing.T) {
	res := revisionResult{RollbackOf: 2}
	res.Services.Created, res.Services.Updated = []string{"s_a"}, []string{"s_b", "s_c"}
	res.Services.Unchanged, res.Services.Removed = []string{}, []string{"s_d"}
	res.Warnings = []string{"careful"}
	raw, _ := json.Marshal(res)
	opts, _ := json.Marshal(deployOptions{Prune: true, ResolveImage: "never"})
	r := StackRevision{Result: raw, Options: opts}
	want := RevisionOutcome{Created: []string{"s_a"}, Updated: []string{"s_b", "s_c"}, Unchanged: []string{}, Removed: []string{"s_d"},
		Warnings: []string{"careful"}, RollbackOf: 2}
	if d := cmp.Diff(r.Outcome(), want); d != "" {
		t.Errorf("Outcome (-got +want):\n%s", d)
	}
	if got := r.DeployOptions(); got != (RevisionOptions{Prune: true, ResolveImage: "never"}) {
		t.Errorf("DeployOptions: %+v", got)
	}
	if got := (StackRevision{}).Outcome(); got.RollbackOf != 0 || len(got.Created) != 0 {
		t.Errorf("an empty result: %+v", got)
	}
}

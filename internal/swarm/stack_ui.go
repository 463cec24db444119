package swarm

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
)

// StackState is a stack as the stacks page lists it: its task counts and
// how far its services have come to run their current specs.
type StackState struct {
	StackSummary
	// State is the stack's convergence: "failed" when a service failed,
	// else "updating" when one is on its way, else "converged".
	State string
	// Failed and Updating count the services in those states.
	Failed, Updating int
}

// ListStackStates answers the cluster's stacks (services grouped by
// their StackLabel, so stacks deployed by the docker CLI too) with their
// convergence, in two engine calls whatever their number: the list of
// the stacks' services and one list of their tasks of the current specs
// (a third after an automatic rollback, as for any convergence report).
func (f *Fleet) ListStackStates(ctx context.Context, cluster string) ([]StackState, error) {
	c, err := f.cluster(ctx, cluster)
	if err != nil {
		return nil, err
	}
	return readSnapshot(ctx, f, c, "stacks/states", func(ctx context.Context, api Engine) ([]StackState, error) {
		services, err := api.ServiceList(ctx, swarm.ServiceListOptions{Status: true, Filters: filters.NewArgs(filters.Arg("label", StackLabel))})
		if err != nil {
			return nil, err
		}
		// The list needs no node names (it shows no task errors): an empty
		// node list keeps convergenceWithNodes from reading one.
		conv, err := convergenceWithNodes(ctx, api, services, []swarm.Node{})
		if err != nil {
			return nil, err
		}
		return stackStates(services, conv), nil
	})
}

// stackStates groups services and their convergence by stack.
func stackStates(services []swarm.Service, conv Convergence) []StackState {
	summaries := make([]ServiceSummary, 0, len(services))
	stackOf := make(map[string]string, len(services))
	for _, s := range services {
		sum := summarize(s)
		summaries = append(summaries, sum)
		stackOf[s.ID] = sum.Stack
	}
	out := []StackState{}
	at := map[string]int{}
	for _, st := range StacksOf(summaries) {
		at[st.Name] = len(out)
		out = append(out, StackState{StackSummary: st, State: stateConverged})
	}
	for _, sc := range conv.Services {
		i, ok := at[stackOf[sc.ID]]
		if !ok {
			continue
		}
		st := &out[i]
		switch sc.State {
		case stateFailed:
			st.Failed++
			st.State = stateFailed
		case stateUpdating:
			st.Updating++
			if st.State == stateConverged {
				st.State = stateUpdating
			}
		}
	}
	return out
}

// RevisionOutcome is what a revision's deploy did, as a list of revisions
// shows it.
type RevisionOutcome struct {
	Created, Updated, Unchanged, Removed []string
	Warnings                             []string
	// RollbackOf is the revision a rollback redeployed (0: a deploy).
	RollbackOf int
}

// Outcome reads what r's deploy did from its stored result; a result
// that cannot be read is an empty outcome.
func (r StackRevision) Outcome() RevisionOutcome {
	var res revisionResult
	_ = json.Unmarshal(r.Result, &res)
	s := res.Services
	return RevisionOutcome{Created: s.Created, Updated: s.Updated, Unchanged: s.Unchanged, Removed: s.Removed,
		Warnings: res.Warnings, RollbackOf: res.RollbackOf}
}

// RevisionOptions are the deploy options a revision was made with.
type RevisionOptions struct {
	Prune        bool
	ResolveImage string
}

// DeployOptions reads the options r's deploy was made with (the zero
// value when r holds none, as revisions of a list do not).
func (r StackRevision) DeployOptions() RevisionOptions {
	var o deployOptions
	_ = json.Unmarshal(r.Options, &o)
	return RevisionOptions(o)
}

// LatestStackRevision answers the newest revision of a stack with reveal
// as StackRevision has it, and ok false when the stack has none (or the
// instance keeps no history).
func (f *Fleet) LatestStackRevision(ctx context.Context, cluster, name string, reveal bool) (r StackRevision, ok bool, err error) {
	if f.revisions == nil {
		return StackRevision{}, false, nil
	}
	list, err := f.StackRevisions(ctx, cluster, name)
	if err != nil || len(list) == 0 {
		return StackRevision{}, false, err
	}
	newest := slices.MaxFunc(list, func(a, b StackRevision) int { return cmp.Compare(a.Revision, b.Revision) })
	r, err = f.StackRevision(ctx, cluster, name, newest.Revision, reveal)
	return r, err == nil, err
}

package swarm

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/errs"
)

// Task is a task as lists show it.
type Task struct {
	ID           string    `json:"id"`
	Service      string    `json:"service"` // the service's name
	ServiceID    string    `json:"service_id"`
	Slot         int       `json:"slot"` // 0 for tasks of global services
	Node         string    `json:"node"` // the node's ID; "" while unassigned
	NodeHostname string    `json:"node_hostname"`
	State        string    `json:"state"`
	DesiredState string    `json:"desired_state"`
	Message      string    `json:"message"`
	Error        string    `json:"error"`
	Image        string    `json:"image"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Current reports whether the task is part of what its service runs now:
// swarm still wants it (its desired state is not shutdown, remove or
// orphaned). The others are history, which docker service ps also lists.
func (t Task) Current() bool {
	switch swarm.TaskState(t.DesiredState) {
	case swarm.TaskStateShutdown, swarm.TaskStateRemove, swarm.TaskStateOrphaned:
		return false
	}
	return true
}

// TaskFilter selects tasks. Service and Node accept an ID, a unique ID
// prefix or a name (a node's hostname); State is a task state such as
// running.
type TaskFilter struct {
	Service, Node, State string
}

// taskStates are the states a task can be in, as swarmkit names them.
var taskStates = []swarm.TaskState{
	swarm.TaskStateNew, swarm.TaskStateAllocated, swarm.TaskStatePending, swarm.TaskStateAssigned,
	swarm.TaskStateAccepted, swarm.TaskStatePreparing, swarm.TaskStateReady, swarm.TaskStateStarting,
	swarm.TaskStateRunning, swarm.TaskStateComplete, swarm.TaskStateShutdown, swarm.TaskStateFailed,
	swarm.TaskStateRejected, swarm.TaskStateRemove, swarm.TaskStateOrphaned,
}

func (tf TaskFilter) validate() error {
	if tf.State != "" && !slices.Contains(taskStates, swarm.TaskState(tf.State)) {
		names := make([]string, len(taskStates))
		for i, s := range taskStates {
			names[i] = string(s)
		}
		return errs.Invalid("state", "expected a task state: %s", strings.Join(names, ", "))
	}
	return nil
}

// taskEngine is what task lists need of an engine.
type taskEngine interface {
	ServiceList(ctx context.Context, o swarm.ServiceListOptions) ([]swarm.Service, error)
	NodeList(ctx context.Context, o swarm.NodeListOptions) ([]swarm.Node, error)
	TaskList(ctx context.Context, o swarm.TaskListOptions) ([]swarm.Task, error)
}

// ListTasks answers the cluster's tasks selected by tf, sorted by service,
// slot (or node) and newest first, named with one ServiceList and one
// NodeList call whatever their number.
func (f *Fleet) ListTasks(ctx context.Context, cluster string, tf TaskFilter) ([]Task, error) {
	if err := tf.validate(); err != nil {
		return nil, err
	}
	c, err := f.cluster(ctx, cluster)
	if err != nil {
		return nil, err
	}
	return readSnapshot(ctx, f, c, "tasks?"+fmt.Sprint(tf), func(ctx context.Context, api Engine) ([]Task, error) {
		return listTasks(ctx, api, cluster, tf)
	})
}

func listTasks(ctx context.Context, api taskEngine, cluster string, tf TaskFilter) ([]Task, error) {
	services, err := api.ServiceList(ctx, swarm.ServiceListOptions{})
	if err != nil {
		return nil, err
	}
	nodes, err := api.NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return nil, err
	}
	// The engine filters by service and node IDs; names and prefixes are
	// resolved here, from the lists needed to name things anyway.
	args := filters.NewArgs()
	if tf.Service != "" {
		s, err := findService(services, cluster, tf.Service)
		if err != nil {
			return nil, err
		}
		args.Add("service", s.ID)
	}
	if tf.Node != "" {
		ids, err := findNodes(nodes, cluster, tf.Node)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			args.Add("node", id)
		}
	}
	tasks, err := api.TaskList(ctx, swarm.TaskListOptions{Filters: args})
	if err != nil {
		return nil, err
	}
	return taskRows(tasks, services, nodes, tf.State), nil
}

// findService finds a service by ID, name or unique ID prefix.
func findService(services []swarm.Service, cluster, ref string) (swarm.Service, error) {
	var byPrefix []swarm.Service
	for _, s := range services {
		if s.ID == ref || s.Spec.Name == ref {
			return s, nil
		}
		if strings.HasPrefix(s.ID, ref) {
			byPrefix = append(byPrefix, s)
		}
	}
	switch len(byPrefix) {
	case 0:
		return swarm.Service{}, errs.NotFound("service %q not found in cluster %q", ref, cluster)
	case 1:
		return byPrefix[0], nil
	}
	return swarm.Service{}, errs.Invalid("service", "%q is the prefix of %d service IDs; give more of the ID or the name", ref, len(byPrefix))
}

// findNodes finds a node by ID or unique ID prefix, or the nodes of a
// hostname: a machine that left and joined again is listed twice, and
// both have its tasks.
func findNodes(nodes []swarm.Node, cluster, ref string) ([]string, error) {
	var byName, byPrefix []string
	for _, n := range nodes {
		switch {
		case n.ID == ref:
			return []string{n.ID}, nil
		case n.Description.Hostname == ref:
			byName = append(byName, n.ID)
		case strings.HasPrefix(n.ID, ref):
			byPrefix = append(byPrefix, n.ID)
		}
	}
	switch {
	case len(byName) > 0:
		return byName, nil
	case len(byPrefix) == 1:
		return byPrefix, nil
	case len(byPrefix) > 1:
		return nil, errs.Invalid("node", "%q is the prefix of %d node IDs; give more of the ID or the hostname", ref, len(byPrefix))
	}
	return nil, errs.NotFound("node %q not found in cluster %q", ref, cluster)
}

// taskRows names and sorts tasks; state, when set, keeps only tasks in it.
func taskRows(tasks []swarm.Task, services []swarm.Service, nodes []swarm.Node, state string) []Task {
	serviceNames := make(map[string]string, len(services))
	for _, s := range services {
		serviceNames[s.ID] = s.Spec.Name
	}
	hostnames := make(map[string]string, len(nodes))
	for _, n := range nodes {
		hostnames[n.ID] = n.Description.Hostname
	}
	out := make([]Task, 0, len(tasks))
	for _, t := range tasks {
		if state != "" && string(t.Status.State) != state {
			continue
		}
		row := Task{
			ID: t.ID, Service: serviceNames[t.ServiceID], ServiceID: t.ServiceID, Slot: t.Slot,
			Node: t.NodeID, NodeHostname: hostnames[t.NodeID],
			State: string(t.Status.State), DesiredState: string(t.DesiredState),
			Message: t.Status.Message, Error: t.Status.Err,
			CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC(),
		}
		if row.Service == "" { // its service is gone; the task is history
			row.Service = t.ServiceID
		}
		if cs := t.Spec.ContainerSpec; cs != nil {
			row.Image = imageName(cs.Image)
		}
		out = append(out, row)
	}
	slices.SortFunc(out, func(a, b Task) int {
		return cmp.Or(
			strings.Compare(a.Service, b.Service),
			cmp.Compare(a.Slot, b.Slot),
			strings.Compare(a.NodeHostname, b.NodeHostname),
			b.CreatedAt.Compare(a.CreatedAt),
			strings.Compare(a.ID, b.ID),
		)
	})
	return out
}

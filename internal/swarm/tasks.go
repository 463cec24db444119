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
	"github.com/docker/docker/client"

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
// slot (or node) and newest first, named with one NodeList call and at
// most one ServiceList call whatever their number (none when this
// instance knows every service's name, see listTasks).
func (f *Fleet) ListTasks(ctx context.Context, cluster string, tf TaskFilter) ([]Task, error) {
	if err := tf.validate(); err != nil {
		return nil, err
	}
	c, err := f.cluster(ctx, cluster)
	if err != nil {
		return nil, err
	}
	return readSnapshot(ctx, f, c, "tasks?"+fmt.Sprint(tf), func(ctx context.Context, api Engine) ([]Task, error) {
		return listTasks(ctx, api, cluster, tf, f.serviceNames)
	})
}

// listTasks lists the tasks first when nothing is to be resolved (no
// service or node asked for), and the nodes that name them once the
// engine answered (from a pooled client, meanwhile its answer is read: a
// swarm's largest list keeps the engine busy for a while, which other
// calls at the same time would only make longer); else the tasks after
// the services and nodes. The services' names come from names (when not
// nil), which reads the service list only for a service it has not seen
// (serviceNameCache); without names, or while names knows none of the
// cluster's, the service list is read with the nodes.
func listTasks(ctx context.Context, api taskEngine, cluster string, tf TaskFilter, names *serviceNameCache) ([]Task, error) {
	var (
		services []serviceName
		nodes    []swarm.Node
	)
	listServices := func(ctx context.Context) (err error) {
		services, err = serviceNames(ctx, api)
		return err
	}
	listNodes := func(ctx context.Context) (err error) {
		nodes, err = readNodes(ctx, api)
		return err
	}
	_, pooled := api.(*client.Client)
	if tf.Service == "" && tf.Node == "" {
		calls := []func(context.Context) error{listNodes}
		if names == nil || !names.warm(cluster) {
			calls = append(calls, listServices)
		}
		var (
			named chan error         // set when the calls started as the engine answered
			stop  context.CancelFunc = func() {}
		)
		answered := func() {
			if !pooled {
				return // made in turn, after
			}
			var nctx context.Context
			nctx, stop = context.WithCancel(ctx)
			named = make(chan error, 1)
			go func() { named <- together(nctx, true, calls...) }()
		}
		tasks, err := taskParts(ctx, api, filters.NewArgs(), answered)
		if named != nil {
			if err != nil {
				stop()
			}
			if nerr := <-named; err == nil {
				err = nerr
			}
		} else if err == nil {
			err = together(ctx, false, calls...)
		}
		stop()
		if err != nil {
			return nil, err
		}
		if names == nil {
			return nameTasks(tasks, services, nodes, tf.State), nil
		}
		read := len(calls) > 1
		known, missing := names.of(cluster, tasks)
		if len(missing) > 0 && !read { // a service new to names: read them now
			if err := listServices(ctx); err != nil {
				return nil, err
			}
			read = true
		}
		if read {
			names.learn(cluster, services, missing)
			known = append(known, namesOf(services, missing)...)
		}
		return nameTasks(tasks, known, nodes, tf.State), nil
	}
	if err := together(ctx, pooled, listServices, listNodes); err != nil {
		return nil, err
	}
	if names != nil {
		names.learn(cluster, services, nil)
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
	tasks, err := taskParts(ctx, api, args, nil)
	if err != nil {
		return nil, err
	}
	return nameTasks(tasks, services, nodes, tf.State), nil
}

// together runs calls, at once when concurrent is set (else in turn), and
// answers the first error, if any: the others are then stopped.
func together(ctx context.Context, concurrent bool, calls ...func(ctx context.Context) error) error {
	if !concurrent {
		for _, call := range calls {
			if err := call(ctx); err != nil {
				return err
			}
		}
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(calls))
	for _, call := range calls[1:] {
		go func() { errc <- call(ctx) }()
	}
	errc <- calls[0](ctx)
	var first error
	for range calls {
		if err := <-errc; err != nil && first == nil {
			first = err
			cancel()
		}
	}
	return first
}

// serviceNames lists the services' IDs and names.
func serviceNames(ctx context.Context, api taskEngine) ([]serviceName, error) {
	return readList(ctx, "/services", func(ctx context.Context) ([]swarm.Service, error) {
		return api.ServiceList(ctx, swarm.ServiceListOptions{})
	}, readServiceName, func(s swarm.Service) serviceName { return serviceName{ID: s.ID, Name: s.Spec.Name} })
}

// taskParts lists the tasks args selects as rows not yet named, in parts
// (readListParts), calling answered (when set) once the engine answered.
func taskParts(ctx context.Context, api taskEngine, args filters.Args, answered func()) ([][]Task, error) {
	var full []swarm.Task
	parts, taken, err := readListParts(ctx, "/tasks", func(ctx context.Context) (err error) {
		full, err = api.TaskList(ctx, swarm.TaskListOptions{Filters: args})
		return err
	}, answered, readTaskRow)
	if err != nil {
		return nil, err
	}
	if !taken {
		rows := make([]Task, 0, len(full))
		for _, t := range full {
			rows = append(rows, taskRow(t))
		}
		parts = [][]Task{rows}
	}
	return parts, nil
}

// findService finds a service by ID, name or unique ID prefix.
func findService(services []serviceName, cluster, ref string) (serviceName, error) {
	var byPrefix []serviceName
	for _, s := range services {
		if s.ID == ref || s.Name == ref {
			return s, nil
		}
		if strings.HasPrefix(s.ID, ref) {
			byPrefix = append(byPrefix, s)
		}
	}
	switch len(byPrefix) {
	case 0:
		return serviceName{}, errs.NotFound("service %q not found in cluster %q", ref, cluster)
	case 1:
		return byPrefix[0], nil
	}
	return serviceName{}, errs.Invalid("service", "%q is the prefix of %d service IDs; give more of the ID or the name", ref, len(byPrefix))
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

// taskRow is the row of t, but for its service's name and its node's
// hostname (nameTasks); readTaskRow reads the same of the engine's answer.
func taskRow(t swarm.Task) Task {
	row := Task{
		ID: t.ID, ServiceID: t.ServiceID, Slot: t.Slot, Node: t.NodeID,
		State: string(t.Status.State), DesiredState: string(t.DesiredState),
		Message: t.Status.Message, Error: t.Status.Err,
		CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC(),
	}
	if cs := t.Spec.ContainerSpec; cs != nil {
		row.Image = imageName(cs.Image)
	}
	return row
}

// taskRows names and sorts tasks; state, when set, keeps only tasks in it.
func taskRows(tasks []swarm.Task, services []swarm.Service, nodes []swarm.Node, state string) []Task {
	rows := make([]Task, 0, len(tasks))
	for _, t := range tasks {
		rows = append(rows, taskRow(t))
	}
	names := make([]serviceName, 0, len(services))
	for _, s := range services {
		names = append(names, serviceName{ID: s.ID, Name: s.Spec.Name})
	}
	return nameTasks([][]Task{rows}, names, nodes, state)
}

// nameTasks names the rows of parts by their services and nodes and
// answers them sorted (CompareTasks); state, when set, keeps only the rows
// in it. Each service (a gone one by its ID) gets its place among the
// names first, so that the rows are put in their services' places in one
// pass, and only each service's rows are sorted then.
func nameTasks(parts [][]Task, services []serviceName, nodes []swarm.Node, state string) []Task {
	type named struct {
		name  string
		rows  int // of it kept
		place int // of its next row
	}
	byID := make(map[string]*named, len(services))
	for _, s := range services {
		byID[s.ID] = &named{name: cmp.Or(s.Name, s.ID)}
	}
	hostnames := make(map[string]string, len(nodes))
	for _, n := range nodes {
		hostnames[n.ID] = n.Description.Hostname
	}
	total := 0
	for _, p := range parts {
		total += len(p)
	}
	ranks := make([]*named, 0, total) // of the rows kept, in turn
	var (
		sn     *named
		lastID string
	)
	for _, p := range parts {
		for i := range p {
			row := &p[i]
			if state != "" && row.State != state {
				continue
			}
			if sn == nil || row.ServiceID != lastID {
				if sn = byID[row.ServiceID]; sn == nil { // its service is gone; the task is history
					sn = &named{name: row.ServiceID}
					byID[row.ServiceID] = sn
				}
				lastID = row.ServiceID
			}
			row.Service, row.NodeHostname = sn.name, hostnames[row.Node]
			sn.rows++
			ranks = append(ranks, sn)
		}
	}
	out := make([]Task, len(ranks))
	if len(out) == 0 {
		return out
	}
	// Services by name; equal names (which CompareTasks cannot tell
	// apart) share their rows' sort.
	order := make([]*named, 0, len(byID))
	for _, sn := range byID {
		if sn.rows > 0 {
			order = append(order, sn)
		}
	}
	slices.SortFunc(order, func(a, b *named) int { return strings.Compare(a.name, b.name) })
	starts := make([]int, 0, len(order)+1) // where each name's rows start
	at := 0
	for i, sn := range order {
		if i == 0 || sn.name != order[i-1].name {
			starts = append(starts, at)
		}
		sn.place = at
		at += sn.rows
	}
	starts = append(starts, at)
	// Each row to its service's next place, then each name's rows sorted.
	k := 0
	for _, p := range parts {
		for i := range p {
			if state != "" && p[i].State != state {
				continue
			}
			sn := ranks[k]
			k++
			out[sn.place] = p[i]
			sn.place++
		}
	}
	for i := 0; i+1 < len(starts); i++ {
		if part := out[starts[i]:starts[i+1]]; len(part) > 1 {
			slices.SortFunc(part, CompareTasks)
		}
	}
	return out
}

// CompareTasks is the order of task lists, docker service ps's: by
// service, slot and node, the newest first (then by ID).
func CompareTasks(a, b Task) int {
	if c := strings.Compare(a.Service, b.Service); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Slot, b.Slot); c != 0 {
		return c
	}
	if c := strings.Compare(a.NodeHostname, b.NodeHostname); c != 0 {
		return c
	}
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

package stack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"

	"github.com/swarmops/swarmops/internal/errs"
)

// Removed lists the names of what Remove removed.
type Removed struct {
	Services []string `json:"services"`
	Networks []string `json:"networks"`
	Secrets  []string `json:"secrets"`
	Configs  []string `json:"configs"`
}

// removeWait bounds how long Remove waits for the stack's tasks to go and
// its networks to lose their endpoints.
var (
	removeWait = 30 * time.Second
	removePoll = 250 * time.Millisecond
)

// Remove removes the stack name as `docker stack rm` does: every service,
// secret, config and network carrying its label, in that order. It goes on
// after a failure and answers what it removed with the failures joined.
// Unlike the CLI, it waits (up to removeWait) for the services' tasks to
// be gone before removing networks, and retries a network that still has
// active endpoints, so that one call removes the whole stack. A stack with
// nothing at all is errs.ErrNotFound.
func Remove(ctx context.Context, api client.APIClient, name string) (Removed, error) {
	r := Removed{Services: []string{}, Networks: []string{}, Secrets: []string{}, Configs: []string{}}
	if name == "" {
		return r, errs.Invalid("name", "a stack needs a name")
	}
	f := stackFilter(name)
	services, err := api.ServiceList(ctx, swarm.ServiceListOptions{Filters: f})
	if err != nil {
		return r, fmt.Errorf("stack %s: list services: %w", name, err)
	}
	networks, err := api.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return r, fmt.Errorf("stack %s: list networks: %w", name, err)
	}
	secrets, err := api.SecretList(ctx, swarm.SecretListOptions{Filters: f})
	if err != nil {
		return r, fmt.Errorf("stack %s: list secrets: %w", name, err)
	}
	configs, err := api.ConfigList(ctx, swarm.ConfigListOptions{Filters: f})
	if err != nil {
		return r, fmt.Errorf("stack %s: list configs: %w", name, err)
	}
	if len(services)+len(networks)+len(secrets)+len(configs) == 0 {
		return r, errs.NotFound("stack %q not found: no service, network, secret or config carries its label", name)
	}

	var failures []error
	remove := func(kind, objName, id string, rm func(context.Context, string) error, into *[]string) {
		switch err := rm(ctx, id); {
		case err == nil:
			*into = append(*into, objName)
		case gone(err):
			// Removed meanwhile, or a node's stale copy of a removed
			// overlay network, still listed for a moment.
		default:
			failures = append(failures, fmt.Errorf("remove %s %s: %w", kind, objName, err))
		}
	}
	slices.SortFunc(services, func(a, b swarm.Service) int { return strings.Compare(a.Spec.Name, b.Spec.Name) })
	for _, s := range services {
		remove("service", s.Spec.Name, s.ID, api.ServiceRemove, &r.Services)
	}
	slices.SortFunc(secrets, func(a, b swarm.Secret) int { return strings.Compare(a.Spec.Name, b.Spec.Name) })
	for _, s := range secrets {
		remove("secret", s.Spec.Name, s.ID, api.SecretRemove, &r.Secrets)
	}
	slices.SortFunc(configs, func(a, b swarm.Config) int { return strings.Compare(a.Spec.Name, b.Spec.Name) })
	for _, c := range configs {
		remove("config", c.Spec.Name, c.ID, api.ConfigRemove, &r.Configs)
	}
	if len(networks) > 0 {
		deadline := time.Now().Add(removeWait)
		if len(services) > 0 {
			// A network keeps the endpoints of its tasks until they have
			// stopped, a few seconds after their services are removed.
			if err := waitTasksGone(ctx, api, name, deadline); err != nil {
				failures = append(failures, err)
			}
		}
		slices.SortFunc(networks, func(a, b network.Summary) int { return strings.Compare(a.Name, b.Name) })
		for _, nw := range networks {
			remove("network", nw.Name, nw.ID, func(ctx context.Context, id string) error {
				return removeNetwork(ctx, api, id, deadline)
			}, &r.Networks)
		}
	}
	if len(failures) > 0 {
		return r, fmt.Errorf("stack %s: %w", name, errors.Join(failures...))
	}
	if len(r.Services)+len(r.Networks)+len(r.Secrets)+len(r.Configs) == 0 {
		return r, errs.NotFound("stack %q not found: no service, network, secret or config carries its label", name)
	}
	return r, nil
}

// gone reports an error of removing an object that is not there (the
// engine answers a stale network's removal with a 500 "not found").
func gone(err error) bool {
	return cerrdefs.IsNotFound(err) || strings.Contains(err.Error(), " not found")
}

// waitTasksGone waits until every task carrying the stack's label that is
// being stopped has ended (or is gone), or the deadline; only a failure of
// ctx or of the engine is an error.
func waitTasksGone(ctx context.Context, api client.APIClient, name string, deadline time.Time) error {
	for {
		tasks, err := api.TaskList(ctx, swarm.TaskListOptions{Filters: stackFilter(name)})
		if err != nil {
			return fmt.Errorf("list tasks: %w", err)
		}
		stopping := func(t swarm.Task) bool {
			// A job's task (desired state "complete") is not stopped by
			// its service's removal on every engine (20.10 leaves it
			// running): waiting for it would only wait for the deadline.
			return !ended[t.Status.State] && (t.DesiredState == swarm.TaskStateShutdown || t.DesiredState == swarm.TaskStateRemove)
		}
		if !slices.ContainsFunc(tasks, stopping) || !time.Now().Before(deadline) {
			return nil
		}
		if err := sleep(ctx, removePoll); err != nil {
			return err
		}
	}
}

// ended are the states of a task whose container is stopped.
var ended = map[swarm.TaskState]bool{
	swarm.TaskStateComplete: true, swarm.TaskStateShutdown: true, swarm.TaskStateFailed: true,
	swarm.TaskStateRejected: true, swarm.TaskStateRemove: true, swarm.TaskStateOrphaned: true,
}

// removeNetwork removes a network, retrying while it has active endpoints
// until the deadline.
func removeNetwork(ctx context.Context, api client.NetworkAPIClient, id string, deadline time.Time) error {
	for {
		err := api.NetworkRemove(ctx, id)
		if err == nil || !strings.Contains(err.Error(), "has active endpoints") || !time.Now().Before(deadline) {
			return err
		}
		if err := sleep(ctx, removePoll); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

package swarm

import (
	"cmp"
	"context"
	"slices"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/errs"
)

// ListStacks answers the cluster's stacks: services grouped by their
// StackLabel, so stacks deployed by the docker CLI are listed too.
func (f *Fleet) ListStacks(ctx context.Context, cluster string) ([]StackSummary, error) {
	services, err := f.ListServices(ctx, cluster, ServiceFilter{})
	if err != nil {
		return nil, err
	}
	return StacksOf(services), nil
}

// StackDetail is a stack with everything that carries its label, and how
// far its services are from their specs.
type StackDetail struct {
	Name        string           `json:"name"`
	Services    []ServiceSummary `json:"services"`
	Tasks       []Task           `json:"tasks"`
	Networks    []NetworkSummary `json:"networks"`
	Secrets     []SecretSummary  `json:"secrets"`
	Configs     []ConfigSummary  `json:"configs"`
	Convergence Convergence      `json:"convergence"`
}

// stackFilter selects the objects a stack's label marks.
func stackFilter(name string) filters.Args {
	return filters.NewArgs(filters.Arg("label", StackLabel+"="+name))
}

// GetStack answers a stack: its services with their tasks, its networks,
// secrets and configs, and the convergence of its services. A stack with
// no object at all is not found.
func (f *Fleet) GetStack(ctx context.Context, cluster, name string) (StackDetail, error) {
	c, err := f.cluster(ctx, cluster)
	if err != nil {
		return StackDetail{}, err
	}
	d, err := readSnapshot(ctx, f, c, "stack/"+name, func(ctx context.Context, api Engine) (StackDetail, error) {
		d := StackDetail{Name: name}
		return d, readStack(ctx, api, cluster, &d)
	})
	if err != nil {
		return StackDetail{}, err
	}
	if len(d.Services)+len(d.Networks)+len(d.Secrets)+len(d.Configs) == 0 {
		return StackDetail{}, errs.NotFound("stack %q not found in cluster %q: no service, network, secret or config carries its label", name, cluster)
	}
	return d, nil
}

// readStack fills d from one manager, in one read round.
func readStack(ctx context.Context, api Engine, cluster string, d *StackDetail) error {
	labelled := stackFilter(d.Name)
	services, err := api.ServiceList(ctx, swarm.ServiceListOptions{Status: true, Filters: labelled})
	if err != nil {
		return err
	}
	slices.SortFunc(services, func(a, b swarm.Service) int { return cmp.Compare(a.Spec.Name, b.Spec.Name) })
	d.Services = make([]ServiceSummary, 0, len(services))
	ids := make([]string, 0, len(services))
	for _, s := range services {
		d.Services = append(d.Services, summarize(s))
		ids = append(ids, s.ID)
	}
	d.Tasks = []Task{}
	var nodes []swarm.Node
	if len(ids) > 0 {
		if nodes, err = api.NodeList(ctx, swarm.NodeListOptions{}); err != nil {
			return err
		}
		byService := filters.NewArgs()
		for _, id := range ids {
			byService.Add("service", id)
		}
		tasks, err := api.TaskList(ctx, swarm.TaskListOptions{Filters: byService})
		if err != nil {
			return err
		}
		d.Tasks = taskRows(tasks, services, nodes, "")
	}
	nets, err := api.NetworkList(ctx, network.ListOptions{Filters: labelled})
	if err != nil {
		return err
	}
	d.Networks = make([]NetworkSummary, 0, len(nets))
	for _, n := range nets {
		d.Networks = append(d.Networks, summarizeNetwork(n))
	}
	secrets, err := api.SecretList(ctx, swarm.SecretListOptions{Filters: labelled})
	if err != nil {
		return err
	}
	d.Secrets = make([]SecretSummary, 0, len(secrets))
	for _, s := range secrets {
		d.Secrets = append(d.Secrets, summarizeSecret(s))
	}
	configs, err := api.ConfigList(ctx, swarm.ConfigListOptions{Filters: labelled})
	if err != nil {
		return err
	}
	d.Configs = make([]ConfigSummary, 0, len(configs))
	for _, c := range configs {
		d.Configs = append(d.Configs, summarizeConfig(c))
	}
	// The services as listed, with the nodes listed above: no second
	// inspect or node list for the report.
	d.Convergence, err = convergenceWithNodes(ctx, api, services, nodes)
	return err
}

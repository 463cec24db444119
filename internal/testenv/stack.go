package testenv

import (
	"context"
	"slices"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
)

// StackLabel marks the objects of a stack, as docker stack deploy labels
// them.
const StackLabel = "com.docker.stack.namespace"

// StackObjects answers the names of the services, networks, secrets and
// configs that carry stack name's label on the engine, by kind ("services",
// "networks", "secrets", "configs"; kinds with none are absent), sorted.
func StackObjects(ctx context.Context, api client.APIClient, name string) (map[string][]string, error) {
	f := filters.NewArgs(filters.Arg("label", StackLabel+"="+name))
	out := map[string][]string{}
	services, err := api.ServiceList(ctx, swarm.ServiceListOptions{Filters: f})
	if err != nil {
		return nil, err
	}
	for _, s := range services {
		out["services"] = append(out["services"], s.Spec.Name)
	}
	nets, err := api.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return nil, err
	}
	for _, n := range nets {
		out["networks"] = append(out["networks"], n.Name)
	}
	secrets, err := api.SecretList(ctx, swarm.SecretListOptions{Filters: f})
	if err != nil {
		return nil, err
	}
	for _, s := range secrets {
		out["secrets"] = append(out["secrets"], s.Spec.Name)
	}
	configs, err := api.ConfigList(ctx, swarm.ConfigListOptions{Filters: f})
	if err != nil {
		return nil, err
	}
	for _, c := range configs {
		out["configs"] = append(out["configs"], c.Spec.Name)
	}
	for _, v := range out {
		slices.Sort(v)
	}
	return out, nil
}

// RemoveStackObjects takes one step of removing what StackObjects found:
// the services, or once none is left, the networks, secrets and configs
// (which the services' tasks hold until they are gone). Call it until
// StackObjects finds nothing; failures show then as what is left.
func RemoveStackObjects(ctx context.Context, api client.APIClient, left map[string][]string) {
	for _, s := range left["services"] {
		_ = api.ServiceRemove(ctx, s)
	}
	if len(left["services"]) > 0 {
		return
	}
	for _, n := range left["networks"] {
		_ = api.NetworkRemove(ctx, n)
	}
	for _, s := range left["secrets"] {
		_ = api.SecretRemove(ctx, s)
	}
	for _, c := range left["configs"] {
		_ = api.ConfigRemove(ctx, c)
	}
}

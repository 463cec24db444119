package swarm

import (
	"context"
	"fmt"

	"github.com/swarmops/swarmops/internal/store"
)

// ClusterView is a registered cluster as answers show it.
type ClusterView struct {
	store.Cluster
	Default bool
	// Health is set when it was asked for.
	Health *Health
}

// ListClusters answers the registered clusters that f selects, with their
// health probed concurrently when withHealth (the whole costs about one
// probe).
func (f *Fleet) ListClusters(ctx context.Context, flt Filter, withHealth bool) ([]ClusterView, error) {
	all, err := f.store.ListClusters(ctx)
	if err != nil {
		return nil, fmt.Errorf("list clusters: %w", err)
	}
	def, err := f.store.DefaultCluster(ctx)
	if err != nil {
		return nil, fmt.Errorf("list clusters: %w", err)
	}
	var kept []store.Cluster
	for _, c := range all {
		if flt.Match(c.Name, c.Labels) {
			kept = append(kept, c)
		}
	}
	var health map[string]Health
	if withHealth {
		health = f.HealthOfAll(ctx, kept)
	}
	out := make([]ClusterView, len(kept))
	for i, c := range kept {
		out[i] = ClusterView{Cluster: c, Default: c.Name == def}
		if h, ok := health[c.Name]; ok {
			out[i].Health = &h
		}
	}
	return out, nil
}

// GetCluster answers one cluster with its health.
func (f *Fleet) GetCluster(ctx context.Context, name string) (ClusterView, error) {
	c, err := f.cluster(ctx, name)
	if err != nil {
		return ClusterView{}, err
	}
	isDefault, err := f.isDefault(ctx, name)
	if err != nil {
		return ClusterView{}, err
	}
	h := f.health(ctx, c)
	return ClusterView{Cluster: c, Default: isDefault, Health: &h}, nil
}

func (f *Fleet) isDefault(ctx context.Context, name string) (bool, error) {
	def, err := f.store.DefaultCluster(ctx)
	if err != nil {
		return false, fmt.Errorf("cluster %q: default mark: %w", name, err)
	}
	return def == name, nil
}

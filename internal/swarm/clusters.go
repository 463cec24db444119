package swarm

import (
	"context"
	"fmt"
	"time"

	"github.com/swarmops/swarmops/internal/store"
)

// ClusterView is a registered cluster as answers show it. It says what
// TLS material the cluster has and holds none of it: no field can carry
// the key or any PEM text, whatever a transport does with the view.
type ClusterView struct {
	Name string
	// Endpoints are the engine API addresses of the swarm's managers.
	Endpoints []string
	Labels    map[string]string // never nil
	SwarmID   string
	CreatedAt time.Time
	UpdatedAt time.Time
	// Default marks the cluster requests use when they name none.
	Default bool
	// TLS is nil for a cluster reached without TLS.
	TLS *TLSSummary
	// Health is set when it was asked for.
	Health *Health
}

// viewOf is the view of the record c, the caller's own (the store answers
// copies; see the redis store's memo): its slices and maps become the
// view's.
func viewOf(c store.Cluster, isDefault bool) ClusterView {
	v := ClusterView{
		Name: c.Name, Endpoints: c.Endpoints, Labels: c.Labels, SwarmID: c.SwarmID,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Default: isDefault, TLS: summarizeTLS(c.TLS),
	}
	if v.Labels == nil {
		v.Labels = map[string]string{}
	}
	return v
}

// ListClusters answers the registered clusters that f selects, with their
// health probed concurrently when withHealth (the whole costs about one
// probe).
func (f *Fleet) ListClusters(ctx context.Context, flt Filter, withHealth bool) ([]ClusterView, error) {
	all, def, err := f.registry(ctx, withHealth)
	if err != nil {
		return nil, fmt.Errorf("list clusters: %w", err)
	}
	kept := all[:0] // the store's answer is ours to reuse
	for _, c := range all {
		if flt.Match(c.Name, c.Labels) {
			kept = append(kept, c)
		}
	}
	var health map[string]Health
	if withHealth {
		health = f.healthOfAll(ctx, kept)
	}
	out := make([]ClusterView, len(kept))
	for i, c := range kept {
		out[i] = viewOf(c, c.Name == def)
		if h, ok := health[c.Name]; ok {
			out[i].Health = &h
		}
	}
	return out, nil
}

// registry answers every cluster and the default mark. A listing needs no
// key, so without health it takes both in one read of the store (one
// round trip to Redis); probes need the engines' TLS keys, which only
// ListClusters opens.
func (f *Fleet) registry(ctx context.Context, withKeys bool) ([]store.Cluster, string, error) {
	if !withKeys {
		return f.store.ListClustersPublic(ctx)
	}
	all, err := f.store.ListClusters(ctx)
	if err != nil {
		return nil, "", err
	}
	def, err := f.store.DefaultCluster(ctx)
	if err != nil {
		return nil, "", err
	}
	return all, def, nil
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
	v := viewOf(c, isDefault)
	h := f.health(ctx, c)
	v.Health = &h
	return v, nil
}

// isDefault reports whether cluster name holds the default mark.
func (f *Fleet) isDefault(ctx context.Context, name string) (bool, error) {
	def, err := f.store.DefaultCluster(ctx)
	if err != nil {
		return false, fmt.Errorf("cluster %q: default mark: %w", name, err)
	}
	return def == name, nil
}

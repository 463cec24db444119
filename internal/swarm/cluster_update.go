package swarm

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/docker/docker/api/types/system"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// ClusterChange is a partial update of a registration.
type ClusterChange struct {
	Endpoints []string
	TLS       *TLS
	// ClearTLS removes TLS material (tls: null in the request).
	ClearTLS bool
	Labels   map[string]string
	Default  *bool
}

func (ch ClusterChange) validate() error {
	if ch.Labels != nil {
		if err := validLabels("labels", ch.Labels); err != nil {
			return err
		}
	}
	if ch.TLS != nil {
		if _, err := TLSConfig(ch.TLS); err != nil {
			return err
		}
	}
	if ch.Endpoints != nil && len(ch.Endpoints) == 0 {
		return errs.Invalid("endpoints", "give at least one manager endpoint")
	}
	for i, e := range ch.Endpoints {
		if _, err := ParseEndpoint(e); err != nil {
			return errs.Invalid(fmt.Sprintf("endpoints[%d]", i), "%v", err)
		}
	}
	return nil
}

// UpdateCluster changes a registration and answers it with its default
// mark. New endpoints must reach managers of the same swarm.
func (f *Fleet) UpdateCluster(ctx context.Context, name string, ch ClusterChange) (ClusterView, error) {
	m := mutation{action: "cluster.update", cluster: name, check: func() error {
		if err := ch.validate(); err != nil {
			return err
		}
		return f.canStoreTLS(ch.TLS)
	}}
	return mutateLocked(ctx, f, m, func(ctx context.Context, old store.Cluster) (ClusterView, error) {
		return f.update(ctx, old, ch)
	})
}

// update is UpdateCluster under the cluster's lock.
func (f *Fleet) update(ctx context.Context, old store.Cluster, ch ClusterChange) (ClusterView, error) {
	c := old
	c.Labels = maps.Clone(old.Labels)
	if ch.Endpoints != nil {
		c.Endpoints = slices.Compact(slices.Clone(ch.Endpoints))
	}
	if ch.ClearTLS {
		c.TLS = nil
	}
	if ch.TLS != nil {
		c.TLS = ch.TLS.stored()
	}
	if ch.Labels != nil {
		c.Labels = ch.Labels
	}
	if ch.Endpoints != nil || ch.TLS != nil || ch.ClearTLS {
		if err := f.checkEndpoints(ctx, c); err != nil {
			return ClusterView{}, err
		}
	}
	c.UpdatedAt = f.now().UTC()
	if err := f.store.UpdateCluster(ctx, c); err != nil {
		return ClusterView{}, fmt.Errorf("update cluster %q: %w", c.Name, err)
	}
	if ch.Default != nil {
		if err := f.setDefault(ctx, c.Name, *ch.Default); err != nil {
			return ClusterView{}, err
		}
	}
	f.pool.forget(old)
	return f.viewWithMark(ctx, c)
}

// viewWithMark is the view of c with its default mark as stored.
func (f *Fleet) viewWithMark(ctx context.Context, c store.Cluster) (ClusterView, error) {
	isDefault, err := f.isDefault(ctx, c.Name)
	if err != nil {
		return ClusterView{}, err
	}
	return viewOf(c, isDefault), nil
}

// setDefault gives cluster name the default mark, or takes it away.
func (f *Fleet) setDefault(ctx context.Context, name string, on bool) error {
	cur, err := f.store.DefaultCluster(ctx)
	if err != nil {
		return fmt.Errorf("default cluster: %w", err)
	}
	switch {
	case on:
		err = f.store.SetDefaultCluster(ctx, name)
	case cur == name:
		err = f.store.SetDefaultCluster(ctx, "")
	}
	if err != nil {
		return fmt.Errorf("default cluster: %w", err)
	}
	return nil
}

// checkEndpoints requires at least one endpoint to answer as a manager of
// the registered swarm and none to belong to another swarm.
func (f *Fleet) checkEndpoints(ctx context.Context, c store.Cluster) error {
	var reached bool
	var last error
	for i, e := range c.Endpoints {
		info, err := f.probeEngine(ctx, e, tlsOf(c.TLS))
		if err != nil {
			last = err
			continue
		}
		if id := swarmID(info); id != "" && c.SwarmID != "" && id != c.SwarmID {
			return errs.Invalid(fmt.Sprintf("endpoints[%d]", i), "the engine at %s belongs to another swarm (%s, not %s)", e, id, c.SwarmID)
		}
		if requireManager(e, info) == nil {
			reached = true
		}
	}
	if !reached {
		if last != nil {
			return last
		}
		return errs.Invalid("endpoints", "none of the endpoints is a manager of this swarm")
	}
	return nil
}

// RefreshCluster re-discovers the swarm's managers through any manager
// that answers, keeping known endpoints first, and answers the cluster
// with its default mark.
func (f *Fleet) RefreshCluster(ctx context.Context, name string) (ClusterView, error) {
	return mutateLocked(ctx, f, mutation{action: "cluster.refresh", cluster: name}, f.refresh)
}

// refresh is RefreshCluster under the cluster's lock.
func (f *Fleet) refresh(ctx context.Context, old store.Cluster) (ClusterView, error) {
	var info system.Info
	used, err := f.do(ctx, old, read, func(ctx context.Context, api Engine) (err error) {
		if info, err = api.Info(ctx); err != nil {
			return err
		}
		if !info.Swarm.ControlAvailable { // demoted: ask another
			return errNotManager
		}
		return nil
	})
	if err != nil {
		return ClusterView{}, err
	}
	if id := swarmID(info); old.SwarmID != "" && id != old.SwarmID {
		return ClusterView{}, errs.Conflict("the engine at %s now belongs to another swarm (%s, registered %s); fix the endpoints", used, id, old.SwarmID)
	}
	found := managerEndpoints(used, info)
	c := old
	c.Endpoints = nil
	for _, e := range old.Endpoints { // keep the known order
		if slices.Contains(found, e) {
			c.Endpoints = append(c.Endpoints, e)
		}
	}
	for _, e := range found {
		if !slices.Contains(c.Endpoints, e) {
			c.Endpoints = append(c.Endpoints, e)
		}
	}
	c.UpdatedAt = f.now().UTC()
	if err := f.store.UpdateCluster(ctx, c); err != nil {
		return ClusterView{}, fmt.Errorf("refresh cluster %q: %w", c.Name, err)
	}
	return f.viewWithMark(ctx, c)
}

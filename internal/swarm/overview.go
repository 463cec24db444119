package swarm

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/store"
)

// Overview is one swarm at a glance, as the fleet page shows it.
type Overview struct {
	Cluster ClusterView
	Health  Health
	// Counted is set when the swarm answered the service and node lists
	// (Services, tasks and EngineVersions are then known).
	Counted      bool
	Services     int
	TasksRunning uint64
	TasksDesired uint64
	// EngineVersions are the distinct engine versions of its nodes.
	EngineVersions []string
	// Known is false for a cluster not probed yet by this instance.
	Known bool
}

// overviews keeps the last overview of each cluster, so the fleet page
// answers at once even while a swarm does not.
type overviews struct {
	mu   sync.Mutex
	last map[string]Overview
	// probed is when the last fresh round ended: rounds asked for within
	// freshFor of it (many open fleet pages) answer its results.
	probed time.Time
}

// freshFor is how long a fresh round's results count as fresh.
const freshFor = 5 * time.Second

// Overviews answers every registered cluster at a glance, problems
// first. fresh probes every cluster concurrently (each a health probe
// bounded by the engine timeout, then one count through a manager that
// answered) and remembers the results; otherwise, and for a fresh round
// asked for within freshFor of the last, the last known results are
// answered without any engine call, Known false where there are none.
func (f *Fleet) Overviews(ctx context.Context, fresh bool) ([]Overview, error) {
	all, err := f.store.ListClusters(ctx)
	if err != nil {
		return nil, err
	}
	def, err := f.store.DefaultCluster(ctx)
	if err != nil {
		return nil, err
	}
	f.known.mu.Lock()
	if fresh && time.Since(f.known.probed) < freshFor {
		fresh = false
	}
	f.known.mu.Unlock()
	out := make([]Overview, len(all))
	var wg sync.WaitGroup
	for i, c := range all {
		view := viewOf(c, c.Name == def)
		if !fresh {
			f.known.mu.Lock()
			o, ok := f.known.last[c.Name]
			f.known.mu.Unlock()
			if !ok || o.Cluster.SwarmID != c.SwarmID { // none, or of a swarm since replaced
				o = Overview{}
			}
			o.Cluster = view
			out[i] = o
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := f.overview(ctx, c)
			o.Cluster = view
			out[i] = o
		}()
	}
	wg.Wait()
	if fresh && ctx.Err() == nil { // a cancelled round knows nothing
		f.known.mu.Lock()
		f.known.probed = time.Now()
		if f.known.last == nil {
			f.known.last = map[string]Overview{}
		}
		clear(f.known.last) // forget deleted clusters
		for _, o := range out {
			f.known.last[o.Cluster.Name] = o
		}
		f.known.mu.Unlock()
	}
	slices.SortStableFunc(out, func(a, b Overview) int {
		return cmp.Or(cmp.Compare(severity(a), severity(b)), cmp.Compare(a.Cluster.Name, b.Cluster.Name))
	})
	return out, nil
}

// severity orders problems first: unreachable, degraded, not yet known,
// healthy.
func severity(o Overview) int {
	switch {
	case !o.Known:
		return 2
	case o.Health.Status == Unreachable:
		return 0
	case o.Health.Status != Healthy:
		return 1
	}
	return 3
}

// overview probes one cluster's health, then counts its services, tasks
// and engine versions through a manager that answers.
func (f *Fleet) overview(ctx context.Context, c store.Cluster) Overview {
	o := Overview{Health: f.health(ctx, c), Known: true}
	if o.Health.Status == Unreachable {
		return o
	}
	var services []swarm.Service
	var nodes []swarm.Node
	_, err := f.do(ctx, c, read, func(ctx context.Context, api Engine) (err error) {
		if services, err = api.ServiceList(ctx, swarm.ServiceListOptions{Status: true}); err != nil {
			return err
		}
		nodes, err = api.NodeList(ctx, swarm.NodeListOptions{})
		return err
	})
	if err != nil {
		return o
	}
	o.Counted, o.Services = true, len(services)
	for _, s := range services {
		if st := s.ServiceStatus; st != nil {
			o.TasksRunning += st.RunningTasks
			o.TasksDesired += st.DesiredTasks
		}
	}
	for _, n := range nodes {
		if v := n.Description.Engine.EngineVersion; v != "" && !slices.Contains(o.EngineVersions, v) {
			o.EngineVersions = append(o.EngineVersions, v)
		}
	}
	slices.Sort(o.EngineVersions)
	return o
}

package swarm

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/lock/local"
	"github.com/swarmops/swarmops/internal/store"
	localstore "github.com/swarmops/swarmops/internal/store/local"
	"github.com/swarmops/swarmops/internal/testenv"
)

// TestHealth_PreferredManagerCutOff: the node list of a probe starts
// with the pings, through the manager that answered last. When that
// manager is cut off (packets dropped, so its calls hang), the probe
// still answers through another manager, naming the cut-off endpoint
// unreachable, and every cluster of a fleet probe is answered.
func TestHealth_PreferredManagerCutOff(t *testing.T) {
	sw := testenv.StartSwarm(t, testenv.SwarmOptions{Managers: 3, Name: "hp"})
	st, err := localstore.Open(t.TempDir(), localstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pool := NewPool(3 * time.Second)
	defer pool.Close()
	f := NewFleet(st, pool, local.New(time.Second), nil, Options{EngineTimeout: 4 * time.Second})
	ctx := context.Background()

	// Managers[0] made the swarm and leads it; the one cut off is another.
	cut := sw.Managers[1]
	c := store.Cluster{Name: "hp", Endpoints: []string{cut.Endpoint, sw.Managers[0].Endpoint, sw.Managers[2].Endpoint}}
	testenv.Poll(t, 30*time.Second, "the swarm healthy through the manager to cut off", func() error {
		h := f.health(ctx, c)
		if h.Status != Healthy || h.EndpointUsed != cut.Endpoint {
			return fmt.Errorf("health %+v, want healthy through %s", h, cut.Endpoint)
		}
		return nil
	})

	if err := cut.Disconnect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cut.Reconnect() })
	for _, h := range []Health{f.health(ctx, c), f.healthOfAll(ctx, []store.Cluster{c})[c.Name]} {
		if h.Status != Degraded && h.Status != Electing {
			t.Errorf("status %q with a manager cut off, want degraded: %+v", h.Status, h)
		}
		if h.Status == Degraded && (h.EndpointUsed == "" || h.EndpointUsed == cut.Endpoint) {
			t.Errorf("node list answered through %q, want another manager than %s", h.EndpointUsed, cut.Endpoint)
		}
		if h.Endpoints[0].Endpoint != cut.Endpoint || h.Endpoints[0].Reachable || !h.Endpoints[1].Reachable || !h.Endpoints[2].Reachable {
			t.Errorf("endpoints %+v, want only %s unreachable", h.Endpoints, cut.Endpoint)
		}
	}
}

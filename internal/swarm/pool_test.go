package swarm

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/testenv"
)

// TestPool_FirstCallsOfASharedClient: the first calls of a new pooled
// client, made at once by many requests, settle its API version once and
// race on nothing (under -race, the docker client's own lazy negotiation
// writes the version while a filtered list reads it); an engine that does
// not answer fails ready as not sent, so that another manager is tried.
func TestPool_FirstCallsOfASharedClient(t *testing.T) {
	sw := testenv.SharedSwarm(t)
	p := NewPool(3 * time.Second)
	t.Cleanup(p.Close)
	api, err := p.Client(sw.Managers[0].Endpoint, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	overlay := filters.NewArgs(filters.Arg("driver", "overlay"))
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			if err := p.ready(ctx, api); err != nil {
				errc <- err
				return
			}
			var err error
			if i%2 == 0 {
				_, err = api.NetworkList(ctx, network.ListOptions{Filters: overlay})
			} else {
				_, err = api.ServiceList(ctx, swarm.ServiceListOptions{})
			}
			if err != nil {
				errc <- err
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Errorf("a first call failed: %v", err)
	}
	if v := api.ClientVersion(); v == "" {
		t.Error("no API version settled")
	}

	// An endpoint nothing listens on: not sent, so the next is tried.
	down, err := p.Client("tcp://127.0.0.1:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	err = p.ready(ctx, down)
	if err == nil || classify(err, false, write) != notSent {
		t.Errorf("ready of a closed port: %v (want a not-sent failure)", err)
	}
}

package testenv

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
)

// NoNode is a placement constraint no node satisfies: tasks of a service
// under it stay pending, so no container starts whatever their number.
const NoNode = "node.labels.bench-none==1"

// CreatePendingServices creates services bench-<from> .. bench-<to-1>
// (labelled bench=1), each of replicas tasks that stay pending (NoNode),
// from the local test image without asking a registry, with workers
// concurrent calls. It answers every failed create.
func CreatePendingServices(ctx context.Context, api client.APIClient, from, to, replicas, workers int) error {
	n := uint64(replicas)
	jobs := make(chan int)
	errc := make(chan error, to-from)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				spec := swarm.ServiceSpec{
					Annotations: swarm.Annotations{Name: fmt.Sprintf("bench-%04d", i), Labels: map[string]string{"bench": "1"}},
					TaskTemplate: swarm.TaskSpec{
						ContainerSpec: &swarm.ContainerSpec{Image: HelloImage1},
						Placement:     &swarm.Placement{Constraints: []string{NoNode}},
					},
					Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &n}},
				}
				cctx, cancel := context.WithTimeout(ctx, time.Minute)
				_, err := api.ServiceCreate(cctx, spec, swarm.ServiceCreateOptions{QueryRegistry: false})
				cancel()
				if err != nil {
					errc <- fmt.Errorf("create service %d: %w", i, err)
				}
			}
		})
	}
	for i := from; i < to; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errc)
	var all []error
	for err := range errc {
		all = append(all, err)
	}
	return errors.Join(all...)
}

package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"

	"github.com/swarmops/swarmops/internal/testenv"
)

// noNode is a placement constraint no node satisfies: the services' tasks
// stay pending, so no container starts whatever their number.
const noNode = "node.labels.bench-none==1"

type created struct {
	began  time.Time
	create time.Duration // until every ServiceCreate answered
}

// createServices creates services bench-<from> .. bench-<to-1>, each of
// replicas pending tasks, with workers concurrent calls, from the local
// test image and without asking a registry.
func createServices(t *testing.T, api *client.Client, from, to, replicas, workers int) created {
	t.Helper()
	began := time.Now()
	n := uint64(replicas)
	jobs := make(chan int)
	errs := make(chan error, to-from)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				spec := swarm.ServiceSpec{
					Annotations: swarm.Annotations{Name: fmt.Sprintf("bench-%04d", i), Labels: map[string]string{"bench": "1"}},
					TaskTemplate: swarm.TaskSpec{
						ContainerSpec: &swarm.ContainerSpec{Image: testenv.HelloImage1},
						Placement:     &swarm.Placement{Constraints: []string{noNode}},
					},
					Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &n}},
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				_, err := api.ServiceCreate(ctx, spec, swarm.ServiceCreateOptions{QueryRegistry: false})
				cancel()
				if err != nil {
					errs <- fmt.Errorf("create service %d: %w", i, err)
				}
			}
		}()
	}
	for i := from; i < to; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return created{began: began, create: time.Since(began)}
}

// waitTasks waits until the engine lists want tasks (the orchestrator
// makes them after each create answered).
func waitTasks(t *testing.T, api *client.Client, want int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		tasks, err := api.TaskList(ctx, swarm.TaskListOptions{})
		cancel()
		if err != nil {
			t.Fatalf("task list: %v", err)
		}
		if len(tasks) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the engine lists %d tasks after 20 minutes, want %d", len(tasks), want)
		}
		time.Sleep(time.Second)
	}
}

// engineCPU answers the share of one core the node's dockerd used over d,
// in percent.
func engineCPU(t *testing.T, n *testenv.Node, d time.Duration) float64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(n.Dir, "pid"))
	if err != nil {
		t.Fatalf("dockerd pid file: %v", err)
	}
	pid := strings.TrimSpace(string(b))
	ticks := func() float64 {
		st, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			t.Fatalf("dockerd stat: %v", err)
		}
		// Fields after the command's closing parenthesis; utime and
		// stime are the 14th and 15th of the line.
		s := string(st)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		u, _ := strconv.ParseFloat(f[11], 64)
		k, _ := strconv.ParseFloat(f[12], 64)
		return u + k
	}
	start, t0 := ticks(), time.Now()
	time.Sleep(d)
	used := ticks() - start
	const hz = 100 // USER_HZ on Linux
	return 100 * used / hz / time.Since(t0).Seconds()
}

package bench

import (
	"context"
	"testing"
	"time"

	"github.com/docker/docker/client"

	"github.com/swarmops/swarmops/internal/testenv"
)

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
	if err := testenv.CreatePendingServices(context.Background(), api, from, to, replicas, workers); err != nil {
		t.Fatal(err)
	}
	return created{began: began, create: time.Since(began)}
}

// engineCPU answers the share of one core the node's dockerd used over d,
// in percent.
func engineCPU(t *testing.T, n *testenv.Node, d time.Duration) float64 {
	t.Helper()
	cpu := func() time.Duration {
		used, err := n.CPUTime()
		if err != nil {
			t.Fatal(err)
		}
		return used
	}
	start, t0 := cpu(), time.Now()
	time.Sleep(d)
	used := cpu() - start
	return 100 * used.Seconds() / time.Since(t0).Seconds()
}

package bench

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
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

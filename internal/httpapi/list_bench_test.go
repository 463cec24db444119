package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/testenv"
)

// The list-overhead benchmark (issue 16): each list of SwarmOps against
// the engine's own call for the same data, alternating requests (order
// swapped every pair) on keep-alive connections, against an in-process
// instance in redis mode. It reports the medians (so-ms, engine-ms) and
// their ratio.
//
//	go test -run '^$' -bench ListOverhead -benchtime 100x ./internal/httpapi/
//
// By default it starts three single-node swarms with a small load
// (listBenchSmall). SWARMOPS_LIST_BENCH_ENGINES="a=tcp://...,b=...,c=..."
// points it at engines loaded as the performance table's are (300
// services and then 1,000, 10 pending replicas each, 20 networks), made
// once elsewhere, as that load takes minutes to create; make bench
// measures the table itself.
//
// Pending services: a placement constraint no node satisfies, so no
// container starts whatever their number; created from the local test
// image without asking a registry.

// listBenchLoad is the load of one engine of the benchmark.
type listBenchLoad struct {
	name               string
	services, replicas int
	networks           int
}

// listBenchFull is the performance table's load: a (300 services, 3,000
// tasks), b (1,000 services, 10,000 tasks), c (no tasks, 20 networks).
var listBenchFull = []listBenchLoad{
	{name: "a", services: 300, replicas: 10},
	{name: "b", services: 1000, replicas: 10},
	{name: "c", networks: 20},
}

// listBenchSmall is the default load, quick to make.
var listBenchSmall = []listBenchLoad{
	{name: "a", services: 30, replicas: 10},
	{name: "b", services: 60, replicas: 10},
	{name: "c", networks: 5},
}

// loadListBenchEngine creates l's networks and pending services on api
// and waits until the engine lists all their tasks.
func loadListBenchEngine(t testing.TB, api *client.Client, l listBenchLoad) {
	t.Helper()
	ctx := context.Background()
	for i := range l.networks {
		if _, err := api.NetworkCreate(ctx, fmt.Sprintf("bench-net-%02d", i), network.CreateOptions{
			Driver: "overlay", Labels: map[string]string{"bench": "1"},
		}); err != nil {
			t.Fatalf("create network: %v", err)
		}
	}
	if err := testenv.CreatePendingServices(ctx, api, 0, l.services, l.replicas, 8); err != nil {
		t.Fatal(err)
	}
	testenv.WaitTasks(t, api, l.services*l.replicas, 20*time.Minute)
}

// startListBenchEngines starts and loads one single-node swarm per load,
// answering their endpoints by load name.
func startListBenchEngines(t testing.TB, loads []listBenchLoad) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, l := range loads {
		s := testenv.StartSwarm(t, testenv.SwarmOptions{Managers: 1, Name: "lb" + l.name})
		loadListBenchEngine(t, s.Managers[0].Client(), l)
		out[l.name] = s.Managers[0].Endpoint
	}
	return out
}

// listBenchGet times a GET of u, to its body read whole, and answers the
// body's size.
func listBenchGet(b testing.TB, c *http.Client, u string) (time.Duration, int) {
	took, n, err := testenv.TimedGet(c, http.MethodGet, u, nil)
	if err != nil {
		b.Fatal(err)
	}
	return took, n
}

// BenchmarkListOverhead measures every list row: one iteration is one
// request to each side, their order swapped every iteration.
func BenchmarkListOverhead(b *testing.B) {
	loads := listBenchSmall
	eps := map[string]string{}
	if s := os.Getenv("SWARMOPS_LIST_BENCH_ENGINES"); s != "" {
		loads = listBenchFull
		for _, kv := range strings.Split(s, ",") {
			k, v, _ := strings.Cut(kv, "=")
			eps[k] = v
		}
	} else {
		eps = startListBenchEngines(b, loads)
	}
	redis := testenv.Redis(b)
	in := apitest.Start(b, apitest.Config(b, apitest.WithRedis(redis.URL(0), fmt.Sprintf("listbench%d:", time.Now().UnixNano()))))
	admin := in.Admin(b)
	for _, l := range loads {
		admin.MustDo(http.MethodPost, "/api/v1/clusters", map[string]any{"name": l.name, "endpoint": eps[l.name]}, nil, 201)
	}
	// A transport of its own per side, keep-alive, without compression.
	ours := &http.Client{Transport: testenv.KeepAliveTransport(16, 4), Jar: admin.HTTP.Jar, Timeout: 2 * time.Minute}
	raw := &http.Client{Transport: testenv.KeepAliveTransport(16, 4), Timeout: 2 * time.Minute}
	engines := map[string]testenv.EngineAPI{}
	for _, l := range loads {
		e, err := testenv.NewEngineAPI(raw, eps[l.name])
		if err != nil {
			b.Fatalf("engine %s: %v", l.name, err)
		}
		engines[l.name] = e
	}
	netFilter, err := filters.ToJSON(filters.NewArgs(filters.Arg("scope", "swarm")))
	if err != nil {
		b.Fatal(err)
	}
	byName := map[string]listBenchLoad{}
	for _, l := range loads {
		byName[l.name] = l
	}
	rows := []struct{ name, cluster, ours, raw string }{
		{fmt.Sprintf("services-%d", byName["a"].services), "a", "/services", "/services?status=true"},
		{fmt.Sprintf("services-%d", byName["b"].services), "b", "/services", "/services?status=true"},
		{fmt.Sprintf("tasks-%d", byName["a"].services*byName["a"].replicas), "a", "/tasks", "/tasks"},
		{fmt.Sprintf("tasks-%d", byName["b"].services*byName["b"].replicas), "b", "/tasks", "/tasks"},
		{"nodes-0tasks", "c", "/nodes", "/nodes"},
		{fmt.Sprintf("nodes-%dtasks", byName["b"].services*byName["b"].replicas), "b", "/nodes", "/nodes"},
		{fmt.Sprintf("networks-%d", byName["c"].networks+1), "c", "/networks", "/networks?filters=" + url.QueryEscape(netFilter)},
	}
	if only := os.Getenv("SWARMOPS_LIST_BENCH_ROWS"); only != "" {
		rows = slices.DeleteFunc(rows, func(r struct{ name, cluster, ours, raw string }) bool {
			return !slices.Contains(strings.Split(only, ","), r.name)
		})
	}
	for _, r := range rows {
		b.Run(r.name, func(b *testing.B) {
			a := in.URL + "/api/v1/clusters/" + r.cluster + r.ours
			e := engines[r.cluster].URL(r.raw)
			var aSize, eSize int
			for range 3 { // warm-up
				_, aSize = listBenchGet(b, ours, a)
				_, eSize = listBenchGet(b, raw, e)
			}
			m := testenv.Alternate(b.Loop,
				func() time.Duration { d, _ := listBenchGet(b, ours, a); return d },
				func() time.Duration { d, _ := listBenchGet(b, raw, e); return d })
			ma, me := m[0], m[1]
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(float64(ma)/1e6, "so-ms")
			b.ReportMetric(float64(me)/1e6, "engine-ms")
			b.ReportMetric(float64(ma)/float64(me), "ratio")
			b.ReportMetric(float64(aSize)/1024, "so-KB")
			b.ReportMetric(float64(eSize)/1024, "engine-KB")
		})
	}
}

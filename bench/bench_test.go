package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"

	"github.com/swarmops/swarmops/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// sizes are what one mode measures.
type sizes struct {
	mode string
	// The big swarm: servicesA services, then servicesB in all, each of
	// replicas pending tasks; networks swarm-scoped networks.
	servicesA, servicesB, replicas, networks int
	workers                                  int // concurrent service creations
	fleet                                    int // single-node swarms of the fleet row
	warm, listSamples, fleetSamples          int // per side
	wrkRounds                                int // alternating wrk runs per side
	wrkDur, memLoadDur, profileDur           time.Duration
	wrkConns, listConns                      int // wrk connections: GET /clusters, the services list
}

var (
	fullSizes = sizes{
		mode: "full", servicesA: 300, servicesB: 1000, replicas: 10, networks: 20, workers: 8,
		fleet: 10, warm: 10, listSamples: 200, fleetSamples: 200,
		wrkRounds: 5, wrkDur: 10 * time.Second, memLoadDur: 20 * time.Second, profileDur: 20 * time.Second,
		wrkConns: 64, listConns: 4,
	}
	smokeSizes = sizes{
		mode: "smoke", servicesA: 3, servicesB: 5, replicas: 4, networks: 2, workers: 4,
		fleet: 2, warm: 2, listSamples: 5, fleetSamples: 5,
		wrkRounds: 1, wrkDur: time.Second, memLoadDur: time.Second, profileDur: 2 * time.Second,
		wrkConns: 16, listConns: 2,
	}
)

func benchSizes(t *testing.T) sizes {
	switch m := os.Getenv("SWARMOPS_BENCH"); m {
	case "full":
		return fullSizes
	case "", "smoke":
		return smokeSizes
	default:
		t.Fatalf("SWARMOPS_BENCH=%q: expected full or smoke (or unset: smoke)", m)
		return sizes{}
	}
}

// TestPerformanceTable measures every row of the table and prints it. In
// smoke mode it checks that every row was measured; it asserts no
// threshold in either mode (the table says pass or over).
func TestPerformanceTable(t *testing.T) {
	sz := benchSizes(t)
	began := time.Now()
	wrk := requireWrk(t)
	tab := &table{}
	tab.header = machine()

	// Binaries build while engines start.
	bins := buildBinaries(t)
	redis := testenv.NewRedis(t, "")

	start := time.Now()
	big := testenv.StartSwarm(t, testenv.SwarmOptions{Managers: 1, Name: "bb"})
	fleet := make([]*testenv.Swarm, sz.fleet)
	for i := range fleet {
		fleet[i] = testenv.StartSwarm(t, testenv.SwarmOptions{Managers: 1, Name: fmt.Sprintf("bf%d", i)})
	}
	tab.note("engines: %d single-node swarms (1 loaded + %d for the fleet row) started in %s",
		1+sz.fleet, sz.fleet, time.Since(start).Round(100*time.Millisecond))

	mgr := big.Managers[0]
	engine := newEngineClient(t, mgr)
	tab.header = append(tab.header, fmt.Sprintf("engine: docker %s (API %s), reached at %s over TCP like SwarmOps reaches it", engine.Version, engine.API, mgr.Endpoint))

	so := startSwarmOps(t, bins.wait(t).swarmops, redis)
	fresh := so.proc.mem(t)
	admin := so.login(t)
	admin.register(t, "big", mgr.Endpoint)
	for i, s := range fleet {
		admin.register(t, fmt.Sprintf("fleet-%02d", i), s.Managers[0].Endpoint)
	}
	time.Sleep(3 * time.Second) // event feeds connected, startup garbage collected
	idle := so.proc.mem(t)
	tab.header = append(tab.header, fmt.Sprintf("swarmops: `swarmops serve` (%s) as a process, store redis, default settings (log level info, access log on); "+
		"%d clusters registered", bins.swarmopsDesc, 1+sz.fleet))

	ctx := context.Background()
	api := mgr.Client()

	// Step 0: networks, and the lists of an empty swarm.
	for i := range sz.networks {
		if _, err := api.NetworkCreate(ctx, fmt.Sprintf("bench-net-%02d", i), network.CreateOptions{
			Driver: "overlay", Labels: map[string]string{"bench": "1"},
		}); err != nil {
			t.Fatalf("create network: %v", err)
		}
	}
	netFilter, err := filters.ToJSON(filters.NewArgs(filters.Arg("scope", "swarm")))
	if err != nil {
		t.Fatal(err)
	}
	tab.list(t, sz, so, admin, engine, "nodes (1 node, 0 tasks)", "/api/v1/clusters/big/nodes", "/nodes", 1)
	tab.list(t, sz, so, admin, engine, fmt.Sprintf("networks (%d swarm networks)", sz.networks+1),
		"/api/v1/clusters/big/networks", "/networks?filters="+url.QueryEscape(netFilter), sz.networks+1)

	// The fleet, before any load on the engines.
	tab.fleet(t, sz, admin, fleet)

	// Step A, then B: pending services (no node satisfies their
	// placement constraint, so no container starts).
	took := createServices(t, api, 0, sz.servicesA, sz.replicas, sz.workers)
	tasksA := sz.servicesA * sz.replicas
	testenv.WaitTasks(t, api, tasksA, 20*time.Minute)
	tab.note("load A: %d services x %d replicas (pending) created in %s, all %d tasks there after %s",
		sz.servicesA, sz.replicas, took.create.Round(100*time.Millisecond), tasksA, time.Since(took.began).Round(100*time.Millisecond))
	tab.list(t, sz, so, admin, engine, fmt.Sprintf("services (%d services)", sz.servicesA),
		"/api/v1/clusters/big/services", "/services?status=true", sz.servicesA)
	tab.list(t, sz, so, admin, engine, fmt.Sprintf("tasks (%d tasks)", tasksA),
		"/api/v1/clusters/big/tasks", "/tasks", tasksA)

	took = createServices(t, api, sz.servicesA, sz.servicesB, sz.replicas, sz.workers)
	tasksB := sz.servicesB * sz.replicas
	testenv.WaitTasks(t, api, tasksB, 20*time.Minute)
	tab.note("load B: %d more services (%d in all, %d tasks) created in %s, all tasks there after %s",
		sz.servicesB-sz.servicesA, sz.servicesB, tasksB, took.create.Round(100*time.Millisecond), time.Since(took.began).Round(100*time.Millisecond))
	cpu := engineCPU(t, mgr, 5*time.Second)
	tab.note("engine CPU while idle with %d pending tasks: %.1f%% of one core (its scheduler retrying them; SwarmOps idle too)", tasksB, cpu)
	tab.list(t, sz, so, admin, engine, fmt.Sprintf("services (%d services)", sz.servicesB),
		"/api/v1/clusters/big/services", "/services?status=true", sz.servicesB)
	tab.list(t, sz, so, admin, engine, fmt.Sprintf("tasks (%d tasks)", tasksB),
		"/api/v1/clusters/big/tasks", "/tasks", tasksB)
	tab.list(t, sz, so, admin, engine, fmt.Sprintf("nodes (1 node, %d tasks)", tasksB),
		"/api/v1/clusters/big/nodes", "/nodes", 1)

	// Throughput against the reference, then memory under load.
	ref := startReference(t, bins.refserver, redis, admin)
	tab.throughput(t, sz, wrk, so, ref, admin)
	tab.memory(t, sz, wrk, so, admin, fresh, idle, sz.servicesB)

	if p := os.Getenv("SWARMOPS_BENCH_PROFILE"); p != "" {
		profileServices(t, sz, redis, mgr.Endpoint, p, sz.servicesB)
		tab.note("CPU profile of an in-process instance serving the %d services list: %s (top: %s.top.txt)", sz.servicesB, p, p)
	}

	tab.note("%s mode, whole run %s", sz.mode, time.Since(began).Round(time.Second))
	fmt.Print(tab.String())

	// Every row measured: finite positive values (no thresholds).
	for _, r := range tab.rows {
		vals := []float64{r.value, r.ours}
		if !r.noRatio {
			vals = append(vals, r.ref)
		}
		for _, v := range vals {
			if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
				t.Errorf("row %q: not measured (value %v, SwarmOps %v, reference %v)", r.name, r.value, r.ours, r.ref)
				break
			}
		}
	}
	if want := 12; len(tab.rows) != want {
		t.Errorf("the table has %d rows, want %d", len(tab.rows), want)
	}
}

// list measures one list row: SwarmOps's answer against the engine's call
// for the same data, alternating, on keep-alive connections.
func (tab *table) list(t *testing.T, sz sizes, so *swarmOps, admin *apiClient, engine *engineClient, name, ours, raw string, want int) {
	t.Helper()
	// Both answers list the same objects.
	var page struct {
		Items []json.RawMessage `json:"items"`
	}
	body := admin.fetch(t, ours)
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatalf("GET %s: %v: %.300s", ours, err, body)
	}
	var rawList []json.RawMessage
	rawBody := engine.fetch(t, raw)
	if err := json.Unmarshal(rawBody, &rawList); err != nil {
		t.Fatalf("engine GET %s: %v: %.300s", raw, err, rawBody)
	}
	if len(page.Items) != want || len(rawList) != want {
		t.Fatalf("%s: SwarmOps lists %d, the engine %d, want %d", name, len(page.Items), len(rawList), want)
	}
	a, b := alternate(sz.warm, sz.listSamples,
		func() time.Duration { return admin.timeGet(t, ours) },
		func() time.Duration { return engine.timeGet(t, raw) })
	tab.add(row{
		name: "list " + name, ours: ms(a), ref: ms(b), value: ms(a) / ms(b), goal: 1.15, atMost: true, unit: "ms",
		context: fmt.Sprintf("%s vs GET %s; %s vs %s; n=%d", shortPath(ours), raw, size(len(body)), size(len(rawBody)), sz.listSamples),
	})
}

// fleet measures GET /api/v1/clusters?health=true over the fleet against
// the slowest of the engines' own probes (what SwarmOps's health check
// asks each: GET /_ping, then the node list), one round of direct probes
// per SwarmOps request, alternating.
func (tab *table) fleet(t *testing.T, sz sizes, admin *apiClient, fleet []*testenv.Swarm) {
	t.Helper()
	const path = "/api/v1/clusters?health=true&q=fleet-"
	var page struct {
		Items []struct {
			Name   string `json:"name"`
			Health struct {
				Status string `json:"status"`
			} `json:"health"`
		} `json:"items"`
	}
	if err := json.Unmarshal(admin.fetch(t, path), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != len(fleet) {
		t.Fatalf("fleet: SwarmOps lists %d clusters, want %d", len(page.Items), len(fleet))
	}
	for _, c := range page.Items {
		if c.Health.Status != "healthy" {
			t.Fatalf("fleet: cluster %s is %q", c.Name, c.Health.Status)
		}
	}
	engines := make([]*engineClient, len(fleet))
	for i, s := range fleet {
		engines[i] = newEngineClient(t, s.Managers[0])
	}
	probe := func() time.Duration {
		var slowest time.Duration
		for _, e := range engines {
			d := e.timeRaw(t, "/_ping") + e.timeGet(t, "/nodes")
			slowest = max(slowest, d)
		}
		return slowest
	}
	a, b := alternate(sz.warm, sz.fleetSamples, func() time.Duration { return admin.timeGet(t, path) }, probe)
	tab.add(row{
		name: fmt.Sprintf("fleet health (%d clusters)", len(fleet)), ours: ms(a), ref: ms(b), value: ms(a) / ms(b),
		goal: 1.3, atMost: true, unit: "ms",
		context: fmt.Sprintf("GET /clusters?health=true vs slowest engine's /_ping + /nodes; n=%d", sz.fleetSamples),
	})
	// The same calls of every engine at once from a bare client: what the
	// engines cost when probed together, so the ratio is what SwarmOps
	// adds (on a machine of few cores, engines probed together compete for
	// it, which the row above counts against SwarmOps).
	together := func() time.Duration {
		start := time.Now()
		errc := make(chan error, 2*len(engines))
		get := func(c *http.Client, method, url string) {
			_, _, err := testenv.TimedGet(c, method, url, nil)
			errc <- err
		}
		for _, e := range engines {
			go get(e.HTTP, http.MethodHead, e.Base+"/_ping")
			go get(e.HTTP, http.MethodGet, e.URL("/nodes"))
		}
		for range 2 * len(engines) {
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		}
		return time.Since(start)
	}
	a, b = alternate(sz.warm, sz.fleetSamples, func() time.Duration { return admin.timeGet(t, path) }, together)
	tab.add(row{
		name: fmt.Sprintf("fleet health (%d clusters) vs all probed at once", len(fleet)), ours: ms(a), ref: ms(b), value: ms(a) / ms(b),
		goal: 1.3, atMost: true, unit: "ms",
		context: fmt.Sprintf("GET /clusters?health=true vs every engine's /_ping and /nodes at once from a bare client; n=%d", sz.fleetSamples),
	})
}

// throughput runs wrk against SwarmOps and the reference in turns, with
// the same session cookie, and compares the medians of their req/s.
func (tab *table) throughput(t *testing.T, sz sizes, wrk string, so *swarmOps, ref *process, admin *apiClient) {
	t.Helper()
	const path = "/api/v1/clusters"
	cookie := "swarmops_session=" + admin.session
	ours, theirs := so.url+path, ref.url+path
	// Warm up both (connections, caches, the runtime's heap).
	runWrk(t, wrk, min(sz.wrkDur, 2*time.Second), sz.wrkConns, ours, cookie)
	runWrk(t, wrk, min(sz.wrkDur, 2*time.Second), sz.wrkConns, theirs, cookie)
	m := testenv.Alternate(testenv.Rounds(sz.wrkRounds),
		func() float64 { return runWrk(t, wrk, sz.wrkDur, sz.wrkConns, ours, cookie).rps },
		func() float64 { return runWrk(t, wrk, sz.wrkDur, sz.wrkConns, theirs, cookie).rps })
	ma, mb := m[0], m[1]
	tab.add(row{
		name: "throughput GET /clusters (session)", ours: ma, ref: mb, value: ma / mb, goal: 0.8, atMost: false, unit: "req/s",
		context: fmt.Sprintf("wrk -t2 -c%d, %d x %s per side, vs bare fiber + 2 Redis GETs", sz.wrkConns, sz.wrkRounds, sz.wrkDur),
	})
}

// memory reports the process's RSS idle and under the throughput load
// plus a load on the largest services list.
func (tab *table) memory(t *testing.T, sz sizes, wrk string, so *swarmOps, admin *apiClient, fresh, idle memInfo, services int) {
	t.Helper()
	tab.add(row{
		name: "memory idle (RSS)", ours: mb(idle.rss), value: mb(idle.rss), goal: 40, atMost: true, unit: "MB", noRatio: true,
		context: fmt.Sprintf("just started: %.1f MB; after registering clusters: %.1f MB", mb(fresh.rss), mb(idle.rss)),
	})
	cookie := "swarmops_session=" + admin.session
	stop := make(chan struct{})
	peak := make(chan int64)
	go func() { // samples VmRSS while wrk runs
		var top int64
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if m, err := readMem(so.proc.pid()); err == nil {
				top = max(top, m.rss)
			}
			select {
			case <-stop:
				peak <- top
				return
			case <-tick.C:
			}
		}
	}()
	done := make(chan wrkResult, 1)
	go func() {
		done <- runWrkErr(wrk, sz.memLoadDur, sz.listConns, so.url+"/api/v1/clusters/big/services", cookie)
	}()
	main := runWrk(t, wrk, sz.memLoadDur, sz.wrkConns, so.url+"/api/v1/clusters", cookie)
	lists := <-done
	close(stop)
	top := <-peak
	if lists.err != nil {
		t.Fatalf("wrk on the services list: %v", lists.err)
	}
	end := so.proc.mem(t)
	top = max(top, end.rss)
	tab.add(row{
		name: fmt.Sprintf("memory under load (%d services)", services), ours: mb(top), value: mb(top), goal: 120, atMost: true, unit: "MB", noRatio: true,
		context: fmt.Sprintf("max RSS sampled during this load; %.0f req/s /clusters + %.1f req/s services list (c%d); VmHWM of the whole run (tasks lists included) %.1f MB",
			main.rps, lists.rps, sz.listConns, mb(end.hwm)),
	})
}

func shortPath(p string) string {
	p = strings.TrimPrefix(p, "/api/v1")
	return strings.Replace(p, "/clusters/big", "/c/{c}", 1)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mb(kb int64) float64 { return float64(kb) / 1024 }

func size(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

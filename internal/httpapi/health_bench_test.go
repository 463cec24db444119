package httpapi_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/testenv"
)

// BenchmarkFleetHealth measures GET /api/v1/clusters?health=true over a
// fleet of single-node swarms (private engines) against the slowest of
// the engines' own probes (HEAD /_ping, then GET /nodes: what the health
// check asks each), as the bench table's fleet row does, on keep-alive
// connections. One iteration is a round of the four series below, each
// round in another order; the figures are medians:
//
//	ours-ms           GET /api/v1/clusters?health=true
//	probe-ms          the slowest engine's /_ping + /nodes, engines one after another
//	ratio             ours-ms / probe-ms (the table's row; goal 1.3)
//	concurrent-ms     every engine's /_ping + /nodes at once, by a bare client:
//	                  what probing the fleet now costs on this machine
//	ratio-concurrent  ours-ms / concurrent-ms
//	list-ms           GET /api/v1/clusters (no health: session, store reads, JSON)
//	engine-calls/op   engine calls SwarmOps made per health request
//	engines-cpu-ms/*  CPU time of all the engines (dockerd) per health
//	                  request (op), per round of concurrent probes, and
//	                  per round of pings alone (10 ms ticks, summed over N)
//
// SWARMOPS_HEALTH_CLUSTERS sets the fleet's size (default 10);
// SWARMOPS_HEALTH_PROFILE=file writes a CPU profile of the measured rounds
// (the in-process instance and the clients). Run it alone:
//
//	go test -run '^$' -bench FleetHealth -benchtime 200x ./internal/httpapi/
func BenchmarkFleetHealth(b *testing.B) {
	size := 10
	if v := os.Getenv("SWARMOPS_HEALTH_CLUSTERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("SWARMOPS_HEALTH_CLUSTERS=%q: expected a positive number", v)
		}
		size = n
	}
	began := time.Now()
	fleet := make([]*testenv.Swarm, size)
	for i := range fleet {
		fleet[i] = testenv.StartSwarm(b, testenv.SwarmOptions{Managers: 1, Name: fmt.Sprintf("hb%d", i)})
	}
	b.Logf("%d single-node swarms started in %s", size, time.Since(began).Round(100*time.Millisecond))

	prefix := fmt.Sprintf("health-bench-%d:", time.Now().UnixNano())
	in := apitest.Start(b, apitest.Config(b, apitest.WithRedis(testenv.Redis(b).URL(0), prefix)))
	admin := in.Admin(b)
	for i, s := range fleet {
		name := fmt.Sprintf("hb-%02d", i)
		admin.MustDo(http.MethodPost, "/api/v1/clusters", map[string]any{"name": name, "endpoint": s.Managers[0].Endpoint}, nil, 201)
		b.Cleanup(func() { admin.Do(http.MethodDelete, "/api/v1/clusters/"+name, nil, nil) })
	}

	// The clients: keep-alive, the session cookie from the admin's jar.
	ours := &http.Client{Transport: testenv.KeepAliveTransport(64, 8), Jar: admin.HTTP.Jar, Timeout: time.Minute}
	const path = "/api/v1/clusters?health=true&q=hb-"
	testenv.Poll(b, 30*time.Second, "every cluster of the fleet healthy", func() error {
		var page struct {
			Items []struct {
				Name   string `json:"name"`
				Health struct {
					Status string `json:"status"`
				} `json:"health"`
			} `json:"items"`
		}
		body, err := testenv.Fetch(ours, in.URL+path, nil)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return err
		}
		if len(page.Items) != size {
			return fmt.Errorf("%d clusters listed, want %d", len(page.Items), size)
		}
		for _, c := range page.Items {
			if c.Health.Status != "healthy" {
				return fmt.Errorf("cluster %s is %q", c.Name, c.Health.Status)
			}
		}
		return nil
	})
	engines := make([]testenv.EngineAPI, size)
	for i, s := range fleet {
		e, err := testenv.NewEngineAPI(&http.Client{Transport: testenv.KeepAliveTransport(64, 8), Timeout: time.Minute}, s.Managers[0].Endpoint)
		if err != nil {
			b.Fatal(err)
		}
		engines[i] = e
	}

	timed := func(c *http.Client, method, url string) time.Duration {
		d, _, err := testenv.TimedGet(c, method, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		return d
	}
	timeOurs := func(p string) time.Duration { return timed(ours, http.MethodGet, in.URL+p) }
	probeOne := func(e testenv.EngineAPI) time.Duration {
		return timed(e.HTTP, http.MethodHead, e.Base+"/_ping") + timed(e.HTTP, http.MethodGet, e.URL("/nodes"))
	}
	slowest := func() time.Duration {
		var d time.Duration
		for _, e := range engines {
			d = max(d, probeOne(e))
		}
		return d
	}
	concurrent := func() time.Duration {
		start := time.Now()
		var wg sync.WaitGroup
		for _, e := range engines {
			wg.Go(func() { probeOne(e) })
		}
		wg.Wait()
		return time.Since(start)
	}

	for range 10 { // warm: connections, API versions, caches
		timeOurs(path)
		slowest()
		concurrent()
		timeOurs("/api/v1/clusters?q=hb-")
	}
	pingAll := func() {
		var wg sync.WaitGroup
		for _, e := range engines {
			wg.Go(func() {
				if _, _, err := testenv.TimedGet(e.HTTP, http.MethodHead, e.Base+"/_ping", nil); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
	profile := func() func() {
		p := os.Getenv("SWARMOPS_HEALTH_PROFILE")
		if p == "" {
			return func() {}
		}
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		return func() { pprof.StopCPUProfile(); _ = f.Close() }
	}

	b.Run(fmt.Sprintf("clusters=%d", size), func(b *testing.B) {
		// The four series take turns, each round in another order.
		series := []func() time.Duration{
			func() time.Duration { return timeOurs(path) },
			slowest,
			concurrent,
			func() time.Duration { return timeOurs("/api/v1/clusters?q=hb-") },
		}
		callsBefore := healthBenchCalls(b, in.URL)
		stop := profile()
		b.ResetTimer()
		m := testenv.Alternate(testenv.Rounds(b.N), series...)
		b.StopTimer()
		stop()
		calls := healthBenchCalls(b, in.URL) - callsBefore

		// The engines' CPU for a round of each kind (not interleaved).
		cpuOf := func(round func()) float64 {
			before := healthEnginesCPU(b, fleet)
			for range b.N {
				round()
			}
			return healthMS(healthEnginesCPU(b, fleet)-before) / float64(b.N)
		}
		cpuOurs := cpuOf(func() { timeOurs(path) })
		cpuProbes := cpuOf(func() { concurrent() })
		cpuPings := cpuOf(pingAll)

		ours, probe, conc, list := m[0], m[1], m[2], m[3]
		b.ReportMetric(healthMS(ours), "ours-ms")
		b.ReportMetric(healthMS(probe), "probe-ms")
		b.ReportMetric(healthMS(ours)/healthMS(probe), "ratio")
		b.ReportMetric(healthMS(conc), "concurrent-ms")
		b.ReportMetric(healthMS(ours)/healthMS(conc), "ratio-concurrent")
		b.ReportMetric(healthMS(list), "list-ms")
		b.ReportMetric(float64(calls)/float64(b.N), "engine-calls/op")
		b.ReportMetric(cpuOurs, "engines-cpu-ms/op")
		b.ReportMetric(cpuProbes, "engines-cpu-ms/probes")
		b.ReportMetric(cpuPings, "engines-cpu-ms/pings")
		b.ReportMetric(0, "ns/op") // wall time of a round: not a figure of ours
	})
}

// healthEnginesCPU answers the CPU time the managers' dockerd processes
// have used so far (user + system, clock ticks of 10 ms).
func healthEnginesCPU(b *testing.B, fleet []*testenv.Swarm) time.Duration {
	b.Helper()
	var sum time.Duration
	for _, s := range fleet {
		used, err := s.Managers[0].CPUTime()
		if err != nil {
			b.Fatal(err)
		}
		sum += used
	}
	return sum
}

func healthMS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// healthBenchCalls sums swarmops_engine_requests_total of the instance at base.
func healthBenchCalls(b *testing.B, base string) int64 {
	b.Helper()
	body, err := testenv.Fetch(http.DefaultClient, base+"/metrics", nil)
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "swarmops_engine_requests_total{") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			b.Fatalf("metrics line %q: %v", line, err)
		}
		n += int64(v)
	}
	return n
}

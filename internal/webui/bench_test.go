package webui_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/testenv"
)

// Pages as fast as the API: each benchmark times a page and the API call
// that answers the same data, alternately in the same run, as a client on
// the same machine sees them (request sent to body read, over loopback,
// keep-alive), and reports both and their ratio:
//
//	go test -run X -bench Pages -benchtime 200x ./internal/webui/
//
// Without -bench (make test) they do not run.

// bnGet answers the time GET path takes c, failing unless it answers 200.
func bnGet(b *testing.B, c *apitest.Client, path string) time.Duration {
	b.Helper()
	req, err := http.NewRequest(http.MethodGet, c.Base+path, nil)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	resp, err := c.HTTP.Do(req)
	if err != nil {
		b.Fatalf("GET %s: %v", path, err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	took := time.Since(start)
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
	}
	return took
}

// bnCompare times page and api alternately, b.N times each, and reports
// page-ns/op, api-ns/op and their ratio (also for the extra pages named).
func bnCompare(b *testing.B, c *apitest.Client, page, api string, extra map[string]string) {
	b.Helper()
	// Warm both up: connections, snapshots, the fleet's last known state.
	for range 3 {
		bnGet(b, c, page)
		bnGet(b, c, api)
		for _, p := range extra {
			bnGet(b, c, p)
		}
	}
	var pageT, apiT time.Duration
	extraT := map[string]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pageT += bnGet(b, c, page)
		apiT += bnGet(b, c, api)
		for name, p := range extra {
			extraT[name] += bnGet(b, c, p)
		}
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(pageT.Nanoseconds())/n, "page-ns/op")
	b.ReportMetric(float64(apiT.Nanoseconds())/n, "api-ns/op")
	b.ReportMetric(float64(pageT)/float64(apiT), "page/api")
	for name, t := range extraT {
		b.ReportMetric(float64(t.Nanoseconds())/n, name+"-ns/op")
		b.ReportMetric(float64(t)/float64(apiT), name+"/api")
	}
}

// BenchmarkPages_Services300: the services page of a cluster of 300
// services (replicas 0, in a private one-manager swarm) against the API's
// list of them (GET /api/v1/clusters/{c}/services). Both make the same one
// engine call.
func BenchmarkPages_Services300(b *testing.B) {
	sw := testenv.StartSwarm(b, testenv.SwarmOptions{Managers: 1, Name: "bn"})
	in := apitest.Start(b, apitest.Config(b))
	admin := in.Admin(b)
	admin.MustDo(http.MethodPost, "/api/v1/clusters", map[string]any{"name": "bench", "endpoint": sw.Managers[0].Endpoint}, nil, 201)
	api := sw.Managers[0].Client()
	zero := uint64(0)
	var wg sync.WaitGroup
	errs := make(chan error, 300)
	sem := make(chan struct{}, 8)
	for i := range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			spec := swarm.ServiceSpec{
				Annotations:  swarm.Annotations{Name: fmt.Sprintf("bench-%03d", i), Labels: map[string]string{"bench": "1"}},
				TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: testenv.HelloImage1}},
				Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &zero}},
			}
			if _, err := api.ServiceCreate(context.Background(), spec, swarm.ServiceCreateOptions{QueryRegistry: false}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatalf("create the services: %v", err)
	}
	var list struct{ Items []struct{ ID string } }
	admin.MustDo(http.MethodGet, "/api/v1/clusters/bench/services", nil, &list, 200)
	if len(list.Items) != 300 {
		b.Fatalf("the API lists %d services, want 300", len(list.Items))
	}
	b.Run("page-vs-api", func(b *testing.B) {
		bnCompare(b, admin, "/c/bench/services", "/api/v1/clusters/bench/services", nil)
	})
}

// BenchmarkPages_Fleet10: the fleet page of 10 clusters against the API's
// list of them with their health (GET /api/v1/clusters?health=true).
//
// The ten clusters are the managers of one private swarm registered ten
// times under other names, straight into the store (registration refuses
// a swarm registered already): the page and the API then do for each the
// same calls against the same engine as they would against ten, so their
// ratio is what it would be; only the engine's own load differs.
//
// The page ("/") answers the last known state of each swarm at once, with
// no engine call; its live refresh ("/?fresh=1", reported as fresh) probes
// every swarm and counts its services, or answers the last round's
// results within 5 s of it, for any number of open fleet pages.
func BenchmarkPages_Fleet10(b *testing.B) {
	sw := testenv.StartSwarm(b, testenv.SwarmOptions{Managers: 1, Name: "bf"})
	in := apitest.Start(b, apitest.Config(b))
	admin := in.Admin(b)
	admin.MustDo(http.MethodPost, "/api/v1/clusters", map[string]any{"name": "fleet-00", "endpoint": sw.Managers[0].Endpoint}, nil, 201)
	first, err := in.Server.Store.GetCluster(context.Background(), "fleet-00")
	if err != nil {
		b.Fatal(err)
	}
	for i := 1; i < 10; i++ {
		c := first
		c.Name = fmt.Sprintf("fleet-%02d", i)
		if err := in.Server.Store.CreateCluster(context.Background(), c); err != nil {
			b.Fatal(err)
		}
	}
	var list struct {
		Items []struct {
			Name   string
			Health struct{ Status string }
		}
	}
	admin.MustDo(http.MethodGet, "/api/v1/clusters?health=true", nil, &list, 200)
	if len(list.Items) != 10 {
		b.Fatalf("the API lists %d clusters, want 10", len(list.Items))
	}
	for _, c := range list.Items {
		if c.Health.Status != "healthy" {
			b.Fatalf("cluster %s is %q", c.Name, c.Health.Status)
		}
	}
	b.Run("page-vs-api", func(b *testing.B) {
		bnCompare(b, admin, "/", "/api/v1/clusters?health=true", map[string]string{"fresh": "/?fresh=1"})
	})
	// A fresh round that really probes (the last one ended more than 5 s
	// before), against the API call right after it: a few samples.
	b.Run("probe-vs-api", func(b *testing.B) {
		var probeT, apiT time.Duration
		const samples = 2
		for range samples {
			time.Sleep(5100 * time.Millisecond)
			probeT += bnGet(b, admin, "/?fresh=1")
			apiT += bnGet(b, admin, "/api/v1/clusters?health=true")
		}
		b.ReportMetric(float64(probeT.Nanoseconds())/samples, "probe-ns/op")
		b.ReportMetric(float64(apiT.Nanoseconds())/samples, "api-ns/op")
		b.ReportMetric(float64(probeT)/float64(apiT), "probe/api")
	})
}

package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/server"
	"github.com/swarmops/swarmops/internal/store"
	"github.com/swarmops/swarmops/internal/testenv"
)

// BenchmarkThroughputClusters measures the throughput row of the bench
// suite in process, to profile it: authenticated GET /api/v1/clusters
// (session cookie) in redis mode, with the access log on (level info,
// to a file) and 11 registered clusters, from many concurrent keep-alive
// connections. It reports the Redis commands one request costs.
//
//	go test -run '^$' -bench ThroughputClusters -cpuprofile cpu.out ./internal/server/
func BenchmarkThroughputClusters(b *testing.B) {
	in := startThroughput(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}}
	defer client.CloseIdleConnections() // before the server stops: it waits for open connections
	get := func() error {
		req, _ := http.NewRequest(http.MethodGet, in.url, nil)
		req.Header.Set("Cookie", in.cookie)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	}
	if err := get(); err != nil {
		b.Fatal(err)
	}
	b.Run("session", func(b *testing.B) {
		before := testenv.RedisStats(b, in.rdb)
		b.SetParallelism(32) // 64 goroutines on 2 CPUs, as wrk -c64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := get(); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.StopTimer()
		after := testenv.RedisStats(b, in.rdb)
		// A script's own commands count as commands; a read event is one
		// request of a client, a round trip (less the INFO of RedisStats).
		b.ReportMetric(float64(after.Commands-before.Commands-1)/float64(b.N), "redis-cmds/op")
		b.ReportMetric(float64(after.Reads-before.Reads-1)/float64(b.N), "redis-round-trips/op")
	})
}

// BenchmarkThroughputProfile profiles the instance of the throughput row
// while wrk loads it (so the profile holds the server only), into the file
// SWARMOPS_THROUGHPUT_PROFILE names, else into a temporary one it names:
//
//	SWARMOPS_THROUGHPUT_PROFILE=/tmp/cpu.out go test -run '^$' -bench ThroughputProfile -benchtime 1x ./internal/server/
//	go tool pprof -top /tmp/cpu.out
func BenchmarkThroughputProfile(b *testing.B) {
	var t testing.TB = b
	out := profilePath(t, "SWARMOPS_THROUGHPUT_PROFILE", "cpu.out")
	wrk := testenv.Require(t, "wrk", "wrk")
	in := startThroughput(t)
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before := testenv.RedisStats(t, in.rdb)
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	res, err := exec.Command(wrk, "-t2", "-c64", "-d10s", "-H", "Cookie: "+in.cookie, in.url).CombinedOutput()
	pprof.StopCPUProfile()
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, res)
	}
	after := testenv.RedisStats(t, in.rdb)
	t.Logf("wrk:\n%s\nredis: %d commands, %d reads", res, after.Commands-before.Commands, after.Reads-before.Reads)
	// What the requests allocated (go tool pprof -sample_index=alloc_space).
	mem, err := os.Create(out + ".mem")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	if err := pprof.Lookup("allocs").WriteTo(mem, 0); err != nil {
		t.Fatal(err)
	}
}

// throughputInstance is an instance of the throughput row.
type throughputInstance struct {
	url    string // of GET /api/v1/clusters
	cookie string // the Cookie header of the first admin's session
	rdb    *goredis.Client
}

// startThroughput starts an instance in redis mode with the access log on
// (level info, to a file) and 11 registered clusters, as the bench suite
// has it, and logs the first admin in. It stops when t ends.
func startThroughput(t testing.TB) throughputInstance {
	redis := testenv.NewRedis(t, "")
	cfg := apitest.Config(t, apitest.WithRedis(redis.URL(0), "tp:"))
	cfg.LogLevel = "info" // the access log on, as `swarmops serve` has it
	logf, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.New(ctx, cfg, logf, server.WithBcryptCost(bcrypt.MinCost))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	base := "http://" + ln.Addr().String()

	// Clusters whose engines are never asked: the list does not probe.
	now := time.Now().UTC()
	for i := range 11 {
		c := store.Cluster{Name: fmt.Sprintf("fleet-%02d", i), Endpoints: []string{fmt.Sprintf("tcp://127.0.0.1:%d", 9+i)},
			SwarmID: fmt.Sprintf("swarm%020d", i), CreatedAt: now, UpdatedAt: now}
		if err := s.Store.CreateCluster(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	cookie := login(t, base)
	opts, err := goredis.ParseURL(redis.URL(0))
	if err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	return throughputInstance{url: base + "/api/v1/clusters", cookie: cookie, rdb: rdb}
}

// login logs the first admin in and answers its Cookie header.
func login(t testing.TB, base string) string {
	t.Helper()
	var cookie string
	testenv.Poll(t, 20*time.Second, "the first admin to log in", func() error {
		resp, err := http.Post(base+"/api/v1/auth/login", "application/json",
			strings.NewReader(`{"username":"admin","password":"`+apitest.AdminPassword+`"}`))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		for _, c := range resp.Cookies() {
			if c.Name == "swarmops_session" {
				cookie = c.Name + "=" + c.Value
			}
		}
		if cookie == "" {
			return errors.New("no session cookie")
		}
		return nil
	})
	return cookie
}

// BenchmarkIdleHeapProfile writes what an idle instance (started, one
// listing answered) holds on its heap to the file
// SWARMOPS_IDLE_HEAP_PROFILE names, else to a temporary one it names (go
// tool pprof -sample_index=inuse_space). Run it with
// -test.memprofilerate=1 to see every allocation.
func BenchmarkIdleHeapProfile(b *testing.B) {
	var t testing.TB = b
	out := profilePath(t, "SWARMOPS_IDLE_HEAP_PROFILE", "heap.out")
	in := startThroughput(t)
	req, _ := http.NewRequest(http.MethodGet, in.url, nil)
	req.Header.Set("Cookie", in.cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	runtime.GC()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		t.Fatal(err)
	}
}

// profilePath answers where a profiling benchmark writes: the file the
// variable env names, else one in a temporary directory, logged either way.
func profilePath(t testing.TB, env, name string) string {
	out := os.Getenv(env)
	if out == "" {
		out = filepath.Join(t.TempDir(), name)
	}
	t.Logf("profile: %s (%s names another file)", out, env)
	return out
}

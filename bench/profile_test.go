package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/testenv"
)

// profileServices writes a CPU profile of an in-process instance (redis
// mode, its own key prefix) serving GET /api/v1/clusters/{c}/services of
// the loaded swarm to sz.listConns clients at once for sz.profileDur, and
// `go tool pprof -top` of it (flat, then cumulative) to path.top.txt. The
// instance has no pprof endpoint, so the profile is this test process's:
// the clients' share (reading the answers) is in it too, and small.
func profileServices(t *testing.T, sz sizes, redis *testenv.RedisServer, endpoint, path string, want int) {
	t.Helper()
	in := apitest.Start(t, apitest.Config(t, apitest.WithRedis(redis.URL(0), "benchprof:")))
	admin := in.Admin(t)
	admin.MustDo(http.MethodPost, "/api/v1/clusters", map[string]any{"name": "big", "endpoint": endpoint}, nil, 201)
	var page struct{ Items []struct{ ID string } }
	admin.MustDo(http.MethodGet, "/api/v1/clusters/big/services", nil, &page, 200)
	if len(page.Items) != want {
		t.Fatalf("profile: the instance lists %d services, want %d", len(page.Items), want)
	}
	url := in.URL + "/api/v1/clusters/big/services"
	get := func(c *http.Client) error {
		resp, err := c.Get(url)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return err
	}
	for range 5 {
		if err := get(admin.HTTP); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), sz.profileDur)
	defer cancel()
	var n atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range sz.listConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := get(admin.HTTP); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err, _ := firstErr.Load().(error); err != nil {
		t.Fatalf("profile load: %v", err)
	}
	var out []byte
	for _, args := range [][]string{
		{"tool", "pprof", "-top", "-nodecount=45", path},
		{"tool", "pprof", "-top", "-cum", "-nodecount=60", path},
	} {
		b, err := exec.Command("go", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("go %v: %v\n%s", args, err, b)
		}
		out = append(out, b...)
		out = append(out, '\n')
	}
	head := fmt.Sprintf("CPU profile: %d x GET /api/v1/clusters/{c}/services (%d services) by %d clients in %s, in-process instance (redis mode, log level warn)\n\n",
		n.Load(), want, sz.listConns, sz.profileDur)
	if err := os.WriteFile(path+".top.txt", append([]byte(head), out...), 0o644); err != nil {
		t.Fatal(err)
	}
}

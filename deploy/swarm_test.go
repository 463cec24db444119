package deploy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/testenv"
)

// TestTwoInstancesOnASwarm runs two SwarmOps processes in redis mode
// behind nginx, with the shared test swarm registered through the API.
func TestTwoInstancesOnASwarm(t *testing.T) {
	if testing.Short() {
		t.Skip("starts engines, redis-server, nginx and SwarmOps")
	}
	sw := testenv.SharedSwarm(t)
	r := testenv.NewRedis(t, "swarm-redis-password")
	env := redisEnv(t, r, "ha-swarm:")
	a, b := startInstance(t, "sw-a", env), startInstance(t, "sw-b", env)
	a.waitReady(t)
	b.waitReady(t)
	x := startNginx(t, a, b)
	// One session, shown to both instances: sessions live in Redis.
	s := mustLogin(t, a.URL)

	cluster := fmt.Sprintf("ha-%d", os.Getpid())
	api := func(in *instance, method, path string, body any) (int, []byte) {
		t.Helper()
		st, out, _, err := do(httpClient, method, in.URL+"/api/v1/clusters"+path, s, body, nil)
		if err != nil {
			t.Fatalf("%s %s via %s: %v", method, path, in.ID, err)
		}
		return st, out
	}
	if st, out := api(a, http.MethodPost, "", map[string]string{"name": cluster, "endpoint": sw.Managers[0].Endpoint}); st != 201 {
		t.Fatalf("register the shared swarm: %d %s", st, out)
	}
	// alive answers an instance still running (the stream test stops one).
	alive := func() *instance {
		if a.Running() {
			return a
		}
		return b
	}
	t.Cleanup(func() {
		if st, out := api(alive(), http.MethodDelete, "/"+cluster, nil); st != 204 {
			t.Errorf("forget cluster %s: %d %s", cluster, st, out)
		}
	})
	name := fmt.Sprintf("ha-conflict-%d", os.Getpid())
	st, out := api(b, http.MethodPost, "/"+cluster+"/services", map[string]any{
		"name": name, "image": testenv.HelloImage1, "replicas": 0,
	})
	if st != 201 {
		t.Fatalf("create service: %d %s", st, out)
	}
	var created struct{ ID string }
	_ = json.Unmarshal(out, &created)
	t.Cleanup(func() {
		if st, out := api(alive(), http.MethodDelete, "/"+cluster+"/services/"+created.ID, nil); st != 204 {
			t.Errorf("remove service %s: %d %s", name, st, out)
		}
	})
	engine := sw.Managers[0].Client()
	inspect := func() swarm.Service {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		svc, _, err := engine.ServiceInspectWithRaw(ctx, created.ID, swarm.ServiceInspectOptions{})
		if err != nil {
			t.Fatalf("inspect %s: %v", name, err)
		}
		return svc
	}
	svcPath := "/" + cluster + "/services/" + created.ID

	// both fires the two requests at the same moment and answers their
	// statuses and bodies.
	both := func(fa, fb func() (int, []byte)) (stA int, outA []byte, stB int, outB []byte) {
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Add(2)
		go func() { defer wg.Done(); <-start; stA, outA = fa() }()
		go func() { defer wg.Done(); <-start; stB, outB = fb() }()
		close(start)
		wg.Wait()
		return
	}
	acceptable := func(st int) bool { return st == 200 || st == 409 || st == 423 }

	t.Run("ConflictingMutations", func(t *testing.T) {
		// A PATCH of the environment through one instance and a scale
		// through the other, at once: each is applied to the spec the other
		// left (both visible afterwards), or refused; never lost.
		for i := 1; i <= 4; i++ {
			env := fmt.Sprintf("ROUND=%d", i)
			replicas := uint64(i % 2)
			stA, outA, stB, outB := both(
				func() (int, []byte) { return api(a, http.MethodPatch, svcPath, map[string]any{"env": []string{env}}) },
				func() (int, []byte) {
					return api(b, http.MethodPost, svcPath+"/scale", map[string]any{"replicas": replicas})
				})
			if !acceptable(stA) || !acceptable(stB) || (stA != 200 && stB != 200) {
				t.Fatalf("round %d: PATCH via %s answered %d %s; scale via %s answered %d %s", i, a.ID, stA, outA, b.ID, stB, outB)
			}
			svc := inspect()
			if stA == 200 && !slices.Contains(svc.Spec.TaskTemplate.ContainerSpec.Env, env) {
				t.Errorf("round %d: the PATCH answered 200 but the service's env is %v: lost update", i, svc.Spec.TaskTemplate.ContainerSpec.Env)
			}
			if got := *svc.Spec.Mode.Replicated.Replicas; stB == 200 && got != replicas {
				t.Errorf("round %d: the scale to %d answered 200 but the service has %d replicas: lost update", i, replicas, got)
			}
			t.Logf("round %d: PATCH %d, scale %d", i, stA, stB)
		}

		// Two PATCHes made against the same version: the second to be
		// applied finds the version moved on and is refused.
		for i := 1; i <= 3; i++ {
			st, out := api(a, http.MethodGet, svcPath, nil)
			if st != 200 {
				t.Fatalf("get service: %d %s", st, out)
			}
			var d struct {
				Summary struct{ Version uint64 } `json:"summary"`
			}
			if err := json.Unmarshal(out, &d); err != nil || d.Summary.Version == 0 {
				t.Fatalf("service version in %s: %v", out, err)
			}
			envA := fmt.Sprintf("OPT=a%d", i)
			labelB := fmt.Sprintf("b%d", i)
			stA, outA, stB, outB := both(
				func() (int, []byte) {
					return api(a, http.MethodPatch, svcPath, map[string]any{"env": []string{envA}, "version": d.Summary.Version})
				},
				func() (int, []byte) {
					return api(b, http.MethodPatch, svcPath, map[string]any{"labels": map[string]string{"opt": labelB}, "version": d.Summary.Version})
				})
			if (stA == 200) == (stB == 200) || !acceptable(stA) || !acceptable(stB) {
				t.Fatalf("round %d at version %d: want one 200 and one 409/423; got %d %s and %d %s", i, d.Summary.Version, stA, outA, stB, outB)
			}
			svc := inspect()
			gotA := slices.Contains(svc.Spec.TaskTemplate.ContainerSpec.Env, envA)
			gotB := svc.Spec.Labels["opt"] == labelB
			if gotA != (stA == 200) || gotB != (stB == 200) {
				t.Errorf("round %d: statuses %d/%d but env has %s: %v, label opt=%s: %v", i, stA, stB, envA, gotA, labelB, gotB)
			}
			t.Logf("round %d at version %d: PATCH via %s %d, PATCH via %s %d", i, d.Summary.Version, a.ID, stA, b.ID, stB)
		}
	})

	t.Run("EventStreamThroughNginxEndsCleanlyOnSIGTERM", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, x.URL+"/api/v1/clusters/"+cluster+"/events", nil)
		s.header(req.Header)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := (&http.Client{}).Do(req) // no timeout: a stream
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("events through nginx: %d %s", resp.StatusCode, b)
		}
		serving, other := a, b
		if resp.Header.Get("X-SwarmOps-Instance") == b.ID {
			serving, other = b, a
		}
		lines := make(chan string, 256)
		readErr := make(chan error, 1)
		go func() {
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				lines <- sc.Text()
			}
			readErr <- sc.Err() // nil at a clean end (io.EOF)
			close(lines)
		}()
		// An event of a change made through the other instance comes
		// through nginx while the stream is open (nothing is buffered).
		if st, out := api(other, http.MethodPatch, svcPath, map[string]any{"labels": map[string]string{"stream": "seen"}}); st != 200 {
			t.Fatalf("PATCH through %s: %d %s", other.ID, st, out)
		}
		waitLine(t, lines, 30*time.Second, "the service update event", func(l string) bool {
			return strings.HasPrefix(l, "data: ") && strings.Contains(l, `"service"`) && strings.Contains(l, name)
		})
		serving.Term()
		waitLine(t, lines, 45*time.Second, "the stream's end event", func(l string) bool { return l == "event: end" })
		for range lines {
		}
		if err := <-readErr; err != nil {
			t.Errorf("the stream through nginx did not end cleanly after SIGTERM of %s: %v", serving.ID, err)
		}
		if err := serving.Wait(45 * time.Second); err != nil || serving.err != nil {
			t.Errorf("%s after SIGTERM: %v, exit %v", serving.ID, err, serving.err)
		}
		// The other instance serves on, the session and cluster with it.
		if st, body, _, err := get(x.URL+"/api/v1/clusters/"+cluster+"/services", s.Cookie); err != nil || st != 200 || !strings.Contains(string(body), name) {
			t.Errorf("service list through nginx after %s stopped: %d %v %.300s", serving.ID, st, err, body)
		}
	})
}

// waitLine reads lines until match accepts one, or fails the test.
func waitLine(t testing.TB, lines <-chan string, timeout time.Duration, what string, match func(string) bool) {
	t.Helper()
	deadline := time.After(timeout)
	var seen []string
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the stream ended before %s; it said:\n%s", what, strings.Join(seen, "\n"))
			}
			if match(l) {
				return
			}
			seen = append(seen, l)
		case <-deadline:
			t.Fatalf("no %s within %s; the stream said:\n%s", what, timeout, strings.Join(seen, "\n"))
		}
	}
}

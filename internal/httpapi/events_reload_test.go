package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/testenv"
)

// createConfig makes a swarm config straight on the engine of n (an event
// the cluster's stream must show) and removes it when the test ends.
func createConfig(t *testing.T, n *testenv.Node, name string) {
	t.Helper()
	ctx := context.Background()
	r, err := n.Client().ConfigCreate(ctx, swarm.ConfigSpec{Annotations: swarm.Annotations{Name: name}, Data: []byte("x")})
	if err != nil {
		t.Fatalf("create config %s on %s: %v", name, n.Endpoint, err)
	}
	t.Cleanup(func() { _ = n.Client().ConfigRemove(context.Background(), r.ID) })
}

// TestEvents_ReloadOnReregistration: two instances share Redis. While a
// stream of cluster "rl" is open on the first, the second deletes rl and
// registers another swarm under the name. The open stream (or, when it
// saw the moment rl was not registered, the one an EventSource reopens)
// and a new subscriber show the new swarm's events, not the old one's.
// A change of endpoints moves an open stream to them as well.
func TestEvents_ReloadOnReregistration(t *testing.T) {
	a := testenv.SharedSwarm(t)
	b := testenv.StartSwarm(t, testenv.SwarmOptions{Managers: 1, Name: "rl"})
	r := testenv.Redis(t)
	prefix := fmt.Sprintf("swarmops-test:%s:%d:", t.Name(), time.Now().UnixNano())
	in1 := apitest.Start(t, apitest.Config(t, apitest.WithRedis(r.URL(0), prefix)))
	in2 := apitest.Start(t, apitest.Config(t, apitest.WithRedis(r.URL(0), prefix)))
	admin1, admin2 := in1.Admin(t), in2.Admin(t)
	register(t, admin1, "rl", a.Managers[0].Endpoint)

	// Other endpoints, same swarm: the open stream moves to them.
	resp, cancel := openStream(t, admin1, "/api/v1/clusters/rl/events", true)
	defer cancel()
	defer resp.Body.Close()
	open := lines(resp.Body)
	readUntil(t, open, `"action":"connected"`, 10*time.Second)
	admin2.MustDo(http.MethodPatch, "/api/v1/clusters/rl", map[string]any{"endpoints": []string{a.Managers[1].Endpoint}}, nil, 200)
	readUntil(t, open, `"action":"reloaded"`, 15*time.Second)
	readUntil(t, open, `"endpoint":"`+a.Managers[1].Endpoint+`"`, 15*time.Second)

	// Another swarm under the name.
	admin2.MustDo(http.MethodDelete, "/api/v1/clusters/rl", nil, nil, 204)
	register(t, admin2, "rl", b.Managers[0].Endpoint)
	seen := readUntil(t, open, `"type":"stream"`, 15*time.Second)
	if last := seen[len(seen)-1]; strings.Contains(last, `"action":"failed"`) {
		// The feed read the registration between the delete and the
		// register and ended, as for a deleted cluster; reopen.
		if !strings.Contains(last, "not registered") {
			t.Fatalf("the stream ended without saying the cluster is not registered: %q", last)
		}
		resp.Body.Close()
		resp, cancel = openStream(t, admin1, "/api/v1/clusters/rl/events", true)
		defer cancel()
		defer resp.Body.Close()
		open = lines(resp.Body)
	} else if !strings.Contains(last, `"action":"reloaded"`) {
		t.Fatalf("after another swarm was registered as rl, the stream's next stream event is %q, want reloaded", last)
	}
	readUntil(t, open, `"endpoint":"`+b.Managers[0].Endpoint+`"`, 15*time.Second)

	resp2, cancel2 := openStream(t, admin1, "/api/v1/clusters/rl/events", true)
	defer cancel2()
	defer resp2.Body.Close()
	fresh := lines(resp2.Body)
	readUntil(t, fresh, `"endpoint":"`+b.Managers[0].Endpoint+`"`, 15*time.Second)

	createConfig(t, a.Managers[0], "rl-on-old-swarm")
	createConfig(t, b.Managers[0], "rl-on-new-swarm")
	readUntilNot(t, open, `"name":"rl-on-new-swarm"`, "rl-on-old-swarm", 30*time.Second)
	readUntilNot(t, fresh, `"name":"rl-on-new-swarm"`, "rl-on-old-swarm", 30*time.Second)
}

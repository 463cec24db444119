package swarm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/lock/local"
	"github.com/swarmops/swarmops/internal/store"
	localstore "github.com/swarmops/swarmops/internal/store/local"
	"github.com/swarmops/swarmops/internal/testenv"
)

func TestSearch_MatchesIgnoreCaseSortedAndBounded(t *testing.T) {
	m := matcher{q: "web", limit: 2}
	got := matchesOf(m, []string{"db", "WebB", "a-web", "web", "other"}, func(s string) string { return s })
	if got.Total != 3 || len(got.Items) != 2 || got.Items[0] != "WebB" || got.Items[1] != "a-web" || got.More() != 1 {
		t.Errorf("matches %+v", got)
	}
	m.limit = 0
	if all := matchesOf(m, []string{"x-WEB-y"}, func(s string) string { return s }); all.Total != 1 || len(all.Items) != 1 {
		t.Errorf("unbounded %+v", all)
	}
}

// blackhole accepts connections and never answers on them, as an engine
// that hangs does.
func blackhole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "tcp://" + ln.Addr().String()
}

// closedEndpoint answers an address where nothing listens.
func closedEndpoint(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "tcp://" + addr
}

// TestSearch_LiveThenHeldAcrossClusters: a search reads a cluster live
// the first time and answers from what it holds the next, without an
// engine call; a cluster that refuses says so in words while the others
// answer; one that hangs answers "pending" within the wait, and asking
// for it alone joins the reads under way, which end with the error.
func TestSearch_LiveThenHeldAcrossClusters(t *testing.T) {
	sw := testenv.SharedSwarm(t)
	st, err := localstore.Open(t.TempDir(), localstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var calls atomic.Int64
	pool := NewPool(time.Second, WithTransport(func(_ string, rt http.RoundTripper) http.RoundTripper {
		return countingRT{rt, &calls}
	}))
	defer pool.Close()
	f := NewFleet(st, pool, local.New(time.Second), nil, Options{EngineTimeout: 2 * time.Second})
	ctx := context.Background()
	var eps []string
	for _, m := range sw.Managers {
		eps = append(eps, m.Endpoint)
	}
	for _, c := range []store.Cluster{
		{Name: "a", Endpoints: eps}, {Name: "b", Endpoints: eps, Labels: map[string]string{"swarmops.env": "prod"}},
		{Name: "down", Endpoints: []string{closedEndpoint(t)}}, {Name: "hangs", Endpoints: []string{blackhole(t)}},
	} {
		if err := st.CreateCluster(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	api := sw.Managers[0].Client()
	name := fmt.Sprintf("SrchSecret-%d", time.Now().UnixNano())
	sec, err := api.SecretCreate(ctx, swarm.SecretSpec{Annotations: swarm.Annotations{Name: name}, Data: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = api.SecretRemove(context.Background(), sec.ID) })
	q := strings.ToLower(name[:len(name)-3]) // another case, part of the name

	if _, err := f.Search(ctx, "s", SearchOptions{}); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("a one-character search answered %v, want invalid", err)
	}

	start := time.Now()
	res, err := f.Search(ctx, q, SearchOptions{Wait: 1500 * time.Millisecond, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2500*time.Millisecond {
		t.Errorf("a search waiting 1.5 s took %s", took)
	}
	by := map[string]ClusterSearch{}
	for _, r := range res {
		by[r.Cluster.Name] = r
	}
	if len(res) != 4 || res[0].Cluster.Name != "a" || res[3].Cluster.Name != "hangs" {
		t.Fatalf("answers %+v", res)
	}
	for _, n := range []string{"a", "b"} {
		r := by[n]
		if r.Source != SearchLive || r.Secrets.Total != 1 || r.Secrets.Items[0].ID != sec.ID || r.Err != nil || r.At.IsZero() {
			t.Errorf("cluster %s: %+v", n, r)
		}
	}
	if by["b"].Cluster.Labels["swarmops.env"] != "prod" {
		t.Errorf("cluster b's view lost its labels: %+v", by["b"].Cluster)
	}
	t.Logf("refusing: %s", by["down"].Problem)
	if r := by["down"]; r.Source != SearchFailed || r.Problem == "" || r.Pending {
		t.Errorf("refusing cluster: %+v", r)
	}
	if r := by["hangs"]; r.Source != SearchPending || !r.Pending || r.Err != nil {
		t.Errorf("hanging cluster: %+v", r)
	}

	// Held now: no engine call for a and b.
	calls.Store(0)
	res, err = f.Search(ctx, q, SearchOptions{Cluster: "a", Wait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Source != SearchHeld || res[0].Secrets.Total != 1 {
		t.Errorf("second search of a: %+v", res)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("a search of held answers made %d engine calls", n)
	}

	// The hanging cluster alone, waiting: the reads under way end with
	// the error, in words.
	start = time.Now()
	res, err = f.Search(ctx, q, SearchOptions{Cluster: "hangs"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Source != SearchFailed || !strings.Contains(res[0].Problem, "hangs") {
		t.Errorf("hanging cluster, waited for: %+v", res)
	}
	if took := time.Since(start); took > 2*searchReads*2*time.Second {
		t.Errorf("the hanging cluster took %s", took)
	}
	if _, err := f.Search(ctx, q, SearchOptions{Cluster: "nope"}); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("an unknown cluster answered %v", err)
	}
}

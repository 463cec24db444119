package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/swarmops/swarmops/internal/swarm"
)

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// checkCompareAsKeys: o's cmp orders every pair of items as their keys do.
func checkCompareAsKeys[T any](t *testing.T, o order[T], items []T) {
	t.Helper()
	for _, a := range items {
		for _, b := range items {
			if got, want := sign(o.cmp(a, b)), sign(o.compare(o.key(a), o.key(b))); got != want {
				t.Fatalf("%s: cmp(%+v, %+v) = %d, keys compare %d", o.name, a, b, got, want)
			}
		}
	}
}

// TestOrders_CompareAsKeys: the orders' cmp, with which lists are sorted
// and checked, order items as their keys (the cursors') do.
func TestOrders_CompareAsKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 16))
	pick := func(s ...string) string { return s[rng.IntN(len(s))] }
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var (
		services []serviceSummaryDTO
		tasks    []taskDTO
		nodes    []nodeDTO
		networks []networkDTO
		clusters []clusterDTO
	)
	for range 60 {
		clusters = append(clusters, clusterDTO{Name: pick("", "a", "b", "a-b", "ab", "é", "prod", "prod-2")})
		services = append(services, serviceSummaryDTO{Name: pick("", "a", "b", "a-b", "ab", "é"), ID: pick("1", "2", "10")})
		nodes = append(nodes, nodeDTO{Hostname: pick("", "n1", "n10", "n2"), ID: pick("x", "y")})
		networks = append(networks, networkDTO{Name: pick("ingress", "web", "web-1"), ID: pick("a", "b")})
		unit := time.Nanosecond
		if rng.IntN(2) == 0 {
			unit = time.Second
		}
		created := t0.Add(time.Duration(rng.IntN(5)-2) * unit)
		switch rng.IntN(10) {
		case 0:
			created = time.Date(10001, 1, 1, 0, 0, 0, 0, time.UTC)
		case 1:
			created = time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC)
		case 2:
			created = created.In(time.FixedZone("", 7200))
		}
		slot := rng.IntN(12)
		if rng.IntN(10) == 0 {
			slot = -slot - 1
		}
		tasks = append(tasks, taskDTO{Service: pick("api", "db", "svc-x"), Slot: slot, NodeHostname: pick("", "n1", "n2"),
			CreatedAt: created, ID: pick("t1", "t2", "t10")})
	}
	checkCompareAsKeys(t, servicesOrder, services)
	checkCompareAsKeys(t, tasksOrder, tasks)
	checkCompareAsKeys(t, nodesOrder, nodes)
	checkCompareAsKeys(t, networksOrder, networks)
	checkCompareAsKeys(t, clustersOrder, clusters)
}

// TestPagingList_SortedOrNot: a list in its order is answered as it is,
// one out of order sorted (the domain's slice untouched), and every
// cut is the one the items' keys make.
func TestPagingList_SortedOrNot(t *testing.T) {
	var items []taskDTO
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 40 {
		items = append(items, taskDTO{ID: fmt.Sprintf("t%02d", i), Service: []string{"api", "db"}[i%2], Slot: i % 7, NodeHostname: "n", CreatedAt: t0.Add(time.Duration(i%3) * time.Second)})
	}
	want := slices.Clone(items)
	slices.SortStableFunc(want, func(a, b taskDTO) int { return tasksOrder.compare(tasksOrder.key(a), tasksOrder.key(b)) })
	shuffled := slices.Clone(items)
	before := slices.Clone(shuffled)
	for _, in := range [][]taskDTO{want, shuffled} {
		for _, limit := range []string{"1", "7", "40", "1000"} {
			if diff := cmp.Diff(walk(t, tasksOrder, limit, in), want); diff != "" {
				t.Errorf("limit %s (-got +want):\n%s", limit, diff)
			}
		}
		all, err := cutPage(t, tasksOrder, "", in)
		if err != nil || !slices.Equal(all.Items, want) || all.Total != len(want) {
			t.Errorf("no limit: %v %d, items in another order", err, all.Total)
		}
	}
	if !slices.Equal(shuffled, before) {
		t.Error("the domain's list was sorted in place")
	}
}

// TestSendList_SameAsJSON: send writes what c.JSON writes, byte for
// byte, with and without next_cursor and stale, for empty lists too.
func TestSendList_SameAsJSON(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	services := []serviceSummaryDTO{
		{ID: "s1", Name: "web<&>", Image: "nginx", Mode: "replicated", Ports: []string{"80/tcp (ingress)"}, Labels: map[string]string{"b": "2", "a": "\u2028"},
			UpdateStatus: &swarm.UpdateStatus{State: "updating", StartedAt: &t0}, CreatedAt: t0, UpdatedAt: t0, Version: 9},
		{ID: "s2", Name: "db", Labels: map[string]string{}, Ports: []string{}},
	}
	services[0].Replicas.Desired, services[0].Replicas.Running = 3, 2
	tasks := []taskDTO{{ID: "t1", Service: "api", Slot: 1, State: "running", Message: `"quoted"`, CreatedAt: t0}, {ID: "t2", Service: "api", Slot: 2}}
	nodes := []nodeDTO{{ID: "n1", Hostname: "h", CPUs: 2.5, MemoryBytes: 1 << 30, Labels: map[string]string{}, TasksRunning: 3}, {ID: "n2", CPUs: 1e-7}}
	networks := []networkDTO{{ID: "x", Name: "ingress", Subnets: []string{"10.0.0.0/24"}, Gateways: []string{}, Labels: map[string]string{}, CreatedAt: t0}}
	expires := t0.Add(90 * 24 * time.Hour).In(time.FixedZone("", -5*3600))
	health := &healthDTO{Status: "degraded", Leader: "m<1>", EndpointUsed: "tcp://m1:2376", CheckedAt: t0,
		Endpoints: []swarm.EndpointHealth{{Endpoint: "tcp://m1:2376", Reachable: true, LatencyMS: 0.25}, {Endpoint: "tcp://m2:2376", Error: "refused & gone"}},
		Problems:  []string{"1 of 2 managers unreachable"}, Election: &swarm.Election{Since: t0}}
	clusters := []clusterDTO{
		{Name: "prod", Endpoints: []string{"tcp://m1:2376", "tcp://m2:2376"}, Default: true, Labels: map[string]string{"env": "prod", "a": "<&>"},
			TLS: &tlsDTO{CA: true, ClientCert: true, CertSubject: "CN=swarmops, O=\u2028", CertExpiresAt: &expires}, SwarmID: "abc", CreatedAt: t0, UpdatedAt: t0.Add(time.Hour)},
		{Name: "stage", Endpoints: []string{}, Labels: map[string]string{}, TLS: &tlsDTO{CA: true}, CreatedAt: t0, Health: health},
		{Name: "zero"},
	}
	badCluster := []clusterDTO{{Name: "x", CreatedAt: t0}, {Name: "y", TLS: &tlsDTO{CertExpiresAt: new(time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC))}}}
	compareSend(t, clustersOrder, "", badCluster)
	var many []taskDTO // written in two halves
	for i := range 3*halvesFrom/2 + 1 {
		many = append(many, taskDTO{ID: fmt.Sprintf("t%05d", i), Service: "api<>", Slot: i, Message: "ü\u2028", CreatedAt: t0})
	}
	// A time RFC 3339 cannot hold fails both alike.
	bad := slices.Clone(many)
	bad[len(bad)-1].UpdatedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	compareSend(t, tasksOrder, "", bad)
	compareSend(t, tasksOrder, "", bad[len(bad)-3:])
	for _, query := range []string{"", "limit=1", "limit=1&cursor=x"} {
		compareSend(t, tasksOrder, query, many)
		compareSend(t, servicesOrder, query, services)
		compareSend(t, tasksOrder, query, tasks)
		compareSend(t, nodesOrder, query, nodes)
		compareSend(t, networksOrder, query, networks)
		compareSend(t, clustersOrder, query, clusters)
		compareSend(t, servicesOrder, query, []serviceSummaryDTO(nil))
	}
}

func compareSend[T any](t *testing.T, o order[T], query string, items []T) {
	t.Helper()
	for _, stale := range []bool{false, true} {
		answer := func(send bool) ([]byte, string, int) {
			app := fiber.New()
			app.Get("/", func(c *fiber.Ctx) error {
				q := query
				if q == "limit=1&cursor=x" { // a real cursor of this list
					q = "limit=1&cursor=" + encodeCursor(o, o.key(*new(T)))
				}
				c.Request().URI().SetQueryString(q)
				p, err := pagingOf(c, o)
				if err != nil {
					return err
				}
				l := p.list(c, items)
				if stale {
					l.Stale = &staleDTO{Since: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Reason: "no leader <elected>"}
				}
				if send {
					return sendList(c, l, o.write)
				}
				return c.JSON(l)
			})
			resp, err := app.Test(httptest.NewRequest("GET", "/", nil))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			return body, resp.Header.Get("Content-Type"), resp.StatusCode
		}
		got, gotType, gotStatus := answer(true)
		want, wantType, wantStatus := answer(false)
		if !bytes.Equal(got, want) || gotType != wantType || gotStatus != wantStatus {
			t.Errorf("%s ?%s stale=%v:\n got %d %s (%s)\nwant %d %s (%s)", o.name, query, stale, gotStatus, got, gotType, wantStatus, want, wantType)
		}
		var l struct{ Items []json.RawMessage }
		if err := json.Unmarshal(got, &l); gotStatus == 200 && err != nil {
			t.Errorf("%s: %v", o.name, err)
		}
	}
}

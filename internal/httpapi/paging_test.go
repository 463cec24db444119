package httpapi_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/google/go-cmp/cmp"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/testenv"
)

// pagedItem is what paging tests read of any listed object.
type pagedItem struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Hostname string `json:"hostname"`
	Username string `json:"username"`
	State    string `json:"state"`
}

// pageAnswer is a list answer; NextCursor is nil when the answer has no
// next_cursor at all.
type pageAnswer struct {
	Items      []pagedItem `json:"items"`
	Total      int         `json:"total"`
	NextCursor *string     `json:"next_cursor"`
}

// withQuery answers path with the query parameters kv added.
func withQuery(path string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + q.Encode()
}

// walkPages follows next_cursor from the first page of path by limit and
// answers every page, checking that each has total want and that only the
// last lacks next_cursor.
func walkPages(t *testing.T, c *apitest.Client, path string, limit, want int) []pageAnswer {
	t.Helper()
	var pages []pageAnswer
	cursor := ""
	for range want + 2 {
		kv := []string{"limit", strconv.Itoa(limit)}
		if cursor != "" {
			kv = append(kv, "cursor", cursor)
		}
		var p pageAnswer
		c.MustDo(http.MethodGet, withQuery(path, kv...), nil, &p, 200)
		pages = append(pages, p)
		if p.Total != want {
			t.Errorf("%s page %d: total %d, want %d", path, len(pages), p.Total, want)
		}
		if len(p.Items) > limit {
			t.Errorf("%s page %d: %d items, more than the limit %d", path, len(pages), len(p.Items), limit)
		}
		if p.NextCursor == nil {
			return pages
		}
		if *p.NextCursor == "" {
			t.Fatalf("%s page %d: next_cursor is empty rather than absent", path, len(pages))
		}
		cursor = *p.NextCursor
	}
	t.Fatalf("%s by %d: next_cursor never ends (%d pages)", path, limit, len(pages))
	return nil
}

// idsOf answers the IDs of the items of pages, in order.
func idsOf(pages ...pageAnswer) []string {
	var out []string
	for _, p := range pages {
		for _, it := range p.Items {
			out = append(out, it.ID)
		}
	}
	return out
}

// namesOf answers the names of the items of pages, in order.
func namesOf(pages ...pageAnswer) []string {
	var out []string
	for _, p := range pages {
		for _, it := range p.Items {
			out = append(out, it.Name)
		}
	}
	return out
}

// engineRequests answers how many engine requests in has made, by the
// swarmops_engine_requests_total counter of its /metrics.
func engineRequests(t *testing.T, in *apitest.Instance) int {
	t.Helper()
	text := in.Anonymous(t).MustDo(http.MethodGet, "/metrics", nil, nil, 200)
	total := 0
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "swarmops_engine_requests_total{") {
			continue
		}
		f := strings.Fields(line)
		n, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("/metrics: %q: %v", line, err)
		}
		total += int(n)
	}
	return total
}

// TestPaging_Services: seven services (the only ones matching q) page by
// three through every page in name order, each once, total 7 on every
// page and no next_cursor on the last; the page of a full list costs the
// engine as many calls as the whole list.
func TestPaging_Services(t *testing.T) {
	sw, in, admin := sharedCluster(t, "pgs")
	m := sw.Managers[0]
	var want []string
	for i := 1; i <= 7; i++ {
		name := fmt.Sprintf("pgsvc-%d", i*10)
		createLabelled(t, m, name, nil)
		want = append(want, name)
	}
	const path = "/api/v1/clusters/pgs/services?q=pgsvc-"

	var all pageAnswer
	admin.MustDo(http.MethodGet, path, nil, &all, 200)
	if diff := cmp.Diff(namesOf(all), want); diff != "" || all.Total != 7 || all.NextCursor != nil {
		t.Fatalf("without limit: total %d, next_cursor %v, names (-got +want):\n%s", all.Total, all.NextCursor, diff)
	}

	pages := walkPages(t, admin, path, 3, 7)
	if len(pages) != 3 {
		t.Errorf("7 services by 3: %d pages, want 3", len(pages))
	}
	if diff := cmp.Diff(namesOf(pages...), want); diff != "" {
		t.Errorf("the pages' services (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(idsOf(pages...), idsOf(all)); diff != "" {
		t.Errorf("the pages' IDs against the full list's (-got +want):\n%s", diff)
	}
	var one pageAnswer
	admin.MustDo(http.MethodGet, withQuery(path, "limit", "7"), nil, &one, 200)
	if len(one.Items) != 7 || one.NextCursor != nil {
		t.Errorf("limit 7 of 7: %d items, next_cursor %v; want all and no next_cursor", len(one.Items), one.NextCursor)
	}

	// A page costs the engine what the whole list costs: both are one
	// list read. A hedged read (a slow first answer) may add a call to
	// either, so the two are compared until one round is undisturbed.
	cursor := *pages[0].NextCursor
	testenv.Poll(t, 30*time.Second, "a page to cost as many engine calls as the full list", func() error {
		c0 := engineRequests(t, in)
		admin.MustDo(http.MethodGet, path, nil, nil, 200)
		c1 := engineRequests(t, in)
		admin.MustDo(http.MethodGet, withQuery(path, "limit", "3", "cursor", cursor), nil, nil, 200)
		c2 := engineRequests(t, in)
		full, page := c1-c0, c2-c1
		if full < 1 || page != full {
			return fmt.Errorf("the full list made %d engine calls, a page %d", full, page)
		}
		return nil
	})
}

// TestPaging_ServicesChangedBetweenPages: services created and removed
// between two pages make the paging neither skip nor repeat the services
// that were there all along; one created after the cursor is listed.
func TestPaging_ServicesChangedBetweenPages(t *testing.T) {
	sw, _, admin := sharedCluster(t, "pgc")
	m := sw.Managers[0]
	for i := 1; i <= 7; i++ {
		createLabelled(t, m, fmt.Sprintf("pgchg-%d", i*10), nil)
	}
	const path = "/api/v1/clusters/pgc/services?q=pgchg-"

	var first pageAnswer
	admin.MustDo(http.MethodGet, withQuery(path, "limit", "3"), nil, &first, 200)
	if diff := cmp.Diff(namesOf(first), []string{"pgchg-10", "pgchg-20", "pgchg-30"}); diff != "" || first.NextCursor == nil {
		t.Fatalf("first page: next_cursor %v, names (-got +want):\n%s", first.NextCursor, diff)
	}
	// Before the cursor: one new, one answered already removed; after
	// it: one new.
	createLabelled(t, m, "pgchg-05", nil)
	createLabelled(t, m, "pgchg-45", nil)
	if err := m.Client().ServiceRemove(context.Background(), "pgchg-20"); err != nil {
		t.Fatalf("remove pgchg-20: %v", err)
	}

	got := namesOf(first)
	cursor := *first.NextCursor
	for len(got) < 20 {
		var p pageAnswer
		admin.MustDo(http.MethodGet, withQuery(path, "limit", "3", "cursor", cursor), nil, &p, 200)
		if p.Total != 8 {
			t.Errorf("a page after the changes: total %d, want 8", p.Total)
		}
		got = append(got, namesOf(p)...)
		if p.NextCursor == nil {
			break
		}
		cursor = *p.NextCursor
	}
	want := []string{"pgchg-10", "pgchg-20", "pgchg-30", "pgchg-40", "pgchg-45", "pgchg-50", "pgchg-60", "pgchg-70"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("services answered over the pages (-got +want):\n%s", diff)
	}
}

// TestPaging_BadParameters: a bad limit or cursor answers 400 naming the
// field, before any engine call.
func TestPaging_BadParameters(t *testing.T) {
	_, in, admin := sharedCluster(t, "pgb")
	var nodes pageAnswer
	admin.MustDo(http.MethodGet, "/api/v1/clusters/pgb/nodes?limit=1", nil, &nodes, 200)
	if nodes.NextCursor == nil {
		t.Fatalf("nodes by 1: no next_cursor")
	}
	nodeCursor := *nodes.NextCursor

	tests := []struct{ path, field string }{
		{"/api/v1/clusters/pgb/services?limit=0", "limit"},
		{"/api/v1/clusters/pgb/services?limit=-1", "limit"},
		{"/api/v1/clusters/pgb/services?limit=1001", "limit"},
		{"/api/v1/clusters/pgb/services?limit=ten", "limit"},
		{"/api/v1/clusters/pgb/tasks?limit=1.5", "limit"},
		{"/api/v1/clusters/pgb/services?cursor=%21not-base64", "cursor"},
		{"/api/v1/clusters/pgb/services?limit=2&cursor=bm90IGpzb24", "cursor"}, // base64url of "not json"
		{"/api/v1/clusters/pgb/services?cursor=" + nodeCursor, "cursor"},       // another list's
		{"/api/v1/clusters/pgb/nodes?cursor=" + nodeCursor + "x", "cursor"},
		{"/api/v1/clusters?limit=0", "limit"},
		{"/api/v1/users?cursor=" + nodeCursor, "cursor"},
		{"/api/v1/tokens?limit=100000", "limit"},
	}
	testenv.Poll(t, 30*time.Second, "bad paging parameters to answer 400 without an engine call", func() error {
		before := engineRequests(t, in)
		for _, tt := range tests {
			status, text := admin.Do(http.MethodGet, tt.path, nil, nil)
			e := apitest.ParseError(t, text)
			if status != 400 || e.Error.Code != "bad_request" || e.Error.Details["field"] != tt.field || !strings.Contains(e.Error.Message, "expected") {
				t.Fatalf("GET %s: %d %s; want 400 bad_request on field %s saying what is expected", tt.path, status, text, tt.field)
			}
		}
		if n := engineRequests(t, in) - before; n != 0 {
			return fmt.Errorf("%d engine calls during the refused requests", n)
		}
		return nil
	})
}

// TestPaging_TasksAndNodes: a service's tasks page through both task
// routes, and the nodes through theirs, in the full list's order.
func TestPaging_TasksAndNodes(t *testing.T) {
	sw, _, admin := sharedCluster(t, "pgt")
	m := sw.Managers[0]
	replicas := uint64(5)
	spec := swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: "pgtask"},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: testenv.HelloImage1}},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
	}
	if _, err := m.Client().ServiceCreate(context.Background(), spec, swarm.ServiceCreateOptions{QueryRegistry: false}); err != nil {
		t.Fatalf("create service pgtask: %v", err)
	}
	removeAfter(t, m, "pgtask")

	const serviceTasks = "/api/v1/clusters/pgt/services/pgtask/tasks"
	var all pageAnswer
	testenv.Poll(t, 60*time.Second, "pgtask's 5 tasks running", func() error {
		all = pageAnswer{}
		admin.MustDo(http.MethodGet, serviceTasks, nil, &all, 200)
		running := 0
		for _, it := range all.Items {
			if it.State == "running" {
				running++
			}
		}
		if running != 5 || len(all.Items) != 5 {
			return fmt.Errorf("%d tasks, %d running", len(all.Items), running)
		}
		return nil
	})
	for _, path := range []string{serviceTasks, "/api/v1/clusters/pgt/tasks?service=pgtask"} {
		pages := walkPages(t, admin, path, 2, 5)
		if len(pages) != 3 {
			t.Errorf("%s: 5 tasks by 2 in %d pages, want 3", path, len(pages))
		}
		if diff := cmp.Diff(idsOf(pages...), idsOf(all)); diff != "" {
			t.Errorf("%s: the pages' tasks against the full list (-got +want):\n%s", path, diff)
		}
	}

	const nodesPath = "/api/v1/clusters/pgt/nodes"
	var nodes pageAnswer
	admin.MustDo(http.MethodGet, nodesPath, nil, &nodes, 200)
	if n := len(sw.Nodes()); nodes.Total != n || len(nodes.Items) != n || nodes.NextCursor != nil {
		t.Fatalf("nodes without limit: %d of total %d, next_cursor %v; want all %d", len(nodes.Items), nodes.Total, nodes.NextCursor, n)
	}
	for _, limit := range []int{1, 3} {
		pages := walkPages(t, admin, nodesPath, limit, len(sw.Nodes()))
		if diff := cmp.Diff(idsOf(pages...), idsOf(nodes)); diff != "" {
			t.Errorf("nodes by %d against the full list (-got +want):\n%s", limit, diff)
		}
	}
}

// TestPaging_UsersAndTokens: the store's lists page too, users by
// username and tokens by name.
func TestPaging_UsersAndTokens(t *testing.T) {
	in := apitest.Start(t, apitest.Config(t))
	admin := in.Admin(t)
	for _, u := range []string{"pgu-c", "pgu-a", "pgu-b"} {
		admin.MustDo(http.MethodPost, "/api/v1/users", map[string]string{"username": u, "password": "password-" + u, "role": "viewer"}, nil, 201)
	}
	var users []string
	for _, p := range walkPages(t, admin, "/api/v1/users", 3, 4) {
		for _, it := range p.Items {
			users = append(users, it.Username)
		}
	}
	if diff := cmp.Diff(users, []string{"admin", "pgu-a", "pgu-b", "pgu-c"}); diff != "" {
		t.Errorf("users by 3 (-got +want):\n%s", diff)
	}

	for _, name := range []string{"pg-t3", "pg-t1", "pg-t2"} {
		admin.MustDo(http.MethodPost, "/api/v1/tokens", map[string]string{"name": name}, nil, 201)
	}
	for _, path := range []string{"/api/v1/tokens", "/api/v1/users/admin/tokens"} {
		if diff := cmp.Diff(namesOf(walkPages(t, admin, path, 1, 3)...), []string{"pg-t1", "pg-t2", "pg-t3"}); diff != "" {
			t.Errorf("%s by 1 (-got +want):\n%s", path, diff)
		}
	}
}

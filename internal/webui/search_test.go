package webui_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/store"
	"github.com/swarmops/swarmops/internal/testenv"
)

// srClosedEndpoint answers an engine address where nothing listens: a
// cluster registered there refuses every call.
func srClosedEndpoint(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return "tcp://" + addr
}

// srHangingEndpoint answers an engine address that takes connections and
// never answers on them.
func srHangingEndpoint(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "tcp://" + ln.Addr().String()
}

// srStoreCluster registers a cluster straight into the instance's store,
// as registration would (which refuses an endpoint that does not answer).
func srStoreCluster(t *testing.T, in *apitest.Instance, name, endpoint string) {
	t.Helper()
	now := time.Now().UTC()
	if err := in.Server.Store.CreateCluster(context.Background(), store.Cluster{Name: name, Endpoints: []string{endpoint}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
}

// srHref answers the href of the first element matching sel.
func srHref(b *browser, sel string) string {
	b.t.Helper()
	var href string
	b.eval(fmt.Sprintf(`(document.querySelector(%q) || {getAttribute: () => ""}).getAttribute("href") || ""`, sel), &href)
	return href
}

// srPressSlash presses "/" as a keyboard does: one key-down that carries
// the text, which a handler that prevents it keeps out of any field
// (chromedp's KeyEvent sends the text as a separate event that nothing
// can prevent).
func srPressSlash(b *browser) {
	b.t.Helper()
	b.run("press /", chromedp.ActionFunc(func(ctx context.Context) error {
		down := input.DispatchKeyEvent(input.KeyDown).WithKey("/").WithCode("Slash").WithText("/").
			WithUnmodifiedText("/").WithWindowsVirtualKeyCode(191).WithNativeVirtualKeyCode(191)
		if err := down.Do(ctx); err != nil {
			return err
		}
		return input.DispatchKeyEvent(input.KeyUp).WithKey("/").WithCode("Slash").WithWindowsVirtualKeyCode(191).Do(ctx)
	}))
}

// srFocused answers the id of the element that has the focus.
func srFocused(b *browser) string {
	b.t.Helper()
	var id string
	b.eval(`document.activeElement ? document.activeElement.id : ""`, &id)
	return id
}

// TestSearch_AcrossSwarms: two swarms are searched from the top bar's box
// (reached with "/"): a service of the same name in both is found in
// both, grouped under each cluster's banner and linked to its own page; a
// stack, a network, a secret and a config named like the query (in
// another case) are found and linked; a node is found by hostname; a cluster that refuses says
// so in words and one that hangs shows "loading…" until the page fills in
// its error, while the others answer; without JavaScript the page waits
// and shows every cluster's answer; a viewer searches too.
func TestSearch_AcrossSwarms(t *testing.T) {
	sw := testenv.SharedSwarm(t)
	in, b := startUI(t, apitest.WithEngineTimeout(3*time.Second))
	admin := in.Admin(t)
	admin.MustDo(http.MethodPost, "/api/v1/clusters", map[string]any{"name": "srch-a", "endpoint": sw.Managers[0].Endpoint}, nil, 201)
	other := testenv.StartSwarm(t, testenv.SwarmOptions{Managers: 1, Name: "srch"})
	admin.MustDo(http.MethodPost, "/api/v1/clusters", map[string]any{"name": "srch-b", "endpoint": other.Managers[0].Endpoint,
		"labels": map[string]string{"swarmops.color": "red", "swarmops.env": "production"}}, nil, 201)
	srStoreCluster(t, in, "srch-down", srClosedEndpoint(t))
	srStoreCluster(t, in, "srch-slow", srHangingEndpoint(t))

	// The objects, in the swarm both clusters are.
	api := sw.Managers[0].Client()
	ctx := context.Background()
	const prefix = "srchq"
	var svc, stackSvc struct{ ID string }
	admin.MustDo(http.MethodPost, "/api/v1/clusters/srch-a/services", map[string]any{"name": prefix + "-web", "image": testenv.HelloImage1, "replicas": 0}, &svc, 201)
	t.Cleanup(func() { _ = api.ServiceRemove(context.Background(), svc.ID) })
	admin.MustDo(http.MethodPost, "/api/v1/clusters/srch-a/services", map[string]any{"name": prefix + "-stack_api", "image": testenv.HelloImage1,
		"replicas": 0, "labels": map[string]string{"com.docker.stack.namespace": prefix + "-stack"}}, &stackSvc, 201)
	t.Cleanup(func() { _ = api.ServiceRemove(context.Background(), stackSvc.ID) })
	// The same service name in the other swarm.
	var svcB struct{ ID string }
	admin.MustDo(http.MethodPost, "/api/v1/clusters/srch-b/services", map[string]any{"name": prefix + "-web", "image": testenv.HelloImage1, "replicas": 0}, &svcB, 201)
	net1, err := api.NetworkCreate(ctx, prefix+"-net", network.CreateOptions{Driver: "overlay", Scope: "swarm"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = api.NetworkRemove(context.Background(), net1.ID) })
	sec, err := api.SecretCreate(ctx, swarm.SecretSpec{Annotations: swarm.Annotations{Name: prefix + "-secret"}, Data: []byte("s3cr3t-search")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = api.SecretRemove(context.Background(), sec.ID) })
	cfg, err := api.ConfigCreate(ctx, swarm.ConfigSpec{Annotations: swarm.Annotations{Name: prefix + "-config"}, Data: []byte("k=v\n")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = api.ConfigRemove(context.Background(), cfg.ID) })

	// "/" on a cluster's page focuses the top bar's box; typing there
	// and pressing Enter searches every swarm.
	b.open("/c/srch-a/services")
	b.waitText("main", prefix+"-web", 15*time.Second)
	srPressSlash(b)
	if id := srFocused(b); id != "global-search" {
		t.Fatalf("after / the focus is on %q, want the search box", id)
	}
	b.run("search", chromedp.KeyEvent("SRCHQ"), chromedp.KeyEvent(kb.Enter))
	b.waitText("#search-summary", "swarms", 15*time.Second)
	// The page did not wait for the hanging cluster: it is still loading.
	if n := b.count(`#found-srch-slow[data-fill]`); n != 1 {
		t.Errorf("the hanging cluster's section is not waiting to be filled (%d)", n)
	} else {
		b.waitText("#found-srch-slow", "loading…", time.Second)
		b.screenshot("search_loading")
	}
	var loc string
	b.run("read the location", chromedp.Location(&loc))
	if !strings.Contains(loc, "/search?q=SRCHQ") || strings.Contains(loc, "js=1") {
		t.Errorf("the search is at %s, want /search?q=SRCHQ without js=1", loc)
	}

	// The service of the same name, in both clusters, each linked to its own.
	b.waitText("#found-srch-a", prefix+"-web", 10*time.Second)
	b.waitText("#found-srch-b", prefix+"-web", 10*time.Second)
	for cl, id := range map[string]string{"srch-a": svc.ID, "srch-b": svcB.ID} {
		if got, want := srHref(b, "#found-"+cl+` a[href$="/services/`+id+`"]`), "/c/"+cl+"/services/"+id; got != want {
			t.Errorf("%s: the service links to %q, want %q", cl, got, want)
		}
	}
	if n := b.count(`#found-srch-b .hits li`); n != 1 {
		t.Errorf("srch-b shows %d matches, want its one service", n)
	}
	// Each kind, in srch-a.
	for _, name := range []string{prefix + "-stack_api", prefix + "-stack", prefix + "-net", prefix + "-secret", prefix + "-config"} {
		b.waitText("#found-srch-a", name, 10*time.Second)
	}
	for link, want := range map[string]string{
		`a[href$="/stacks/` + prefix + `-stack"]`: "/c/srch-a/stacks/" + prefix + "-stack",
		`a[href$="#net-` + net1.ID + `"]`:         "/c/srch-a/networks?q=" + prefix + "-net#net-" + net1.ID,
		`a[href$="#secret-` + sec.ID + `"]`:       "/c/srch-a/secrets?q=" + prefix + "-secret#secret-" + sec.ID,
		`a[href$="/configs/` + cfg.ID + `"]`:      "/c/srch-a/configs/" + cfg.ID,
	} {
		if got := srHref(b, "#found-srch-a "+link); got != want {
			t.Errorf("link %s is %q, want %q", link, got, want)
		}
	}
	if b.count(`#found-srch-b .banner.banner-red`) != 1 || !strings.Contains(strings.ToLower(b.text(`#found-srch-b .banner`)), "production") {
		t.Error("srch-b's section is not under its red production banner")
	}
	b.waitText("#found-srch-down", "unreachable", 5*time.Second)
	b.waitText("#found-srch-down", "no manager of cluster", 5*time.Second)
	if strings.Contains(strings.ToLower(b.text("body")), "s3cr3t-search") {
		t.Error("the search shows a secret's value")
	}
	// The hanging cluster: "loading…", then its error, filled in (in the
	// words of whichever deadline ends it first: the read's engine timeout
	// or the search's).
	b.waitText("#found-srch-slow", "unreachable", 20*time.Second)
	if slow := b.text("#found-srch-slow"); !strings.Contains(slow, "did not answer") && !strings.Contains(slow, "no answer in time") {
		t.Errorf("the hanging cluster's section says %q, not that it did not answer", slow)
	}
	if n := b.count(`[data-fill]`); n != 0 {
		t.Errorf("%d sections still wait to be filled", n)
	}
	b.screenshot("search")
	b.clean("the search page")

	// Following a result opens its page.
	b.run("open the secret", chromedp.Click(`#found-srch-a a[href$="#secret-`+sec.ID+`"]`, chromedp.ByQuery))
	b.waitText("#secret-"+sec.ID, prefix+"-secret", 10*time.Second)
	if n := b.count(`#secrets tbody tr`); n != 1 {
		t.Errorf("the secrets page filtered by the result's name shows %d rows, want 1", n)
	}
	b.clean("the secrets page filtered")

	// A node, by hostname.
	var nodes struct {
		Items []struct{ ID, Hostname string }
	}
	admin.MustDo(http.MethodGet, "/api/v1/clusters/srch-a/nodes", nil, &nodes, 200)
	node := nodes.Items[0]
	b.open("/search?q=" + node.Hostname)
	b.waitText("#found-srch-a", node.Hostname, 15*time.Second)
	if got, want := srHref(b, `#found-srch-a a[href$="/nodes/`+node.ID+`"]`), "/c/srch-a/nodes/"+node.ID; got != want {
		t.Errorf("node link %q, want %q", got, want)
	}
	b.clean("a node search")

	// Too short: a hint, no search.
	if st := b.open("/search?q=s"); st != 200 {
		t.Errorf("a one-character search answered %d", st)
	}
	b.waitText("main", "at least two characters", 5*time.Second)
	if n := b.count("section.found"); n != 0 {
		t.Errorf("a one-character search shows %d clusters", n)
	}
	b.clean("a short search")

	// Without JavaScript (no js=1) the page waits for every cluster.
	resp, page, err := admin.Raw(http.MethodGet, "/search?q="+prefix, nil, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /search without script: %v %v", resp, err)
	}
	for _, want := range []string{`id="found-srch-a"`, `id="found-srch-b"`, "/c/srch-b/services/" + svcB.ID, "no manager of cluster"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page without script lacks %q", want)
		}
	}
	if !strings.Contains(page, "did not answer") && !strings.Contains(page, "no answer in time") {
		t.Error("the page without script does not say that the hanging cluster did not answer")
	}
	if strings.Contains(page, "data-fill=") {
		t.Error("the page without script leaves sections to fill")
	}

	// A viewer searches too.
	viewer := in.UserWithRole(t, admin, "srch-vic", "viewer")
	resp, page, err = viewer.Raw(http.MethodGet, "/search?q="+prefix+"-web", nil, nil)
	if err != nil || resp.StatusCode != 200 || !strings.Contains(page, "/c/srch-a/services/"+svc.ID) {
		t.Errorf("a viewer's search: %v %v", resp, err)
	}
}

// TestSearch_SlashFocusesTheBox: on a page without a cluster too, "/"
// focuses the search box, and not while typing in another field.
func TestSearch_SlashFocusesTheBox(t *testing.T) {
	_, b := startUI(t)
	b.open("/clusters")
	srPressSlash(b)
	if id := srFocused(b); id != "global-search" {
		t.Fatalf("after / on /clusters the focus is on %q, want the search box", id)
	}
	b.clean("/clusters")

	b.open("/search")
	b.waitText("main", "Type part of a name", 5*time.Second)
	b.run("type in the page's own box", chromedp.Focus(`#search-q`, chromedp.ByQuery), chromedp.KeyEvent("a"))
	srPressSlash(b)
	b.run("type on", chromedp.KeyEvent("b"))
	if id := srFocused(b); id != "search-q" {
		t.Errorf("typing / in a field moved the focus to %q", id)
	}
	var typed string
	b.eval(`document.getElementById("search-q").value`, &typed)
	if typed != "a/b" {
		t.Errorf("the field holds %q, want a/b", typed)
	}
	b.clean("/search")
}

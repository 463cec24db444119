package webui_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/swarmops/swarmops/internal/testenv"
)

// waitJS polls a JavaScript expression until it is true.
func (b *browser) waitJS(what, js string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		err := chromedp.Run(ctx, chromedp.Evaluate(js, &ok))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("waited %s for %s (%s): err %v; the page's problems: %q", timeout, what, js, err, b.takeProblems())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// newWindow opens a tab in a new window of the same browser (same
// cookies): every window's tab is visible, as four windows side by side.
func (b *browser) newWindow() *browser {
	b.t.Helper()
	var id target.ID
	b.run("open a window", chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		id, err = target.CreateTarget("about:blank").WithNewWindow(true).Do(cdp.WithExecutor(ctx, chromedp.FromContext(ctx).Browser))
		return err
	}))
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithTargetID(id))
	b.t.Cleanup(cancel)
	return attach(b.t, ctx, b.base)
}

// setHidden makes the page see itself hidden (or shown), as the Page
// Visibility API reports a tab put in the background.
func (b *browser) setHidden(hidden bool) {
	b.t.Helper()
	js := fmt.Sprintf(`Object.defineProperty(document, 'hidden', {configurable: true, get: () => %t});
Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => %q});
document.dispatchEvent(new Event('visibilitychange')); true`, hidden, map[bool]string{true: "hidden", false: "visible"}[hidden])
	var ok bool
	b.eval(js, &ok)
}

// TestLive_FourTabs: four windows on one instance each follow the cluster
// with one stream and all keep working, though browsers allow six HTTP/1.1
// connections per origin; a tab in the background holds no stream and
// catches up when it comes to the front; live updates never reload a page.
func TestLive_FourTabs(t *testing.T) {
	sw := testenv.SharedSwarm(t)
	in, first := startUI(t)
	admin := in.Admin(t)
	const cluster = "live-tabs"
	admin.MustDo(http.MethodPost, "/api/v1/clusters", map[string]any{"name": cluster, "endpoint": sw.Managers[0].Endpoint}, nil, 201)
	api := "/api/v1/clusters/" + cluster + "/services"
	list := "/c/" + cluster + "/services"

	wins := []*browser{first, first.newWindow(), first.newWindow(), first.newWindow()}
	for _, w := range wins {
		if st := w.open(list); st != 200 {
			t.Fatalf("GET %s: %d", list, st)
		}
		w.waitJS("the window's event stream", `window.SwarmOps.live.connected()`, 20*time.Second)
		var ok bool
		w.eval(`window.__marker = 'kept'; true`, &ok)
	}

	var svc struct{ ID string }
	admin.MustDo(http.MethodPost, api, map[string]any{"name": "live-tabs-a", "image": testenv.HelloImage1, "replicas": 1}, &svc, 201)
	t.Cleanup(func() { admin.Do(http.MethodDelete, api+"/"+svc.ID, nil, nil) })
	row := "#svc-" + svc.ID
	for _, w := range wins {
		w.waitText(row, "1/1", 60*time.Second)
	}
	// A table sorted by the user stays sorted, with its sort buttons,
	// through live updates.
	first.run("sort by name", chromedp.Click(`th[data-sort] button.sort`, chromedp.ByQuery))
	admin.MustDo(http.MethodPost, api+"/"+svc.ID+"/scale", map[string]any{"replicas": 2}, nil, 200)
	for _, w := range wins {
		w.waitText(row, "2/2", 60*time.Second)
	}
	var sorted bool
	first.eval(`!!document.querySelector('th[aria-sort] button.sort')`, &sorted)
	if !sorted {
		t.Errorf("a live update lost the table's sort order or its sort buttons")
	}
	// With four streams open, a window still loads other pages.
	other := wins[3].newWindow()
	if st := other.open("/c/" + cluster + "/nodes"); st != 200 {
		t.Errorf("a fifth window's page load with four streams open: %d", st)
	}
	other.clean("the fifth window")

	// A tab in the background closes its stream, and catches up when it
	// comes back. (Headless Chromium reports a tab behind another one of
	// its window as hidden; the Page Visibility API is what the page
	// reads, so the test sets it as the browser would.)
	first.setHidden(true)
	first.waitJS("the background tab to close its stream", `!window.SwarmOps.live.connected()`, 10*time.Second)
	admin.MustDo(http.MethodPost, api+"/"+svc.ID+"/scale", map[string]any{"replicas": 1}, nil, 200)
	wins[1].waitText(row, "1/1", 60*time.Second)
	var stale string
	first.eval(`document.querySelector('`+row+`').textContent`, &stale)
	if !strings.Contains(stale, "2/2") {
		t.Errorf("the background tab changed while it held no stream: %q", stale)
	}
	first.setHidden(false)
	first.waitJS("the tab to reconnect", `window.SwarmOps.live.connected()`, 20*time.Second)
	first.waitText(row, "1/1", 30*time.Second)

	for i, w := range wins {
		var marker string
		w.eval(`window.__marker || ''`, &marker)
		if marker != "kept" {
			t.Errorf("window %d was reloaded (its marker is %q)", i, marker)
		}
		w.clean(fmt.Sprintf("window %d", i))
	}
}

// TestLive_ConfirmSurvivesUpdates: a confirmation left open while the
// page's live regions change still sends its form: the service is gone.
func TestLive_ConfirmSurvivesUpdates(t *testing.T) {
	sw := testenv.SharedSwarm(t)
	in, b := startUI(t)
	admin := in.Admin(t)
	const cluster = "live-confirm"
	admin.MustDo(http.MethodPost, "/api/v1/clusters", map[string]any{"name": cluster, "endpoint": sw.Managers[0].Endpoint}, nil, 201)
	api := "/api/v1/clusters/" + cluster + "/services"
	var svc struct{ ID string }
	admin.MustDo(http.MethodPost, api, map[string]any{"name": "live-confirm-web", "image": testenv.HelloImage1, "replicas": 1}, &svc, 201)
	t.Cleanup(func() { admin.Do(http.MethodDelete, api+"/"+svc.ID, nil, nil) })

	b.open("/c/" + cluster + "/services/" + svc.ID)
	b.waitText("#svc-title", "1/1", 60*time.Second)
	b.waitJS("the page's event stream", `window.SwarmOps.live.connected()`, 20*time.Second)
	b.run("ask to delete", chromedp.Click(`#svc-title form[action$="/delete"] button`, chromedp.ByQuery),
		chromedp.WaitVisible(`#confirm-dialog`, chromedp.ByQuery))
	// The title region changes while the dialog is open.
	admin.MustDo(http.MethodPost, api+"/"+svc.ID+"/scale", map[string]any{"replicas": 2}, nil, 200)
	testenv.Poll(t, 60*time.Second, "the service's tasks to change while the dialog is open", func() error {
		var d struct {
			Summary struct {
				Replicas struct{ Running int }
			}
		}
		admin.MustDo(http.MethodGet, api+"/"+svc.ID, nil, &d, 200)
		if d.Summary.Replicas.Running != 2 {
			return fmt.Errorf("%d running", d.Summary.Replicas.Running)
		}
		return nil
	})
	b.run("confirm", chromedp.Click(`#confirm-dialog [data-dialog-ok]`, chromedp.ByQuery))
	testenv.Poll(t, 30*time.Second, "the service deleted", func() error {
		if st, _ := admin.Do(http.MethodGet, api+"/"+svc.ID, nil, nil); st != 404 {
			return fmt.Errorf("GET answers %d", st)
		}
		return nil
	})
	b.clean("the service page")
}

package webui_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/testenv"
)

// TestServices_StaleBannerDuringElection: when the swarm loses its leader,
// the services page still shows the services, from this instance's
// snapshot, under a banner saying since when and why.
func TestServices_StaleBannerDuringElection(t *testing.T) {
	t.Parallel()
	sw := testenv.StartSwarm(t, testenv.SwarmOptions{Managers: 3, Name: "ue"})
	in, b := startUI(t, apitest.WithEngineTimeout(3*time.Second))
	admin := in.Admin(t)
	admin.MustDo(http.MethodPost, "/api/v1/clusters", map[string]any{"name": "ue", "endpoint": sw.Managers[0].Endpoint}, nil, 201)
	admin.HTTP.Timeout = 2 * time.Minute
	admin.MustDo(http.MethodPost, "/api/v1/clusters/ue/services?wait=60s", map[string]any{"name": "ue-web", "image": testenv.HelloImage1, "replicas": 1}, nil, 201)

	b.open("/c/ue/services")
	b.waitText(`main`, "ue-web", 10*time.Second)
	if n := b.count(`.flash.stale`); n != 0 {
		t.Fatalf("a stale banner before anything went wrong (%d)", n)
	}
	b.clean("the services page")

	// Managers[0] initialised the swarm: it is the leader.
	if err := sw.Managers[0].Kill(); err != nil {
		t.Fatal(err)
	}
	testenv.Poll(t, 20*time.Second, "the services page to show the stale banner", func() error {
		if status := b.open("/c/ue/services"); status != 200 {
			return fmt.Errorf("status %d", status)
		}
		if b.count(`.flash.stale`) == 0 {
			return fmt.Errorf("no banner yet")
		}
		return nil
	})
	if banner := b.text(`.flash.stale`); !strings.Contains(banner, "The swarm is electing a new leader") || !strings.Contains(banner, "UTC") {
		t.Errorf("banner %q", banner)
	}
	if !strings.Contains(b.text(`main`), "ue-web") {
		t.Error("the stale page lost the service list")
	}
	b.screenshot("services_stale")
	// The page's live updates may have failed while no manager answered;
	// nothing else may have.
	for _, p := range b.takeProblems() {
		if !strings.Contains(p, "/events") && !strings.Contains(p, "status of 503") {
			t.Errorf("while the swarm elects: %s", p)
		}
	}
}

// ewDisabled answers, for the first element matching sel, whether it is
// disabled (a link: has no href), its title and the reason written in it.
func ewDisabled(b *browser, sel string) (disabled bool, title, reason string) {
	b.t.Helper()
	var out struct {
		Found    bool
		Disabled bool
		Title    string
		Reason   string
	}
	b.eval(fmt.Sprintf(`(() => {
		const el = document.querySelector(%q);
		if (!el) return {Found: false};
		const r = el.querySelector(".waits-reason") || (el.nextElementSibling && el.nextElementSibling.matches(".waits-reason") ? el.nextElementSibling : null);
		return {Found: true, Disabled: el.tagName === "A" ? !el.hasAttribute("href") : el.disabled,
			Title: el.getAttribute("title") || "", Reason: r ? r.innerText : ""};
	})()`, sel), &out)
	if !out.Found {
		b.t.Fatalf("no %s on the page", sel)
	}
	return out.Disabled, out.Title, out.Reason
}

// TestElection_ButtonsWait: while the swarm has no leader (two of its
// three managers killed: no quorum), the services page and a service's
// page show what this instance last read, and every button that would
// change the swarm is disabled, saying why, without JavaScript's help
// (the server writes it so); what changes nothing (the filter, the search
// box, logging out) still works. Once the managers are back and the swarm
// has a leader, the open page reloads itself (its event stream says so)
// and the buttons are enabled again.
func TestElection_ButtonsWait(t *testing.T) {
	t.Parallel()
	sw := testenv.StartSwarm(t, testenv.SwarmOptions{Managers: 3, Name: "ew"})
	in, b := startUI(t, apitest.WithEngineTimeout(3*time.Second))
	admin := in.Admin(t)
	admin.MustDo(http.MethodPost, "/api/v1/clusters", map[string]any{"name": "ew", "endpoint": sw.Managers[0].Endpoint}, nil, 201)
	admin.HTTP.Timeout = 2 * time.Minute
	admin.MustDo(http.MethodPost, "/api/v1/clusters/ew/services?wait=60s", map[string]any{"name": "ew-web", "image": testenv.HelloImage1, "replicas": 1}, nil, 201)

	const (
		create   = `main a.button[href$="/services/new"], main a.button.waits`
		redeploy = `main form[action$="/redeploy"] button`
		scale    = `main form[action$="/scale"] button`
		filter   = `main form[method="get"] button[type="submit"]`
	)
	check := func(page string, waiting bool) {
		t.Helper()
		for _, sel := range map[string][]string{"services": {create}, "detail": {redeploy, scale}}[page] {
			disabled, title, reason := ewDisabled(b, sel)
			if disabled != waiting {
				t.Errorf("%s: %s disabled=%v while waiting=%v", page, sel, disabled, waiting)
			}
			if waiting && (!strings.HasPrefix(title, "Waits for the swarm to elect a leader") || reason != "Waits for the swarm to elect a leader") {
				t.Errorf("%s: %s says %q (title %q), want why it waits", page, sel, reason, title)
			}
			if !waiting && (reason != "" || strings.Contains(title, "Waits")) {
				t.Errorf("%s: %s says it waits (%q, %q) while the swarm has a leader", page, sel, reason, title)
			}
		}
		if n := b.count(`main [data-waits], main[data-waits]`); (n > 0) != waiting {
			t.Errorf("%s: main marked waiting=%v, want %v", page, n > 0, waiting)
		}
		if d, _, _ := ewDisabled(b, `#global-search`); d {
			t.Errorf("%s: the search box is disabled", page)
		}
		if d, _, _ := ewDisabled(b, `.usermenu form button`); d {
			t.Errorf("%s: logging out is disabled", page)
		}
	}

	// With a leader: the buttons work. These reads are also what the
	// instance holds to show later.
	b.open("/c/ew/services")
	b.waitText("main", "ew-web", 10*time.Second)
	check("services", false)
	if d, _, _ := ewDisabled(b, filter); d {
		t.Error("the filter is disabled")
	}
	b.open("/c/ew/services/ew-web")
	b.waitText("h1", "ew-web", 10*time.Second)
	check("detail", false)
	b.clean("the pages with a leader")

	// No quorum: Managers[0] (the leader) and Managers[1] die.
	for _, m := range sw.Managers[:2] {
		if err := m.Kill(); err != nil {
			t.Fatal(err)
		}
	}
	stale := func(path string) func() error {
		return func() error {
			if status := b.open(path); status != 200 {
				return fmt.Errorf("status %d", status)
			}
			if b.count(`.flash.stale`) == 0 {
				return fmt.Errorf("no stale banner yet")
			}
			return nil
		}
	}
	testenv.Poll(t, 30*time.Second, "the services page to show the stale banner", stale("/c/ew/services"))
	check("services", true)
	if d, _, _ := ewDisabled(b, filter); d {
		t.Error("the filter is disabled while the swarm has no leader: it changes nothing")
	}
	testenv.Poll(t, 30*time.Second, "the service's page to show the stale banner", stale("/c/ew/services/ew-web"))
	if !strings.Contains(b.text(`.flash.stale`), "lost its quorum") {
		t.Errorf("banner %q", b.text(`.flash.stale`))
	}
	check("detail", true)
	b.screenshot("service_waits")
	for _, p := range b.takeProblems() {
		if !strings.Contains(p, "/events") && !strings.Contains(p, "status of 503") {
			t.Errorf("while the swarm has no leader: %s", p)
		}
	}

	// The managers come back; the swarm elects a leader; the buttons work.
	for _, m := range sw.Managers[:2] {
		if err := m.Start(); err != nil {
			t.Fatal(err)
		}
	}
	// The open page learns of the new leader from its event stream and
	// reloads itself.
	testenv.Poll(t, 120*time.Second, "the open service's page to reload with a leader", func() error {
		// The page may be reloading: an error is "not yet".
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		defer cancel()
		var waiting bool
		err := chromedp.Run(ctx, chromedp.Evaluate(`document.readyState !== "complete" || !!document.querySelector("main[data-waits], .flash.stale") || !document.querySelector("h1")`, &waiting))
		if err != nil || waiting {
			return fmt.Errorf("still waiting (%v)", err)
		}
		return nil
	})
	b.waitText("h1", "ew-web", 10*time.Second)
	check("detail", false)
	b.open("/c/ew/services")
	b.waitText("main", "ew-web", 10*time.Second)
	check("services", false)
	// The pages' event streams broke while no manager answered; nothing
	// else may have gone wrong.
	for _, p := range b.takeProblems() {
		if !strings.Contains(p, "/events") && !strings.Contains(p, "status of 503") {
			t.Errorf("after the election: %s", p)
		}
	}
}

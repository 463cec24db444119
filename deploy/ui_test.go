package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/swarmops/swarmops/internal/testenv"
)

// TestUIThroughNginx: two instances on one Redis behind the project's
// nginx config. A browser logs in once and moves between pages served by
// either instance; the service page's live stream survives the instance
// that serves it being killed: the page reconnects through nginx to the
// other one and keeps updating, without a reload; with Redis down, pages
// say so in words.
func TestUIThroughNginx(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server, nginx, two SwarmOps processes, engines and Chromium")
	}
	sw := testenv.SharedSwarm(t)
	r := testenv.NewRedis(t, "ui-redis-password")
	env := redisEnv(t, r, "ui-test:")
	ins := []*instance{startInstance(t, "ui-1", env), startInstance(t, "ui-2", env)}
	for _, in := range ins {
		in.waitReady(t)
	}
	x := startNginx(t, ins...)
	s := mustLogin(t, x.URL)

	const cluster = "ui-ha"
	api := x.URL + "/api/v1/clusters"
	if st, body, _, err := do(httpClient, http.MethodPost, api, s, map[string]string{"name": cluster, "endpoint": sw.Managers[0].Endpoint}, nil); err != nil || st != 201 {
		t.Fatalf("register the cluster: %d %v %s", st, err, body)
	}
	st, body, _, err := do(httpClient, http.MethodPost, api+"/"+cluster+"/services", s,
		map[string]any{"name": "ui-ha-web", "image": testenv.HelloImage1, "replicas": 1}, nil)
	if err != nil || st != 201 {
		t.Fatalf("create the service: %d %v %s", st, err, body)
	}
	var svc struct{ ID string }
	if err := json.Unmarshal(body, &svc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _, _, _ = do(httpClient, http.MethodDelete, api+"/"+cluster+"/services/"+svc.ID, s, nil, nil)
	})

	// Which instance serves each event stream the page opens.
	ctx := testenv.StartChromium(t)
	var mu sync.Mutex
	var streams []string
	chromedp.ListenTarget(ctx, func(ev any) {
		if e, ok := ev.(*network.EventResponseReceived); ok && strings.HasSuffix(e.Response.URL, "/api/v1/clusters/"+cluster+"/events") {
			for k, v := range e.Response.Headers {
				if strings.EqualFold(k, "X-SwarmOps-Instance") {
					mu.Lock()
					streams = append(streams, fmt.Sprint(v))
					mu.Unlock()
				}
			}
		}
	})
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		if err := chromedp.Run(c, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	waitText := func(sel, want string) {
		t.Helper()
		testenv.Poll(t, 60*time.Second, fmt.Sprintf("%q in %s", want, sel), func() error {
			var got string
			c, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if err := chromedp.Run(c, chromedp.Text(sel, &got, chromedp.ByQuery)); err != nil {
				return err
			}
			if !strings.Contains(got, want) {
				return fmt.Errorf("saw %q", got)
			}
			return nil
		})
	}
	run("log in through nginx", network.Enable(),
		chromedp.Navigate(x.URL+"/login"),
		chromedp.SendKeys(`#f-username`, "admin", chromedp.ByQuery),
		chromedp.SendKeys(`#f-password`, adminPassword, chromedp.ByQuery),
		chromedp.Submit(`#f-password`, chromedp.ByQuery),
		chromedp.WaitVisible(`.usermenu`, chromedp.ByQuery),
	)
	// One login serves every page, whichever instance answers it.
	for _, p := range []string{"/", "/clusters", "/c/" + cluster + "/nodes", "/c/" + cluster + "/services"} {
		var loc string
		run("open "+p, chromedp.Navigate(x.URL+p), chromedp.WaitVisible(`.usermenu`, chromedp.ByQuery), chromedp.Location(&loc))
		if !strings.HasSuffix(loc, p) {
			t.Errorf("open %s: ended at %s", p, loc)
		}
	}

	run("open the service page", chromedp.Navigate(x.URL+"/c/"+cluster+"/services/"+svc.ID),
		chromedp.WaitVisible(`#svc-title`, chromedp.ByQuery))
	waitText("#svc-title", "1/1")
	var served string
	testenv.Poll(t, 20*time.Second, "the page's event stream", func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(streams) == 0 {
			return fmt.Errorf("no stream response yet")
		}
		served = streams[len(streams)-1]
		return nil
	})
	var ok bool
	run("mark the page", chromedp.Evaluate(`window.__marker = 'kept'; true`, &ok))

	// Kill the instance serving the stream, as a crash would.
	var survivor string
	for _, in := range ins {
		if in.ID == served {
			in.Kill()
		} else {
			survivor = in.ID
		}
	}
	if survivor == "" || survivor == served {
		t.Fatalf("the stream came from %q, not one of the instances", served)
	}
	testenv.Poll(t, 30*time.Second, "the page to reconnect its stream through "+survivor, func() error {
		mu.Lock()
		defer mu.Unlock()
		if streams[len(streams)-1] != survivor {
			return fmt.Errorf("streams so far: %v", streams)
		}
		return nil
	})

	// It keeps updating.
	if st, body, _, err := do(httpClient, http.MethodPost, api+"/"+cluster+"/services/"+svc.ID+"/scale", s, map[string]int{"replicas": 2}, nil); err != nil || st != 200 {
		t.Fatalf("scale through nginx: %d %v %s", st, err, body)
	}
	waitText("#svc-title", "2/2")
	var marker string
	run("read the marker", chromedp.Evaluate(`window.__marker || ''`, &marker))
	if marker != "kept" {
		t.Errorf("the page was reloaded (marker %q)", marker)
	}

	// With Redis down, a page says what is down in words: an HTML error
	// page with the store's message, not a stack trace, JSON or a blank.
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	testenv.Poll(t, 20*time.Second, "the fleet page answering 503 in words while Redis is down", func() error {
		st, body, h, err := get(x.URL+"/", s.Cookie)
		switch {
		case err != nil:
			return err
		case st != 503:
			return fmt.Errorf("status %d", st)
		case !strings.HasPrefix(h.Get("Content-Type"), "text/html"):
			return fmt.Errorf("Content-Type %q", h.Get("Content-Type"))
		}
		page := string(body)
		if !strings.Contains(page, "Something SwarmOps needs is down") || !strings.Contains(page, "redis") || strings.Contains(page, "goroutine") {
			return fmt.Errorf("the page says: %.600s", page)
		}
		return nil
	})
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	testenv.Poll(t, 20*time.Second, "the fleet page again once Redis is back", func() error {
		if st, body, _, err := get(x.URL+"/", s.Cookie); err != nil || st != 200 {
			return fmt.Errorf("%d %v %.300s", st, err, body)
		}
		return nil
	})
}

package webui_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/testenv"
)

// browser is one Chromium tab on a SwarmOps instance that records what a
// page must never do: console errors, uncaught exceptions, CSP
// violations, requests to any other origin.
type browser struct {
	t      *testing.T
	ctx    context.Context
	base   string
	origin string

	mu       sync.Mutex
	problems []string
}

// newBrowser starts Chromium (once per test) on base, an instance's URL.
func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	ctx := testenv.StartChromium(t)
	return attach(t, ctx, base)
}

// attach watches the tab of ctx.
func attach(t *testing.T, ctx context.Context, base string) *browser {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, ctx: ctx, base: base, origin: u.Scheme + "://" + u.Host}
	chromedp.ListenTarget(ctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.APITypeError || e.Type == runtime.APITypeAssert {
				b.problem("console.%s: %s", e.Type, argsText(e.Args))
			}
		case *runtime.EventExceptionThrown:
			b.problem("uncaught exception: %s", e.ExceptionDetails.Error())
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.LevelError {
				b.problem("browser log (%s): %s %s", e.Entry.Source, e.Entry.Text, e.Entry.URL)
			}
		case *network.EventRequestWillBeSent:
			if !b.sameOrigin(e.Request.URL) {
				b.problem("request to another origin: %s", e.Request.URL)
			}
		}
	})
	if err := chromedp.Run(ctx, cdplog.Enable(), runtime.Enable(), network.Enable()); err != nil {
		t.Fatalf("enable browser domains: %v", err)
	}
	return b
}

func argsText(args []*runtime.RemoteObject) string {
	var parts []string
	for _, a := range args {
		if a.Value != nil {
			parts = append(parts, string(a.Value))
		} else {
			parts = append(parts, a.Description)
		}
	}
	return strings.Join(parts, " ")
}

func (b *browser) sameOrigin(raw string) bool {
	if strings.HasPrefix(raw, "data:") || strings.HasPrefix(raw, "blob:") || raw == "about:blank" {
		return true
	}
	u, err := url.Parse(raw)
	return err == nil && u.Scheme+"://"+u.Host == b.origin
}

func (b *browser) problem(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, fmt.Sprintf(format, args...))
}

// takeProblems answers and forgets what the tab did wrong so far.
func (b *browser) takeProblems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.problems
	b.problems = nil
	return p
}

// forgive drops what the tab logged about answers of these statuses: the
// browser logs "Failed to load resource: ... status of 400" for a form
// re-shown with its errors, which the test expected.
func (b *browser) forgive(statuses ...int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var kept []string
	for _, p := range b.problems {
		expected := false
		for _, st := range statuses {
			expected = expected || strings.Contains(p, fmt.Sprintf("Failed to load resource: the server responded with a status of %d", st))
		}
		if !expected {
			kept = append(kept, p)
		}
	}
	b.problems = kept
}

// expect is forgive, then clean: the page answered status as the test
// wanted, and did nothing else wrong.
func (b *browser) expect(status int) {
	b.t.Helper()
	b.forgive(status)
	b.clean(fmt.Sprintf("after an expected %d", status))
}

// clean fails the test with every problem the tab recorded.
func (b *browser) clean(where string) {
	b.t.Helper()
	for _, p := range b.takeProblems() {
		b.t.Errorf("%s: %s", where, p)
	}
}

// run runs actions with a deadline, failing the test with what it did.
func (b *browser) run(what string, actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		var loc string
		_ = chromedp.Run(b.ctx, chromedp.Location(&loc))
		b.t.Fatalf("%s (at %s): %v", what, loc, err)
	}
}

// open navigates to path and answers the HTTP status of the document.
func (b *browser) open(path string) int64 {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Navigate(b.base+path))
	if err != nil {
		b.t.Fatalf("open %s: %v", path, err)
	}
	if resp == nil {
		return 0
	}
	return resp.Status
}

// login logs in through the form.
func (b *browser) login(user, password string) {
	b.t.Helper()
	b.open("/login")
	b.run("log in as "+user,
		chromedp.WaitVisible(`#f-username`, chromedp.ByQuery),
		chromedp.SendKeys(`#f-username`, user, chromedp.ByQuery),
		chromedp.SendKeys(`#f-password`, password, chromedp.ByQuery),
		chromedp.Submit(`#f-password`, chromedp.ByQuery),
		chromedp.WaitVisible(`.usermenu`, chromedp.ByQuery),
	)
}

// text answers the text of the first element matching sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	var s string
	b.run("read "+sel, chromedp.Text(sel, &s, chromedp.ByQuery))
	return s
}

// waitText waits until the element matching sel contains want.
func (b *browser) waitText(sel, want string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		err := chromedp.Run(ctx, chromedp.Text(sel, &last, chromedp.ByQuery, chromedp.AtLeast(0)))
		cancel()
		if err == nil && strings.Contains(last, want) {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("waited %s for %q in %s; last saw %q (err %v); the page's problems: %q", timeout, want, sel, last, err, b.takeProblems())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// count answers how many elements match sel.
func (b *browser) count(sel string) int {
	b.t.Helper()
	var nodes []*cdp.Node
	b.run("count "+sel, chromedp.Nodes(sel, &nodes, chromedp.ByQueryAll, chromedp.AtLeast(0)))
	return len(nodes)
}

// eval evaluates a JavaScript expression into out.
func (b *browser) eval(js string, out any) {
	b.t.Helper()
	b.run("eval "+js, chromedp.Evaluate(js, out))
}

// screenshot writes a PNG of the page when SWARMOPS_SCREENSHOTS names a
// directory (make screenshots), and always into the test's own directory
// so a failure can be looked at.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	var png []byte
	b.run("screenshot "+name, chromedp.FullScreenshot(&png, 100))
	dirs := []string{testenv.SubDir(b.t, "screenshots")}
	if d := os.Getenv("SWARMOPS_SCREENSHOTS"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, name+".png"), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
}

// startUI starts an instance and a browser logged in as admin.
func startUI(t *testing.T, opts ...apitest.Option) (*apitest.Instance, *browser) {
	t.Helper()
	in := apitest.Start(t, apitest.Config(t, opts...))
	b := newBrowser(t, in.URL)
	b.login("admin", apitest.AdminPassword)
	return in, b
}

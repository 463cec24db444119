package webui_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/swarm/form"
	"github.com/swarmops/swarmops/internal/testenv"
)

// svCluster registers the shared swarm as cluster name on a new
// instance with a browser logged in as admin.
func svCluster(t *testing.T, name string) (*testenv.Swarm, *apitest.Instance, *apitest.Client, *browser) {
	t.Helper()
	sw := testenv.SharedSwarm(t)
	in, b := startUI(t)
	admin := in.Admin(t)
	admin.MustDo(http.MethodPost, "/api/v1/clusters", map[string]any{"name": name, "endpoint": sw.Managers[0].Endpoint}, nil, 201)
	return sw, in, admin, b
}

// svEngine reads a service straight from the engine.
func svEngine(t *testing.T, sw *testenv.Swarm, name string) (swarm.Service, error) {
	t.Helper()
	s, _, err := sw.Managers[0].Client().ServiceInspectWithRaw(context.Background(), name, swarm.ServiceInspectOptions{})
	return s, err
}

// svRemoveAfter removes a service when the test ends, whatever
// happened to it.
func svRemoveAfter(t *testing.T, sw *testenv.Swarm, name string) {
	t.Cleanup(func() { _ = sw.Managers[0].Client().ServiceRemove(context.Background(), name) })
}

// svFieldNames answers every field name of the service form as the API
// spells it ("resources.limit_cpus").
func svFieldNames(typ reflect.Type, prefix string) []string {
	var out []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			out = append(out, svFieldNames(ft, prefix+name+".")...)
			continue
		}
		out = append(out, prefix+name)
	}
	return out
}

func svImage(s swarm.Service) string {
	img := s.Spec.TaskTemplate.ContainerSpec.Image
	if i := strings.Index(img, "@"); i >= 0 {
		img = img[:i]
	}
	return img
}

// svAwait evaluates js, waiting for the promise it answers.
func svAwait(b *browser, js string, out any) {
	b.t.Helper()
	b.run("eval "+js, chromedp.Evaluate(js, out, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
		return p.WithAwaitPromise(true)
	}))
}

// svSet sets the value of the input sel, as typing would leave it.
func svSet(sel, value string) chromedp.Action {
	js := fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.value = %q;
		el.dispatchEvent(new Event("input", {bubbles: true})); return el.value; })()`, sel, value)
	return chromedp.ActionFunc(func(ctx context.Context) error {
		var got string
		if err := chromedp.Evaluate(js, &got).Do(ctx); err != nil {
			return fmt.Errorf("set %s: %w", sel, err)
		}
		if got != value {
			return fmt.Errorf("set %s to %q: it holds %q", sel, value, got)
		}
		return nil
	})
}

// svConfirm clicks a button whose form asks first, then the dialog's
// confirming button, checking what the dialog says.
func svConfirm(b *browser, button, wantText, wantOK string) {
	b.t.Helper()
	b.run("click "+button, chromedp.Click(button, chromedp.ByQuery), chromedp.WaitVisible(`#confirm-dialog`, chromedp.ByQuery))
	if got := b.text(`#confirm-text`); !strings.Contains(got, wantText) {
		b.t.Errorf("confirmation says %q, want %q in it", got, wantText)
	}
	if got := b.text(`[data-dialog-ok]`); got != wantOK {
		b.t.Errorf("confirming button says %q, want %q", got, wantOK)
	}
	b.run("confirm", chromedp.Click(`[data-dialog-ok]`, chromedp.ByQuery))
}

func TestServices_Lifecycle(t *testing.T) {
	sw, in, admin, b := svCluster(t, "ui-svc")
	const name = "uisvc-life"
	svRemoveAfter(t, sw, name)
	detail := "/c/ui-svc/services/" + name

	// The create form has an input for every field of the service form,
	// named as the API names it.
	if st := b.open("/c/ui-svc/services/new"); st != 200 {
		t.Fatalf("create form: %d", st)
	}
	for _, f := range svFieldNames(reflect.TypeFor[form.Service](), "") {
		if b.count(`form.serviceform [name="`+f+`"]`) == 0 {
			t.Errorf("the create form has no input named %q", f)
		}
	}
	if b.count(`#f-resolve_image:checked`) != 0 {
		t.Error("resolve_image is on by default")
	}

	// Create from the form; the page that follows shows the replicas
	// reach running without a reload.
	b.run("fill and send the create form",
		svSet(`#f-name`, name),
		svSet(`#f-image`, testenv.HelloImage1),
		svSet(`#f-replicas`, "1"),
		svSet(`#f-env`, "HELLO_LINES=3\nUI_TEST=created"),
		chromedp.Click(`form.serviceform button.primary`, chromedp.ByQuery),
		chromedp.WaitVisible(`#svc-title`, chromedp.ByQuery),
	)
	b.waitText(`.flash-ok`, "Created service "+name, 5*time.Second)
	var marker bool
	b.eval(`window.__svcMarker = "kept"; true`, &marker)
	b.waitText(`#svc-title`, "1/1 running", 2*time.Minute)
	var kept string
	b.eval(`String(window.__svcMarker)`, &kept)
	if kept != "kept" {
		t.Fatalf("the page reloaded while the replicas changed (marker %q)", kept)
	}
	s, err := svEngine(t, sw, name)
	if err != nil {
		t.Fatal(err)
	}
	if svImage(s) != testenv.HelloImage1 || *s.Spec.Mode.Replicated.Replicas != 1 ||
		!slices.Contains(s.Spec.TaskTemplate.ContainerSpec.Env, "UI_TEST=created") {
		t.Fatalf("engine spec: image %q replicas %d env %q", svImage(s), *s.Spec.Mode.Replicated.Replicas, s.Spec.TaskTemplate.ContainerSpec.Env)
	}
	b.waitText(`#svc-tasks`, "running", 10*time.Second)
	b.clean("create")

	// The list: a row per service with its replicas, image, mode, ports
	// and stack; filters by name and by stack. Two services of a stack
	// (one publishing a port) keep the first company.
	const stack, net = "uisvc-shop", "uisvc-net"
	t.Cleanup(func() { // after the services are gone
		testenv.Poll(t, time.Minute, "removing network "+net, func() error {
			err := sw.Managers[0].Client().NetworkRemove(context.Background(), net)
			if err != nil && !cerrdefs.IsNotFound(err) {
				return err
			}
			return nil
		})
	})
	admin.MustDo(http.MethodPost, "/api/v1/clusters/ui-svc/networks", map[string]any{"name": net, "driver": "overlay"}, nil, 201)
	for _, svc := range []map[string]any{
		{"name": stack + "_api", "image": testenv.HelloImage1, "replicas": 2, "networks": []string{net},
			"ports": []string{fmt.Sprintf("mode=host,target=%d,published=18391", testenv.HelloPort)}},
		{"name": stack + "_worker", "image": testenv.HelloImage2, "replicas": 0},
	} {
		svRemoveAfter(t, sw, svc["name"].(string))
		svc["labels"] = map[string]string{"com.docker.stack.namespace": stack}
		admin.MustDo(http.MethodPost, "/api/v1/clusters/ui-svc/services", svc, nil, 201)
	}
	api, err := svEngine(t, sw, stack+"_api")
	if err != nil {
		t.Fatal(err)
	}
	if st := b.open("/c/ui-svc/services"); st != 200 {
		t.Fatalf("list: %d", st)
	}
	row := "#svc-" + s.ID
	b.waitText(row, "1/1 running", 30*time.Second)
	for _, want := range []string{name, testenv.HelloImage1, "replicated"} {
		if !strings.Contains(b.text(row), want) {
			t.Errorf("list row %q lacks %q", b.text(row), want)
		}
	}
	b.waitText("#svc-"+api.ID, "2/2 running", 2*time.Minute)
	if got := b.text("#svc-" + api.ID); !strings.Contains(got, "18391:8080/tcp (host)") || !strings.Contains(got, stack) {
		t.Errorf("the stack service's row: %q", got)
	}
	if b.count(`a.button[href="/c/ui-svc/services/new"]`) != 1 {
		t.Error("no Create service button for the admin")
	}
	testenv.Poll(t, 10*time.Second, "the list's rows to settle", func() error {
		if n := b.count("#services tr.changed"); n > 0 {
			return fmt.Errorf("%d rows marked changed", n)
		}
		return nil
	})
	b.screenshot("services")
	b.run("choose the stack", chromedp.SetValue(`#svc-stack`, stack, chromedp.ByQuery)) // the select submits its form
	testenv.Poll(t, 10*time.Second, "the list of the stack", func() error {
		var loc string
		b.run("location", chromedp.Location(&loc))
		if !strings.Contains(loc, "stack="+stack) {
			return fmt.Errorf("at %s", loc)
		}
		return nil
	})
	b.waitText(`#services`, stack+"_worker", 10*time.Second)
	if b.count(row) != 0 || b.count("#svc-"+api.ID) != 1 {
		t.Error("the stack filter shows other services, or not the stack's")
	}
	b.open("/c/ui-svc/services?q=no-such-service-here")
	b.waitText(`#services`, "No service matches", 5*time.Second)
	b.open("/c/ui-svc/services?q=uisvc-li")
	if b.count(row) != 1 || b.count("#svc-"+api.ID) != 0 {
		t.Error("the name filter shows the wrong services")
	}
	b.clean("list")

	// Scale to 2 from its page and see 2/2, without a reload.
	b.open(detail)
	b.run("scale to 2",
		svSet(`#scale-replicas`, "2"),
		chromedp.Click(`form[action$="/scale"] button`, chromedp.ByQuery),
		chromedp.WaitVisible(`.flash-ok`, chromedp.ByQuery),
	)
	b.eval(`window.__svcMarker = "scaled"; true`, &marker)
	b.waitText(`#svc-title`, "2/2 running", 2*time.Minute)
	b.eval(`String(window.__svcMarker)`, &kept)
	if kept != "scaled" {
		t.Errorf("the page reloaded while scaling (marker %q)", kept)
	}
	if s, _ = svEngine(t, sw, name); *s.Spec.Mode.Replicated.Replicas != 2 {
		t.Errorf("engine replicas %d, want 2", *s.Spec.Mode.Replicated.Replicas)
	}
	b.clean("scale")

	// Edit: the form holds the service as it is. A stale form (the
	// service changed since) is a 409 and changes nothing; a fresh one
	// changes what was changed and keeps the rest.
	b.open(detail + "/edit")
	var env, image, replicas string
	b.run("read the edit form",
		chromedp.Value(`#f-env`, &env, chromedp.ByQuery),
		chromedp.Value(`#f-image`, &image, chromedp.ByQuery),
		chromedp.Value(`#f-replicas`, &replicas, chromedp.ByQuery),
	)
	if !strings.Contains(env, "HELLO_LINES=3") || !strings.Contains(image, testenv.HelloImage1) || replicas != "2" {
		t.Errorf("edit form: env %q image %q replicas %q", env, image, replicas)
	}
	admin.MustDo(http.MethodPost, "/api/v1/clusters/ui-svc/services/"+name+"/redeploy", map[string]any{}, nil, 200)
	b.run("send a stale edit",
		svSet(`#f-env`, env+"\nUI_EDIT=stale"),
		chromedp.Click(`form.serviceform button.primary`, chromedp.ByQuery),
		chromedp.WaitVisible(`#error-summary`, chromedp.ByQuery),
	)
	b.waitText(`#error-summary`, "changed since it was read", 5*time.Second)
	if s, _ = svEngine(t, sw, name); slices.Contains(s.Spec.TaskTemplate.ContainerSpec.Env, "UI_EDIT=stale") {
		t.Error("a stale edit changed the service")
	}
	testenv.Poll(t, 2*time.Minute, "the redeploy to end (its progress moves the version)", func() error {
		s, err := svEngine(t, sw, name)
		if err == nil && (s.UpdateStatus == nil || s.UpdateStatus.State != swarm.UpdateStateCompleted) {
			err = fmt.Errorf("update %+v", s.UpdateStatus)
		}
		return err
	})
	b.open(detail + "/edit")
	b.run("send a fresh edit",
		svSet(`#f-env`, "HELLO_LINES=3\nUI_TEST=edited"),
		chromedp.Click(`form.serviceform button.primary`, chromedp.ByQuery),
		chromedp.WaitVisible(`#svc-title`, chromedp.ByQuery),
	)
	b.waitText(`.flash-ok`, "Updated "+name, 5*time.Second)
	b.forgive(409)
	s, _ = svEngine(t, sw, name)
	if e := s.Spec.TaskTemplate.ContainerSpec.Env; !slices.Contains(e, "UI_TEST=edited") || slices.Contains(e, "UI_TEST=created") ||
		*s.Spec.Mode.Replicated.Replicas != 2 || svImage(s) != testenv.HelloImage1 {
		t.Errorf("after the edit: env %q replicas %d image %q", e, *s.Spec.Mode.Replicated.Replicas, svImage(s))
	}
	b.waitText(`#svc-title`, "update completed", 2*time.Minute)
	b.waitText(`#svc-title`, "2/2 running", 2*time.Minute)
	b.clean("edit")

	// Logs: the page shows the last lines; following streams them, with
	// the page's live updates paused (one stream per tab), and resumes
	// them after.
	testenv.Poll(t, time.Minute, "the tasks' first log lines", func() error {
		_, text := admin.Do(http.MethodGet, "/api/v1/clusters/ui-svc/services/"+name+"/logs?tail=all", nil, nil)
		if !strings.Contains(text, "hello: listening on") {
			return fmt.Errorf("logs: %q", text)
		}
		return nil
	})
	b.open(detail)
	b.waitText(`#logview`, "hello: listening on", 5*time.Second)
	var streaming, liveOn bool
	b.eval(`window.SwarmOps.live.connected()`, &liveOn)
	if !liveOn {
		t.Error("the page does not follow its cluster's events before the logs are followed")
	}
	b.run("follow the logs", chromedp.Click(`#log-follow`, chromedp.ByQuery))
	b.waitText(`#log-status`, "Following", 15*time.Second)
	b.waitText(`#logview`, "version=1", 15*time.Second)
	b.eval(`window.SwarmOps.logs.streaming()`, &streaming)
	b.eval(`window.SwarmOps.live.connected()`, &liveOn)
	if !streaming || liveOn {
		t.Errorf("while following: log stream %v, event stream %v; want only the log stream", streaming, liveOn)
	}
	b.run("filter the lines", chromedp.SendKeys(`#log-filter`, "line 2", chromedp.ByQuery))
	var visible int
	b.eval(`Array.from(document.querySelectorAll("#logview .line")).filter(l => l.offsetParent !== null && !l.classList.contains("note")).length`, &visible)
	var allLines int
	b.eval(`document.querySelectorAll("#logview .line").length`, &allLines)
	if visible == 0 || visible >= allLines {
		t.Errorf("the filter shows %d of %d lines", visible, allLines)
	}
	b.run("clear the filter", svSet(`#log-filter`, ""),
		chromedp.Evaluate(`document.activeElement.blur(); window.scrollTo(0, 0); true`, nil))
	b.screenshot("service_detail")
	b.run("stop following", chromedp.Click(`#log-follow`, chromedp.ByQuery))
	testenv.Poll(t, 10*time.Second, "the event stream back after the logs", func() error {
		b.eval(`window.SwarmOps.live.connected() && !window.SwarmOps.logs.streaming()`, &liveOn)
		if !liveOn {
			return errors.New("still not following events")
		}
		return nil
	})
	if !strings.Contains(b.text(`#nginx-conf`), "upstream") {
		t.Errorf("nginx block: %q", b.text(`#nginx-conf`))
	}
	b.clean("logs")

	// Upgrade the image to the second one, then roll back to the first.
	b.run("upgrade the image",
		svSet(`#upgrade-image`, testenv.HelloImage2),
		chromedp.Click(`form[action$="/image"] button`, chromedp.ByQuery),
		chromedp.WaitVisible(`.flash-ok`, chromedp.ByQuery),
	)
	testenv.Poll(t, 2*time.Minute, "the upgrade to image 2", func() error {
		s, err := svEngine(t, sw, name)
		if err != nil {
			return err
		}
		if svImage(s) != testenv.HelloImage2 || s.UpdateStatus == nil || s.UpdateStatus.State != swarm.UpdateStateCompleted {
			return fmt.Errorf("image %q, update %+v", svImage(s), s.UpdateStatus)
		}
		return nil
	})
	b.waitText(`#svc-title`, "update completed", 30*time.Second)
	b.waitText(`#svc-overview`, testenv.HelloImage2, 10*time.Second)
	if b.count(`form[action$="/rollback"] button:disabled`) != 0 {
		t.Fatal("Roll back is disabled though the service has a previous spec")
	}
	svConfirm(b, `form[action$="/rollback"] button`, "Roll "+name+" back", "Roll back "+name)
	b.waitText(`.flash-ok`, "back to its previous spec", 10*time.Second)
	testenv.Poll(t, 2*time.Minute, "the rollback to image 1", func() error {
		s, err := svEngine(t, sw, name)
		if err != nil {
			return err
		}
		if svImage(s) != testenv.HelloImage1 || s.UpdateStatus == nil || s.UpdateStatus.State != swarm.UpdateStateRollbackCompleted {
			return fmt.Errorf("image %q, update %+v", svImage(s), s.UpdateStatus)
		}
		return nil
	})
	b.waitText(`#svc-title`, "rolled back", 30*time.Second)
	b.clean("image and rollback")

	// A viewer sees no mutating button, and a POST made anyway answers
	// the 403 page and changes nothing.
	in.UserWithRole(t, admin, "vic", "viewer")
	v := newBrowser(t, in.URL)
	v.login("vic", "password-vic")
	v.open("/c/ui-svc/services")
	v.waitText("#svc-"+s.ID, name, 10*time.Second)
	if n := v.count(`main form[method="post"]`); n != 0 {
		t.Errorf("the viewer sees %d mutating forms on the list", n)
	}
	if v.count(`a[href$="/services/new"]`) != 0 {
		t.Error("the viewer sees Create service")
	}
	v.open(detail)
	v.waitText(`#svc-title`, name, 10*time.Second)
	if n := v.count(`main form[method="post"]`); n != 0 {
		t.Errorf("the viewer sees %d mutating forms on the service's page", n)
	}
	if v.count(`a[href$="/edit"]`)+v.count(`#scale-replicas`)+v.count(`#upgrade-image`) != 0 {
		t.Error("the viewer sees Edit, Scale or Upgrade image")
	}
	var answer struct {
		Status int    `json:"status"`
		Text   string `json:"text"`
	}
	svAwait(v, `(async () => {
		const token = document.querySelector('meta[name="csrf-token"]').content;
		const r = await fetch(location.pathname + "/scale", {method: "POST", credentials: "same-origin",
			body: new URLSearchParams({csrf_token: token, replicas: "5"})});
		return {status: r.status, text: await r.text()};
	})()`, &answer)
	if answer.Status != 403 || !strings.Contains(answer.Text, "Not allowed for your role") {
		t.Errorf("viewer's scale: %d %.300q", answer.Status, answer.Text)
	}
	if s, _ = svEngine(t, sw, name); *s.Spec.Mode.Replicated.Replicas != 2 {
		t.Errorf("the viewer's POST scaled the service to %d", *s.Spec.Mode.Replicated.Replicas)
	}
	v.forgive(403)
	v.clean("viewer")

	// Delete from its page: the confirmation names it; it is gone.
	b.open(detail)
	svConfirm(b, `form[action$="/delete"] button`, "Delete service "+name+"?", "Delete "+name)
	b.waitText(`.flash-ok`, "Deleted service "+name, 10*time.Second)
	if _, err := svEngine(t, sw, name); !cerrdefs.IsNotFound(err) {
		t.Errorf("after delete the engine answers %v", err)
	}
	if b.count(row) != 0 {
		t.Error("the list still shows the deleted service")
	}
	b.clean("delete")
}

func TestServices_FormError(t *testing.T) {
	sw, _, admin, b := svCluster(t, "ui-svc-bad")
	const name = "uisvc-badport"
	svRemoveAfter(t, sw, name)

	b.open("/c/ui-svc-bad/services/new")
	var status int64
	b.run("fill the form with a bad port",
		svSet(`#f-name`, name),
		svSet(`#f-image`, testenv.HelloImage1),
		svSet(`#f-ports`, "8080:8080\nabc"),
		svSet(`#f-update_config\.delay`, "soon"),
	)
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(`form.serviceform button.primary`, chromedp.ByQuery))
	if err != nil {
		t.Fatal(err)
	}
	status = resp.Status
	if status != 400 {
		t.Errorf("a bad form answers %d, want 400", status)
	}
	b.waitText(`.field.invalid:has(#f-ports) .field-error`, "line 2:", 5*time.Second)
	if msg := b.text(`.field.invalid:has(#f-ports) .field-error`); !strings.Contains(msg, "abc") {
		t.Errorf("the ports message does not name the bad value: %q", msg)
	}
	b.waitText(`.field.invalid:has([id="f-update_config.delay"]) .field-error`, "duration", 5*time.Second)
	if b.count(`#error-summary a[href="#f-ports"]`) != 1 {
		t.Error("the error summary does not link to the ports field")
	}
	var kept string
	b.run("read what was typed", chromedp.Value(`#f-ports`, &kept, chromedp.ByQuery))
	if kept != "8080:8080\nabc" {
		t.Errorf("the form lost what was typed: %q", kept)
	}
	if _, err := svEngine(t, sw, name); !cerrdefs.IsNotFound(err) {
		t.Errorf("a bad form created a service (engine: %v)", err)
	}
	b.screenshot("service_form_error")

	// A number that is no number is caught the same way.
	b.run("clear ports", svSet(`#f-ports`, ""))
	b.run("clear delay", svSet(`#f-update_config\.delay`, ""))
	b.run("a bad replica count",
		svSet(`#f-replicas`, "two"),
		chromedp.Click(`form.serviceform button.primary`, chromedp.ByQuery),
	)
	b.waitText(`.field.invalid:has(#f-replicas) .field-error`, "whole number", 10*time.Second)
	if _, err := svEngine(t, sw, name); !cerrdefs.IsNotFound(err) {
		t.Errorf("a bad replica count created a service (engine: %v)", err)
	}

	// A name that is taken is said beside the name, as a 409.
	const taken = "uisvc-taken"
	svRemoveAfter(t, sw, taken)
	admin.MustDo(http.MethodPost, "/api/v1/clusters/ui-svc-bad/services", map[string]any{"name": taken, "image": testenv.HelloImage1, "replicas": 0}, nil, 201)
	b.run("use a taken name", svSet(`#f-name`, taken), svSet(`#f-replicas`, "0"))
	resp, err = chromedp.RunResponse(b.ctx, chromedp.Click(`form.serviceform button.primary`, chromedp.ByQuery))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 409 {
		t.Errorf("a taken name answers %d, want 409", resp.Status)
	}
	if msg := b.text(`.field.invalid:has(#f-name) .field-error`); !strings.Contains(msg, "already exists") {
		t.Errorf("beside the taken name: %q", msg)
	}
	b.forgive(400)
	b.forgive(409)
	b.clean("form errors")
}

// TestServices_EditKeepsEverything: the edit form of a service that sets
// every field holds it exactly (sent untouched, nothing changes), and an
// edit changes what was edited and nothing else of the engine's spec.
func TestServices_EditKeepsEverything(t *testing.T) {
	sw, _, admin, b := svCluster(t, "ui-svc-rich")
	const name, secret, config, net = "uisvc-rich", "uisvc-rich-secret", "uisvc-rich-cfg", "uisvc-rich-net"
	api := "/api/v1/clusters/ui-svc-rich"
	cli := sw.Managers[0].Client()
	t.Cleanup(func() { // after the service is gone
		testenv.Poll(t, time.Minute, "removing the service's objects", func() error {
			ctx := context.Background()
			for _, err := range []error{cli.SecretRemove(ctx, secret), cli.ConfigRemove(ctx, config), cli.NetworkRemove(ctx, net)} {
				if err != nil && !cerrdefs.IsNotFound(err) {
					return err
				}
			}
			return nil
		})
	})
	admin.MustDo(http.MethodPost, api+"/secrets", map[string]any{"name": secret, "data": "pw"}, nil, 201)
	admin.MustDo(http.MethodPost, api+"/configs", map[string]any{"name": config, "data": "k=v\n"}, nil, 201)
	admin.MustDo(http.MethodPost, api+"/networks", map[string]any{"name": net, "driver": "overlay"}, nil, 201)
	svRemoveAfter(t, sw, name)
	admin.MustDo(http.MethodPost, api+"/services", map[string]any{
		"name": name, "image": testenv.HelloImage1, "mode": "replicated", "replicas": 1,
		"command": []string{"/hello"}, "args": []string{"-addr", ":8080"},
		"env": []string{"B=2", "A=1 with spaces "}, "labels": map[string]string{"team": "ui", "tier": "web"},
		"container_labels": map[string]string{"c": "d"},
		"ports":            []string{"mode=host,target=8080,published=18392"},
		"mounts":           []string{"type=tmpfs,dst=/data"},
		"networks":         []string{"name=" + net + ",alias=rich"},
		"constraints":      []string{"node.role==manager"}, "placement_prefs": []string{"spread=node.labels.zone"},
		"secrets":   []string{"source=" + secret + ",target=/run/secrets/s"},
		"configs":   []string{"source=" + config + ",target=/etc/app.conf"},
		"resources": map[string]any{"limit_cpus": "0.5", "limit_memory": "64M", "reserve_memory": "8M"},
		"update_config": map[string]any{"parallelism": 2, "delay": "1s", "failure_action": "rollback", "order": "start-first",
			"monitor": "2s", "max_failure_ratio": 0.2},
		"rollback_config": map[string]any{"parallelism": 1, "delay": "0s", "failure_action": "pause", "order": "stop-first"},
		"restart_policy":  map[string]any{"condition": "on-failure", "delay": "1s", "max_attempts": 3, "window": "10s"},
		"healthcheck": map[string]any{"test": []string{"CMD", "/hello", "healthcheck"}, "interval": "2s", "timeout": "1s",
			"retries": 3, "start_period": "1s"},
		"hostname": "rich-{{.Task.Slot}}", "user": "1000:1000", "workdir": "/", "stop_grace_period": "5s", "read_only": true,
	}, nil, 201)
	before, err := svEngine(t, sw, name)
	if err != nil {
		t.Fatal(err)
	}
	edit := "/c/ui-svc-rich/services/" + name + "/edit"

	// Untouched, the form changes nothing.
	if st := b.open(edit); st != 200 {
		t.Fatalf("edit form: %d", st)
	}
	for sel, want := range map[string]string{
		`#f-env`: "B=2\nA=1 with spaces ", `#f-labels`: "team=ui\ntier=web", `#f-ports`: "mode=host,target=8080,published=18392,protocol=tcp",
		`[id="f-update_config.max_failure_ratio"]`: "0.2", `[id="f-healthcheck.test"]`: "CMD\n/hello\nhealthcheck",
		`#f-networks`: "name=" + net + ",alias=rich", `#f-hostname`: "rich-{{.Task.Slot}}",
	} {
		var got string
		b.run("read "+sel, chromedp.Value(sel, &got, chromedp.ByQuery))
		if got != want {
			t.Errorf("edit form %s holds %q, want %q", sel, got, want)
		}
	}
	b.run("send the form untouched", chromedp.Click(`form.serviceform button.primary`, chromedp.ByQuery), chromedp.WaitVisible(`#svc-title`, chromedp.ByQuery))
	b.waitText(`.flash-info`, "Nothing changed", 5*time.Second)
	// (The engine's allocator may bump the version by itself; an update
	// would leave a previous spec.)
	if now, _ := svEngine(t, sw, name); now.PreviousSpec != nil || !reflect.DeepEqual(now.Spec, before.Spec) {
		t.Errorf("an untouched edit changed the service:\nbefore %+v\nafter  %+v", before.Spec, now.Spec)
	}

	// An edit of two fields changes those two only.
	b.open(edit)
	b.run("edit the CPU limit and read-only",
		svSet(`[id="f-resources.limit_cpus"]`, "0.25"),
		chromedp.Click(`#f-read_only`, chromedp.ByQuery),
		chromedp.Click(`form.serviceform button.primary`, chromedp.ByQuery),
		chromedp.WaitVisible(`#svc-title`, chromedp.ByQuery),
	)
	b.waitText(`.flash-ok`, "Updated "+name, 5*time.Second)
	after, err := svEngine(t, sw, name)
	if err != nil {
		t.Fatal(err)
	}
	if got := after.Spec.TaskTemplate.Resources.Limits.NanoCPUs; got != 250_000_000 {
		t.Errorf("CPU limit %d nano CPUs, want 0.25 CPUs", got)
	}
	if after.Spec.TaskTemplate.ContainerSpec.ReadOnly {
		t.Error("read-only is still on")
	}
	want := before.Spec
	wantCS := *want.TaskTemplate.ContainerSpec
	wantCS.ReadOnly = false
	want.TaskTemplate.ContainerSpec = &wantCS
	wantRes := *want.TaskTemplate.Resources
	wantLimits := *wantRes.Limits
	wantLimits.NanoCPUs = 250_000_000
	wantRes.Limits = &wantLimits
	want.TaskTemplate.Resources = &wantRes
	if !reflect.DeepEqual(after.Spec, want) {
		t.Errorf("the edit changed more than it was asked to:\nbefore %+v\nafter  %+v", want, after.Spec)
	}
	b.clean("edit keeps everything")
}

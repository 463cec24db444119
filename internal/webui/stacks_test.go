package webui_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/testenv"
)

// stkCompose is the stack the lifecycle deploys: two services of the
// test image, one with a config and a secret from files of the form.
func stkCompose(image string) string {
	return `version: "3.8"
services:
  web:
    image: ` + image + `
    environment:
      HELLO_VERSION: ${VERSION}
    deploy:
      replicas: 1
      endpoint_mode: dnsrr
      update_config:
        monitor: 1s
  api:
    image: ` + testenv.HelloImage1 + `
    configs:
      - source: app_conf
        target: /etc/app.conf
    secrets:
      - db_password
    deploy:
      replicas: 1
      endpoint_mode: dnsrr
configs:
  app_conf:
    file: ./app.conf
secrets:
  db_password:
    file: ./db_password.txt
`
}

// stkRemoveAfter removes whatever is left of a stack when the test ends,
// straight on the engine, so the shared swarm is left as it was found.
func stkRemoveAfter(t *testing.T, sw *testenv.Swarm, name string) {
	t.Cleanup(func() {
		ctx := context.Background()
		api := sw.Managers[0].Client()
		testenv.Poll(t, 90*time.Second, "removing what is left of stack "+name, func() error {
			left, err := testenv.StackObjects(ctx, api, name)
			if err != nil || len(left) == 0 {
				return err
			}
			testenv.RemoveStackObjects(ctx, api, left)
			return fmt.Errorf("left: %v", left)
		})
	})
}

// stkSubmit clicks the deploy form's button and answers the status of
// the page that follows (after a redirect, the redirect's target).
func stkSubmit(b *browser) int64 {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(`form.stackform button.primary`, chromedp.ByQuery))
	if err != nil {
		b.t.Fatalf("send the deploy form: %v", err)
	}
	return resp.Status
}

// stkMultipart posts the deploy form as a browser without JavaScript
// does: multipart, the compose file and a secret file uploaded.
func stkMultipart(t *testing.T, hc *http.Client, url, csrf string, fields map[string]string, files map[string][2]string) (*http.Response, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("csrf_token", csrf)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	for field, f := range files {
		w, err := mw.CreateFormFile(field, f[0])
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte(f[1]))
	}
	_ = mw.Close()
	resp, err := hc.Post(url, mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	var text bytes.Buffer
	_, _ = text.ReadFrom(resp.Body)
	return resp, text.String()
}

// TestStackPages_Lifecycle: a stack deployed from YAML pasted into the
// form converges on its page; a broken image (deployed by a multipart
// post with uploads, as without JavaScript) shows "failed" with the
// engine's reason; the form refuses bad input with 400 beside the field
// and deploys nothing; an update filled from the latest revision (never
// its secret) makes a second revision, whose diff shows and which rolls
// back to the first; the merged logs are tagged service.slot@node; a
// viewer sees no mutating button and is refused; the removal names what
// goes and empties the engine.
func TestStackPages_Lifecycle(t *testing.T) {
	sw, in, admin, b := svCluster(t, "ui-stk")
	const shop, broken = "uistk-shop", "uistk-broken"
	stkRemoveAfter(t, sw, shop)
	stkRemoveAfter(t, sw, broken)
	api := sw.Managers[0].Client()
	ctx := context.Background()
	base := "/c/ui-stk/stacks"

	// The broken stack first, so that it fails while the rest goes on:
	// a multipart post with the compose file and a file row uploaded.
	hc := noRedirect(admin)
	resp, text := stkMultipart(t, hc, in.URL+base, admin.CSRF,
		map[string]string{"name": broken, "resolve_image": "never", "file.0.path": ""},
		map[string][2]string{
			"compose_file": {"broken.yml", "version: \"3.8\"\nservices:\n  app:\n    image: swarmops-test/nope:1\n    secrets: [token]\n" +
				"    deploy:\n      replicas: 1\n      endpoint_mode: dnsrr\nsecrets:\n  token:\n    file: ./token.txt\n"},
			"file.0.upload": {"token.txt", "s3cret-broken"},
		})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != base+"/"+broken {
		t.Fatalf("multipart deploy: %d to %q: %.400s", resp.StatusCode, resp.Header.Get("Location"), text)
	}

	// The list and the form, as an operator finds them.
	if st := b.open(base); st != 200 {
		t.Fatalf("stacks list: %d", st)
	}
	if b.count(`a.button.primary[href="/c/ui-stk/stacks/new"]`) != 1 {
		t.Error("no “Deploy a stack” button for the admin")
	}
	b.clean("list")

	// Bad input: 400, the message under its field, the text kept, nothing
	// deployed.
	const badYAML = "services:\n  web:\n    image: [unclosed\n"
	for _, c := range []struct {
		what, name, compose, env, field, want string
	}{
		{"a YAML error", shop, badYAML, "", "compose", "yaml"},
		{"a bad name", "Bad Name!", stkCompose(testenv.HelloImage1), "", "name", "invalid stack name"},
		{"a bad env line", shop, stkCompose(testenv.HelloImage1), "VERSION=one\nNOEQUALS", "env", "line 2"},
		{"a missing file", shop, stkCompose(testenv.HelloImage1), "VERSION=one", "files", "which the request's files do not carry"},
	} {
		b.open(base + "/new")
		b.run("fill the form with "+c.what,
			svSet(`#f-name`, c.name), svSet(`#f-compose`, c.compose), svSet(`#f-env`, c.env))
		if st := stkSubmit(b); st != 400 {
			t.Errorf("%s: status %d, want 400", c.what, st)
		}
		sel := `.field.invalid:has(#f-` + c.field + `) .field-error`
		if c.field == "files" {
			sel = `fieldset.files.invalid > .field-error`
		}
		if msg := b.text(sel); !strings.Contains(strings.ToLower(msg), c.want) {
			t.Errorf("%s: under the %s field: %q, want %q in it", c.what, c.field, msg, c.want)
		}
		var kept string
		b.run("read the compose text", chromedp.Value(`#f-compose`, &kept, chromedp.ByQuery))
		if kept != c.compose {
			t.Errorf("%s: the compose text came back as %q", c.what, kept)
		}
		if c.field == "compose" {
			b.screenshot("stack_new")
		}
		b.forgive(400)
		b.clean(c.what)
	}
	if left, err := testenv.StackObjects(ctx, api, shop); err != nil || len(left) > 0 {
		t.Fatalf("bad input deployed something: %v (%v)", left, err)
	}

	// Deploy from pasted YAML; the stack's page follows it to converged
	// without a reload.
	b.open(base + "/new")
	b.run("fill the form",
		svSet(`#f-name`, shop),
		svSet(`#f-compose`, stkCompose(testenv.HelloImage1)),
		svSet(`#f-env`, "VERSION=one"),
		svSet(`#f-files`, "./app.conf"),
		svSet(`#f-file-0-content`, "color=blue\n"),
		svSet(`#f-file-1-path`, "./db_password.txt"),
		svSet(`#f-file-1-content`, "s3cret-shop"),
		chromedp.SetValue(`#f-resolve_image`, "never", chromedp.ByQuery),
	)
	if st := stkSubmit(b); st != 200 {
		t.Fatalf("deploy: the page after it answered %d", st)
	}
	b.waitText(`.flash-ok`, "Deployed stack "+shop+" as revision 1: 2 created ("+shop+"_api, "+shop+"_web)", 5*time.Second)
	var marker bool
	b.eval(`window.__stkMarker = "kept"; true`, &marker)
	b.waitText(`#stack-title .badge`, "converged", 2*time.Minute)
	b.waitText(`#stack-services`, "converged 1/1", 10*time.Second)
	var kept string
	b.eval(`String(window.__stkMarker)`, &kept)
	if kept != "kept" {
		t.Errorf("the page reloaded while the stack converged (marker %q)", kept)
	}
	for _, svc := range []string{"web", "api"} {
		s, err := svEngine(t, sw, shop+"_"+svc)
		if err != nil {
			t.Fatalf("engine: %v", err)
		}
		if svImage(s) != testenv.HelloImage1 || *s.Spec.Mode.Replicated.Replicas != 1 {
			t.Errorf("engine %s: image %q replicas %d", s.Spec.Name, svImage(s), *s.Spec.Mode.Replicated.Replicas)
		}
	}
	running, err := api.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(
		filters.Arg("label", "com.docker.stack.namespace="+shop), filters.Arg("desired-state", "running"))})
	if err != nil || len(running) != 2 {
		t.Errorf("engine: %d tasks desired running (%v), want 2", len(running), err)
	}
	if n := b.count(`#stack-services a[href="/c/ui-stk/services/` + shop + `_web"]`); n != 1 {
		t.Error("the web service does not link to its page")
	}
	b.clean("deploy")

	// The merged logs: lines of both services, tagged service.slot@node.
	testenv.Poll(t, time.Minute, "both services' first log lines", func() error {
		_, text := admin.Do(http.MethodGet, "/api/v1/clusters/ui-stk/stacks/"+shop+"/logs?tail=all", nil, nil)
		if strings.Count(text, "hello: listening on") < 2 {
			return fmt.Errorf("logs: %q", text)
		}
		return nil
	})
	b.open(base + "/" + shop)
	b.waitText(`#logview`, "hello: listening on", 5*time.Second)
	var tags []string
	b.eval(`Array.from(document.querySelectorAll("#logview .line .tag")).map(t => t.textContent)`, &tags)
	tagRE := regexp.MustCompile(`^` + shop + `_(web|api)\.1@\S+$`)
	seen := map[string]bool{}
	for _, tag := range tags {
		if m := tagRE.FindStringSubmatch(tag); m != nil {
			seen[m[1]] = true
		}
	}
	if !seen["web"] || !seen["api"] {
		t.Errorf("log tags %q: want lines of web and api tagged service.slot@node", tags)
	}
	b.run("follow the logs", chromedp.Click(`#log-follow`, chromedp.ByQuery))
	b.waitText(`#log-status`, "Following", 15*time.Second)
	b.waitText(`#logview`, "version=one", 15*time.Second)
	b.run("stop following", chromedp.Click(`#log-follow`, chromedp.ByQuery))
	b.clean("logs")

	// The broken stack has failed by now, with the engine's reason.
	b.open(base + "/" + broken)
	b.waitText(`#stack-title .badge`, "failed", 90*time.Second)
	b.waitText(`#stack-services`, "No such image: swarmops-test/nope:1", 30*time.Second)
	b.screenshot("stack_failed")
	b.clean("failed")

	// A stack another tool deployed (its services carry the label) is
	// listed too; its page has no revision, and its update form starts
	// from its name only.
	const cli = "uistk-cli"
	stkRemoveAfter(t, sw, cli)
	admin.MustDo(http.MethodPost, "/api/v1/clusters/ui-stk/services", map[string]any{"name": cli + "_app", "image": testenv.HelloImage1,
		"replicas": 0, "labels": map[string]string{"com.docker.stack.namespace": cli}}, nil, 201)
	b.open(base + "/" + cli)
	b.waitText(`#stack-revisions`, "No revisions kept here", 5*time.Second)
	b.waitText(`#stack-services`, cli+"_app", 5*time.Second)
	b.open(base + "/new?name=" + cli)
	b.waitText(`.titlerow`, "No revision of "+cli+" is kept here", 5*time.Second)
	var cliName string
	b.run("read the name", chromedp.Value(`#f-name`, &cliName, chromedp.ByQuery))
	if cliName != cli {
		t.Errorf("the update form of %s holds the name %q", cli, cliName)
	}
	b.clean("a stack of another tool")

	// The list: all three, with their tasks and states.
	b.open(base)
	b.waitText(`#stack-`+cli, "0/0", 10*time.Second)
	b.waitText(`#stack-`+shop, "2/2", 10*time.Second)
	b.waitText(`#stack-`+shop, "converged", 10*time.Second)
	b.waitText(`#stack-`+broken, "failed", 10*time.Second)
	if n := b.count(`#stack-` + shop + ` a[href="/c/ui-stk/stacks/` + shop + `"]`); n != 1 {
		t.Error("the list does not link to the stack's page")
	}
	b.screenshot("stacks")
	b.clean("list of two")

	// Update: the form is filled from revision 1 — compose file, env, the
	// config's content — but never the secret's.
	b.open(base + "/" + shop)
	b.run("open the update form", chromedp.Click(`#stack-title a[href$="/new?name=`+shop+`"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#f-compose`, chromedp.ByQuery))
	var compose, env, files string
	b.run("read the filled form",
		chromedp.Value(`#f-compose`, &compose, chromedp.ByQuery),
		chromedp.Value(`#f-env`, &env, chromedp.ByQuery),
		chromedp.Evaluate(`Array.from(document.querySelectorAll("[data-file-row]")).map(r =>
			r.querySelector("[data-part=path]").value + "=" + r.querySelector("[data-part=content]").value).join("|")`, &files))
	if compose != stkCompose(testenv.HelloImage1) || env != "VERSION=one" {
		t.Errorf("the update form holds compose %q env %q", compose, env)
	}
	if files != "./app.conf=color=blue\n|./db_password.txt=|=|=" {
		t.Errorf("the update form's files: %q (want the config's content, not the secret's)", files)
	}
	if strings.Contains(b.text("main"), "s3cret-shop") {
		t.Error("the update form shows the secret")
	}
	var pruned bool
	b.run("read prune", chromedp.Evaluate(`document.getElementById("f-prune").checked`, &pruned))
	if pruned {
		t.Error("the update form has prune on, though revision 1 was deployed without it")
	}
	b.run("change the image, give the secret again, prune",
		svSet(`#f-compose`, stkCompose(testenv.HelloImage2)),
		svSet(`#f-file-1-content`, "s3cret-shop"),
		chromedp.Click(`#f-prune`, chromedp.ByQuery))
	if st := stkSubmit(b); st != 200 {
		t.Fatalf("update: the page after it answered %d", st)
	}
	b.waitText(`.flash-ok`, "as revision 2: 0 created, 1 updated ("+shop+"_web)", 5*time.Second)
	testenv.Poll(t, 2*time.Minute, "web on image 2", func() error {
		s, err := svEngine(t, sw, shop+"_web")
		if err == nil && (svImage(s) != testenv.HelloImage2 || s.UpdateStatus == nil || s.UpdateStatus.State != swarm.UpdateStateCompleted) {
			err = fmt.Errorf("image %q, update %+v", svImage(s), s.UpdateStatus)
		}
		return err
	})
	b.waitText(`#stack-title .badge`, "converged", time.Minute)
	var rev2 struct {
		Options struct {
			Prune        bool   `json:"prune"`
			ResolveImage string `json:"resolve_image"`
		} `json:"options"`
	}
	admin.MustDo(http.MethodGet, "/api/v1/clusters/ui-stk/stacks/"+shop+"/revisions/2", nil, &rev2, 200)
	if !rev2.Options.Prune || rev2.Options.ResolveImage != "never" {
		t.Errorf("revision 2 was deployed with options %+v, want prune and resolve_image never", rev2.Options)
	}
	b.clean("update")

	// The diff of revisions 1 and 2, from the chooser on the stack's page.
	b.run("show the diff", chromedp.Click(`form.diffpick button`, chromedp.ByQuery), chromedp.WaitVisible(`#diff`, chromedp.ByQuery))
	if got := b.text(`#diff .d-del`); !strings.Contains(got, "image: "+testenv.HelloImage1) {
		t.Errorf("the diff's first removed line: %q", got)
	}
	if got := b.text(`#diff .d-add`); !strings.Contains(got, "image: "+testenv.HelloImage2) {
		t.Errorf("the diff's first added line: %q", got)
	}
	if b.count(`#diff .d-hunk`) == 0 || b.count(`#diff .d-file`) < 2 {
		t.Error("the diff has no hunk or file header")
	}
	var loc string
	b.run("location", chromedp.Location(&loc))
	if !strings.HasSuffix(loc, "/diff?from=1&to=2") {
		t.Errorf("the diff is at %s", loc)
	}
	b.screenshot("stack_diff")
	b.clean("diff")

	// Roll back to revision 1: the engine runs image 1 again, and the
	// rollback is revision 3.
	b.open(base + "/" + shop)
	svConfirm(b, `#rev-1 form[action$="/rollback"] button`, "back to revision 1", "Roll back to revision 1")
	b.waitText(`.flash-ok`, "Rolling stack "+shop+" back to revision 1, as revision 3", 10*time.Second)
	testenv.Poll(t, 2*time.Minute, "web back on image 1", func() error {
		s, err := svEngine(t, sw, shop+"_web")
		if err == nil && svImage(s) != testenv.HelloImage1 {
			err = fmt.Errorf("image %q", svImage(s))
		}
		return err
	})
	b.waitText(`#rev-3`, "rollback to 1", 10*time.Second)
	b.waitText(`#stack-title .badge`, "converged", time.Minute)
	b.open(base + "/" + shop) // the flash gone, the log tail of now
	b.waitText(`#stack-services`, "converged 1/1", 10*time.Second)
	b.screenshot("stack_detail")
	b.clean("rollback")

	// A viewer: no mutating button; a POST made anyway is refused and
	// changes nothing.
	in.UserWithRole(t, admin, "stkvic", "viewer")
	v := newBrowser(t, in.URL)
	v.login("stkvic", "password-stkvic")
	v.open(base)
	v.waitText(`#stack-`+shop, shop, 10*time.Second)
	if v.count(`a[href$="/stacks/new"]`) != 0 {
		t.Error("the viewer sees “Deploy a stack”")
	}
	v.open(base + "/" + shop)
	v.waitText(`#stack-title`, shop, 10*time.Second)
	if n := v.count(`main form[method="post"]`); n != 0 {
		t.Errorf("the viewer sees %d mutating forms on the stack's page", n)
	}
	if v.count(`a[href*="/stacks/new"]`) != 0 {
		t.Error("the viewer sees “Update stack”")
	}
	var answer struct {
		Status int    `json:"status"`
		Text   string `json:"text"`
	}
	svAwait(v, `(async () => {
		const token = document.querySelector('meta[name="csrf-token"]').content;
		const r = await fetch(location.pathname + "/rollback", {method: "POST", credentials: "same-origin",
			body: new URLSearchParams({csrf_token: token, revision: "2"})});
		return {status: r.status, text: await r.text()};
	})()`, &answer)
	if answer.Status != 403 || !strings.Contains(answer.Text, "Not allowed for your role") {
		t.Errorf("viewer's rollback: %d %.300q", answer.Status, answer.Text)
	}
	if st := v.open(base + "/new"); st != 403 {
		t.Errorf("the viewer's deploy form answered %d, want 403", st)
	}
	if s, _ := svEngine(t, sw, shop+"_web"); svImage(s) != testenv.HelloImage1 {
		t.Errorf("the viewer's POST changed web to %q", svImage(s))
	}
	v.forgive(403)
	v.clean("viewer")

	// Remove: the confirmation names what goes; the engine is empty of it.
	b.open(base + "/" + shop)
	svConfirm(b, `form[action$="/delete"] button`,
		"Remove stack "+shop+"? This removes its 2 services ("+shop+"_api, "+shop+"_web), 1 network ("+shop+"_default), 1 secret ("+shop+"_db_password) and 1 config ("+shop+"_app_conf)",
		"Remove "+shop)
	b.waitText(`.flash-ok`, "Removed stack "+shop, 60*time.Second)
	if left, err := testenv.StackObjects(ctx, api, shop); err != nil || len(left) > 0 {
		t.Errorf("after removal the engine still has %v (%v)", left, err)
	}
	if b.count(`#stack-`+shop) != 0 {
		t.Error("the list still shows the removed stack")
	}
	// Its revisions stay: its page says so and offers them again.
	if st := b.open(base + "/" + shop); st != 200 {
		t.Errorf("the removed stack's page answered %d", st)
	}
	b.waitText(`#stack-title .badge`, "removed", 5*time.Second)
	if b.count(`#stack-revisions tbody tr`) != 3 {
		t.Errorf("the removed stack's page lists %d revisions, want 3", b.count(`#stack-revisions tbody tr`))
	}
	b.clean("remove")
}

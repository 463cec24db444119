package webui_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/testenv"
)

// clusterJSON is a cluster as the API answers it.
type clusterJSON struct {
	Name      string            `json:"name"`
	Endpoints []string          `json:"endpoints"`
	Default   bool              `json:"default"`
	Labels    map[string]string `json:"labels"`
	TLS       *struct {
		CA          bool   `json:"ca"`
		ClientCert  bool   `json:"client_cert"`
		CertSubject string `json:"cert_subject"`
	} `json:"tls"`
}

// TestClusters_RegisterEditDelete: a wrong endpoint is refused beside its
// field and registers nothing; the shared swarm registered through the
// form shows its health on its page, on /clusters and on the fleet;
// edited labels draw a red "production" banner; the cluster can be made
// the default, its managers re-discovered, and it is forgotten only after
// the confirmation, leaving the swarm untouched.
func TestClusters_RegisterEditDelete(t *testing.T) {
	sw := testenv.SharedSwarm(t)
	in, b := startUI(t)
	admin := in.Admin(t)
	const name = "ui-reg"

	// A wrong endpoint: the message beside the endpoint, what was typed kept.
	b.open("/clusters/new")
	b.run("fill in a wrong endpoint",
		chromedp.SetValue(`#f-name`, name, chromedp.ByQuery),
		chromedp.SetValue(`#f-endpoint`, "tcp://127.0.0.1:1", chromedp.ByQuery),
		chromedp.SetValue(`#f-labels`, "swarmops.env=staging", chromedp.ByQuery),
		chromedp.Click(`form.stacked button.primary`, chromedp.ByQuery),
	)
	b.waitText(`#f-endpoint ~ .field-error`, "cannot reach the engine at tcp://127.0.0.1:1", 30*time.Second)
	b.waitText(`#error-summary`, "endpoint", 5*time.Second)
	b.screenshot("cluster_register_error")
	if got := clValue(b, `#f-name`); got != name {
		t.Errorf("the re-shown form lost the name: %q", got)
	}
	if got := clValue(b, `#f-labels`); got != "swarmops.env=staging" {
		t.Errorf("the re-shown form lost the labels: %q", got)
	}
	var list struct {
		Total int `json:"total"`
	}
	admin.MustDo(http.MethodGet, "/api/v1/clusters", nil, &list, 200)
	if list.Total != 0 {
		t.Fatalf("a refused registration registered %d clusters", list.Total)
	}

	// The right endpoint: registered with every manager, healthy.
	b.run("fill in the shared swarm's manager",
		chromedp.SetValue(`#f-endpoint`, sw.Managers[0].Endpoint, chromedp.ByQuery),
		chromedp.Click(`form.stacked button.primary`, chromedp.ByQuery),
	)
	b.waitText(`.flash-ok`, "Registered cluster "+name+" with 3 manager endpoints", 30*time.Second)
	b.waitText(`#health-status`, "healthy", 30*time.Second)
	b.waitText(`#cluster-health`, "3/3 reachable", 5*time.Second)
	b.waitText(`#cluster-health`, "4/4 ready", 5*time.Second)
	if n := b.count(`#endpoints tbody tr`); n != 3 {
		t.Errorf("the detail page lists %d endpoints, want 3", n)
	}
	var got clusterJSON
	admin.MustDo(http.MethodGet, "/api/v1/clusters/"+name, nil, &got, 200)
	if len(got.Endpoints) != 3 || got.Labels["swarmops.env"] != "staging" {
		t.Errorf("registered %+v; want 3 endpoints and swarmops.env=staging", got)
	}

	b.open("/clusters")
	b.waitText(`#cluster-`+name, sw.Managers[0].Endpoint, 5*time.Second)
	b.waitText(`#cluster-`+name, "swarmops.env=staging", 5*time.Second)
	if n := b.count(`#cluster-` + name + ` td.mono .line`); n != 3 {
		t.Errorf("/clusters shows %d endpoints of %s, want 3", n, name)
	}
	if n := b.count(`a[href="/clusters/new"]`); n == 0 {
		t.Errorf("an admin sees no Register button on /clusters")
	}
	b.open("/")
	b.waitText(`#fleet-`+name, "healthy", 30*time.Second)

	// Labels: a red banner saying production; and the default mark.
	b.open("/clusters/" + name + "/edit")
	b.run("edit labels and mark default",
		chromedp.SetValue(`#f-labels`, "swarmops.color=red\nswarmops.env=production", chromedp.ByQuery),
		chromedp.Click(`#f-default`, chromedp.ByQuery),
		chromedp.Click(`form.stacked button.primary`, chromedp.ByQuery),
	)
	b.waitText(`.flash-ok`, "Saved cluster "+name, 30*time.Second)
	admin.MustDo(http.MethodGet, "/api/v1/clusters/"+name, nil, &got, 200)
	if got.Labels["swarmops.color"] != "red" || got.Labels["swarmops.env"] != "production" || !got.Default {
		t.Errorf("after the edit: labels %v default %v", got.Labels, got.Default)
	}
	clBanner(b, "red", name, "production")
	b.waitText(`.titlerow .chip.banner-red`, "production", 5*time.Second)
	if status := b.open("/c/" + name + "/services"); status == 200 {
		clBanner(b, "red", name, "production")
	} else if status != http.StatusNotImplemented {
		t.Errorf("/c/%s/services answered %d", name, status)
	}
	b.open("/clusters/" + name)
	b.waitText(`#health-status`, "healthy", 30*time.Second)
	b.screenshot("cluster_detail")
	b.open("/clusters")
	b.waitText(`#cluster-`+name, "default", 5*time.Second)
	b.screenshot("clusters")

	// An endpoint that is no manager: refused beside the endpoints box.
	b.open("/clusters/" + name + "/edit")
	b.run("set a wrong endpoint",
		chromedp.SetValue(`#f-endpoints`, "tcp://127.0.0.1:1", chromedp.ByQuery),
		chromedp.Click(`form.stacked button.primary`, chromedp.ByQuery),
	)
	b.waitText(`#f-endpoints ~ .field-error`, "cannot reach the engine at tcp://127.0.0.1:1", 30*time.Second)
	admin.MustDo(http.MethodGet, "/api/v1/clusters/"+name, nil, &got, 200)
	if len(got.Endpoints) != 3 {
		t.Errorf("a refused edit changed the endpoints to %v", got.Endpoints)
	}

	// Re-discover the managers.
	b.open("/clusters/" + name)
	b.run("re-discover", chromedp.Click(`form[action$="/refresh"] button`, chromedp.ByQuery))
	b.waitText(`.flash-ok`, "Re-discovered the managers of "+name+": 3 endpoints", 30*time.Second)

	// Forget: nothing happens on Cancel; on confirmation the cluster goes
	// and the swarm stays.
	b.run("ask to forget", chromedp.Click(`form[action$="/delete"] button`, chromedp.ByQuery))
	b.waitText(`#confirm-text`, "Forget cluster "+name+"? The swarm itself is untouched.", 5*time.Second)
	b.run("cancel", chromedp.Click(`[data-dialog-cancel]`, chromedp.ByQuery))
	admin.MustDo(http.MethodGet, "/api/v1/clusters/"+name, nil, nil, 200)
	b.run("ask to forget again", chromedp.Click(`form[action$="/delete"] button`, chromedp.ByQuery))
	b.waitText(`[data-dialog-ok]`, "Forget "+name, 5*time.Second)
	b.run("confirm", chromedp.Click(`[data-dialog-ok]`, chromedp.ByQuery))
	b.waitText(`.flash-ok`, "Forgot cluster "+name+"; the swarm itself is untouched.", 30*time.Second)
	admin.MustDo(http.MethodGet, "/api/v1/clusters/"+name, nil, nil, 404)
	nodes, err := sw.Managers[0].Client().NodeList(context.Background(), swarm.NodeListOptions{})
	if err != nil || len(nodes) != 4 {
		t.Errorf("after forgetting it, the swarm has %d nodes (%v); want 4", len(nodes), err)
	}
	b.forgive(400, 501)
	b.clean("cluster pages")
}

// TestClusters_TLSInitRotate: TLS material uploaded as files. A wrong
// client certificate is refused beside the TLS fields, an engine that is in
// no swarm beside the endpoint; the init form makes it a swarm and
// registers it; the TLS summary names the certificate; the key is never in
// any page. The worker join token rotates; TLS is removed only when the
// engine allows, and replaced by pasting.
func TestClusters_TLSInitRotate(t *testing.T) {
	tn := testenv.StartTLSNode(t)
	in, b := startUI(t)
	admin := in.Admin(t)
	const name = "ui-tls"
	dir := t.TempDir()
	file := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ca, cert, key := file("ca.pem", tn.ClientTLS.CA), file("cert.pem", tn.ClientTLS.Cert), file("key.pem", tn.ClientTLS.Key)
	badCert, badKey := file("bad-cert.pem", tn.WrongTLS.Cert), file("bad-key.pem", tn.WrongTLS.Key)
	keys := []string{tn.ClientTLS.Key, tn.WrongTLS.Key}
	upload := func(ca, cert, key string) chromedp.Action {
		return chromedp.Tasks{
			chromedp.SetUploadFiles(`[id="f-tls.ca"]`, []string{ca}, chromedp.ByQuery),
			chromedp.SetUploadFiles(`[id="f-tls.cert"]`, []string{cert}, chromedp.ByQuery),
			chromedp.SetUploadFiles(`[id="f-tls.key"]`, []string{key}, chromedp.ByQuery),
		}
	}

	// A client certificate of another CA: refused beside the TLS fields.
	b.open("/clusters/new")
	b.run("register with the wrong certificate",
		chromedp.SetValue(`#f-name`, name, chromedp.ByQuery),
		chromedp.SetValue(`#f-endpoint`, tn.Endpoint, chromedp.ByQuery),
		upload(ca, badCert, badKey),
		chromedp.Click(`form.stacked button.primary`, chromedp.ByQuery),
	)
	b.waitText(`#f-tls > .field-error`, "TLS with "+tn.Endpoint+" failed", 30*time.Second)
	b.waitText(`[id="f-tls.key"] ~ .keynote`, "Give the key again", 5*time.Second)
	clNoKey(t, "the register form after a TLS error", clHTML(b), keys)
	b.screenshot("cluster_register_tls_error")

	// The right material, but the engine is in no swarm: beside the endpoint.
	b.run("register with the right certificate",
		upload(ca, cert, key),
		chromedp.Click(`form.stacked button.primary`, chromedp.ByQuery),
	)
	b.waitText(`#f-endpoint ~ .field-error`, "is not part of a swarm", 30*time.Second)
	clNoKey(t, "the register form after an endpoint error", clHTML(b), keys)
	admin.MustDo(http.MethodGet, "/api/v1/clusters/"+name, nil, nil, 404)

	// Init it as a swarm, with TLS, through the init form.
	b.open("/clusters/init")
	b.run("init the TLS engine",
		chromedp.SetValue(`#f-name`, name, chromedp.ByQuery),
		chromedp.SetValue(`#f-endpoint`, tn.Endpoint, chromedp.ByQuery),
		chromedp.SetValue(`#f-advertise_addr`, tn.Addr, chromedp.ByQuery),
		chromedp.SetValue(`#f-labels`, "swarmops.color=blue", chromedp.ByQuery),
		upload(ca, cert, key),
	)
	b.screenshot("cluster_init")
	b.run("submit the init form",
		chromedp.Click(`form.stacked button.primary`, chromedp.ByQuery),
	)
	b.waitText(`.flash-ok`, "Made a new swarm on "+tn.Endpoint+" and registered it as "+name, 60*time.Second)
	b.waitText(`#health-status`, "healthy", 30*time.Second)
	b.waitText(`#cluster-tls`, "CN=swarmops-test client", 5*time.Second)
	b.waitText(`#cluster-tls`, "Expires", 5*time.Second)
	clBanner(b, "blue", name, "")
	var got clusterJSON
	admin.MustDo(http.MethodGet, "/api/v1/clusters/"+name, nil, &got, 200)
	if got.TLS == nil || !got.TLS.CA || !got.TLS.ClientCert {
		t.Fatalf("registered TLS %+v; want CA and client certificate", got.TLS)
	}
	b.screenshot("cluster_detail_tls")
	info, err := tn.Client().Info(context.Background())
	if err != nil || !info.Swarm.ControlAvailable {
		t.Fatalf("the engine is not a swarm manager after init: %v %+v", err, info.Swarm)
	}
	for _, p := range []string{"/clusters", "/clusters/" + name, "/clusters/" + name + "/edit", "/audit", "/"} {
		resp, body, err := admin.Raw(http.MethodGet, p, nil, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %v %v", p, resp, err)
		}
		clNoKey(t, p, body, keys)
	}

	b.open("/clusters")
	b.waitText(`#cluster-`+name, "CN=swarmops-test client", 5*time.Second)
	b.screenshot("clusters_tls")
	b.open("/clusters/" + name)

	// Rotate the worker join token: the page shows the engine's new one.
	engineTokens := func() swarm.JoinTokens {
		s, err := tn.Client().SwarmInspect(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return s.JoinTokens
	}
	before := engineTokens()
	b.waitText(`#join-worker`, "docker swarm join --token "+before.Worker+" "+tn.Addr+":2377", 5*time.Second)
	b.waitText(`#join-manager`, before.Manager, 5*time.Second)
	b.run("ask to rotate", chromedp.Click(`#rotate-worker`, chromedp.ByQuery))
	b.waitText(`#confirm-text`, "Rotate the worker join token of "+name+"?", 5*time.Second)
	b.run("confirm", chromedp.Click(`[data-dialog-ok]`, chromedp.ByQuery))
	b.waitText(`.flash-ok`, "Rotated the worker join token of "+name, 30*time.Second)
	after := engineTokens()
	if after.Worker == before.Worker || after.Manager != before.Manager {
		t.Fatalf("rotating the worker token: worker changed %v, manager changed %v", after.Worker != before.Worker, after.Manager != before.Manager)
	}
	b.waitText(`#join-worker`, after.Worker, 5*time.Second)
	if strings.Contains(b.text(`#join-worker`), before.Worker) {
		t.Errorf("the page still shows the old worker token")
	}

	// Removing TLS from an engine that needs it: refused beside TLS.
	b.open("/clusters/" + name + "/edit")
	b.run("remove TLS",
		chromedp.Click(`#f-remove_tls`, chromedp.ByQuery),
		chromedp.Click(`form.stacked button.primary`, chromedp.ByQuery),
	)
	b.waitText(`#f-tls > .field-error`, "disagree on TLS", 30*time.Second)
	b.screenshot("cluster_edit_error")
	admin.MustDo(http.MethodGet, "/api/v1/clusters/"+name, nil, &got, 200)
	if got.TLS == nil {
		t.Fatalf("a refused TLS removal removed TLS")
	}

	// Replace TLS by pasting: a key that does not match is refused (and
	// not shown again); the right one is taken.
	b.open("/clusters/" + name + "/edit")
	paste := func(key string) {
		b.run("paste TLS",
			chromedp.Evaluate(`document.querySelectorAll('details.paste').forEach(d => d.open = true)`, nil),
			chromedp.SetValue(`[id="f-tls.ca-text"]`, tn.ClientTLS.CA, chromedp.ByQuery),
			chromedp.SetValue(`[id="f-tls.cert-text"]`, tn.ClientTLS.Cert, chromedp.ByQuery),
			chromedp.SetValue(`[id="f-tls.key-text"]`, key, chromedp.ByQuery),
			chromedp.Click(`form.stacked button.primary`, chromedp.ByQuery),
		)
	}
	paste(tn.WrongTLS.Key)
	b.waitText(`[id="f-tls.cert"] ~ .field-error`, "the key does not match the certificate", 30*time.Second)
	clNoKey(t, "the edit form after a key error", clHTML(b), keys)
	if got := clValue(b, `[id="f-tls.cert-text"]`); strings.TrimSpace(got) != strings.TrimSpace(tn.ClientTLS.Cert) {
		t.Errorf("the re-shown form lost the pasted certificate")
	}
	paste(tn.ClientTLS.Key)
	b.waitText(`.flash-ok`, "Saved cluster "+name, 30*time.Second)
	b.waitText(`#health-status`, "healthy", 30*time.Second)
	clNoKey(t, "the cluster page after pasting TLS", clHTML(b), keys)
	b.forgive(400)
	b.clean("TLS cluster pages")
}

// clBanner checks the top bar's cluster banner: its colour class, the
// cluster's name and its environment word.
func clBanner(b *browser, color, name, env string) {
	b.t.Helper()
	var text string
	b.eval(`(document.querySelector('.topbar .banner.banner-`+color+`') || {}).textContent || ""`, &text)
	if !strings.Contains(text, name) || !strings.Contains(text, env) {
		b.t.Errorf("the %s banner says %q; want %q and %q", color, text, name, env)
	}
}

// clHTML answers the page's HTML as the browser holds it.
func clHTML(b *browser) string {
	b.t.Helper()
	var s string
	b.eval(`document.documentElement.outerHTML`, &s)
	return s
}

// clValue answers the value of the input matching sel.
func clValue(b *browser, sel string) string {
	b.t.Helper()
	var s string
	b.run("read the value of "+sel, chromedp.Value(sel, &s, chromedp.ByQuery))
	return s
}

// clNoKey fails the test when html holds any of the private keys: a PEM
// key, or a line of their base64 body that carries the private scalar
// (the first two lines of a PKCS#8 P-256 key; the last holds the public
// key, which the certificate shows too).
func clNoKey(t *testing.T, where, html string, keys []string) {
	t.Helper()
	if strings.Contains(html, "PRIVATE KEY") {
		t.Errorf("%s: the page holds a PEM private key", where)
	}
	for _, k := range keys {
		lines := strings.Split(strings.TrimSpace(k), "\n")
		for _, line := range lines[1:min(3, len(lines)-1)] {
			if strings.Contains(html, line) {
				t.Errorf("%s: the page holds a line of a private key", where)
			}
		}
	}
}

package webui_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/network"

	"github.com/swarmops/swarmops/internal/testenv"
)

// ntHTML answers the page's whole HTML as the browser has it.
func ntHTML(b *browser) string {
	var html string
	b.eval(`document.documentElement.outerHTML`, &html)
	return html
}

// TestObjects_NetworksSecretsConfigs creates and deletes a network, a
// secret and a config through their forms, checking the engine each
// time: a bad subnet is refused beside its field and creates nothing; a
// secret's value never reaches a page; a config's content is shown on
// its page as it was typed.
func TestObjects_NetworksSecretsConfigs(t *testing.T) {
	sw := testenv.SharedSwarm(t)
	in, b := startUI(t)
	admin := in.Admin(t)
	ntRegister(t, admin, "ui-obj", sw.Managers[0].Endpoint)
	api := sw.Managers[0].Client()
	ctx := context.Background()

	t.Run("network", func(t *testing.T) {
		const name = "uiobj-net"
		t.Cleanup(func() { _ = api.NetworkRemove(context.Background(), name) })
		b.open("/c/ui-obj/networks")
		b.run("create with a bad subnet",
			chromedp.SetValue(`#f-name`, name, chromedp.ByQuery),
			chromedp.SetValue(`#f-subnet`, "10.99.7.0/33", chromedp.ByQuery),
			chromedp.SetValue(`#f-labels`, "team=ui", chromedp.ByQuery),
			chromedp.Click(`#create button[type="submit"]`, chromedp.ByQuery),
		)
		b.waitText(`#create .field.invalid .field-error`, "CIDR", 15*time.Second)
		b.expect(400)
		if n := b.count(`#f-subnet ~ .field-error`); n != 1 {
			t.Errorf("the subnet's message is not beside the subnet field (%d)", n)
		}
		var kept string
		b.eval(`document.getElementById('f-subnet').value + '|' + document.getElementById('f-name').value`, &kept)
		if kept != "10.99.7.0/33|"+name {
			t.Errorf("the form lost what was typed: %q", kept)
		}
		if _, err := api.NetworkInspect(ctx, name, network.InspectOptions{}); !errdefs.IsNotFound(err) {
			t.Fatalf("a refused form created something: inspect answered %v", err)
		}

		b.run("create",
			chromedp.SetValue(`#f-subnet`, "10.99.7.0/24", chromedp.ByQuery),
			chromedp.SetValue(`#f-gateway`, "10.99.7.1", chromedp.ByQuery),
			chromedp.Click(`#f-attachable`, chromedp.ByQuery),
			chromedp.Click(`#create button[type="submit"]`, chromedp.ByQuery),
		)
		b.waitText(".flash-ok", "Network "+name+" created (10.99.7.0/24)", 15*time.Second)
		n, err := api.NetworkInspect(ctx, name, network.InspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if n.Driver != "overlay" || !n.Attachable || n.Labels["team"] != "ui" || len(n.IPAM.Config) != 1 ||
			n.IPAM.Config[0].Subnet != "10.99.7.0/24" || n.IPAM.Config[0].Gateway != "10.99.7.1" {
			t.Errorf("engine has the network as %+v", n)
		}
		row := "#net-" + n.ID
		b.waitText(row, name, 5*time.Second)
		b.waitText(row, "attachable", 5*time.Second)
		b.screenshot("networks")

		b.run("delete", chromedp.Click(row+` form button`, chromedp.ByQuery))
		ntConfirm(b, "Delete network "+name)
		b.waitText(".flash-ok", "Network "+name+" deleted", 15*time.Second)
		if _, err := api.NetworkInspect(ctx, n.ID, network.InspectOptions{}); !errdefs.IsNotFound(err) {
			t.Errorf("the deleted network is still there: %v", err)
		}
		if c := b.count(row); c != 0 {
			t.Error("the deleted network is still listed")
		}
		b.clean("networks")
	})

	t.Run("secret", func(t *testing.T) {
		const name = "uiobj-secret"
		value := fmt.Sprintf("s3cr3t-%d", time.Now().UnixNano())
		t.Cleanup(func() { _ = api.SecretRemove(context.Background(), name) })
		b.open("/c/ui-obj/secrets")
		// A bad name: refused, and the value is not sent back.
		b.run("create with a bad name",
			chromedp.SetValue(`#f-name`, "-bad name", chromedp.ByQuery),
			chromedp.SetValue(`#f-data`, value, chromedp.ByQuery),
			chromedp.Click(`#create button[type="submit"]`, chromedp.ByQuery),
		)
		b.waitText(`#create .field.invalid .field-error`, "secret name", 15*time.Second)
		b.expect(400)
		if strings.Contains(ntHTML(b), value) {
			t.Error("the refused form sent the secret's value back")
		}
		b.run("create",
			chromedp.SetValue(`#f-name`, name, chromedp.ByQuery),
			chromedp.SetValue(`#f-data`, value, chromedp.ByQuery),
			chromedp.SetValue(`#f-labels`, "team=ui", chromedp.ByQuery),
			chromedp.Click(`#create button[type="submit"]`, chromedp.ByQuery),
		)
		b.waitText(".flash-ok", "Secret "+name+" created", 15*time.Second)
		s, _, err := api.SecretInspectWithRaw(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if s.Spec.Labels["team"] != "ui" {
			t.Errorf("engine has the secret's labels %v", s.Spec.Labels)
		}
		row := "#secret-" + s.ID
		b.waitText(row, name, 5*time.Second)
		if strings.Contains(ntHTML(b), value) {
			t.Error("the secrets page shows the secret's value")
		}
		b.screenshot("secrets")

		b.run("delete", chromedp.Click(row+` form button`, chromedp.ByQuery))
		ntConfirm(b, "Delete secret "+name)
		b.waitText(".flash-ok", "Secret "+name+" deleted", 15*time.Second)
		if _, _, err := api.SecretInspectWithRaw(ctx, s.ID); !errdefs.IsNotFound(err) {
			t.Errorf("the deleted secret is still there: %v", err)
		}
		b.clean("secrets")
	})

	t.Run("config", func(t *testing.T) {
		const name = "uiobj-config"
		const content = "server {\n  listen 8080;\n  server_name <ui-obj>;\n}\n"
		t.Cleanup(func() { _ = api.ConfigRemove(context.Background(), name) })
		b.open("/c/ui-obj/configs")
		b.run("create",
			chromedp.SetValue(`#f-name`, name, chromedp.ByQuery),
			chromedp.SetValue(`#f-data`, content, chromedp.ByQuery),
			chromedp.Click(`#create button[type="submit"]`, chromedp.ByQuery),
		)
		b.waitText(".flash-ok", "Config "+name+" created", 15*time.Second)
		cf, _, err := api.ConfigInspectWithRaw(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if string(cf.Spec.Data) != content {
			t.Errorf("engine has the config's data %q, want %q (LF line ends, as typed)", cf.Spec.Data, content)
		}
		// Its page, where the form led, shows the content as it is.
		b.waitText("h1", name, 5*time.Second)
		var shown string
		b.eval(`document.getElementById('config-data').textContent`, &shown)
		if shown != content {
			t.Errorf("the config's page shows %q, want %q", shown, content)
		}
		b.screenshot("config_detail")

		// From a file (a multipart form): any bytes, shown base64-encoded.
		const binName = "uiobj-config-bin"
		t.Cleanup(func() { _ = api.ConfigRemove(context.Background(), binName) })
		file := filepath.Join(t.TempDir(), "blob.bin")
		if err := os.WriteFile(file, []byte{0xff, 0x00, 0x01}, 0o644); err != nil {
			t.Fatal(err)
		}
		b.open("/c/ui-obj/configs")
		b.run("create from a file",
			chromedp.SetValue(`#f-name`, binName, chromedp.ByQuery),
			chromedp.SetUploadFiles(`#f-data_file`, []string{file}, chromedp.ByQuery),
			chromedp.Click(`#create button[type="submit"]`, chromedp.ByQuery),
		)
		b.waitText(".flash-ok", "Config "+binName+" created", 15*time.Second)
		b.waitText("#config-data", "/wAB", 5*time.Second)
		bin, _, err := api.ConfigInspectWithRaw(ctx, binName)
		if err != nil || string(bin.Spec.Data) != "\xff\x00\x01" {
			t.Errorf("engine has the config from a file as %q (%v)", bin.Spec.Data, err)
		}

		b.open("/c/ui-obj/configs")
		b.waitText("#config-"+cf.ID, name, 5*time.Second)
		b.waitText("#config-"+bin.ID, "3B", 5*time.Second)
		b.screenshot("configs")
		b.open("/c/ui-obj/configs/" + cf.ID)
		b.run("delete", chromedp.Click(`.titlerow form button`, chromedp.ByQuery))
		ntConfirm(b, "Delete config "+name)
		b.waitText(".flash-ok", "Config "+name+" deleted", 15*time.Second)
		if _, _, err := api.ConfigInspectWithRaw(ctx, cf.ID); !errdefs.IsNotFound(err) {
			t.Errorf("the deleted config is still there: %v", err)
		}
		b.clean("configs")
	})
}

// TestObjects_TasksAndStacks: the task list filtered by service lists
// that service's tasks only; the stacks page lists a stack that only
// a service's label makes (as the docker CLI deploys them).
func TestObjects_TasksAndStacks(t *testing.T) {
	sw := testenv.SharedSwarm(t)
	in, b := startUI(t)
	admin := in.Admin(t)
	ntRegister(t, admin, "ui-tasks", sw.Managers[0].Endpoint)
	ntService(t, admin, "ui-tasks", map[string]any{"name": "uitasks-a", "replicas": 2,
		"labels": map[string]string{"com.docker.stack.namespace": "uitasks-stack"}})
	ntService(t, admin, "ui-tasks", map[string]any{"name": "uitasks-b", "replicas": 1})

	b.open("/c/ui-tasks/tasks?service=uitasks-a")
	b.waitText("#tasks", "running", 60*time.Second)
	testenv.Poll(t, 60*time.Second, "two running tasks of uitasks-a listed", func() error {
		b.open("/c/ui-tasks/tasks?service=uitasks-a&state=running")
		if n := b.count(`#tasks tbody tr`); n != 2 {
			return fmt.Errorf("%d rows", n)
		}
		return nil
	})
	var services []string
	b.eval(`Array.from(document.querySelectorAll('#tasks tbody tr td:first-child a')).map(a => a.textContent)`, &services)
	for _, s := range services {
		if s != "uitasks-a" {
			t.Errorf("the list filtered by uitasks-a has a task of %q", s)
		}
	}
	var selected string
	b.eval(`document.getElementById('f-state').value + '|' + document.getElementById('f-service').value`, &selected)
	if selected != "running|uitasks-a" {
		t.Errorf("the filters show %q", selected)
	}
	b.screenshot("tasks")

	// A service that does not exist: said, not an empty table.
	if st := b.open("/c/ui-tasks/tasks?service=uitasks-none"); st != 404 {
		t.Errorf("filter by a missing service answered %d", st)
	}
	b.waitText(".flash-error", "uitasks-none", 5*time.Second)
	b.expect(404)

	if st := b.open("/c/ui-tasks/stacks"); st != 200 {
		t.Fatalf("stacks page answered %d", st)
	}
	b.waitText("#stacks", "uitasks-stack", 5*time.Second)
	if n := b.count(`#stacks a[href="/c/ui-tasks/services?stack=uitasks-stack"]`); n != 1 {
		t.Errorf("no link to the stack's services")
	}
	b.waitText("#stack-uitasks-stack td:nth-child(2)", "1", 5*time.Second)
	b.waitText("#stack-uitasks-stack", "2/2", 30*time.Second)
	b.clean("tasks and stacks")
}

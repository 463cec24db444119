package webui

import (
	"context"
	"encoding/base64"
	"errors"
	"html/template"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/swarm"
)

// ---- Tasks ----

// taskStates are the states the tasks page filters by, as swarmkit names
// them, the usual first.
var taskStates = []string{
	"running", "pending", "starting", "preparing", "assigned", "accepted", "allocated", "new", "ready",
	"complete", "shutdown", "failed", "rejected", "remove", "orphaned",
}

type taskListPage struct {
	Base
	Rows                 []swarm.Task
	Service, Node, State string
	All                  bool // shut-down history shown too
	States               []string
	Problem              string // why a filter finds nothing
	Errors               map[string]string
}

// taskList lists tasks, filtered by service, node and state; without a
// state, history (tasks shut down or replaced) only when asked for.
func (u *UI) taskList(c *fiber.Ctx) error {
	cluster := c.Params("cluster")
	b, err := u.base(c, "Tasks", "tasks", cluster)
	if err != nil {
		return err
	}
	p := taskListPage{Base: b, Service: strings.TrimSpace(c.Query("service")), Node: strings.TrimSpace(c.Query("node")),
		State: c.Query("state"), All: c.Query("all") == "1", States: taskStates}
	p.Rows, err = u.Fleet.ListTasks(ctx(c), cluster, swarm.TaskFilter{Service: p.Service, Node: p.Node, State: p.State})
	status := fiber.StatusOK
	if pe, ok := errs.Public(err); ok && (errors.Is(err, errs.ErrNotFound) || errors.Is(err, errs.ErrInvalid)) {
		status = fiber.StatusBadRequest
		if errors.Is(err, errs.ErrNotFound) {
			status = fiber.StatusNotFound
		}
		p.Problem, p.Errors = pe.Message, map[string]string{pe.Field: pe.Message}
	} else if err != nil {
		return err
	}
	if p.State == "" && !p.All {
		p.Rows = currentTasks(p.Rows)
	}
	return u.tpl.render(c, status, "tasks_list", p)
}

// ---- Networks, secrets and configs: the list pages ----

// objectMeta is what a list page of networks, secrets or configs says of
// its kind (web/templates/layout/objects.html).
type objectMeta struct {
	Section  string // the path under the cluster, the page's nav key and its table's id: "networks"
	Title    string // "Networks"
	Noun     string // what is counted: "swarm network"
	Word     string // what a delete names: "network"
	Note     string // said after the count
	Row      string // rows' id prefix: "net-"
	Perm     string // what creating and deleting needs: "network.write"
	Create   string // the create form's title: "Create a network"
	Submit   string // its button: "Create network"
	NameHelp template.HTML
	Empty    emptyState
	// DeleteNote is the delete confirmation's last sentence.
	DeleteNote string
	// Upload: the form takes a file; Private: the browser keeps nothing.
	Upload, Private bool
}

// Path is the list's path under the cluster.
func (m objectMeta) Path() string { return "/" + m.Section }

// objectKind is a kind of object a list page shows: how it is listed,
// named and whether a row may be deleted.
type objectKind[R any] struct {
	objectMeta
	list      func(f *swarm.Fleet, ctx context.Context, cluster string, flt swarm.Filter) ([]R, error)
	name      func(R) string
	deletable func(R) bool // nil: every row
}

// objectList is a list page: the rows (those named like Q when it is
// set), the create form with what was typed and its errors.
type objectList[R, F any] struct {
	Base
	Kind   objectMeta
	Rows   []R
	Total  int // rows, whatever the filter
	Q      string
	Form   F
	Errors map[string]string
	keep   func(R) bool
}

// Deletable reports whether the row gets a delete button.
func (p objectList[R, F]) Deletable(r R) bool { return p.keep == nil || p.keep(r) }

// DeletePath is where a row's delete button posts.
func (p objectList[R, F]) DeletePath(id string) string {
	return p.ClusterPath(p.Kind.Path() + "/" + url.PathEscape(id) + "/delete")
}

// objectRow is what a page's own cells get: the page and the row.
type objectRow struct{ P, R any }

// renderObjects answers a list page of kind k: its rows, filtered by ?q=
// (part of the name, whatever the case), and the form f with its errors.
func renderObjects[R, F any](u *UI, c *fiber.Ctx, status int, k objectKind[R], f F, fe map[string]string) error {
	cluster := c.Params("cluster")
	b, err := u.base(c, k.Title, k.Section, cluster)
	if err != nil {
		return err
	}
	all, err := k.list(u.Fleet, ctx(c), cluster, swarm.Filter{})
	if err != nil {
		return err
	}
	p := objectList[R, F]{Base: b, Kind: k.objectMeta, Rows: all, Total: len(all), Q: strings.TrimSpace(c.Query("q")),
		Form: f, Errors: fe, keep: k.deletable}
	if p.Q != "" {
		q := strings.ToLower(p.Q)
		p.Rows = nil
		for _, r := range all {
			if strings.Contains(strings.ToLower(k.name(r)), q) {
				p.Rows = append(p.Rows, r)
			}
		}
	}
	return u.tpl.render(c, status, k.Section+"_list", p)
}

// createBlob creates a secret or a config from its form: the labels, then
// the text or the file given, then create. It answers the field messages
// of a validation error for the form to show, else create's error.
func createBlob(c *fiber.Ctx, labelLines string, create func(data, b64 *string, labels map[string]string) error) (map[string]string, error) {
	labels, err := parseLabelLines("labels", labelLines)
	if err == nil {
		var data, b64 *string
		if data, b64, err = formBlob(c); err == nil {
			err = create(data, b64, labels)
		}
	}
	if fe, ok := fieldErrs(err); ok {
		return fe, nil
	}
	return nil, err
}

// ---- Networks ----

type networkForm struct {
	Name, Driver, Subnet, Gateway, Labels string
	Attachable, Internal                  bool
}

var networkObjects = objectKind[swarm.NetworkSummary]{
	objectMeta: objectMeta{
		Section: "networks", Title: "Networks", Noun: "swarm network", Word: "network", Row: "net-", Perm: "network.write",
		Create: "Create a network", Submit: "Create network",
		NameHelp:   "Letters and digits, with <code>-</code> or <code>_</code> between them: <code>docker network create -d overlay NAME</code>.",
		Empty:      emptyState{"No swarm networks", "Create an overlay network for services to reach each other across nodes."},
		DeleteNote: "Services still attached to it must be removed first.",
	},
	list:      (*swarm.Fleet).ListNetworks,
	name:      func(n swarm.NetworkSummary) string { return n.Name },
	deletable: func(n swarm.NetworkSummary) bool { return !n.Ingress },
}

func (u *UI) networkList(c *fiber.Ctx) error {
	return renderObjects(u, c, fiber.StatusOK, networkObjects, networkForm{Driver: "overlay"}, nil)
}

// networkCreate creates an overlay network.
func (u *UI) networkCreate(c *fiber.Ctx) error {
	cluster := c.Params("cluster")
	f := networkForm{
		Name: strings.TrimSpace(c.FormValue("name")), Driver: strings.TrimSpace(c.FormValue("driver")),
		Subnet: strings.TrimSpace(c.FormValue("subnet")), Gateway: strings.TrimSpace(c.FormValue("gateway")),
		Labels: c.FormValue("labels"), Attachable: c.FormValue("attachable") != "", Internal: c.FormValue("internal") != "",
	}
	labels, err := parseLabelLines("labels", f.Labels)
	var n swarm.NetworkSummary
	if err == nil {
		n, err = u.Fleet.CreateNetwork(ctx(c), cluster, swarm.NewNetwork{Name: f.Name, Driver: f.Driver, Attachable: f.Attachable,
			Internal: f.Internal, Labels: labels, Subnet: f.Subnet, Gateway: f.Gateway})
	}
	if fe, ok := fieldErrs(err); ok {
		return renderObjects(u, c, fiber.StatusBadRequest, networkObjects, f, fe)
	}
	if err != nil {
		return err
	}
	return redirect(c, listPath(cluster, "networks"), "ok", "Network %s created (%s).", n.Name, strings.Join(n.Subnets, ", "))
}

func (u *UI) networkDelete(c *fiber.Ctx) error {
	cluster := c.Params("cluster")
	return removed(c, listPath(cluster, "networks"), "Network", u.Fleet.RemoveNetwork(ctx(c), cluster, c.Params("id")))
}

// ---- Secrets ----

// secretForm is what the secret form sends back on an error: never the
// secret's value.
type secretForm struct{ Name, Labels string }

var secretObjects = objectKind[swarm.SecretSummary]{
	objectMeta: objectMeta{
		Section: "secrets", Title: "Secrets", Noun: "secret", Word: "secret", Row: "secret-", Perm: "secret.write",
		Note:   "; their values are never shown, by SwarmOps or the engine",
		Create: "Create a secret", Submit: "Create secret",
		NameHelp:   "Letters, digits, <code>-</code> <code>_</code> <code>.</code>: <code>docker secret create NAME FILE</code>.",
		Empty:      emptyState{"No secrets yet", "Create one for passwords, keys and certificates; services mount them under /run/secrets/."},
		DeleteNote: "Its value cannot be read back; services still using it must be changed first.",
		Upload:     true, Private: true,
	},
	list: (*swarm.Fleet).ListSecrets,
	name: func(s swarm.SecretSummary) string { return s.Name },
}

func (u *UI) secretList(c *fiber.Ctx) error {
	return renderObjects(u, c, fiber.StatusOK, secretObjects, secretForm{}, nil)
}

// secretCreate creates a secret from the text or the file given.
func (u *UI) secretCreate(c *fiber.Ctx) error {
	cluster := c.Params("cluster")
	f := secretForm{Name: strings.TrimSpace(c.FormValue("name")), Labels: c.FormValue("labels")}
	var s swarm.SecretSummary
	fe, err := createBlob(c, f.Labels, func(data, b64 *string, labels map[string]string) (err error) {
		s, err = u.Fleet.CreateSecret(ctx(c), cluster, swarm.NewSecret{Name: f.Name, Data: data, DataBase64: b64, Labels: labels})
		return err
	})
	if fe != nil {
		return renderObjects(u, c, fiber.StatusBadRequest, secretObjects, f, fe)
	}
	if err != nil {
		return err
	}
	return redirect(c, listPath(cluster, "secrets"), "ok", "Secret %s created.", s.Name)
}

func (u *UI) secretDelete(c *fiber.Ctx) error {
	cluster := c.Params("cluster")
	return removed(c, listPath(cluster, "secrets"), "Secret", u.Fleet.RemoveSecret(ctx(c), cluster, c.Params("id")))
}

// ---- Configs ----

type configForm struct{ Name, Data, Labels string }

var configObjects = objectKind[swarm.ConfigSummary]{
	objectMeta: objectMeta{
		Section: "configs", Title: "Configs", Noun: "config", Word: "config", Row: "config-", Perm: "config.write",
		Create: "Create a config", Submit: "Create config",
		NameHelp: "Letters, digits, <code>-</code> <code>_</code> <code>.</code>: <code>docker config create NAME FILE</code>. " +
			"A config never changes: create a new name (<code>app.conf.v2</code>) to change one.",
		Empty:      emptyState{"No configs yet", "Create one for configuration files that services mount, such as nginx.conf."},
		DeleteNote: "Services still using it must be changed first.",
		Upload:     true,
	},
	list: (*swarm.Fleet).ListConfigs,
	name: func(s swarm.ConfigSummary) string { return s.Name },
}

func (u *UI) configList(c *fiber.Ctx) error {
	return renderObjects(u, c, fiber.StatusOK, configObjects, configForm{}, nil)
}

// configCreate creates a config from the text or the file given.
func (u *UI) configCreate(c *fiber.Ctx) error {
	cluster := c.Params("cluster")
	f := configForm{Name: strings.TrimSpace(c.FormValue("name")), Data: c.FormValue("data"), Labels: c.FormValue("labels")}
	var s swarm.ConfigSummary
	fe, err := createBlob(c, f.Labels, func(data, b64 *string, labels map[string]string) (err error) {
		s, err = u.Fleet.CreateConfig(ctx(c), cluster, swarm.NewConfig{Name: f.Name, Data: data, DataBase64: b64, Labels: labels})
		return err
	})
	if fe != nil {
		return renderObjects(u, c, fiber.StatusBadRequest, configObjects, f, fe)
	}
	if err != nil {
		return err
	}
	return redirect(c, listPath(cluster, "configs")+"/"+url.PathEscape(s.ID), "ok", "Config %s created.", s.Name)
}

type configDetailPage struct {
	Base
	Config swarm.ConfigDetail
}

// configDetail shows a config with its data.
func (u *UI) configDetail(c *fiber.Ctx) error {
	cluster := c.Params("cluster")
	b, err := u.base(c, "Config", "configs", cluster)
	if err != nil {
		return err
	}
	d, err := u.Fleet.GetConfig(ctx(c), cluster, c.Params("id"))
	if err != nil {
		return err
	}
	b.Title, b.Live = d.Summary.Name, "" // a config never changes
	return u.tpl.render(c, fiber.StatusOK, "configs_detail", configDetailPage{Base: b, Config: d})
}

func (u *UI) configDelete(c *fiber.Ctx) error {
	cluster := c.Params("cluster")
	return removed(c, listPath(cluster, "configs"), "Config", u.Fleet.RemoveConfig(ctx(c), cluster, c.Params("id")))
}

// ---- Form reading shared by these pages and the node pages ----

func listPath(cluster, section string) string { return "/c/" + url.PathEscape(cluster) + "/" + section }

// removed ends a delete: back to the list, with what happened. A refusal
// (still in use) is a message there; anything else an error page.
func removed(c *fiber.Ctx, list, kind string, err error) error {
	name := c.FormValue("name") // the page's, for the message only
	if name == "" {
		name = c.Params("id")
	}
	if pe, ok := errs.Public(err); ok && errors.Is(err, errs.ErrConflict) {
		return redirect(c, list, "error", "%s %s was not deleted: %s", kind, name, pe.Message)
	}
	if err != nil {
		return err
	}
	return redirect(c, list, "ok", "%s %s deleted.", kind, name)
}

// fieldErrs answers the field messages of a validation error, for the
// form to show beside its inputs; ok is false for any other error.
func fieldErrs(err error) (map[string]string, bool) {
	p := fieldProblems(err, nil)
	if m, ok := p["data_base64"]; ok { // the file input, shown with the text
		p["data"] = m
		delete(p, "data_base64")
	}
	return p, p != nil
}

// maxUpload bounds a file read from a form; the domain has the real
// limits (secrets 500 KB, configs 1000 KB) and says them.
const maxUpload = 2 << 20

// formFile answers the content of the file input name, or nil when none
// was chosen.
func formFile(c *fiber.Ctx, name, field string) ([]byte, error) {
	return uploaded(c, name, field, maxUpload)
}

// formBlob reads a secret's or config's data: the file (data_file, any
// bytes) when one was chosen, else the text (data).
func formBlob(c *fiber.Ctx) (data, b64 *string, err error) {
	b, err := formFile(c, "data_file", "data")
	if err != nil || b != nil {
		s := base64.StdEncoding.EncodeToString(b)
		return nil, &s, err
	}
	text := formText(c, "data")
	return &text, nil, nil
}

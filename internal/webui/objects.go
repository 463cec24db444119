package webui

import (
	"encoding/base64"
	"errors"
	"net/url"
	"strings"

	"github.com/docker/go-units"
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

// ---- Networks ----

type networkForm struct {
	Name, Driver, Subnet, Gateway, Labels string
	Attachable, Internal                  bool
}

type networkListPage struct {
	Base
	Rows   []swarm.NetworkSummary
	Form   networkForm
	Errors map[string]string
}

func (u *UI) networkList(c *fiber.Ctx) error {
	return u.renderNetworks(c, fiber.StatusOK, networkForm{Driver: "overlay"}, nil)
}

func (u *UI) renderNetworks(c *fiber.Ctx, status int, f networkForm, fe map[string]string) error {
	cluster := c.Params("cluster")
	b, err := u.base(c, "Networks", "networks", cluster)
	if err != nil {
		return err
	}
	rows, err := u.Fleet.ListNetworks(ctx(c), cluster, swarm.Filter{})
	if err != nil {
		return err
	}
	return u.tpl.render(c, status, "networks_list", networkListPage{Base: b, Rows: rows, Form: f, Errors: fe})
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
		return u.renderNetworks(c, fiber.StatusBadRequest, f, fe)
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

type secretListPage struct {
	Base
	Rows   []swarm.SecretSummary
	Form   secretForm
	Errors map[string]string
}

func (u *UI) secretList(c *fiber.Ctx) error {
	return u.renderSecrets(c, fiber.StatusOK, secretForm{}, nil)
}

func (u *UI) renderSecrets(c *fiber.Ctx, status int, f secretForm, fe map[string]string) error {
	cluster := c.Params("cluster")
	b, err := u.base(c, "Secrets", "secrets", cluster)
	if err != nil {
		return err
	}
	rows, err := u.Fleet.ListSecrets(ctx(c), cluster, swarm.Filter{})
	if err != nil {
		return err
	}
	return u.tpl.render(c, status, "secrets_list", secretListPage{Base: b, Rows: rows, Form: f, Errors: fe})
}

// secretCreate creates a secret from the text or the file given.
func (u *UI) secretCreate(c *fiber.Ctx) error {
	cluster := c.Params("cluster")
	f := secretForm{Name: strings.TrimSpace(c.FormValue("name")), Labels: c.FormValue("labels")}
	labels, err := parseLabelLines("labels", f.Labels)
	var s swarm.SecretSummary
	if err == nil {
		var data, b64 *string
		if data, b64, err = formBlob(c); err == nil {
			s, err = u.Fleet.CreateSecret(ctx(c), cluster, swarm.NewSecret{Name: f.Name, Data: data, DataBase64: b64, Labels: labels})
		}
	}
	if fe, ok := fieldErrs(err); ok {
		return u.renderSecrets(c, fiber.StatusBadRequest, f, fe)
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

type configListPage struct {
	Base
	Rows   []swarm.ConfigSummary
	Form   configForm
	Errors map[string]string
}

// Bytes says a config's size as people read it.
func (configListPage) Bytes(n int) string { return units.BytesSize(float64(n)) }

func (u *UI) configList(c *fiber.Ctx) error {
	return u.renderConfigs(c, fiber.StatusOK, configForm{}, nil)
}

func (u *UI) renderConfigs(c *fiber.Ctx, status int, f configForm, fe map[string]string) error {
	cluster := c.Params("cluster")
	b, err := u.base(c, "Configs", "configs", cluster)
	if err != nil {
		return err
	}
	rows, err := u.Fleet.ListConfigs(ctx(c), cluster, swarm.Filter{})
	if err != nil {
		return err
	}
	return u.tpl.render(c, status, "configs_list", configListPage{Base: b, Rows: rows, Form: f, Errors: fe})
}

// configCreate creates a config from the text or the file given.
func (u *UI) configCreate(c *fiber.Ctx) error {
	cluster := c.Params("cluster")
	f := configForm{Name: strings.TrimSpace(c.FormValue("name")), Data: c.FormValue("data"), Labels: c.FormValue("labels")}
	labels, err := parseLabelLines("labels", f.Labels)
	var s swarm.ConfigSummary
	if err == nil {
		var data, b64 *string
		if data, b64, err = formBlob(c); err == nil {
			s, err = u.Fleet.CreateConfig(ctx(c), cluster, swarm.NewConfig{Name: f.Name, Data: data, DataBase64: b64, Labels: labels})
		}
	}
	if fe, ok := fieldErrs(err); ok {
		return u.renderConfigs(c, fiber.StatusBadRequest, f, fe)
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

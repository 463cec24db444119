package webui

import (
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/httpauth"
	sw "github.com/swarmops/swarmops/internal/swarm"
)

// Services: the list, a service's page (tasks, spec, logs, nginx), the
// create and edit form, and the actions on a service.

type serviceListPage struct {
	Base
	Rows   []serviceRow
	Total  int // services in the cluster, whatever the filter
	Q      string
	Stack  string
	Stacks []string
}

// serviceList lists the cluster's services; q and stack filter it. One
// list call answers both the rows and the stacks to choose from.
func (u *UI) serviceList(c *fiber.Ctx) error {
	cluster := c.Params("cluster")
	b, err := u.base(c, "Services", "services", cluster)
	if err != nil {
		return err
	}
	all, err := u.Fleet.ListServices(ctx(c), cluster, sw.ServiceFilter{})
	if err != nil {
		return err
	}
	p := serviceListPage{Base: b, Total: len(all), Q: strings.TrimSpace(c.Query("q")), Stack: c.Query("stack")}
	for _, st := range sw.StacksOf(all) {
		p.Stacks = append(p.Stacks, st.Name)
	}
	flt := sw.ServiceFilter{Filter: sw.Filter{Q: p.Q}, Stack: p.Stack}
	var shown []sw.ServiceSummary
	for _, s := range all {
		if flt.Selects(s) {
			shown = append(shown, s)
		}
	}
	p.Rows = serviceRows(shown)
	return u.tpl.render(c, fiber.StatusOK, "services_list", p)
}

type serviceDetailPage struct {
	Base
	sw.ServiceDetail
	Replicas    badge
	Meter       string
	Update      *badge
	Updating    bool
	HasPrevious bool
	Image       string // as the spec holds it, with its digest when pinned
	TaskTable   TaskTable
	Cards       []specCard
	Path        string // this page's path
	LogPane
	Nginx      string
	NginxError string
}

// serviceDetail is a service's page. A live refresh (which swaps only the
// live regions) skips the log tail and the nginx block, which are not in
// one.
func (u *UI) serviceDetail(c *fiber.Ctx) error {
	cluster, id := c.Params("cluster"), c.Params("id")
	b, err := u.base(c, "Service", "services", cluster)
	if err != nil {
		return err
	}
	d, err := u.Fleet.GetService(ctx(c), cluster, id)
	if err != nil {
		return err
	}
	tasks, err := u.Fleet.ListTasks(ctx(c), cluster, sw.TaskFilter{Service: d.Summary.ID})
	if err != nil {
		return err
	}
	p := detailPage(b, d, tasks, c.Query("tasks") == "all")
	p.LogsURL = "/api/v1/clusters/" + url.PathEscape(cluster) + "/services/" + url.PathEscape(d.Summary.ID) + "/logs"
	p.LogsLabel = "Log of " + d.Summary.Name
	if c.Get("X-SwarmOps-Live") == "" {
		p.Logs, p.LogsProblem = logTail(ctx(c), u.Fleet, cluster, d.Summary.ID)
		if p.Nginx, err = u.Fleet.ServiceNginx(ctx(c), cluster, d.Summary.ID, sw.NginxOptions{}); err != nil {
			p.NginxError = publicMessage(err)
		}
	}
	return u.tpl.render(c, fiber.StatusOK, "services_detail", p)
}

func detailPage(b Base, d sw.ServiceDetail, tasks []sw.Task, all bool) serviceDetailPage {
	b.Title = d.Summary.Name
	p := serviceDetailPage{Base: b, ServiceDetail: d, Update: updateBadge(d.Summary.UpdateStatus),
		Updating: updating(d.Summary.UpdateStatus), HasPrevious: d.Service.PreviousSpec != nil,
		Cards: specCards(d), Path: b.ClusterPath("/services/" + url.PathEscape(d.Summary.Name))}
	p.Replicas, p.Meter = replicaBadge(d.Summary)
	p.TaskTable = taskTable(b, p.Path, tasks, all, false,
		"A replicated service scaled to 0 has none; otherwise the tasks appear here as swarm schedules them.")
	p.Image = d.Summary.Image
	if cs := d.Service.Spec.TaskTemplate.ContainerSpec; cs != nil {
		p.Image = cs.Image
	}
	return p
}

func publicMessage(err error) string {
	if pe, ok := errs.Public(err); ok {
		return pe.Message
	}
	return "the engine did not answer"
}

type serviceFormPage struct {
	Base
	Edit     bool
	Name     string // the service being edited
	Version  uint64
	Action   string
	Cancel   string
	Sections []sectionView
	Values   formValues
	Errors   map[string]string
}

func (u *UI) renderServiceForm(c *fiber.Ctx, status int, p serviceFormPage) error {
	p.Sections = formView(p.Values, p.Errors, p.Edit)
	if p.Edit {
		p.Title = "Edit " + p.Name
		p.Action = p.ClusterPath("/services/" + url.PathEscape(p.Name))
		p.Cancel = p.Action
	} else {
		p.Title = "Create a service"
		p.Action = p.ClusterPath("/services")
		p.Cancel = p.Action
	}
	return u.tpl.render(c, status, "services_form", p)
}

// serviceNew is the empty form.
func (u *UI) serviceNew(c *fiber.Ctx) error {
	b, err := u.base(c, "Create a service", "services", c.Params("cluster"))
	if err != nil {
		return err
	}
	return u.renderServiceForm(c, fiber.StatusOK, serviceFormPage{Base: b, Values: formValues{"mode": "replicated"}})
}

// serviceCreate creates a service from the non-empty inputs. A bad value
// shows the form again with the message beside its input; nothing is
// created then.
func (u *UI) serviceCreate(c *fiber.Ctx) error {
	cluster := c.Params("cluster")
	b, err := u.base(c, "Create a service", "services", cluster)
	if err != nil {
		return err
	}
	posted := postedValues(c)
	fm, problems := bind(createValues(posted))
	status := fiber.StatusBadRequest
	if problems == nil {
		out, err := u.Fleet.CreateService(ctx(c), cluster, httpauth.Principal(c).Role, fm)
		if err == nil {
			return redirect(c, b.ClusterPath("/services/"+url.PathEscape(out.Name)), "ok", "Created service %s.%s", out.Name, warned(out.Warnings))
		}
		if problems, status, err = formError(err, "name"); err != nil {
			return err
		}
	}
	return u.renderServiceForm(c, status, serviceFormPage{Base: b, Values: posted, Errors: problems})
}

// formError turns a domain error into messages beside the inputs: a bad
// value (400) or a conflict (409: a name taken, a stale version) shown on
// conflictField. Anything else is returned for the error page.
func formError(err error, conflictField string) (map[string]string, int, error) {
	if p := fieldProblems(err, isServiceField); p != nil {
		return p, fiber.StatusBadRequest, nil
	}
	if p, status, ok := formProblems(err, conflictField); ok {
		return p, status, nil
	}
	return nil, 0, err
}

func warned(w []string) string {
	if len(w) == 0 {
		return ""
	}
	return " The engine warns: " + strings.Join(w, "; ")
}

// serviceEdit is the form holding the service as it is.
func (u *UI) serviceEdit(c *fiber.Ctx) error {
	cluster := c.Params("cluster")
	b, err := u.base(c, "Edit service", "services", cluster)
	if err != nil {
		return err
	}
	d, err := u.Fleet.GetService(ctx(c), cluster, c.Params("id"))
	if err != nil {
		return err
	}
	return u.renderServiceForm(c, fiber.StatusOK, serviceFormPage{Base: b, Edit: true, Name: d.Summary.Name,
		Version: d.Summary.Version, Values: valuesOf(d.Form)})
}

// serviceUpdate sends the inputs that differ from the service as it is
// now, at the version the form was read at: a stale form is a 409, and
// what the form cannot express is kept.
func (u *UI) serviceUpdate(c *fiber.Ctx) error {
	cluster := c.Params("cluster")
	b, err := u.base(c, "Edit service", "services", cluster)
	if err != nil {
		return err
	}
	d, err := u.Fleet.GetService(ctx(c), cluster, c.Params("id"))
	if err != nil {
		return err
	}
	p := serviceFormPage{Base: b, Edit: true, Name: d.Summary.Name, Version: d.Summary.Version, Values: postedValues(c)}
	var version *uint64
	if v := c.FormValue("version"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil { // a tampered form: say so on it, keep what was typed
			p.Errors = map[string]string{"": "the form's version is not a number; reload the service and edit again"}
			return u.renderServiceForm(c, fiber.StatusBadRequest, p)
		}
		version, p.Version = &n, n
	}
	changed, problems := changedValues(p.Values, valuesOf(d.Form))
	status := fiber.StatusBadRequest
	if problems == nil {
		if !specChanged(changed) {
			return redirect(c, p.ClusterPath("/services/"+url.PathEscape(d.Summary.Name)), "info", "Nothing changed in %s.", d.Summary.Name)
		}
		fm, bad := bind(changed)
		if problems = bad; problems == nil {
			out, err := u.Fleet.UpdateService(ctx(c), cluster, d.Summary.ID, httpauth.Principal(c).Role, fm, version)
			if err == nil {
				return redirect(c, p.ClusterPath("/services/"+url.PathEscape(out.Name)), "ok", "Updated %s.%s", out.Name, warned(out.Warnings))
			}
			if problems, status, err = formError(err, ""); err != nil {
				return err
			}
		}
	}
	p.Errors = problems
	return u.renderServiceForm(c, status, p)
}

// specChanged reports whether an edit changes the spec, not only how it
// is sent.
func specChanged(v formValues) bool {
	for name := range v {
		if !serviceFields[name].Option {
			return true
		}
	}
	return false
}

// detailPath is where an action on the service goes back to.
func detailPath(c *fiber.Ctx) string {
	return "/c/" + url.PathEscape(c.Params("cluster")) + "/services/" + url.PathEscape(c.Params("id"))
}

// actionDone ends an action: back to the service's page with what
// happened, or why nothing did (a bad value, a conflict); other errors
// are the error page.
func actionDone(c *fiber.Ctx, err error, format string, args ...any) error {
	if err == nil {
		return redirect(c, detailPath(c), "ok", format, args...)
	}
	if errors.Is(err, errs.ErrInvalid) || errors.Is(err, errs.ErrConflict) {
		return redirect(c, detailPath(c), "error", "%s", publicMessage(err))
	}
	return err
}

func (u *UI) serviceScale(c *fiber.Ctx) error {
	n, err := strconv.ParseUint(strings.TrimSpace(c.FormValue("replicas")), 10, 64)
	if err != nil {
		return actionDone(c, errs.Invalid("replicas", "Give the number of tasks to run, 0 or more."), "")
	}
	out, err := u.Fleet.ScaleService(ctx(c), c.Params("cluster"), c.Params("id"), n)
	return actionDone(c, err, "Scaling %s to %d.", out.Name, n)
}

func (u *UI) serviceImage(c *fiber.Ctx) error {
	image, tag := strings.TrimSpace(c.FormValue("image")), strings.TrimPrefix(strings.TrimSpace(c.FormValue("tag")), ":")
	if tag != "" {
		image = ""
	}
	out, err := u.Fleet.SetServiceImage(ctx(c), c.Params("cluster"), c.Params("id"), httpauth.Principal(c).Role, image, tag, c.FormValue("resolve_image") == "true")
	to := image
	if tag != "" {
		to = "tag " + tag
	}
	return actionDone(c, err, "Rolling %s to %s.", out.Name, to)
}

func (u *UI) serviceRollback(c *fiber.Ctx) error {
	out, err := u.Fleet.RollbackService(ctx(c), c.Params("cluster"), c.Params("id"))
	return actionDone(c, err, "Rolling %s back to its previous spec.", out.Name)
}

func (u *UI) serviceRedeploy(c *fiber.Ctx) error {
	out, err := u.Fleet.RedeployService(ctx(c), c.Params("cluster"), c.Params("id"))
	return actionDone(c, err, "Redeploying %s: every task is replaced.", out.Name)
}

func (u *UI) serviceDelete(c *fiber.Ctx) error {
	cluster, id := c.Params("cluster"), c.Params("id")
	if err := u.Fleet.RemoveService(ctx(c), cluster, id); err != nil {
		return actionDone(c, err, "")
	}
	return redirect(c, "/c/"+url.PathEscape(cluster)+"/services", "ok", "Deleted service %s.", id)
}

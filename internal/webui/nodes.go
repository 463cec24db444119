package webui

import (
	"cmp"
	"errors"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/httpauth"
	"github.com/swarmops/swarmops/internal/swarm"
)

// leaveForm is what the leave form holds; the TLS key is never sent back.
type leaveForm struct {
	Endpoint      string
	Force, Remove bool
	CA, Cert      string
}

type nodeListPage struct {
	Base
	Rows   []swarm.NodeSummary
	Q      string
	Leave  leaveForm
	Errors map[string]string
}

// nodeList lists the cluster's nodes; admins also get the leave form.
func (u *UI) nodeList(c *fiber.Ctx) error {
	return u.renderNodeList(c, fiber.StatusOK, leaveForm{Remove: true}, nil)
}

func (u *UI) renderNodeList(c *fiber.Ctx, status int, lf leaveForm, fe map[string]string) error {
	cluster := c.Params("cluster")
	b, err := u.base(c, "Nodes", "nodes", cluster)
	if err != nil {
		return err
	}
	q := c.Query("q")
	rows, err := u.Fleet.ListNodes(ctx(c), cluster, swarm.Filter{Q: q})
	if err != nil {
		return err
	}
	b.LiveURL = b.ClusterPath("/nodes")
	if q != "" {
		b.LiveURL += "?q=" + url.QueryEscape(q)
	}
	return u.tpl.render(c, status, "nodes_list", nodeListPage{Base: b, Rows: rows, Q: q, Leave: lf, Errors: fe})
}

// nodeLeave tells an engine to leave the swarm.
func (u *UI) nodeLeave(c *fiber.Ctx) error {
	cluster := c.Params("cluster")
	t, err := bindTLS(c)
	lf := leaveForm{Endpoint: strings.TrimSpace(c.FormValue("endpoint")), Force: c.FormValue("force") != "",
		Remove: c.FormValue("remove") != ""}
	if t != nil { // shown back as text, whether typed or uploaded; never the key
		lf.CA, lf.Cert = t.CA, t.Cert
	}
	var left swarm.LeftNode
	if err == nil {
		left, err = u.Fleet.LeaveNode(ctx(c), cluster, swarm.NodeLeave{Endpoint: lf.Endpoint, TLS: t, Force: lf.Force, Remove: lf.Remove})
	}
	if fe, ok := fieldErrs(err); ok {
		return u.renderNodeList(c, fiber.StatusBadRequest, lf, fe)
	}
	if err != nil {
		return err
	}
	if left.Removed {
		return redirect(c, "/c/"+url.PathEscape(cluster)+"/nodes", "ok", "%s left the swarm and was removed from the node list.", left.Hostname)
	}
	return redirect(c, "/c/"+url.PathEscape(cluster)+"/nodes", "ok",
		"%s left the swarm; it is listed as down until you remove it.", left.Hostname)
}

// joinForm is what the join form holds; the TLS key is never sent back.
type joinForm struct {
	Endpoint, Role, AdvertiseAddr string
	CA, Cert                      string
}

type nodeJoinPage struct {
	Base
	Form   joinForm
	Errors map[string]string
}

func (u *UI) nodeJoinForm(c *fiber.Ctx) error {
	return u.renderJoin(c, fiber.StatusOK, joinForm{Role: "worker"}, nil)
}

func (u *UI) renderJoin(c *fiber.Ctx, status int, f joinForm, fe map[string]string) error {
	b, err := u.base(c, "Join an engine", "nodes", c.Params("cluster"))
	if err != nil {
		return err
	}
	b.Live = "" // nothing on the form changes with the cluster
	return u.tpl.render(c, status, "nodes_join", nodeJoinPage{Base: b, Form: f, Errors: fe})
}

// nodeJoin tells an engine in no swarm to join this one.
func (u *UI) nodeJoin(c *fiber.Ctx) error {
	cluster := c.Params("cluster")
	t, err := bindTLS(c)
	f := joinForm{Endpoint: strings.TrimSpace(c.FormValue("endpoint")), Role: c.FormValue("role"),
		AdvertiseAddr: strings.TrimSpace(c.FormValue("advertise_addr"))}
	if t != nil { // shown back as text, whether typed or uploaded; never the key
		f.CA, f.Cert = t.CA, t.Cert
	}
	var n swarm.NodeSummary
	if err == nil {
		n, err = u.Fleet.JoinNode(ctx(c), cluster, swarm.NodeJoin{Endpoint: f.Endpoint, TLS: t, Role: f.Role, AdvertiseAddr: f.AdvertiseAddr})
	}
	if fe, ok := fieldErrs(err); ok {
		return u.renderJoin(c, fiber.StatusBadRequest, f, fe)
	}
	if err != nil {
		return err
	}
	return redirect(c, nodePath(cluster, n.ID), "ok", "%s joined the swarm as a %s.", n.Hostname, n.Role)
}

type nodeDetailPage struct {
	Base
	Node   swarm.NodeDetail
	Tasks  []swarm.Task
	All    bool // shut-down tasks shown too
	Labels string
	Errors map[string]string
}

// nodeDetail is one node: its state, facts, controls and tasks.
func (u *UI) nodeDetail(c *fiber.Ctx) error {
	return u.renderNode(c, fiber.StatusOK, nil, "")
}

// renderNode renders a node's page; with field errors, labels is what the
// user typed.
func (u *UI) renderNode(c *fiber.Ctx, status int, fe map[string]string, labels string) error {
	cluster := c.Params("cluster")
	b, err := u.base(c, "Node", "nodes", cluster)
	if err != nil {
		return err
	}
	d, err := u.Fleet.GetNode(ctx(c), cluster, c.Params("id"))
	if err != nil {
		return err
	}
	tasks, err := u.Fleet.ListTasks(ctx(c), cluster, swarm.TaskFilter{Node: d.Summary.ID})
	if err != nil {
		return err
	}
	all := c.Query("tasks") == "all"
	if !all {
		tasks = currentTasks(tasks)
	}
	if fe == nil {
		labels = labelText(d.Summary.Labels)
	}
	b.Title = d.Summary.Hostname
	b.LiveURL = nodePath(cluster, d.Summary.ID)
	if all {
		b.LiveURL += "?tasks=all"
	}
	return u.tpl.render(c, status, "nodes_detail", nodeDetailPage{Base: b, Node: d, Tasks: tasks, All: all, Labels: labels, Errors: fe})
}

// nodeAvailability sets a node active, paused or drained.
func (u *UI) nodeAvailability(c *fiber.Ctx) error {
	a := c.FormValue("availability")
	return u.changeNode(c, swarm.NodeChange{Availability: a}, func(host string) string { return host + " is now " + a + "." })
}

// nodeRole promotes or demotes a node (admin).
func (u *UI) nodeRole(c *fiber.Ctx) error {
	r := c.FormValue("role")
	return u.changeNode(c, swarm.NodeChange{Role: r}, func(host string) string { return host + " is now a " + r + "." })
}

// nodeLabels replaces a node's labels with the K=V lines of the form.
func (u *UI) nodeLabels(c *fiber.Ctx) error {
	text := c.FormValue("labels")
	labels, err := parseLabelLines("labels", text)
	if err == nil {
		return u.changeNode(c, swarm.NodeChange{Labels: labels}, func(host string) string { return "Labels of " + host + " saved." })
	}
	fe, _ := fieldErrs(err)
	return u.renderNode(c, fiber.StatusBadRequest, fe, text)
}

// changeNode makes one change and goes back to the node's page; a refusal
// (the last manager, the leader) comes back as a message there, bad input
// beside its field.
func (u *UI) changeNode(c *fiber.Ctx, ch swarm.NodeChange, done func(hostname string) string) error {
	cluster, id := c.Params("cluster"), c.Params("id")
	n, err := u.Fleet.UpdateNode(ctx(c), cluster, id, httpauth.Principal(c).Role, ch)
	if fe, ok := fieldErrs(err); ok {
		if _, bad := fe["labels"]; bad {
			return u.renderNode(c, fiber.StatusBadRequest, fe, c.FormValue("labels"))
		}
		return err // a value no button of the page sends
	}
	if pe, ok := errs.Public(err); ok && errors.Is(err, errs.ErrConflict) {
		return redirect(c, nodePath(cluster, id), "error", "Nothing was changed: %s", pe.Message)
	}
	if err != nil {
		return err
	}
	return redirect(c, nodePath(cluster, n.ID), "ok", "%s", done(n.Hostname))
}

// nodeDelete removes a node from the node list (admin).
func (u *UI) nodeDelete(c *fiber.Ctx) error {
	cluster, id := c.Params("cluster"), c.Params("id")
	err := u.Fleet.RemoveNode(ctx(c), cluster, id, c.FormValue("force") != "")
	if pe, ok := errs.Public(err); ok && errors.Is(err, errs.ErrConflict) {
		return redirect(c, nodePath(cluster, id), "error", "Nothing was removed: %s", pe.Message)
	}
	if err != nil {
		return err
	}
	// The name is the page's, for the message only.
	return redirect(c, "/c/"+url.PathEscape(cluster)+"/nodes", "ok", "Node %s was removed from the swarm.", cmp.Or(c.FormValue("name"), id))
}

func nodePath(cluster, id string) string {
	return "/c/" + url.PathEscape(cluster) + "/nodes/" + url.PathEscape(id)
}

// currentTasks drops the history a node or service keeps (tasks shut
// down, failed or replaced), keeping those meant to run and any still
// running.
func currentTasks(ts []swarm.Task) []swarm.Task {
	out := make([]swarm.Task, 0, len(ts))
	for _, t := range ts {
		if t.Current() {
			out = append(out, t)
		}
	}
	return out
}

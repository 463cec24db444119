package webui

import (
	"net/url"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/swarm"
)

type fleetRow struct {
	swarm.Overview
	Ref ClusterRef
}

type fleetPage struct {
	Base
	Rows []fleetRow
	// Fresh is set when the rows were probed for this answer; otherwise
	// they are the last known, and the page asks for fresh ones at once.
	Fresh bool
}

// fleet is the landing page: every swarm at a glance, problems first. It
// answers at once from the last known health; the page then asks again
// with ?fresh=1, which probes every cluster (bounded by the engine
// timeout), and every 15 s after.
func (u *UI) fleet(c *fiber.Ctx) error {
	b, err := u.base(c, "Fleet", "fleet", "")
	if err != nil {
		return err
	}
	fresh := c.Query("fresh") == "1"
	ovs, err := u.Fleet.Overviews(ctx(c), fresh)
	if err != nil {
		return err
	}
	rows := make([]fleetRow, len(ovs))
	for i, o := range ovs {
		rows[i] = fleetRow{Overview: o, Ref: clusterRef(o.Cluster.Name, o.Cluster.Labels)}
	}
	b.Refresh, b.LiveURL = 15, "/?fresh=1"
	return u.tpl.render(c, fiber.StatusOK, "fleet", fleetPage{Base: b, Rows: rows, Fresh: fresh})
}

// sections a cluster switch keeps the user in.
var clusterSections = map[string]bool{
	"services": true, "stacks": true, "nodes": true, "tasks": true, "networks": true, "secrets": true, "configs": true,
}

// switchCluster moves to another cluster, staying in the same section.
func (u *UI) switchCluster(c *fiber.Ctx) error {
	name := c.Query("cluster")
	if name == "" {
		return c.Redirect("/", fiber.StatusSeeOther)
	}
	section := c.Query("section")
	if !clusterSections[section] {
		section = "services"
	}
	return c.Redirect("/c/"+url.PathEscape(name)+"/"+section, fiber.StatusSeeOther)
}

// clusterHome is a cluster's landing page: its services.
func (u *UI) clusterHome(c *fiber.Ctx) error {
	return c.Redirect("/c/"+url.PathEscape(c.Params("cluster"))+"/services", fiber.StatusSeeOther)
}

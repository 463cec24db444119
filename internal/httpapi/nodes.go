package httpapi

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/httpauth"
	"github.com/swarmops/swarmops/internal/httpx"
	"github.com/swarmops/swarmops/internal/swarm"
)

type nodeDTO = swarm.NodeSummary

// nodeDetailDTO carries the engine's node object as it is; typed `any`
// so that the OpenAPI document does not describe engine types under names
// of its own (the engine's Version is not /api/v1/version's).
type nodeDetailDTO struct {
	Summary nodeDTO `json:"summary"`
	Node    any     `json:"node"`
}

type nodePatch struct {
	Availability string            `json:"availability"`
	Role         string            `json:"role"`
	Labels       map[string]string `json:"labels"`
	LabelsAdd    map[string]string `json:"labels_add"`
	LabelsRemove []string          `json:"labels_remove"`
}

type nodeJoinReq struct {
	Endpoint      string  `json:"endpoint"`
	Role          string  `json:"role"`
	AdvertiseAddr string  `json:"advertise_addr"`
	TLS           *tlsReq `json:"tls"`
}

type nodeLeaveReq struct {
	Endpoint string  `json:"endpoint"`
	Force    bool    `json:"force"`
	Remove   bool    `json:"remove"`
	TLS      *tlsReq `json:"tls"`
}

type nodeLeftDTO = swarm.LeftNode

func (a *API) listNodes(c *fiber.Ctx) error {
	f, err := listFilter(c)
	if err != nil {
		return err
	}
	pg, err := pagingOf(c, nodesOrder)
	if err != nil {
		return err
	}
	nodes, err := a.Fleet.ListNodes(c.UserContext(), c.Params("cluster"), f)
	if err != nil {
		return err
	}
	return pg.send(c, nodes)
}

func (a *API) getNode(c *fiber.Ctx) error {
	d, err := a.Fleet.GetNode(c.UserContext(), c.Params("cluster"), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(nodeDetailDTO{Summary: d.Summary, Node: d.Node})
}

func (a *API) updateNode(c *fiber.Ctx) error {
	var req nodePatch
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	// The route needs node.update; the domain also asks for node.manage
	// when the role changes, so it gets the caller's role.
	n, err := a.Fleet.UpdateNode(c.UserContext(), c.Params("cluster"), c.Params("id"), httpauth.Principal(c).Role, swarm.NodeChange{
		Availability: req.Availability, Role: req.Role,
		Labels: req.Labels, LabelsAdd: req.LabelsAdd, LabelsRemove: req.LabelsRemove,
	})
	if err != nil {
		return err
	}
	return c.JSON(n)
}

func (a *API) removeNode(c *fiber.Ctx) error {
	force, err := strconv.ParseBool(c.Query("force", "false"))
	if err != nil {
		return errs.Invalid("force", "expected true or false")
	}
	if err := a.Fleet.RemoveNode(c.UserContext(), c.Params("cluster"), c.Params("id"), force); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (a *API) joinNode(c *fiber.Ctx) error {
	var req nodeJoinReq
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	n, err := a.Fleet.JoinNode(c.UserContext(), c.Params("cluster"), swarm.NodeJoin{
		Endpoint: req.Endpoint, TLS: req.TLS.toDomain(), Role: req.Role, AdvertiseAddr: req.AdvertiseAddr,
	})
	if err != nil {
		return err
	}
	return c.JSON(n)
}

func (a *API) leaveNode(c *fiber.Ctx) error {
	var req nodeLeaveReq
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	left, err := a.Fleet.LeaveNode(c.UserContext(), c.Params("cluster"), swarm.NodeLeave{
		Endpoint: req.Endpoint, TLS: req.TLS.toDomain(), Force: req.Force, Remove: req.Remove,
	})
	if err != nil {
		return err
	}
	return c.JSON(left)
}

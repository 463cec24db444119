package httpapi

import (
	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/httpx"
	"github.com/swarmops/swarmops/internal/swarm"
)

type networkDTO = swarm.NetworkSummary

// networkDetailDTO carries the engine's network object as it is (see
// nodeDetailDTO for why it is typed any).
type networkDetailDTO struct {
	Summary networkDTO `json:"summary"`
	Network any        `json:"network"`
}

type networkCreateReq struct {
	Name       string            `json:"name"`
	Driver     string            `json:"driver"`
	Attachable bool              `json:"attachable"`
	Internal   bool              `json:"internal"`
	Labels     map[string]string `json:"labels"`
	Subnet     string            `json:"subnet"`
	Gateway    string            `json:"gateway"`
}

func (a *API) listNetworks(c *fiber.Ctx) error {
	f, err := listFilter(c)
	if err != nil {
		return err
	}
	pg, err := pagingOf(c, networksOrder)
	if err != nil {
		return err
	}
	nets, err := a.Fleet.ListNetworks(c.UserContext(), c.Params("cluster"), f)
	if err != nil {
		return err
	}
	return pg.send(c, nets)
}

func (a *API) getNetwork(c *fiber.Ctx) error {
	d, err := a.Fleet.GetNetwork(c.UserContext(), c.Params("cluster"), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(networkDetailDTO{Summary: d.Summary, Network: d.Network})
}

func (a *API) createNetwork(c *fiber.Ctx) error {
	var req networkCreateReq
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	n, err := a.Fleet.CreateNetwork(c.UserContext(), c.Params("cluster"), swarm.NewNetwork(req))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(n)
}

func (a *API) removeNetwork(c *fiber.Ctx) error {
	if err := a.Fleet.RemoveNetwork(c.UserContext(), c.Params("cluster"), c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

package httpapi

import (
	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/httpx"
	"github.com/swarmops/swarmops/internal/swarm"
)

type configDTO = swarm.ConfigSummary

// configDetailDTO is a config with its data (see nodeDetailDTO for why the
// engine's object is typed any).
type configDetailDTO struct {
	Summary    configDTO `json:"summary"`
	Data       *string   `json:"data"` // null when the data is not UTF-8 text
	DataBase64 string    `json:"data_base64"`
	Config     any       `json:"config"`
}

type configCreateReq struct {
	Name       string            `json:"name"`
	Data       *string           `json:"data"`
	DataBase64 *string           `json:"data_base64"`
	Labels     map[string]string `json:"labels"`
}

func (a *API) listConfigs(c *fiber.Ctx) error {
	f, err := listFilter(c)
	if err != nil {
		return err
	}
	pg, err := pagingOf(c, configsOrder)
	if err != nil {
		return err
	}
	list, err := a.Fleet.ListConfigs(c.UserContext(), c.Params("cluster"), f)
	if err != nil {
		return err
	}
	return c.JSON(pg.list(c, list))
}

func (a *API) getConfig(c *fiber.Ctx) error {
	d, err := a.Fleet.GetConfig(c.UserContext(), c.Params("cluster"), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(configDetailDTO{Summary: d.Summary, Data: d.Data, DataBase64: d.DataBase64, Config: d.Config})
}

func (a *API) createConfig(c *fiber.Ctx) error {
	var req configCreateReq
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	s, err := a.Fleet.CreateConfig(c.UserContext(), c.Params("cluster"), swarm.NewConfig(req))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(s)
}

func (a *API) removeConfig(c *fiber.Ctx) error {
	if err := a.Fleet.RemoveConfig(c.UserContext(), c.Params("cluster"), c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

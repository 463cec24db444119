package httpapi

import (
	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/httpx"
	"github.com/swarmops/swarmops/internal/swarm"
)

type secretDTO = swarm.SecretSummary

// secretDetailDTO carries the engine's secret object, whose data the
// domain has cleared (see nodeDetailDTO for why it is typed any).
type secretDetailDTO struct {
	Summary secretDTO `json:"summary"`
	Secret  any       `json:"secret"`
}

// secretCreateReq carries the value in; nothing carries it out. Pointers tell
// a missing field from an empty one.
type secretCreateReq struct {
	Name       string            `json:"name"`
	Data       *string           `json:"data"`
	DataBase64 *string           `json:"data_base64"`
	Labels     map[string]string `json:"labels"`
}

func (a *API) listSecrets(c *fiber.Ctx) error {
	f, err := listFilter(c)
	if err != nil {
		return err
	}
	pg, err := pagingOf(c, secretsOrder)
	if err != nil {
		return err
	}
	list, err := a.Fleet.ListSecrets(c.UserContext(), c.Params("cluster"), f)
	if err != nil {
		return err
	}
	return c.JSON(pg.list(c, list))
}

func (a *API) getSecret(c *fiber.Ctx) error {
	d, err := a.Fleet.GetSecret(c.UserContext(), c.Params("cluster"), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(secretDetailDTO{Summary: d.Summary, Secret: d.Secret})
}

func (a *API) createSecret(c *fiber.Ctx) error {
	var req secretCreateReq
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	s, err := a.Fleet.CreateSecret(c.UserContext(), c.Params("cluster"), swarm.NewSecret(req))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(s)
}

func (a *API) removeSecret(c *fiber.Ctx) error {
	if err := a.Fleet.RemoveSecret(c.UserContext(), c.Params("cluster"), c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

package webui

import (
	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/swarm"
)

type stackListPage struct {
	Base
	Rows []swarm.StackSummary
}

// stackList says that stacks are not managed here yet, and lists the
// stacks the services name, each linking to its services.
func (u *UI) stackList(c *fiber.Ctx) error {
	cluster := c.Params("cluster")
	b, err := u.base(c, "Stacks", "stacks", cluster)
	if err != nil {
		return err
	}
	services, err := u.Fleet.ListServices(ctx(c), cluster, swarm.ServiceFilter{})
	if err != nil {
		return err
	}
	return u.tpl.render(c, fiber.StatusOK, "stacks_list", stackListPage{Base: b, Rows: swarm.StacksOf(services)})
}

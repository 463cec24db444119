package httpapi

import (
	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/swarm"
)

type taskDTO = swarm.Task

func (a *API) listTasks(c *fiber.Ctx) error {
	pg, err := pagingOf(c, tasksOrder)
	if err != nil {
		return err
	}
	tasks, err := a.Fleet.ListTasks(c.UserContext(), c.Params("cluster"), swarm.TaskFilter{
		Service: c.Query("service"), Node: c.Query("node"), State: c.Query("state"),
	})
	if err != nil {
		return err
	}
	return pg.send(c, tasks)
}

// serviceTasks is /tasks?service={id}: the same list, for one service.
func (a *API) serviceTasks(c *fiber.Ctx) error {
	pg, err := pagingOf(c, tasksOrder)
	if err != nil {
		return err
	}
	tasks, err := a.Fleet.ListTasks(c.UserContext(), c.Params("cluster"), swarm.TaskFilter{
		Service: c.Params("id"), Node: c.Query("node"), State: c.Query("state"),
	})
	if err != nil {
		return err
	}
	return pg.send(c, tasks)
}

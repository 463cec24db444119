package httpapi

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/httpauth"
	"github.com/swarmops/swarmops/internal/httpx"
	"github.com/swarmops/swarmops/internal/stack"
	"github.com/swarmops/swarmops/internal/swarm"
)

// stackSummaryDTO is a stack as lists show it.
type stackSummaryDTO struct {
	Name     string `json:"name"`
	Services int    `json:"services"`
	Tasks    struct {
		Desired uint64 `json:"desired"`
		Running uint64 `json:"running"`
	} `json:"tasks"`
}

// stackDeployReq is a deploy: a compose file with its env and files.
type stackDeployReq struct {
	Name string `json:"name"`
	stack.Source
	Prune        bool   `json:"prune,omitempty"`
	ResolveImage string `json:"resolve_image,omitempty"`
	Wait         string `json:"wait,omitempty"`
}

type stackRollbackReq struct {
	Revision int    `json:"revision"`
	Wait     string `json:"wait,omitempty"`
}

type stackDeployedDTO = swarm.StackDeployed

type stackDetailDTO = swarm.StackDetail

type stackRemovedDTO = stack.Removed

type stackRevisionDTO = swarm.StackRevision

func (a *API) listStacks(c *fiber.Ctx) error {
	pg, err := pagingOf(c, stacksOrder)
	if err != nil {
		return err
	}
	stacks, err := a.Fleet.ListStacks(c.UserContext(), c.Params("cluster"))
	if err != nil {
		return err
	}
	out := make([]stackSummaryDTO, len(stacks))
	for i, s := range stacks {
		out[i].Name, out[i].Services = s.Name, s.Services
		out[i].Tasks.Desired, out[i].Tasks.Running = s.Desired, s.Running
	}
	return c.JSON(pg.list(c, out))
}

func (a *API) deployStack(c *fiber.Ctx) error {
	var req stackDeployReq
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	wait, err := waitOf(c, req.Wait)
	if err != nil {
		return err
	}
	out, err := a.Fleet.DeployStack(c.UserContext(), c.Params("cluster"), httpauth.Principal(c).Role, swarm.StackDeploy{
		Name: req.Name, Source: req.Source, Prune: req.Prune, ResolveImage: req.ResolveImage, Wait: wait,
	})
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) getStack(c *fiber.Ctx) error {
	d, err := a.Fleet.GetStack(c.UserContext(), c.Params("cluster"), c.Params("name"))
	if err != nil {
		return err
	}
	return c.JSON(d)
}

func (a *API) removeStack(c *fiber.Ctx) error {
	out, err := a.Fleet.RemoveStack(c.UserContext(), c.Params("cluster"), c.Params("name"))
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) stackRevisions(c *fiber.Ctx) error {
	pg, err := pagingOf(c, revisionsOrder)
	if err != nil {
		return err
	}
	list, err := a.Fleet.StackRevisions(c.UserContext(), c.Params("cluster"), c.Params("name"))
	if err != nil {
		return err
	}
	return c.JSON(pg.list(c, list))
}

// revisionParam reads a revision number from the path or the query.
func revisionParam(field, s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, errs.Invalid(field, "expected a revision number from 1 up")
	}
	return n, nil
}

// mayDeploy reports whether the caller may see a revision's env values and
// plain files, which may hold what only those who deploy may read (secret
// files are never answered at all).
func mayDeploy(c *fiber.Ctx) bool {
	return httpauth.Principal(c).Role.Can(auth.StackWrite)
}

func (a *API) stackRevision(c *fiber.Ctx) error {
	n, err := revisionParam("revision", c.Params("n"))
	if err != nil {
		return err
	}
	reveal := mayDeploy(c)
	r, err := a.Fleet.StackRevision(c.UserContext(), c.Params("cluster"), c.Params("name"), n, reveal)
	if err != nil {
		return err
	}
	return c.JSON(r)
}

func (a *API) stackDiff(c *fiber.Ctx) error {
	from, err := revisionParam("revision", c.Params("n"))
	if err != nil {
		return err
	}
	to, err := revisionParam("to", c.Query("to"))
	if err != nil {
		return err
	}
	diff, err := a.Fleet.StackDiff(c.UserContext(), c.Params("cluster"), c.Params("name"), from, to, mayDeploy(c))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/plain; charset=utf-8")
	return c.SendString(diff)
}

func (a *API) rollbackStack(c *fiber.Ctx) error {
	var req stackRollbackReq
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	wait, err := waitOf(c, req.Wait)
	if err != nil {
		return err
	}
	if req.Revision < 1 {
		return errs.Invalid("revision", `required: the revision to redeploy, e.g. {"revision": 3}`)
	}
	out, err := a.Fleet.RollbackStack(c.UserContext(), c.Params("cluster"), c.Params("name"), httpauth.Principal(c).Role, req.Revision, wait)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

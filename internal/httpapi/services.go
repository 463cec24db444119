package httpapi

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/httpx"
	"github.com/swarmops/swarmops/internal/swarm"
	"github.com/swarmops/swarmops/internal/swarm/form"
)

type serviceSummaryDTO = swarm.ServiceSummary

type serviceDetailDTO = swarm.ServiceDetail

type changedDTO = swarm.Changed

// servicePatch is the form plus the optional version it was read at.
type servicePatch struct {
	form.Service
	Version *uint64 `json:"version,omitempty"`
}

type scaleReq struct {
	Replicas *uint64 `json:"replicas"`
}

type imageReq struct {
	Image        string `json:"image,omitempty"`
	Tag          string `json:"tag,omitempty"`
	ResolveImage bool   `json:"resolve_image,omitempty"`
}

func (a *API) listServices(c *fiber.Ctx) error {
	f, err := listFilter(c)
	if err != nil {
		return err
	}
	list, err := a.Fleet.ListServices(c.UserContext(), c.Params("cluster"), swarm.ServiceFilter{Filter: f, Stack: c.Query("stack")})
	if err != nil {
		return err
	}
	return c.JSON(listOf(list))
}

func (a *API) createService(c *fiber.Ctx) error {
	var req form.Service
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	out, err := a.Fleet.CreateService(c.UserContext(), c.Params("cluster"), req)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(out)
}

func (a *API) getService(c *fiber.Ctx) error {
	d, err := a.Fleet.GetService(c.UserContext(), c.Params("cluster"), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(d)
}

func (a *API) updateService(c *fiber.Ctx) error {
	var req servicePatch
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	out, err := a.Fleet.UpdateService(c.UserContext(), c.Params("cluster"), c.Params("id"), req.Service, req.Version)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) scaleService(c *fiber.Ctx) error {
	var req scaleReq
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	if req.Replicas == nil {
		return errs.Invalid("replicas", "required: the number of tasks to run, e.g. {\"replicas\": 3}")
	}
	out, err := a.Fleet.ScaleService(c.UserContext(), c.Params("cluster"), c.Params("id"), *req.Replicas)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) setServiceImage(c *fiber.Ctx) error {
	var req imageReq
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	out, err := a.Fleet.SetServiceImage(c.UserContext(), c.Params("cluster"), c.Params("id"), req.Image, req.Tag, req.ResolveImage)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) rollbackService(c *fiber.Ctx) error {
	out, err := a.Fleet.RollbackService(c.UserContext(), c.Params("cluster"), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) redeployService(c *fiber.Ctx) error {
	out, err := a.Fleet.RedeployService(c.UserContext(), c.Params("cluster"), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(out)
}

func (a *API) deleteService(c *fiber.Ctx) error {
	if err := a.Fleet.RemoveService(c.UserContext(), c.Params("cluster"), c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (a *API) serviceLogs(c *fiber.Ctx) error {
	o := swarm.LogOptions{Tail: c.Query("tail"), Since: c.Query("since")}
	var err error
	if o.Timestamps, err = queryBool(c, "timestamps"); err != nil {
		return err
	}
	if o.Follow, err = queryBool(c, "follow"); err != nil {
		return err
	}
	// Open the stream before answering, so a bad request or an unknown
	// service is a proper error status rather than a broken stream. The
	// stream outlives this handler: its context is not the request's.
	rc, err := a.Fleet.ServiceLogs(context.WithoutCancel(c.UserContext()), c.Params("cluster"), c.Params("id"), o)
	if err != nil {
		return err
	}
	return httpx.StreamLines(c, a.stopping(), httpx.WantsSSE(c), rc)
}

func (a *API) serviceNginx(c *fiber.Ctx) error {
	o := swarm.NginxOptions{ServerName: c.Query("server_name")}
	if s := c.Query("listen"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return errs.Invalid("listen", "expected a port from 1 to 65535")
		}
		o.Listen = n
	}
	conf, err := a.Fleet.ServiceNginx(c.UserContext(), c.Params("cluster"), c.Params("id"), o)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/plain; charset=utf-8")
	return c.SendString(conf)
}

func (a *API) events(c *fiber.Ctx) error {
	ctx, cancel := context.WithCancel(context.WithoutCancel(c.UserContext()))
	evs, err := a.Fleet.SubscribeEvents(ctx, c.Params("cluster"))
	if err != nil {
		cancel()
		return err
	}
	return httpx.Stream(c, a.stopping(), true, func(sctx context.Context, out chan<- httpx.StreamItem) error {
		defer cancel()
		for {
			select {
			case ev, ok := <-evs:
				if !ok {
					return nil
				}
				b, _ := json.Marshal(ev)
				select {
				case out <- httpx.StreamItem{Event: ev.Type, Data: string(b)}:
				case <-sctx.Done():
					return nil
				}
			case <-sctx.Done():
				return nil
			}
		}
	})
}

func queryBool(c *fiber.Ctx, name string) (bool, error) {
	s := c.Query(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, errs.Invalid(name, "expected true or false")
	}
	return b, nil
}

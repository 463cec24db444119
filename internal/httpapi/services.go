package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/httpauth"
	"github.com/swarmops/swarmops/internal/httpx"
	"github.com/swarmops/swarmops/internal/swarm"
	"github.com/swarmops/swarmops/internal/swarm/form"
)

type serviceSummaryDTO = swarm.ServiceSummary

type serviceDetailDTO = swarm.ServiceDetail

type changedDTO = swarm.Changed

// serviceCreate is the service form plus how long to wait for the new
// service to converge (the body's shape).
type serviceCreate struct {
	form.Service
	Wait string `json:"wait,omitempty"`
}

// servicePatch is the form plus the optional version it was read at
// (the body's shape).
type servicePatch struct {
	form.Service
	Version *uint64 `json:"version,omitempty"`
	Wait    string  `json:"wait,omitempty"`
}

type scaleReq struct {
	Replicas *uint64 `json:"replicas"`
	Wait     string  `json:"wait,omitempty"`
}

type imageReq struct {
	Image        string `json:"image,omitempty"`
	Tag          string `json:"tag,omitempty"`
	ResolveImage bool   `json:"resolve_image,omitempty"`
	Wait         string `json:"wait,omitempty"`
}

// waitReq is the optional body of a change that takes nothing else
// (rollback, redeploy).
type waitReq struct {
	Wait string `json:"wait,omitempty"`
}

// bindWait reads the wait of a change whose body is optional: {"wait":"90s"}
// or ?wait=90s (the body's wins).
func bindWait(c *fiber.Ctx) (time.Duration, error) {
	var req waitReq
	if len(bytes.TrimSpace(c.Body())) > 0 {
		if err := httpx.BindJSON(c, &req); err != nil {
			return 0, err
		}
	}
	return waitOf(c, req.Wait)
}

// changed answers a service change made, after waiting for its
// convergence when the request asked to (wait > 0); the answer then
// carries the report.
func (a *API) changed(c *fiber.Ctx, status int, out swarm.Changed, wait time.Duration) error {
	out = a.Fleet.Await(c.UserContext(), c.Params("cluster"), out, wait)
	return c.Status(status).JSON(out)
}

func (a *API) listServices(c *fiber.Ctx) error {
	f, err := listFilter(c)
	if err != nil {
		return err
	}
	pg, err := pagingOf(c, servicesOrder)
	if err != nil {
		return err
	}
	list, err := a.Fleet.ListServices(c.UserContext(), c.Params("cluster"), swarm.ServiceFilter{Filter: f, Stack: c.Query("stack")})
	if err != nil {
		return err
	}
	return pg.send(c, list)
}

func (a *API) createService(c *fiber.Ctx) error {
	var req serviceCreate
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	wait, err := waitOf(c, req.Wait)
	if err != nil {
		return err
	}
	out, err := a.Fleet.CreateService(c.UserContext(), c.Params("cluster"), httpauth.Principal(c).Role, req.Service)
	if err != nil {
		return err
	}
	return a.changed(c, fiber.StatusCreated, out, wait)
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
	wait, err := waitOf(c, req.Wait)
	if err != nil {
		return err
	}
	out, err := a.Fleet.UpdateService(c.UserContext(), c.Params("cluster"), c.Params("id"), httpauth.Principal(c).Role, req.Service, req.Version)
	if err != nil {
		return err
	}
	return a.changed(c, fiber.StatusOK, out, wait)
}

func (a *API) scaleService(c *fiber.Ctx) error {
	var req scaleReq
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	if req.Replicas == nil {
		return errs.Invalid("replicas", "required: the number of tasks to run, e.g. {\"replicas\": 3}")
	}
	wait, err := waitOf(c, req.Wait)
	if err != nil {
		return err
	}
	out, err := a.Fleet.ScaleService(c.UserContext(), c.Params("cluster"), c.Params("id"), *req.Replicas)
	if err != nil {
		return err
	}
	return a.changed(c, fiber.StatusOK, out, wait)
}

func (a *API) setServiceImage(c *fiber.Ctx) error {
	var req imageReq
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	wait, err := waitOf(c, req.Wait)
	if err != nil {
		return err
	}
	out, err := a.Fleet.SetServiceImage(c.UserContext(), c.Params("cluster"), c.Params("id"), httpauth.Principal(c).Role, req.Image, req.Tag, req.ResolveImage)
	if err != nil {
		return err
	}
	return a.changed(c, fiber.StatusOK, out, wait)
}

func (a *API) rollbackService(c *fiber.Ctx) error {
	wait, err := bindWait(c)
	if err != nil {
		return err
	}
	out, err := a.Fleet.RollbackService(c.UserContext(), c.Params("cluster"), c.Params("id"))
	if err != nil {
		return err
	}
	return a.changed(c, fiber.StatusOK, out, wait)
}

func (a *API) redeployService(c *fiber.Ctx) error {
	wait, err := bindWait(c)
	if err != nil {
		return err
	}
	out, err := a.Fleet.RedeployService(c.UserContext(), c.Params("cluster"), c.Params("id"))
	if err != nil {
		return err
	}
	return a.changed(c, fiber.StatusOK, out, wait)
}

func (a *API) deleteService(c *fiber.Ctx) error {
	if err := a.Fleet.RemoveService(c.UserContext(), c.Params("cluster"), c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (a *API) serviceLogs(c *fiber.Ctx) error {
	return a.streamLogs(c, auth.ServiceRead, func(ctx context.Context, o swarm.LogOptions) (io.ReadCloser, error) {
		return a.Fleet.ServiceLogs(ctx, c.Params("cluster"), c.Params("id"), o)
	})
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
	so, err := a.openStream(c, auth.EventRead, true)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(c.UserContext()))
	evs, err := a.Fleet.SubscribeEvents(ctx, c.Params("cluster"))
	if err != nil {
		cancel()
		return err
	}
	return httpx.Stream(c, so, func(sctx context.Context, out chan<- httpx.StreamItem) error {
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

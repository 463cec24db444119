package httpapi

import (
	"context"
	"io"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/httpx"
	"github.com/swarmops/swarmops/internal/swarm"
)

// stackLogs answers every service's logs of a stack merged by time, with
// the options and forms of service logs.
func (a *API) stackLogs(c *fiber.Ctx) error {
	return a.streamLogs(c, func(ctx context.Context, o swarm.LogOptions) (io.ReadCloser, error) {
		return a.Fleet.StackLogs(ctx, c.Params("cluster"), c.Params("name"), o)
	})
}

// streamLogs answers the log stream that open opens for the request's
// options (tail, since, timestamps, follow): text/event-stream when asked
// for, else text/plain chunks.
func (a *API) streamLogs(c *fiber.Ctx, open func(ctx context.Context, o swarm.LogOptions) (io.ReadCloser, error)) error {
	o := swarm.LogOptions{Tail: c.Query("tail"), Since: c.Query("since")}
	var err error
	if o.Timestamps, err = queryBool(c, "timestamps"); err != nil {
		return err
	}
	if o.Follow, err = queryBool(c, "follow"); err != nil {
		return err
	}
	// Open the stream before answering, so a bad request or an unknown
	// object is a proper error status rather than a broken stream. The
	// stream outlives this handler: its context is not the request's.
	rc, err := open(context.WithoutCancel(c.UserContext()), o)
	if err != nil {
		return err
	}
	return httpx.StreamLines(c, a.stopping(), httpx.WantsSSE(c), rc)
}

package httpapi

import (
	"context"
	"io"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/httpx"
	"github.com/swarmops/swarmops/internal/swarm"
)

// stackLogs answers every service's logs of a stack merged by time, with
// the options and forms of service logs.
func (a *API) stackLogs(c *fiber.Ctx) error {
	return a.streamLogs(c, auth.StackRead, func(ctx context.Context, o swarm.LogOptions) (io.ReadCloser, error) {
		return a.Fleet.StackLogs(ctx, c.Params("cluster"), c.Params("name"), o)
	})
}

// streamLogs answers the log stream that open opens for the request's
// options (tail, since, timestamps, follow): text/event-stream when asked
// for, else text/plain chunks. The stream takes one of the caller's stream
// slots and lasts while the caller may read it with perm.
func (a *API) streamLogs(c *fiber.Ctx, perm auth.Permission, open func(ctx context.Context, o swarm.LogOptions) (io.ReadCloser, error)) error {
	o := swarm.LogOptions{Since: c.Query("since")}
	var err error
	if o.Tail, err = logTail(c.Query("tail"), httpx.LogTailMax(c)); err != nil {
		return err
	}
	if o.Timestamps, err = queryBool(c, "timestamps"); err != nil {
		return err
	}
	if o.Follow, err = queryBool(c, "follow"); err != nil {
		return err
	}
	so, err := a.openStream(c, perm, httpx.WantsSSE(c))
	if err != nil {
		return err
	}
	// Open the stream before answering, so a bad request or an unknown
	// object is a proper error status rather than a broken stream. The
	// stream outlives this handler: its context is not the request's.
	rc, err := open(context.WithoutCancel(c.UserContext()), o)
	if err != nil {
		return err
	}
	return httpx.StreamLines(c, so, rc)
}

// defaultLogTail is the tail of a logs request that names none.
const defaultLogTail = 1000

// logTail reads ?tail=: a number of lines up to limit, or all (which means
// limit); none means defaultLogTail (or limit, when that is lower).
func logTail(s string, limit int) (string, error) {
	switch s {
	case "":
		return strconv.Itoa(min(defaultLogTail, limit)), nil
	case "all":
		return strconv.Itoa(limit), nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > limit {
		return "", errs.Invalid("tail", "expected a number of lines from 0 to %d (SWARMOPS_LOG_TAIL_MAX), or all for the last %d", limit, limit)
	}
	return strconv.Itoa(n), nil
}

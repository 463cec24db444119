package httpapi

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/rs/zerolog"

	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/httpauth"
	"github.com/swarmops/swarmops/internal/httpx"
	"github.com/swarmops/swarmops/internal/idempotency"
	"github.com/swarmops/swarmops/internal/swarm"
)

// HeaderIdempotencyKey makes a mutating request safe to retry.
const HeaderIdempotencyKey = idempotency.Field

var errDraining = errs.Unavailable(nil, "this instance is shutting down")

// clusterParam records the route's cluster for the access log.
func clusterParam(c *fiber.Ctx) error {
	name := c.Params("cluster")
	if name == "" {
		return c.Next()
	}
	httpx.SetCluster(c, name)
	return freshness(c)
}

// freshnessLocal holds the request's *swarm.Freshness.
const freshnessLocal = "swarmops.freshness"

// freshness lets a cluster route's reads say whether they were answered
// from snapshots while the swarm has no leader; if so, the answer carries
// X-SwarmOps-Stale with the snapshot's age in seconds.
func freshness(c *fiber.Ctx) error {
	ctx, fr := swarm.WithFreshness(c.UserContext())
	c.SetUserContext(ctx)
	c.Locals(freshnessLocal, fr)
	err := c.Next()
	if since, _, stale := fr.Stale(); stale {
		c.Set(StaleHeader, strconv.Itoa(int(time.Since(since).Seconds())))
	}
	return err
}

// StaleHeader marks an answer made from a snapshot.
const StaleHeader = "X-SwarmOps-Stale"

// noReplay lists routes whose answers carry a secret (an API token's text,
// join tokens): their answers must not be stored, so they take no
// Idempotency-Key.
var noReplay = map[string]bool{
	"POST /api/v1/tokens":                               true,
	"POST /api/v1/clusters/:cluster/join-tokens/rotate": true,
}

// idempotent replays the first answer to a repeated Idempotency-Key of the
// same caller, instead of acting twice.
func (a *API) idempotent(c *fiber.Ctx) error {
	key := c.Get(HeaderIdempotencyKey)
	if key == "" || !httpauth.Mutating(c.Method()) {
		return c.Next()
	}
	if noReplay[c.Route().Method+" "+c.Route().Path] {
		return errs.Invalid(HeaderIdempotencyKey, "not accepted here: the answer carries a secret, which is never stored for replay")
	}
	fp := a.replays.Fingerprint(c.Method(), c.OriginalURL(), c.Body())
	user := httpauth.Principal(c).Username
	ctx := c.UserContext()
	prev, first, err := a.replays.Begin(ctx, user, key, fp)
	if err != nil {
		return err
	}
	if !first {
		c.Set("Idempotent-Replayed", "true")
		c.Set(fiber.HeaderContentType, prev.ContentType)
		return c.Status(prev.Status).Send(prev.Body)
	}
	defer func() {
		if r := recover(); r != nil { // free the key, then let recoverer report
			_ = a.replays.Abort(context.WithoutCancel(ctx), user, key)
			panic(r)
		}
	}()
	err = c.Next()
	if err != nil {
		if herr := c.App().ErrorHandler(c, err); herr != nil {
			return herr
		}
	}
	status := c.Response().StatusCode()
	if (status >= 500 || status == fiber.StatusLocked || status == fiber.StatusTooManyRequests) && !errs.IsMaybeApplied(err) {
		// Nothing (or not certainly anything) was done: let a retry act.
		if err := a.replays.Abort(context.WithoutCancel(ctx), user, key); err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Msg("idempotency key not released; it frees itself after 15m")
		}
		return nil
	}
	ans := idempotency.Answer{
		Status: status, ContentType: string(c.Response().Header.ContentType()),
		Body: append([]byte(nil), c.Response().Body()...),
	}
	if err := a.replays.Finish(context.WithoutCancel(ctx), user, key, fp, ans); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("idempotent answer not stored; a retry with this key answers 409 until the claim expires")
	}
	return nil
}

// openStream claims a stream slot for the request (429 past the per-user
// and per-instance limits) before its handler opens an engine stream, and
// answers how the stream runs: until the server stops, and only while the
// caller's credential still holds perm (see recheck).
func (a *API) openStream(c *fiber.Ctx, perm auth.Permission, sse bool) (httpx.StreamOptions, error) {
	if err := httpx.AcquireStream(c); err != nil {
		return httpx.StreamOptions{}, err
	}
	return httpx.StreamOptions{Stopping: a.stopping(), SSE: sse, Recheck: a.recheck(c, perm)}, nil
}

// recheck answers a check of the credential the request came with, as
// Authenticate read it: it fails once the session ended (logout, a new
// password, the user removed), the token was revoked or expired, or the
// user's role no longer holds perm. A principal with neither (none exists
// today) has nothing to check again.
func (a *API) recheck(c *fiber.Ctx, perm auth.Permission) func(ctx context.Context) error {
	p := httpauth.Principal(c)
	var credential string
	switch {
	case p.Token != "":
		credential = strings.TrimSpace(strings.TrimPrefix(c.Get(fiber.HeaderAuthorization), "Bearer "))
	case p.Session != "":
		credential = c.Cookies(httpauth.CookieName)
	default:
		return nil
	}
	return func(ctx context.Context) error {
		var now auth.Principal
		var err error
		if p.Token != "" {
			now, err = a.Auth.TokenPrincipal(ctx, credential)
		} else {
			now, err = a.Auth.SessionPrincipal(ctx, credential)
		}
		switch {
		case err != nil:
			return err
		case now.Username != p.Username:
			return errs.Unauthorized("the credential no longer belongs to %s", p.Username)
		case !now.Role.Can(perm):
			return errs.Forbidden("%s needs role %s; %s is now %s", perm, perm.MinRole(), now.Username, now.Role)
		}
		return nil
	}
}

// clustersFirst are the routes whose handlers start by listing the
// cluster registry: the session read brings it along in the same round
// trip (httpauth.ReadClustersAhead).
var clustersFirst = map[string]bool{"GET /api/v1/clusters": true}

// readClustersAhead is httpauth.ReadClustersAhead but for a cluster list
// that probes health, which reads the registry with the engines' keys
// instead.
func readClustersAhead(c *fiber.Ctx) error {
	if h := c.Query("health"); h != "" && h != "false" {
		return c.Next()
	}
	return httpauth.ReadClustersAhead(c)
}

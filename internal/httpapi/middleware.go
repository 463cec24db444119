package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/rs/zerolog"

	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/httpx"
	"github.com/swarmops/swarmops/internal/store"
)

const (
	// CookieName is the session cookie.
	CookieName = "swarmops_session"
	// HeaderCSRF carries the session's CSRF token on mutating requests.
	HeaderCSRF = "X-CSRF-Token"
	// HeaderIdempotencyKey makes a mutating request safe to retry.
	HeaderIdempotencyKey = "Idempotency-Key"

	localPrincipal = "swarmops.principal"
)

var errDraining = errs.Unavailable(nil, "this instance is shutting down")

func mutating(method string) bool {
	switch method {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return false
	}
	return true
}

// authenticate finds the caller by bearer token or session cookie; a
// session must also show its CSRF token on mutating requests.
func (a *API) authenticate(c *fiber.Ctx) error {
	var p auth.Principal
	var err error
	if h := c.Get(fiber.HeaderAuthorization); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return errs.Unauthorized("expected Authorization: Bearer <api token>")
		}
		p, err = a.Auth.TokenPrincipal(c.UserContext(), strings.TrimSpace(tok))
	} else {
		p, err = a.Auth.SessionPrincipal(c.UserContext(), c.Cookies(CookieName))
		if err == nil && mutating(c.Method()) {
			got := c.Get(HeaderCSRF)
			if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(p.CSRFToken)) != 1 {
				err := errs.Forbidden("missing or wrong %s header; send the csrf_token answered at login (also in GET /api/v1/auth/me)", HeaderCSRF)
				a.Audit.Record(c.UserContext(), p.Username, "access.denied", c.Params("cluster"), c.Method()+" "+c.Path(), err)
				return err
			}
		}
	}
	if err != nil {
		return err
	}
	c.Locals(localPrincipal, p)
	httpx.SetUser(c, p.Username)
	return c.Next()
}

func principal(c *fiber.Ctx) auth.Principal {
	p, _ := c.Locals(localPrincipal).(auth.Principal)
	return p
}

// requirePerm refuses callers whose role lacks perm; a refused mutating
// call is audited (it is an attempt to change something).
func (a *API) requirePerm(perm auth.Permission) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p := principal(c)
		if !p.Role.Can(perm) {
			err := errs.Forbidden("%s needs role %s; %s is %s", perm, perm.MinRole(), p.Username, p.Role)
			if mutating(c.Method()) {
				a.Audit.Record(c.UserContext(), p.Username, "access.denied", c.Params("cluster"), c.Method()+" "+c.Path(), err)
			}
			return err
		}
		return c.Next()
	}
}

// clusterParam records the route's cluster for the access log.
func clusterParam(c *fiber.Ctx) error {
	if name := c.Params("cluster"); name != "" {
		httpx.SetCluster(c, name)
	}
	return c.Next()
}

const (
	idempotencyTTL      = 24 * time.Hour
	idempotencyClaimTTL = 15 * time.Minute
)

// noReplay lists routes whose answers carry a secret (an API token's text,
// join tokens): their answers must not be stored, so they take no
// Idempotency-Key.
var noReplay = map[string]bool{
	"POST /api/v1/tokens":                               true,
	"POST /api/v1/clusters/:cluster/join-tokens/rotate": true,
}

// maybeApplied reports an error after which the change may have happened:
// a retry with the same key must not act again, so the answer is kept.
func maybeApplied(err error) bool { return errs.IsMaybeApplied(err) }

// idempotent replays the first answer to a repeated Idempotency-Key of the
// same caller, instead of acting twice.
func (a *API) idempotent(c *fiber.Ctx) error {
	key := c.Get(HeaderIdempotencyKey)
	if key == "" || !mutating(c.Method()) {
		return c.Next()
	}
	if len(key) > 128 || strings.ContainsFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return errs.Invalid(HeaderIdempotencyKey, "expected 1-128 visible ASCII characters, e.g. a UUID")
	}
	if noReplay[c.Route().Method+" "+c.Route().Path] {
		return errs.Invalid(HeaderIdempotencyKey, "not accepted here: the answer carries a secret, which is never stored for replay")
	}
	sum := sha256.Sum256(c.Body())
	fp := c.Method() + " " + c.OriginalURL() + " " + hex.EncodeToString(sum[:])
	skey := "idem:" + principal(c).Username + ":" + key
	ctx := c.UserContext()
	// The claim lives only as long as an operation may run, so a key whose
	// first request died with its instance frees itself.
	prev, first, err := a.Store.BeginIdempotent(ctx, skey, fp, idempotencyClaimTTL)
	if err != nil {
		return err
	}
	if !first {
		switch {
		case prev.Fingerprint != fp:
			return errs.Invalid(HeaderIdempotencyKey, "this key was used for another request; use a new key per request")
		case !prev.Done:
			return errs.Conflict("the first request with this Idempotency-Key is still running; retry later")
		}
		c.Set("Idempotent-Replayed", "true")
		c.Set(fiber.HeaderContentType, prev.ContentType)
		return c.Status(prev.Status).Send(prev.Body)
	}
	defer func() {
		if r := recover(); r != nil { // free the key, then let recoverer report
			_ = a.Store.AbortIdempotent(context.WithoutCancel(ctx), skey)
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
	if (status >= 500 || status == fiber.StatusLocked || status == fiber.StatusTooManyRequests) && !maybeApplied(err) {
		// Nothing (or not certainly anything) was done: let a retry act.
		if err := a.Store.AbortIdempotent(ctx, skey); err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Msg("idempotency key not released; it frees itself after 15m")
		}
		return nil
	}
	res := store.IdempotentResult{
		Status: status, ContentType: string(c.Response().Header.ContentType()),
		Body: append([]byte(nil), c.Response().Body()...), Fingerprint: fp, Done: true,
	}
	if err := a.Store.FinishIdempotent(ctx, skey, res, idempotencyTTL); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("idempotent answer not stored; a retry with this key answers 409 until the claim expires")
	}
	return nil
}

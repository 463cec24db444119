package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/rs/zerolog"

	"github.com/swarmops/swarmops/internal/audit"
	"github.com/swarmops/swarmops/internal/errs"
)

// Options configure the app.
type Options struct {
	Instance       string
	TrustedProxies []netip.Prefix
	Log            zerolog.Logger
	BodyLimit      int
	// RequestTimeout bounds the context of every request (5 min when 0);
	// streams run on a context of their own.
	RequestTimeout time.Duration
	// Streams bound event and log streams (AcquireStream, LogTailMax) and
	// set their heartbeat, recheck and write timings.
	Streams StreamLimits
	// ReadTimeout bounds reading a request (60s when 0).
	ReadTimeout time.Duration
}

// Locals keys.
const (
	localRequestID = "swarmops.request_id"
	localClientIP  = "swarmops.client_ip"
	localUser      = "swarmops.user"
	localCluster   = "swarmops.cluster"
	// localStreamSlots holds the instance's stream counters, localStreamSlot
	// the slot a request claimed (AcquireStream).
	localStreamSlots = "swarmops.stream_slots"
	localStreamSlot  = "swarmops.stream_slot"
)

// HeaderInstance names the instance that answered.
const HeaderInstance = "X-SwarmOps-Instance"

// New makes a fiber app with SwarmOps' error handler and base middleware.
func New(o Options) *fiber.App {
	if o.BodyLimit == 0 {
		o.BodyLimit = 8 << 20
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = 5 * time.Minute
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = 60 * time.Second
	}
	trusted := make([]string, len(o.TrustedProxies))
	for i, p := range o.TrustedProxies {
		trusted[i] = p.String()
	}
	app := fiber.New(fiber.Config{
		AppName:               "swarmops",
		DisableStartupMessage: true,
		// Handlers keep strings from params, queries and bodies past the
		// request (audit records, goroutines); fasthttp would reuse them.
		Immutable: true,
		// One path names one route: /metrics/, /METRICS and /Metrics are
		// not /metrics, so a proxy that blocks a path blocks exactly what
		// it names.
		StrictRouting: true,
		CaseSensitive: true,
		BodyLimit:     o.BodyLimit,
		ReadTimeout:   o.ReadTimeout,
		// Writing an answer (after its handler) may take this long; a
		// stream renews its deadline with each write (StreamLimits.WriteTimeout).
		WriteTimeout: 60 * time.Second,
		IdleTimeout:  120 * time.Second,
		// X-Forwarded-Proto (secure cookies) only from trusted proxies
		// (requestContext drops the other scheme headers fiber would
		// read); the client address is worked out in ClientIP.
		EnableTrustedProxyCheck: true,
		TrustedProxies:          trusted,
		ErrorHandler:            ErrorHandler(o.Log),
	})
	app.Use(recoverer(o.Log), requestContext(o, newStreamSlots(o.Streams)))
	return app
}

// untrustedSchemeHeaders name the scheme of the client's connection in
// ways no proxy of ours sets; fiber would believe them from a trusted
// proxy, which passes on whatever a client sent in them.
var untrustedSchemeHeaders = []string{fiber.HeaderXForwardedSsl, fiber.HeaderXUrlScheme, fiber.HeaderXForwardedProtocol}

// HTML answers get these unless their handler set its own: this origin's
// files only, no inline script, never in a frame.
const (
	htmlCSP            = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	htmlReferrerPolicy = "same-origin"
)

// secureAnswer sets the headers every answer carries, and those of HTML.
func secureAnswer(c *fiber.Ctx) {
	h := &c.Response().Header
	h.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	if !strings.HasPrefix(string(h.ContentType()), fiber.MIMETextHTML) {
		return
	}
	if len(h.Peek(fiber.HeaderContentSecurityPolicy)) == 0 {
		h.Set(fiber.HeaderContentSecurityPolicy, htmlCSP)
	}
	if len(h.Peek(fiber.HeaderReferrerPolicy)) == 0 {
		h.Set(fiber.HeaderReferrerPolicy, htmlReferrerPolicy)
	}
}

// requestContext gives each request an id, the instance header, a context
// carrying a logger and the audit actor, and writes the access-log line.
func requestContext(o Options, slots *streamSlots) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		for _, h := range untrustedSchemeHeaders {
			c.Request().Header.Del(h)
		}
		c.Locals(localStreamSlots, slots)
		// Early, so that an answer made after a panic carries it too.
		c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
		// A request id is taken from a trusted proxy (to follow a request
		// through it), never from a client, whose id would be in the audit.
		id := c.Get(fiber.HeaderXRequestID)
		if !validRequestID(id) || !isTrusted(c.Context().RemoteIP().String(), o.TrustedProxies) {
			id = newRequestID()
		}
		ip := clientIP(c, o.TrustedProxies)
		c.Locals(localRequestID, id)
		c.Locals(localClientIP, ip)
		c.Set(fiber.HeaderXRequestID, id)
		c.Set(HeaderInstance, o.Instance)
		logger := o.Log.With().Str("request_id", id).Logger()
		ctx, cancel := context.WithTimeout(logger.WithContext(c.UserContext()), o.RequestTimeout)
		defer cancel()
		ctx = audit.WithActor(ctx, audit.Actor{RequestID: id})
		c.SetUserContext(ctx)

		err := c.Next()
		if err != nil {
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		releaseUnstreamed(c)
		secureAnswer(c)
		status := c.Response().StatusCode()
		ev := logger.Info()
		if status >= 500 {
			ev = logger.Warn()
		}
		ev = ev.Str("method", c.Method()).Str("path", c.Path()).Int("status", status).
			Float64("duration_ms", float64(time.Since(start).Microseconds())/1000).
			Str("ip", ip).Str("user", LocalString(c, localUser)).Str("cluster", LocalString(c, localCluster))
		// Body() of a streaming answer would read the whole stream here.
		if !c.Response().IsBodyStream() {
			ev = ev.Int("bytes", len(c.Response().Body()))
		}
		ev.Msg("request")
		return nil
	}
}

// SetUser records the authenticated user for the access log and the audit
// actor of the request context.
func SetUser(c *fiber.Ctx, user string) {
	c.Locals(localUser, user)
	a := audit.ActorFrom(c.UserContext())
	a.User = user
	c.SetUserContext(audit.WithActor(c.UserContext(), a))
}

// SetCluster records the cluster a request works on, for the access log.
func SetCluster(c *fiber.Ctx, cluster string) { c.Locals(localCluster, cluster) }

// RequestID answers the request's id.
func RequestID(c *fiber.Ctx) string { return LocalString(c, localRequestID) }

// ClientIP answers the client's address as worked out from trusted proxies.
func ClientIP(c *fiber.Ctx) string { return LocalString(c, localClientIP) }

// LocalString answers a string local, "" when unset.
func LocalString(c *fiber.Ctx, key string) string {
	s, _ := c.Locals(key).(string)
	return s
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// clientIP believes X-Forwarded-For only from trusted proxies, and walks it
// from the right: the first address that is not a trusted proxy is the
// client (anything left of it may have been made up by the client).
func clientIP(c *fiber.Ctx, trusted []netip.Prefix) string {
	remote := c.Context().RemoteIP().String()
	if !isTrusted(remote, trusted) {
		return remote
	}
	xff := c.Get(fiber.HeaderXForwardedFor)
	if xff == "" {
		return remote
	}
	parts := strings.Split(xff, ",")
	for i := len(parts) - 1; i >= 0; i-- {
		p := strings.TrimSpace(parts[i])
		if _, err := netip.ParseAddr(p); err != nil {
			return remote
		}
		if !isTrusted(p, trusted) {
			return p
		}
	}
	return strings.TrimSpace(parts[0])
}

func isTrusted(ip string, trusted []netip.Prefix) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func recoverer(log zerolog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) (err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error().Str("request_id", RequestID(c)).Str("panic", fmt.Sprint(r)).
					Str("stack", string(debug.Stack())).Msg("handler panicked")
				err = errors.New("panic in handler")
			}
		}()
		return c.Next()
	}
}

// Problem is the contract's error body.
type Problem struct {
	Error ProblemBody `json:"error"`
}

// ProblemBody is the inside of Problem.
type ProblemBody struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

var kindStatus = []struct {
	kind   error
	status int
	code   string
}{
	{errs.ErrInvalid, fiber.StatusBadRequest, "bad_request"},
	{errs.ErrUnauthorized, fiber.StatusUnauthorized, "unauthorized"},
	{errs.ErrForbidden, fiber.StatusForbidden, "forbidden"},
	{errs.ErrNotFound, fiber.StatusNotFound, "not_found"},
	{errs.ErrConflict, fiber.StatusConflict, "conflict"},
	{errs.ErrLocked, fiber.StatusLocked, "locked"},
	{errs.ErrRateLimited, fiber.StatusTooManyRequests, "too_many_requests"},
	{errs.ErrUnavailable, fiber.StatusServiceUnavailable, "unavailable"},
	{errs.ErrEngine, fiber.StatusBadGateway, "engine_error"},
}

// Classify answers the status, code and public message of err. Errors of
// no kind are internal: their text is never shown.
func Classify(err error) (int, ProblemBody, time.Duration) {
	var fe *fiber.Error
	if errors.As(err, &fe) {
		code := "bad_request"
		switch {
		case fe.Code == fiber.StatusNotFound:
			code = "not_found"
		case fe.Code == fiber.StatusRequestEntityTooLarge:
			code = "bad_request"
		case fe.Code >= 500:
			code = "internal"
		}
		return fe.Code, ProblemBody{Code: code, Message: fe.Message}, 0
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fiber.StatusServiceUnavailable, ProblemBody{Code: "unavailable", Message: "the request was cancelled or timed out"}, 0
	}
	kind := errs.KindOf(err)
	for _, k := range kindStatus {
		if k.kind != kind {
			continue
		}
		body := ProblemBody{Code: k.code, Message: kind.Error()}
		var retry time.Duration
		if pe, ok := errs.Public(err); ok {
			body.Message = pe.Message
			if pe.Field != "" || len(pe.Details) > 0 || pe.MaybeApplied {
				body.Details = map[string]any{}
				for dk, dv := range pe.Details {
					body.Details[dk] = dv
				}
				if pe.Field != "" {
					body.Details["field"] = pe.Field
				}
				if pe.MaybeApplied {
					body.Details["maybe_applied"] = true
				}
			}
			retry = pe.RetryAfter
		}
		return k.status, body, retry
	}
	return fiber.StatusInternalServerError, ProblemBody{Code: "internal", Message: "internal error; the request id identifies it in the server log"}, 0
}

// ErrorHandler renders err as the contract's JSON error, logging internal
// errors once with the request id.
func ErrorHandler(log zerolog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		status, body, retry := Classify(err)
		if status >= 500 && status != fiber.StatusServiceUnavailable && status != fiber.StatusBadGateway {
			log.Error().Err(err).Str("request_id", RequestID(c)).Str("path", c.Path()).Msg("internal error")
		} else if status >= 500 {
			log.Warn().Err(err).Str("request_id", RequestID(c)).Str("path", c.Path()).Msg("backend error")
		}
		if retry > 0 {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int((retry+time.Second-1)/time.Second)))
		}
		return c.Status(status).JSON(Problem{Error: body})
	}
}

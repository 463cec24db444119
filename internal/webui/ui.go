package webui

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/rs/zerolog"

	"github.com/swarmops/swarmops/internal/audit"
	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/httpauth"
	"github.com/swarmops/swarmops/internal/httpx"
	"github.com/swarmops/swarmops/internal/registry"
	"github.com/swarmops/swarmops/internal/signon"
	"github.com/swarmops/swarmops/internal/swarm"
	"github.com/swarmops/swarmops/web"
)

// Deps are what the pages call: the same domain services as the API.
type Deps struct {
	Auth  *auth.Service
	Fleet *swarm.Fleet
	// Registries are the private registries (nil: the pages answer 503).
	Registries *registry.Service
	Audit      *audit.Log
	Log        zerolog.Logger
	// Now answers the current time (tests fix it).
	Now func() time.Time
	// SignOn are the sign-in methods on offer.
	SignOn signon.Methods
}

// UI is the web UI.
type UI struct {
	Deps
	guard  *httpauth.Guard
	tpl    *templates
	assets *assets
}

// New parses every template and static file; a broken one fails here.
func New(d Deps) (*UI, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	static, err := fs.Sub(web.Static, "static")
	if err != nil {
		return nil, err
	}
	a, err := loadAssets(static)
	if err != nil {
		return nil, err
	}
	rows := newRowCache(d.Now)
	t, err := parseTemplates(web.Templates, funcs(a, d.Now, rows))
	if err != nil {
		return nil, err
	}
	rows.pages = t.pages
	return &UI{Deps: d, guard: httpauth.New(d.Auth, d.Audit, d.SignOn.Header), tpl: t, assets: a}, nil
}

// UserRef is who is logged in, as pages show it.
type UserRef struct {
	Username string
	Role     auth.Role
}

// ClusterRef is a cluster as the top bar shows it: the name on its colour,
// with its environment word.
type ClusterRef struct {
	Name  string
	Color string // one of palette; "none" when unset
	Env   string
}

// palette is the fixed set of banner colours (swarmops.color), each a CSS
// class, so no inline style is needed under the CSP.
var palette = map[string]bool{"red": true, "amber": true, "green": true, "blue": true, "purple": true, "grey": true}

// Labels a cluster's banner is drawn from.
const (
	LabelColor = "swarmops.color"
	LabelEnv   = "swarmops.env"
)

func clusterRef(name string, labels map[string]string) ClusterRef {
	color := strings.ToLower(labels[LabelColor])
	if color == "gray" {
		color = "grey"
	}
	if !palette[color] {
		color = "none"
	}
	return ClusterRef{Name: name, Color: color, Env: labels[LabelEnv]}
}

// Flash is a one-time message shown after a redirect.
type Flash struct {
	Kind    string `json:"k"` // ok, error, warn, info
	Message string `json:"m"`
}

// Base is what every page has: who, where, the CSRF token, the flash.
type Base struct {
	Title     string
	Nav       string // the navigation entry to mark
	User      UserRef
	CSRF      string
	Cluster   *ClusterRef
	Clusters  []ClusterRef
	Flash     []Flash
	RequestID string
	// Live is the event stream the page follows ("" for none); Refresh
	// makes it reload its live regions every so many seconds instead.
	Live    string
	Refresh int
	// LiveURL is what live updates fetch ("" for the page's own URL).
	LiveURL string
	// SearchQ is what the top bar's search box holds (the search page's
	// query).
	SearchQ string
	// selected is the selected cluster's registration, read with the
	// switcher's list: pages about the registration need no second read.
	selected swarm.ClusterView
	// fresh says whether the page's reads of the cluster came from
	// snapshots (the swarm has no leader).
	fresh *swarm.Freshness
	// election is the cluster's leaderless state when the page began
	// (Electing, NoQuorum or "").
	election string
}

// Waits says why changes to the cluster wait, while the swarm has no
// leader (the page shows a snapshot, or the swarm was electing when the
// page began); "" otherwise. Rendering disables every mutating button of
// such a page and writes this beside it; a template may use it too.
func (b Base) Waits() string {
	reason := b.election
	if b.fresh != nil {
		if _, r, stale := b.fresh.Stale(); stale {
			reason = r
		}
	}
	switch reason {
	case "":
		return ""
	case swarm.NoQuorum:
		return waitsNoQuorum
	}
	return waitsElecting
}

// What a mutating button says while it waits.
const (
	waitsElecting = "Waits for the swarm to elect a leader"
	waitsNoQuorum = "Waits for the swarm to elect a leader: too few of its managers answer to elect one"
)

// StaleNote says, when the page shows a snapshot because the swarm has
// no leader, since when and why; "" otherwise.
func (b Base) StaleNote() string {
	if b.fresh == nil {
		return ""
	}
	since, reason, stale := b.fresh.Stale()
	if !stale {
		return ""
	}
	why := "is electing a new leader"
	if reason == swarm.NoQuorum {
		why = "has lost its quorum and cannot elect a leader"
	}
	return fmt.Sprintf("The swarm %s: this page shows what it looked like at %s UTC (%s ago). Changes are refused until it has a leader again.",
		why, since.UTC().Format("15:04:05"), time.Since(since).Round(time.Second))
}

// Can reports whether the user's role holds the permission named perm
// ("service.write"); templates show a mutating button only when it does.
func (b Base) Can(perm string) bool {
	p, ok := auth.PermissionByName(perm)
	if !ok {
		panic(fmt.Sprintf("template asks for unknown permission %q", perm))
	}
	return b.User.Role.Can(p)
}

// ClusterPath answers a path inside the selected cluster.
func (b Base) ClusterPath(rest string) string {
	if b.Cluster == nil {
		return "/"
	}
	return "/c/" + url.PathEscape(b.Cluster.Name) + rest
}

const flashCookie = "swarmops_flash"

// base builds a page's Base. With a cluster name it also checks that the
// cluster is registered (404 when not) and sets the banner.
func (u *UI) base(c *fiber.Ctx, title, nav, cluster string) (Base, error) {
	p := httpauth.Principal(c)
	b := Base{Title: title, Nav: nav, User: UserRef{p.Username, p.Role}, CSRF: p.CSRFToken, RequestID: httpx.RequestID(c)}
	all, err := u.Fleet.ListClusters(c.UserContext(), swarm.Filter{}, false)
	if err != nil {
		return Base{}, err
	}
	for _, cl := range all {
		ref := clusterRef(cl.Name, cl.Labels)
		b.Clusters = append(b.Clusters, ref)
		if cl.Name == cluster {
			b.Cluster, b.selected = &ref, cl
		}
	}
	if cluster != "" {
		if b.Cluster == nil {
			return Base{}, errs.NotFound("cluster %q is not registered", cluster)
		}
		b.Live = "/api/v1/clusters/" + url.PathEscape(cluster) + "/events"
		ctx, fr := swarm.WithFreshness(c.UserContext())
		c.SetUserContext(ctx)
		b.fresh = fr
		if e, ok := u.Fleet.ElectionOf(cluster); ok {
			b.election = e.Status
		}
	}
	if c.Get("X-SwarmOps-Live") == "" { // a live refresh must not eat the flash
		b.Flash = takeFlash(c)
	}
	return b, nil
}

func takeFlash(c *fiber.Ctx) []Flash {
	raw := c.Cookies(flashCookie)
	if raw == "" {
		return nil
	}
	c.Cookie(&fiber.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(0, 0), HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode})
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return nil
	}
	var f []Flash
	if json.Unmarshal(b, &f) != nil {
		return nil
	}
	return f
}

// redirect ends a POST: post/redirect/get, with a message for the next
// page.
func redirect(c *fiber.Ctx, to, kind, format string, args ...any) error {
	if format != "" {
		b, _ := json.Marshal([]Flash{{Kind: kind, Message: fmt.Sprintf(format, args...)}})
		c.Cookie(&fiber.Cookie{
			Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString(b), Path: "/", MaxAge: 60,
			HTTPOnly: true, Secure: c.Protocol() == "https", SameSite: fiber.CookieSameSiteLaxMode,
		})
	}
	return c.Redirect(to, fiber.StatusSeeOther)
}

// contentSecurityPolicy allows this origin's files only: no inline script
// or style, no frames, forms that post only here.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// secureHeaders sets the browser's protections on every page.
func secureHeaders(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentSecurityPolicy, contentSecurityPolicy)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderReferrerPolicy, "same-origin")
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Next()
}

// errorPage is an error as a page: what happened in words, the engine's
// own message, and the request id to find it in the logs.
type errorPage struct {
	Base
	Status  int
	Code    string
	Message string
	Field   string
}

// catch renders errors of the handlers after it as pages: a missing or
// ended session goes to the login form, anything else to an error page
// with the status the API would answer.
func (u *UI) catch(c *fiber.Ctx) error {
	err := c.Next()
	if err == nil {
		return nil
	}
	status, body, retry := httpx.Classify(err)
	if status == fiber.StatusUnauthorized {
		httpauth.ClearSessionCookie(c)
		return c.Redirect("/login?next="+url.QueryEscape(httpx.LocalPath(c.OriginalURL())), fiber.StatusSeeOther)
	}
	log := zerolog.Ctx(c.UserContext())
	if status >= 500 && status != fiber.StatusServiceUnavailable && status != fiber.StatusBadGateway {
		log.Error().Err(err).Str("path", c.Path()).Msg("internal error")
	} else if status >= 500 {
		log.Warn().Err(err).Str("path", c.Path()).Msg("backend error")
	}
	if retry > 0 {
		c.Set(fiber.HeaderRetryAfter, fmt.Sprint(int(retry.Seconds()+0.999)))
	}
	p := httpauth.Principal(c)
	page := errorPage{
		Base:   Base{Title: statusTitle(status), User: UserRef{p.Username, p.Role}, CSRF: p.CSRFToken, RequestID: httpx.RequestID(c)},
		Status: status, Code: body.Code, Message: body.Message,
	}
	if f, ok := body.Details["field"].(string); ok {
		page.Field = f
	}
	if rerr := u.tpl.render(c, status, "error", page); rerr != nil {
		log.Error().Err(rerr).Msg("render error page")
		return c.Status(status).SendString(body.Message)
	}
	return nil
}

func statusTitle(status int) string {
	switch status {
	case fiber.StatusBadRequest:
		return "That input cannot be used"
	case fiber.StatusForbidden:
		return "Not allowed for your role"
	case fiber.StatusNotFound:
		return "Not found"
	case fiber.StatusConflict:
		return "Conflict"
	case fiber.StatusLocked:
		return "Another operation is running"
	case fiber.StatusTooManyRequests:
		return "Too many attempts"
	case fiber.StatusBadGateway:
		return "The engine refused"
	case fiber.StatusServiceUnavailable:
		return "Something SwarmOps needs is down"
	}
	return "Something went wrong"
}

// ctx is the request's context, carrying its deadline, logger and actor.
func ctx(c *fiber.Ctx) context.Context { return c.UserContext() }

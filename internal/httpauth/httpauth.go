package httpauth

import (
	"crypto/subtle"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/rs/zerolog"

	"github.com/swarmops/swarmops/internal/audit"
	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/httpx"
	"github.com/swarmops/swarmops/internal/signon"
)

const (
	// CookieName is the session cookie.
	CookieName = "swarmops_session"
	// HeaderCSRF carries the session's CSRF token on mutating requests
	// made by scripts.
	HeaderCSRF = "X-CSRF-Token"
	// FormCSRF carries it in HTML forms.
	FormCSRF = "csrf_token"

	localPrincipal = "swarmops.principal"
)

// Mutating reports whether a request of method may change something.
func Mutating(method string) bool {
	switch method {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return false
	}
	return true
}

// Guard authenticates requests and checks their permissions.
type Guard struct {
	auth   *auth.Service
	audit  *audit.Log
	header *signon.Header // nil: no auth proxy
	// warned is set once an untrusted address sent the proxy's header.
	warned sync.Once
}

// New makes a Guard over the auth domain; refused changes go to log.
// header, when not nil, is the trusted auth proxy's sign-in.
func New(a *auth.Service, log *audit.Log, header *signon.Header) *Guard {
	return &Guard{auth: a, audit: log, header: header}
}

// Authenticate finds the caller by bearer token, the trusted auth proxy's
// header or the session cookie, and stores the principal in the request.
// A session must also show its CSRF token on mutating requests, in the
// header or the form field; a request the proxy vouched for carries no
// token, so a mutating one must come from this origin (Sec-Fetch-Site,
// Origin).
func (g *Guard) Authenticate(c *fiber.Ctx) error {
	var p auth.Principal
	var err error
	authz := c.Get(fiber.HeaderAuthorization)
	// An API token of ours wins; another Authorization (an auth proxy
	// passing its own bearer on) does not hide the proxy's header.
	ours := strings.HasPrefix(authz, "Bearer "+auth.TokenPrefix)
	if user := g.proxyUser(c); user != "" && !ours {
		p, err = g.header.Principal(c.UserContext(), user, c.Get(g.header.GroupsHeader))
		if err == nil && Mutating(c.Method()) && crossSite(c) {
			err := errs.Forbidden("a change signed in by the auth proxy must come from a page of this site; this request came from another site (Origin %q, Sec-Fetch-Site %q)", c.Get(fiber.HeaderOrigin), c.Get("Sec-Fetch-Site"))
			g.denied(c, p, err)
			return err
		}
	} else if h := authz; h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return errs.Unauthorized("expected Authorization: Bearer <api token>")
		}
		p, err = g.auth.TokenPrincipal(c.UserContext(), strings.TrimSpace(tok))
	} else {
		p, err = g.auth.SessionPrincipal(c.UserContext(), c.Cookies(CookieName))
		if err == nil && Mutating(c.Method()) && !validCSRF(c, p.CSRFToken) {
			err := errs.Forbidden("missing or wrong CSRF token: send the session's csrf_token (answered at login and by GET /api/v1/auth/me) in the %s header or the %s form field", HeaderCSRF, FormCSRF)
			g.denied(c, p, err)
			return err
		}
	}
	if err != nil {
		return err
	}
	c.Locals(localPrincipal, p)
	httpx.SetUser(c, p.Username)
	return c.Next()
}

// ReadClustersAhead asks the session read of Authenticate, which comes
// next, to bring the cluster registry along in the same round trip
// (auth.WithClustersAhead): for requests that change nothing and start by
// listing the clusters, as every page of the UI does. Other methods pass
// through as they are.
func ReadClustersAhead(c *fiber.Ctx) error {
	if m := c.Method(); m == fiber.MethodGet || m == fiber.MethodHead {
		c.SetUserContext(auth.WithClustersAhead(c.UserContext()))
	}
	return c.Next()
}

// proxyUser answers the user the auth proxy's header names, "" when there
// is none or the request did not come from a trusted proxy: then the
// header is ignored (the caller is anonymous unless it shows a session or
// a token), and the first such request is logged.
func (g *Guard) proxyUser(c *fiber.Ctx) string {
	if g.header == nil {
		return ""
	}
	user := c.Get(g.header.UserHeader)
	if user == "" {
		return ""
	}
	if !c.IsProxyTrusted() {
		g.warned.Do(func() {
			zerolog.Ctx(c.UserContext()).Warn().Str("header", g.header.UserHeader).Str("remote", c.Context().RemoteIP().String()).
				Msg("ignoring the auth proxy's user header from an address outside SWARMOPS_TRUSTED_PROXIES (logged once)")
		})
		return ""
	}
	return user
}

// crossSite reports whether a browser says the request came from a page of
// another site: Sec-Fetch-Site (every current browser), else an Origin
// that is not this host. Scripts send neither and are not refused.
func crossSite(c *fiber.Ctx) bool {
	switch c.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return false
	case "":
	default: // cross-site, same-site (a sibling subdomain is another origin)
		return true
	}
	origin := c.Get(fiber.HeaderOrigin)
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil {
		return true
	}
	host := c.Hostname()
	if _, _, err := net.SplitHostPort(host); err != nil && !strings.HasPrefix(host, "[") {
		// A proxy that passes $host drops the port: compare names only.
		return u.Hostname() != host
	}
	return u.Host != host
}

func validCSRF(c *fiber.Ctx, want string) bool {
	got := c.Get(HeaderCSRF)
	if got == "" {
		got = formValue(c, FormCSRF)
	}
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// formValue reads a field of a url-encoded or multipart body only: a
// CSRF token in the query string could leak through logs and referrers.
func formValue(c *fiber.Ctx, name string) string {
	ct := string(c.Request().Header.ContentType())
	if !strings.HasPrefix(ct, fiber.MIMEApplicationForm) && !strings.HasPrefix(ct, fiber.MIMEMultipartForm) {
		return ""
	}
	if strings.HasPrefix(ct, fiber.MIMEMultipartForm) {
		f, err := c.MultipartForm()
		if err != nil || len(f.Value[name]) == 0 {
			return ""
		}
		return f.Value[name][0]
	}
	return string(c.Request().PostArgs().Peek(name))
}

// Principal answers the caller that Authenticate found (zero when none).
func Principal(c *fiber.Ctx) auth.Principal {
	p, _ := c.Locals(localPrincipal).(auth.Principal)
	return p
}

// RequirePerm refuses callers whose role lacks perm; a refused mutating
// call is audited (it is an attempt to change something).
func (g *Guard) RequirePerm(perm auth.Permission) fiber.Handler {
	return func(c *fiber.Ctx) error {
		p := Principal(c)
		if !p.Role.Can(perm) {
			err := errs.Forbidden("%s needs role %s; %s is %s", perm, perm.MinRole(), p.Username, p.Role)
			if Mutating(c.Method()) {
				g.denied(c, p, err)
			}
			return err
		}
		return c.Next()
	}
}

func (g *Guard) denied(c *fiber.Ctx, p auth.Principal, err error) {
	g.audit.Record(c.UserContext(), p.Username, "access.denied", c.Params("cluster"), c.Method()+" "+c.Path(), err)
}

// SetSessionCookie hands the browser its session. It is a browser-session
// cookie: the server ends the session after the idle lifetime, which a
// fixed Expires here could not follow.
func SetSessionCookie(c *fiber.Ctx, value string) {
	c.Cookie(&fiber.Cookie{
		Name: CookieName, Value: value, Path: "/", SessionOnly: true,
		HTTPOnly: true, Secure: c.Protocol() == "https", SameSite: fiber.CookieSameSiteLaxMode,
	})
}

// ClearSessionCookie makes the browser forget its session.
func ClearSessionCookie(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{
		Name: CookieName, Value: "", Path: "/", Expires: time.Unix(0, 0), MaxAge: -1,
		HTTPOnly: true, Secure: c.Protocol() == "https", SameSite: fiber.CookieSameSiteLaxMode,
	})
}

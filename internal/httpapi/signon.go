package httpapi

import (
	"errors"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/httpauth"
	"github.com/swarmops/swarmops/internal/httpx"
	"github.com/swarmops/swarmops/internal/signon"
)

// oidcCookie ties a started OIDC sign-in to the browser that started it,
// so a callback link handed to another browser signs nobody in there.
const oidcCookie = "swarmops_oidc"

const oidcPath = "/api/v1/auth/oidc/"

type providersDTO struct {
	Password bool          `json:"password"`
	OIDC     *oidcProvider `json:"oidc,omitempty"`
	Header   bool          `json:"header"`
}

type oidcProvider struct {
	Name     string `json:"name"`
	LoginURL string `json:"login_url"`
}

func (a *API) providers(c *fiber.Ctx) error {
	d := providersDTO{Password: a.SignOn.Password, Header: a.SignOn.Header != nil}
	if o := a.SignOn.OIDC; o != nil {
		d.OIDC = &oidcProvider{Name: o.Name(), LoginURL: oidcPath + "login"}
	}
	return c.JSON(d)
}

// oidcLogin sends the browser to the provider.
func (a *API) oidcLogin(c *fiber.Ctx) error {
	o := a.SignOn.OIDC
	if o == nil {
		return errs.NotFound("OpenID Connect sign-in is not configured (SWARMOPS_OIDC_ISSUER)")
	}
	st, err := o.Begin(c.UserContext(), httpx.LocalPath(c.Query("next", "/")))
	if err != nil {
		return ssoFailed(c, err)
	}
	c.Cookie(&fiber.Cookie{Name: oidcCookie, Value: st.Binding, Path: oidcPath, MaxAge: int((10 * time.Minute).Seconds()),
		HTTPOnly: true, Secure: c.Protocol() == "https", SameSite: fiber.CookieSameSiteLaxMode})
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Redirect(st.URL, fiber.StatusFound)
}

// oidcCallback completes the sign-in, on whichever instance the provider
// sent the browser to.
func (a *API) oidcCallback(c *fiber.Ctx) error {
	o := a.SignOn.OIDC
	if o == nil {
		return errs.NotFound("OpenID Connect sign-in is not configured (SWARMOPS_OIDC_ISSUER)")
	}
	c.Cookie(&fiber.Cookie{Name: oidcCookie, Value: "", Path: oidcPath, MaxAge: -1,
		HTTPOnly: true, Secure: c.Protocol() == "https", SameSite: fiber.CookieSameSiteLaxMode})
	cookie, p, next, err := o.Finish(c.UserContext(), signon.Callback{
		State: c.Query("state"), Code: c.Query("code"), Error: c.Query("error"),
		ErrorDescription: c.Query("error_description"), Binding: c.Cookies(oidcCookie),
	})
	if err != nil {
		return ssoFailed(c, err)
	}
	httpx.SetUser(c, p.Username)
	httpauth.SetSessionCookie(c, cookie)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Redirect(httpx.LocalPath(next), fiber.StatusSeeOther)
}

// ssoFailed answers a failed sign-in: a browser goes back to the login
// page, which says what happened in words of its own (never the
// provider's, which a crafted link could fill); other clients get the
// error as JSON.
func ssoFailed(c *fiber.Ctx, err error) error {
	if c.Accepts(fiber.MIMETextHTML, fiber.MIMEApplicationJSON) != fiber.MIMETextHTML {
		return err
	}
	code := "failed"
	switch {
	case errors.Is(err, errs.ErrForbidden):
		code = "refused"
	case errors.Is(err, errs.ErrConflict):
		code = "name_taken"
	case errors.Is(err, errs.ErrUnavailable):
		code = "unavailable"
	case errors.Is(err, errs.ErrUnauthorized), errors.Is(err, errs.ErrInvalid):
		code = "failed"
	default:
		return err
	}
	return c.Redirect("/login?sso_error="+url.QueryEscape(code), fiber.StatusSeeOther)
}

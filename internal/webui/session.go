package webui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/httpauth"
	"github.com/swarmops/swarmops/internal/httpx"
)

// loginCookie carries the login form's own CSRF token: before a session
// exists, it keeps another site from logging a browser into an account of
// its choosing.
const loginCookie = "swarmops_login"

type loginPage struct {
	Base
	Next     string
	Username string
	Error    string
	Token    string
	// Password shows the password form; SSOName the OIDC button.
	Password bool
	SSOName  string
	// SignedOut and Refresh: the page after an OIDC session's logout,
	// which sends the browser on to the provider's logout.
	SignedOut bool
	Refresh   string
}

// ssoErrors are the login page's words for a failed single sign-on (the
// callback names one by code; a link can never put its own text here).
var ssoErrors = map[string]string{
	"refused":     "Single sign-on did not let you in: you are on the deny list, not on the allow list, or none of your groups grants a role in SwarmOps. Ask a SwarmOps admin.",
	"name_taken":  "Your sign-on name belongs to another SwarmOps user (a local one, or another identity). Ask a SwarmOps admin.",
	"unavailable": "The identity provider cannot be reached just now. Try again in a moment.",
	"failed":      "Single sign-on did not complete: the sign-in was used already, took too long, or the provider's answer was refused. Start again.",
}

func (u *UI) loginForm(c *fiber.Ctx) error {
	next := httpx.LocalPath(c.Query("next"))
	// Already logged in: go on.
	if _, err := u.Auth.SessionPrincipal(ctx(c), c.Cookies(httpauth.CookieName)); err == nil {
		return c.Redirect(next, fiber.StatusSeeOther)
	}
	p := loginPage{Next: next}
	if code := c.Query("sso_error"); code != "" {
		p.Error = ssoErrors[code]
		if p.Error == "" {
			p.Error = ssoErrors["failed"]
		}
	}
	return u.renderLogin(c, fiber.StatusOK, p)
}

func (u *UI) renderLogin(c *fiber.Ctx, status int, p loginPage) error {
	p.Password = u.SignOn.Password
	if u.SignOn.OIDC != nil {
		p.SSOName = u.SignOn.OIDC.Name()
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	p.Token = hex.EncodeToString(b)
	c.Cookie(&fiber.Cookie{
		Name: loginCookie, Value: p.Token, Path: "/login", MaxAge: 3600,
		HTTPOnly: true, Secure: c.Protocol() == "https", SameSite: fiber.CookieSameSiteStrictMode,
	})
	p.Title = "Log in"
	p.RequestID = httpx.RequestID(c)
	p.Flash = takeFlash(c)
	return u.tpl.render(c, status, "login", p)
}

func (u *UI) login(c *fiber.Ctx) error {
	p := loginPage{Next: httpx.LocalPath(c.FormValue("next")), Username: c.FormValue("username")}
	want := c.Cookies(loginCookie)
	got := c.FormValue("login_token")
	if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
		p.Error = "The login form expired or came from another site; please log in again."
		return u.renderLogin(c, fiber.StatusForbidden, p)
	}
	if p.Username == "" || c.FormValue("password") == "" {
		p.Error = "Give your username and password."
		return u.renderLogin(c, fiber.StatusBadRequest, p)
	}
	cookie, principal, err := u.Auth.Login(ctx(c), p.Username, c.FormValue("password"), httpx.ClientIP(c))
	switch {
	case errors.Is(err, errs.ErrUnauthorized), errors.Is(err, errs.ErrRateLimited), errors.Is(err, errs.ErrForbidden):
		status, body, _ := httpx.Classify(err)
		p.Error = body.Message
		return u.renderLogin(c, status, p)
	case err != nil:
		return err
	}
	httpx.SetUser(c, principal.Username)
	httpauth.SetSessionCookie(c, cookie)
	c.Cookie(&fiber.Cookie{Name: loginCookie, Value: "", Path: "/login", MaxAge: -1})
	return c.Redirect(p.Next, fiber.StatusSeeOther)
}

type logoutPage struct{ Base }

func (u *UI) logoutForm(c *fiber.Ctx) error {
	b, err := u.base(c, "Log out", "", "")
	if err != nil {
		return err
	}
	return u.tpl.render(c, fiber.StatusOK, "logout", logoutPage{b})
}

func (u *UI) logout(c *fiber.Ctx) error {
	p := httpauth.Principal(c)
	if err := u.Auth.Logout(ctx(c), p); err != nil {
		return err
	}
	httpauth.ClearSessionCookie(c)
	if o := u.SignOn.OIDC; o != nil && p.Method == auth.MethodOIDC {
		// On to the provider's logout. A redirect would break the logout
		// form's CSP (form-action 'self'); a page that refreshes does not.
		if to := o.LogoutURL(ctx(c)); to != "" {
			return u.tpl.render(c, fiber.StatusOK, "login", loginPage{Base: Base{Title: "Logged out"}, SignedOut: true, Refresh: to, SSOName: o.Name()})
		}
	}
	return redirect(c, "/login", "ok", "You are logged out, on every instance.")
}

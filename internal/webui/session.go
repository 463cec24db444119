package webui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"

	"github.com/gofiber/fiber/v2"

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
}

func (u *UI) loginForm(c *fiber.Ctx) error {
	next := localPath(c.Query("next"))
	// Already logged in: go on.
	if _, err := u.Auth.SessionPrincipal(ctx(c), c.Cookies(httpauth.CookieName)); err == nil {
		return c.Redirect(next, fiber.StatusSeeOther)
	}
	return u.renderLogin(c, fiber.StatusOK, loginPage{Next: next})
}

func (u *UI) renderLogin(c *fiber.Ctx, status int, p loginPage) error {
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
	p := loginPage{Next: localPath(c.FormValue("next")), Username: c.FormValue("username")}
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
	case errors.Is(err, errs.ErrUnauthorized), errors.Is(err, errs.ErrRateLimited):
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
	if err := u.Auth.Logout(ctx(c), httpauth.Principal(c)); err != nil {
		return err
	}
	httpauth.ClearSessionCookie(c)
	return redirect(c, "/login", "ok", "You are logged out, on every instance.")
}

package webui

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/audit"
	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/httpauth"
)

type auditPage struct {
	Base
	Q      audit.Query // the filters as typed
	Rows   []audit.Entry
	Errors map[string]string
}

// auditList searches the audit log, newest first; a filter the domain
// refuses is shown beside its input, with no rows.
func (u *UI) auditList(c *fiber.Ctx) error {
	b, err := u.base(c, "Audit log", "audit", "")
	if err != nil {
		return err
	}
	q := audit.Query{
		User: strings.TrimSpace(c.Query("user")), Cluster: strings.TrimSpace(c.Query("cluster")),
		Action: strings.TrimSpace(c.Query("action")), Since: strings.TrimSpace(c.Query("since")),
		Limit: strings.TrimSpace(c.Query("limit")),
	}
	p := auditPage{Base: b, Q: q}
	search := q
	if p.Rows, err = u.Audit.Search(ctx(c), search); err != nil {
		problems, status, ok := formProblems(err, "")
		if !ok {
			return err
		}
		p.Errors = problems
		return u.tpl.render(c, status, "audit_list", p)
	}
	return u.tpl.render(c, fiber.StatusOK, "audit_list", p)
}

// newUserForm is the create-user form as typed (never the password).
type newUserForm struct {
	Username, Role string
}

type userListPage struct {
	Base
	Users []auth.User
	// Tokens are every user's API tokens, by user then name.
	Tokens []userToken
	Roles  []auth.Role
	New    newUserForm
	Errors map[string]string // the create form's
	// RowUser is the user whose change was refused, RowError why.
	RowUser, RowError string
}

// userToken is a user's API token on the users page.
type userToken struct {
	auth.Token
	Expired bool
}

func (u *UI) userList(c *fiber.Ctx) error {
	return u.renderUsers(c, fiber.StatusOK, userListPage{})
}

func (u *UI) renderUsers(c *fiber.Ctx, status int, p userListPage) error {
	b, err := u.base(c, "Users", "users", "")
	if err != nil {
		return err
	}
	if p.Users, err = u.Auth.ListUsers(ctx(c)); err != nil {
		return err
	}
	// One store read per user: the domain lists tokens by user only.
	now := u.Now()
	for _, usr := range p.Users {
		ts, err := u.Auth.ListTokens(ctx(c), usr.Username)
		if err != nil {
			return err
		}
		for _, t := range ts {
			p.Tokens = append(p.Tokens, userToken{Token: t, Expired: !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)})
		}
	}
	p.Base, p.Roles = b, []auth.Role{auth.Viewer, auth.Operator, auth.Admin}
	if p.New.Role == "" {
		p.New.Role = string(auth.DefaultRole)
	}
	if p.RowError != "" {
		p.Flash = append(p.Flash, Flash{Kind: "error", Message: "Nothing was changed for " + p.RowUser + ": " + p.RowError})
	}
	return u.tpl.render(c, status, "users_list", p)
}

func (u *UI) userCreate(c *fiber.Ctx) error {
	f := newUserForm{Username: strings.TrimSpace(c.FormValue("username")), Role: c.FormValue("role")}
	usr, err := u.Auth.CreateUser(ctx(c), f.Username, c.FormValue("password"), f.Role)
	if err != nil {
		problems, status, ok := formProblems(err, "")
		if !ok {
			return err
		}
		return u.renderUsers(c, status, userListPage{New: f, Errors: problems})
	}
	return redirect(c, "/users", "ok", "Created user %s with role %s.", usr.Username, usr.Role)
}

// userUpdate changes a role (the form sends role) or sets a password (the
// form sends password).
func (u *UI) userUpdate(c *fiber.Ctx) error {
	name := c.Params("username")
	var ch auth.UserChange
	if role := c.FormValue("role"); role != "" {
		ch.Role = &role
	} else {
		pw := c.FormValue("password")
		ch.Password = &pw
	}
	usr, err := u.Auth.UpdateUser(ctx(c), name, ch)
	if err != nil {
		return u.userRowFailed(c, name, err)
	}
	if ch.Password != nil {
		return redirect(c, "/users", "ok", "Set a new password for %s; their sessions ended.", usr.Username)
	}
	return redirect(c, "/users", "ok", "%s is now %s.", usr.Username, usr.Role)
}

func (u *UI) userDelete(c *fiber.Ctx) error {
	name := c.Params("username")
	if err := u.Auth.DeleteUser(ctx(c), name); err != nil {
		return u.userRowFailed(c, name, err)
	}
	return redirect(c, "/users", "ok", "Deleted user %s; their sessions and API tokens ended.", name)
}

// userTokenDelete revokes another user's API token.
func (u *UI) userTokenDelete(c *fiber.Ctx) error {
	name, token := c.Params("username"), c.Params("name")
	if err := u.Auth.DeleteToken(ctx(c), name, token); err != nil {
		return err
	}
	return redirect(c, "/users#user-tokens", "ok", "Revoked token %s of %s: it no longer authenticates.", token, name)
}

// userRowFailed shows the users page with a refused change (a bad
// password, the last admin) beside the user's row.
func (u *UI) userRowFailed(c *fiber.Ctx, name string, err error) error {
	problems, status, ok := formProblems(err, "")
	if !ok {
		return err
	}
	var msg string
	for _, m := range problems {
		msg = m
	}
	return u.renderUsers(c, status, userListPage{RowUser: name, RowError: msg})
}

// tokenForm is the create-token form as typed.
type tokenForm struct {
	Name, ExpiresIn, Custom string
}

// createdToken is a token made by this request: its text is shown once,
// on the answer to the POST itself (never through a redirect or cookie).
type createdToken struct {
	auth.Token
	Text string
}

type tokenListPage struct {
	Base
	Tokens  []auth.Token
	New     tokenForm
	Errors  map[string]string
	Created *createdToken
}

// tokenExpiries are the choices of the expiry select, as Go durations.
var tokenExpiries = []struct{ Value, Label string }{
	{"", "never"}, {"720h", "30 days"}, {"2160h", "90 days"}, {"8760h", "1 year"},
}

// Expiries are the choices of the expiry select.
func (tokenListPage) Expiries() []struct{ Value, Label string } { return tokenExpiries }

func (u *UI) tokenList(c *fiber.Ctx) error {
	return u.renderTokens(c, fiber.StatusOK, tokenListPage{New: tokenForm{ExpiresIn: "2160h"}})
}

func (u *UI) renderTokens(c *fiber.Ctx, status int, p tokenListPage) error {
	b, err := u.base(c, "API tokens", "tokens", "")
	if err != nil {
		return err
	}
	if p.Tokens, err = u.Auth.ListTokens(ctx(c), httpauth.Principal(c).Username); err != nil {
		return err
	}
	p.Base = b
	return u.tpl.render(c, status, "tokens_list", p)
}

// tokenCreate makes a token and answers the page with its text, once;
// the page is not stored by the browser (secureHeaders: no-store).
func (u *UI) tokenCreate(c *fiber.Ctx) error {
	f := tokenForm{Name: strings.TrimSpace(c.FormValue("name")), ExpiresIn: c.FormValue("expires_in"), Custom: strings.TrimSpace(c.FormValue("expires_custom"))}
	expires := f.ExpiresIn
	if f.Custom != "" {
		expires = f.Custom
	}
	text, tok, err := u.Auth.CreateToken(ctx(c), httpauth.Principal(c).Username, f.Name, expires)
	if err != nil {
		problems, status, ok := formProblems(err, "")
		if !ok {
			return err
		}
		if msg, bad := problems["expires_in"]; bad && f.Custom != "" {
			problems = map[string]string{"expires_custom": msg}
		}
		return u.renderTokens(c, status, tokenListPage{New: f, Errors: problems})
	}
	return u.renderTokens(c, fiber.StatusOK, tokenListPage{New: tokenForm{ExpiresIn: "2160h"}, Created: &createdToken{Token: tok, Text: text}})
}

func (u *UI) tokenDelete(c *fiber.Ctx) error {
	name := c.Params("name")
	if err := u.Auth.DeleteToken(ctx(c), httpauth.Principal(c).Username, name); err != nil {
		return err
	}
	return redirect(c, "/tokens", "ok", "Revoked token %s: it no longer authenticates.", name)
}

package httpapi

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/httpauth"
	"github.com/swarmops/swarmops/internal/httpx"
)

type loginReq struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type userRefDTO struct {
	Username string `json:"username"`
	Role     string `json:"role"`
}

type loginDTO struct {
	User      userRefDTO `json:"user"`
	CSRFToken string     `json:"csrf_token"`
}

type meDTO struct {
	User      userRefDTO `json:"user"`
	CSRFToken string     `json:"csrf_token,omitempty"`
	Via       string     `json:"via"` // session, token or header (an auth proxy)
}

type userDTO struct {
	Username  string    `json:"username"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Tokens is the number of unexpired API tokens (in the user list).
	Tokens *int `json:"tokens,omitempty"`
	// Source is where the user signs in: local, oidc or header.
	Source string `json:"source"`
	// Disabled: single sign-on refused the user at their last sign-in.
	Disabled bool `json:"disabled,omitempty"`
}

func toUserDTO(u auth.User) userDTO {
	return userDTO{Username: u.Username, Role: string(u.Role), CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, Source: u.Source, Disabled: u.Disabled}
}

type userReq struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

type userPatch struct {
	Role     *string `json:"role"`
	Password *string `json:"password"`
	// RevokeTokens ends every API token and session of the user.
	RevokeTokens bool `json:"revoke_tokens"`
}

type tokenReq struct {
	Name      string `json:"name"`
	ExpiresIn string `json:"expires_in"`
}

type tokenDTO struct {
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

type newTokenDTO struct {
	tokenDTO
	Token string `json:"token"`
}

func toTokenDTO(t auth.Token) tokenDTO {
	d := tokenDTO{Name: t.Name, CreatedAt: t.CreatedAt}
	if !t.ExpiresAt.IsZero() {
		e := t.ExpiresAt
		d.ExpiresAt = &e
	}
	if !t.LastUsedAt.IsZero() {
		u := t.LastUsedAt
		d.LastUsedAt = &u
	}
	return d
}

func (a *API) login(c *fiber.Ctx) error {
	var req loginReq
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	if req.Username == "" || req.Password == "" {
		return errs.Invalid("username", "username and password are required")
	}
	cookie, p, err := a.Auth.Login(c.UserContext(), req.Username, req.Password, httpx.ClientIP(c))
	if err != nil {
		return err
	}
	httpx.SetUser(c, p.Username)
	httpauth.SetSessionCookie(c, cookie)
	return c.JSON(loginDTO{User: userRefDTO{p.Username, string(p.Role)}, CSRFToken: p.CSRFToken})
}

func (a *API) logout(c *fiber.Ctx) error {
	if err := a.Auth.Logout(c.UserContext(), httpauth.Principal(c)); err != nil {
		return err
	}
	httpauth.ClearSessionCookie(c)
	return c.SendStatus(fiber.StatusNoContent)
}

func (a *API) me(c *fiber.Ctx) error {
	p := httpauth.Principal(c)
	via := "session"
	switch {
	case p.Method == auth.MethodHeader:
		via = "header"
	case p.Session == "":
		via = "token"
	}
	return c.JSON(meDTO{User: userRefDTO{p.Username, string(p.Role)}, CSRFToken: p.CSRFToken, Via: via})
}

func (a *API) listTokens(c *fiber.Ctx) error {
	pg, err := pagingOf(c, tokensOrder)
	if err != nil {
		return err
	}
	ts, err := a.Auth.ListTokens(c.UserContext(), httpauth.Principal(c).Username)
	if err != nil {
		return err
	}
	return c.JSON(tokenList(c, pg, ts))
}

// tokenList is the answer listing the page pg asks of tokens ts.
func tokenList(c *fiber.Ctx, pg paging[tokenDTO], ts []auth.Token) list[tokenDTO] {
	out := make([]tokenDTO, len(ts))
	for i, t := range ts {
		out[i] = toTokenDTO(t)
	}
	return pg.list(c, out)
}

func (a *API) createToken(c *fiber.Ctx) error {
	var req tokenReq
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	text, t, err := a.Auth.CreateToken(c.UserContext(), httpauth.Principal(c).Username, req.Name, req.ExpiresIn)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(newTokenDTO{tokenDTO: toTokenDTO(t), Token: text})
}

func (a *API) deleteToken(c *fiber.Ctx) error {
	if err := a.Auth.DeleteToken(c.UserContext(), httpauth.Principal(c).Username, c.Params("name")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (a *API) listUserTokens(c *fiber.Ctx) error {
	pg, err := pagingOf(c, tokensOrder)
	if err != nil {
		return err
	}
	ts, err := a.Auth.UserTokens(c.UserContext(), c.Params("username"))
	if err != nil {
		return err
	}
	return c.JSON(tokenList(c, pg, ts))
}

func (a *API) deleteUserToken(c *fiber.Ctx) error {
	if err := a.Auth.DeleteToken(c.UserContext(), c.Params("username"), c.Params("name")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (a *API) listUsers(c *fiber.Ctx) error {
	pg, err := pagingOf(c, usersOrder)
	if err != nil {
		return err
	}
	us, err := a.Auth.ListUsers(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]userDTO, len(us))
	for i, u := range us {
		out[i] = toUserDTO(u)
		out[i].Tokens = &us[i].Tokens
	}
	return c.JSON(pg.list(c, out))
}

func (a *API) createUser(c *fiber.Ctx) error {
	var req userReq
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	u, err := a.Auth.CreateUser(c.UserContext(), req.Username, req.Password, req.Role)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(toUserDTO(u))
}

func (a *API) updateUser(c *fiber.Ctx) error {
	var req userPatch
	if err := httpx.BindJSON(c, &req); err != nil {
		return err
	}
	u, err := a.Auth.UpdateUser(c.UserContext(), c.Params("username"), auth.UserChange{Role: req.Role, Password: req.Password, RevokeTokens: req.RevokeTokens})
	if err != nil {
		return err
	}
	return c.JSON(toUserDTO(u))
}

func (a *API) deleteUser(c *fiber.Ctx) error {
	if err := a.Auth.DeleteUser(c.UserContext(), c.Params("username")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func publicText(err error) string {
	_, body, _ := httpx.Classify(err)
	return body.Message
}

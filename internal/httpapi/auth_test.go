package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/swarmops/swarmops/internal/apitest"
)

func TestLogin_BadCredentialsAndThrottle(t *testing.T) {
	in := apitest.Start(t, apitest.Config(t))
	anon := in.Anonymous(t)
	for i := 0; i < 5; i++ {
		status, text := anon.Do(http.MethodPost, "/api/v1/auth/login", map[string]string{"username": "admin", "password": "wrong-password"}, nil)
		if status != 401 {
			t.Fatalf("attempt %d: status %d, want 401: %s", i+1, status, text)
		}
		if e := apitest.ParseError(t, text); e.Error.Code != "unauthorized" {
			t.Fatalf("code %q, want unauthorized", e.Error.Code)
		}
	}
	resp, text, err := anon.Raw(http.MethodPost, "/api/v1/auth/login", strings.NewReader(`{"username":"admin","password":"`+apitest.AdminPassword+`"}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after 5 failures: status %d Retry-After %q, want 429 with Retry-After; body %s", resp.StatusCode, resp.Header.Get("Retry-After"), text)
	}
}

func TestLogout_EndsSession(t *testing.T) {
	in := apitest.Start(t, apitest.Config(t))
	s1 := in.Admin(t)
	s2 := in.Admin(t)
	var me struct {
		User struct{ Username, Role string }
		Via  string
	}
	s1.MustDo(http.MethodGet, "/api/v1/auth/me", nil, &me, 200)
	if me.User.Username != "admin" || me.User.Role != "admin" || me.Via != "session" {
		t.Fatalf("me = %+v", me)
	}
	s1.MustDo(http.MethodPost, "/api/v1/auth/logout", nil, nil, 204)
	if status, text := s1.Do(http.MethodGet, "/api/v1/auth/me", nil, nil); status != 401 {
		t.Fatalf("after logout: status %d, want 401: %s", status, text)
	}
	// Only that session ended.
	s2.MustDo(http.MethodGet, "/api/v1/auth/me", nil, nil, 200)
}

func TestUsers_Lifecycle(t *testing.T) {
	in := apitest.Start(t, apitest.Config(t))
	admin := in.Admin(t)
	op := in.UserWithRole(t, admin, "ul-op", "operator")
	tok := op.WithToken("ci")

	// A password change ends the user's sessions; tokens stay.
	admin.MustDo(http.MethodPatch, "/api/v1/users/ul-op", map[string]string{"password": "a-new-password"}, nil, 200)
	if status, _ := op.Do(http.MethodGet, "/api/v1/auth/me", nil, nil); status != 401 {
		t.Fatalf("session after password change: status %d, want 401", status)
	}
	tok.MustDo(http.MethodGet, "/api/v1/auth/me", nil, nil, 200)
	in.Login(t, "ul-op", "a-new-password")

	// Removing the user ends its tokens.
	admin.MustDo(http.MethodDelete, "/api/v1/users/ul-op", nil, nil, 204)
	if status, _ := tok.Do(http.MethodGet, "/api/v1/auth/me", nil, nil); status != 401 {
		t.Fatalf("token of a removed user: status %d, want 401", status)
	}

	// The last admin can be neither demoted nor removed.
	status, text := admin.Do(http.MethodPatch, "/api/v1/users/admin", map[string]string{"role": "viewer"}, nil)
	if status != 409 {
		t.Fatalf("demote last admin: %d %s", status, text)
	}
	if status, text := admin.Do(http.MethodDelete, "/api/v1/users/admin", nil, nil); status != 409 {
		t.Fatalf("remove last admin: %d %s", status, text)
	}
}

func TestUsers_BadInput(t *testing.T) {
	in := apitest.Start(t, apitest.Config(t))
	admin := in.Admin(t)
	for _, tc := range []struct {
		name, body, field string
		status            int
	}{
		{"malformed", `{"username":`, "body", 400},
		{"unknown field", `{"username":"x1","password":"password-1","role":"viewer","admin":true}`, "admin", 400},
		{"wrong type", `{"username":"x1","password":12345678}`, "password", 400},
		{"bad name", `{"username":"no spaces","password":"password-1"}`, "username", 400},
		{"short password", `{"username":"x1","password":"short"}`, "password", 400},
		{"bad role", `{"username":"x1","password":"password-1","role":"root"}`, "role", 400},
		{"duplicate", `{"username":"admin","password":"password-1"}`, "", 409},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, text := admin.Do(http.MethodPost, "/api/v1/users", tc.body, nil)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, text)
			}
			e := apitest.ParseError(t, text)
			if tc.field != "" && e.Error.Details["field"] != tc.field {
				t.Fatalf("details.field = %v, want %q: %s", e.Error.Details["field"], tc.field, text)
			}
		})
	}
	var users struct{ Total int }
	admin.MustDo(http.MethodGet, "/api/v1/users", nil, &users, 200)
	if users.Total != 1 {
		t.Fatalf("bad input created users: total %d, want 1", users.Total)
	}
}

func TestTokens_ShownOnceAndRevoked(t *testing.T) {
	in := apitest.Start(t, apitest.Config(t))
	admin := in.Admin(t)
	var created struct {
		Name, Token string
	}
	admin.MustDo(http.MethodPost, "/api/v1/tokens", map[string]string{"name": "deploy", "expires_in": "1h"}, &created, 201)
	if !strings.HasPrefix(created.Token, "sot_") {
		t.Fatalf("token text %q", created.Token)
	}
	list := admin.MustDo(http.MethodGet, "/api/v1/tokens", nil, nil, 200)
	if strings.Contains(list, created.Token) || !strings.Contains(list, `"deploy"`) {
		t.Fatalf("list must name the token but never show its text: %s", list)
	}
	tok := &apitest.Client{Base: in.URL, HTTP: http.DefaultClient, Token: created.Token}
	tok = tok.For(t)
	tok.MustDo(http.MethodGet, "/api/v1/auth/me", nil, nil, 200)
	admin.MustDo(http.MethodPost, "/api/v1/tokens", map[string]string{"name": "deploy"}, nil, 409)
	admin.MustDo(http.MethodPost, "/api/v1/tokens", map[string]string{"name": "x", "expires_in": "soon"}, nil, 400)
	admin.MustDo(http.MethodDelete, "/api/v1/tokens/deploy", nil, nil, 204)
	if status, _ := tok.Do(http.MethodGet, "/api/v1/auth/me", nil, nil); status != 401 {
		t.Fatalf("revoked token: status %d, want 401", status)
	}
}

package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/errs"
)

func oidcUser(sub, name string, role Role) ExternalUser {
	return ExternalUser{Method: MethodOIDC, Subject: "https://idp.example|" + sub, Username: name, Role: role}
}

// An SSO user is created at first sign-on, found again by subject, takes
// the role of every sign-on, and never takes over a user of another source.
func TestSignOn_UsersBySubject(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newService(t, &now)
	ctx := context.Background()

	cookie, p, err := s.SignOn(ctx, oidcUser("s1", "gina", Operator))
	if err != nil {
		t.Fatal(err)
	}
	if p.Role != Operator || p.Method != MethodOIDC || p.Session == "" || p.CSRFToken == "" {
		t.Fatalf("first sign-on's principal = %+v", p)
	}
	if got, err := s.SessionPrincipal(ctx, cookie); err != nil || got.Username != "gina" || got.Method != MethodOIDC {
		t.Fatalf("session of the sign-on: %+v, %v", got, err)
	}
	u, err := s.store.GetUser(ctx, "gina")
	if err != nil || u.Source != MethodOIDC || u.Role != string(Operator) {
		t.Fatalf("stored user = %+v, %v; want source oidc, role operator", u, err)
	}

	// Groups changed at the provider: the next sign-on's role wins, and
	// the live session follows at once.
	if _, p, err = s.SignOn(ctx, oidcUser("s1", "gina", Viewer)); err != nil || p.Role != Viewer {
		t.Fatalf("second sign-on: %+v, %v; want viewer", p, err)
	}
	if got, _ := s.SessionPrincipal(ctx, cookie); got.Role != Viewer {
		t.Fatalf("the earlier session's role = %s, want viewer", got.Role)
	}

	// Renamed at the provider: still the same user (found by subject).
	if _, p, err = s.SignOn(ctx, oidcUser("s1", "gina.new", Viewer)); err != nil || p.Username != "gina" {
		t.Fatalf("sign-on under a new name: %+v, %v; want the user gina found by subject", p, err)
	}

	// Another identity with the same name, and the local admin's name:
	// refused, and the local user keeps its password sign-in.
	if _, err := s.CreateUser(ctx, "admin", "password-1", "admin"); err != nil {
		t.Fatal(err)
	}
	for _, x := range []ExternalUser{oidcUser("s2", "gina", Admin), oidcUser("s3", "admin", Admin),
		{Method: MethodHeader, Username: "admin", Role: Admin}} {
		if _, _, err := s.SignOn(ctx, x); !errors.Is(err, errs.ErrConflict) {
			t.Errorf("SignOn(%+v) = %v, want a conflict", x, err)
		}
	}
	if _, p, err := s.Login(ctx, "admin", "password-1", "10.0.0.1"); err != nil || p.Role != Admin {
		t.Fatalf("the local admin after the clashes: %+v, %v", p, err)
	}
	// An SSO user has no password here.
	if _, _, err := s.Login(ctx, "gina", "", "10.0.0.1"); !errors.Is(err, errs.ErrUnauthorized) {
		t.Fatalf("password login of an SSO user = %v, want 401", err)
	}
	pw := "password-2"
	if _, err := s.UpdateUser(ctx, "gina", UserChange{Password: &pw}); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("setting an SSO user's password = %v, want 400", err)
	}
}

// A refused sign-on ends the user's sessions and stops their API tokens,
// until a sign-on lets them in again.
func TestRefuseSignOn_DisablesUntilLetIn(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newService(t, &now)
	ctx := context.Background()
	x := oidcUser("s1", "hal", Operator)
	cookie, _, err := s.SignOn(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	text, _, err := s.CreateToken(ctx, "hal", "ci", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RefuseSignOn(ctx, x, errors.New("no group maps to a role")); !errors.Is(err, errs.ErrForbidden) {
		t.Fatalf("RefuseSignOn = %v, want 403", err)
	}
	if _, err := s.SessionPrincipal(ctx, cookie); !errors.Is(err, errs.ErrUnauthorized) {
		t.Fatalf("session after the refusal: %v, want 401", err)
	}
	if _, err := s.TokenPrincipal(ctx, text); !errors.Is(err, errs.ErrUnauthorized) {
		t.Fatalf("API token after the refusal: %v, want 401", err)
	}
	if _, _, err := s.SignOn(ctx, x); err != nil {
		t.Fatal(err)
	}
	if p, err := s.TokenPrincipal(ctx, text); err != nil || p.Role != Operator {
		t.Fatalf("API token after a sign-on let the user in again: %+v, %v", p, err)
	}
}

// The auth proxy's users are kept in step without a store write per
// request, and a refusal is answered at once.
func TestHeaderPrincipal(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newService(t, &now)
	ctx := context.Background()
	x := ExternalUser{Method: MethodHeader, Username: "ivy@example.com", Role: Operator}
	p, err := s.HeaderPrincipal(ctx, x, nil)
	if err != nil || p.Role != Operator || p.Method != MethodHeader || p.Session != "" {
		t.Fatalf("HeaderPrincipal = %+v, %v", p, err)
	}
	if u, err := s.store.GetUser(ctx, x.Username); err != nil || u.Source != MethodHeader {
		t.Fatalf("stored user = %+v, %v", u, err)
	}
	// Another role from the proxy: answered and stored at once.
	x.Role = Admin
	if p, err = s.HeaderPrincipal(ctx, x, nil); err != nil || p.Role != Admin {
		t.Fatalf("after a role change: %+v, %v", p, err)
	}
	if u, _ := s.store.GetUser(ctx, x.Username); u.Role != string(Admin) {
		t.Fatalf("stored role = %s, want admin", u.Role)
	}
	if _, err := s.HeaderPrincipal(ctx, x, errors.New("on the deny list")); !errors.Is(err, errs.ErrForbidden) {
		t.Fatalf("refused: %v, want 403", err)
	}
	if u, _ := s.store.GetUser(ctx, x.Username); !u.Disabled {
		t.Fatal("a refused proxy user must be disabled (their API tokens stop)")
	}
	if _, err := s.CreateUser(ctx, "local", "password-1", "viewer"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.HeaderPrincipal(ctx, ExternalUser{Method: MethodHeader, Username: "local", Role: Admin}, nil); !errors.Is(err, errs.ErrConflict) {
		t.Fatalf("proxy user named like a local one: %v, want a conflict", err)
	}
}

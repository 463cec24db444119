package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store/local"
)

func newService(t *testing.T, now *time.Time) *Service {
	t.Helper()
	st, err := local.Open(t.TempDir(), local.Options{Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return NewService(st, nil, Options{SessionTTL: time.Hour, BcryptCost: bcrypt.MinCost, Now: func() time.Time { return *now }})
}

func TestRoleCan(t *testing.T) {
	for _, tc := range []struct {
		role Role
		perm Permission
		want bool
	}{
		{Viewer, ServiceRead, true}, {Viewer, ServiceWrite, false}, {Viewer, JoinTokens, false},
		{Operator, ServiceWrite, true}, {Operator, NodeUpdate, true}, {Operator, NodeManage, false}, {Operator, UserManage, false},
		{Admin, ClusterManage, true}, {Admin, AuditRead, true},
		{Role("root"), ServiceRead, false}, {Role(""), Authenticated, false},
	} {
		if got := tc.role.Can(tc.perm); got != tc.want {
			t.Errorf("%q.Can(%s) = %v", tc.role, tc.perm, got)
		}
	}
}

func TestSessions_IdleExpiryAndLogout(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newService(t, &now)
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, "alice", "password-1", "operator"); err != nil {
		t.Fatal(err)
	}
	cookie, sess, err := s.Login(ctx, "alice", "password-1", "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if sess.Session == cookie || strings.Contains(sess.Session, cookie) {
		t.Fatal("the store must keep a hash of the cookie, not the cookie")
	}
	// Used within the idle lifetime, the session lives on past it.
	for i := 0; i < 3; i++ {
		now = now.Add(50 * time.Minute)
		if _, err := s.SessionPrincipal(ctx, cookie); err != nil {
			t.Fatalf("after %d idle periods of use: %v", i+1, err)
		}
	}
	now = now.Add(61 * time.Minute)
	if _, err := s.SessionPrincipal(ctx, cookie); !errors.Is(err, errs.ErrUnauthorized) {
		t.Fatalf("after an hour idle: %v, want unauthorized", err)
	}
	cookie, _, _ = s.Login(ctx, "alice", "password-1", "10.0.0.1")
	p, err := s.SessionPrincipal(ctx, cookie)
	if err != nil || p.Role != Operator || p.CSRFToken == "" {
		t.Fatalf("principal %+v, %v", p, err)
	}
	if err := s.Logout(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionPrincipal(ctx, cookie); !errors.Is(err, errs.ErrUnauthorized) {
		t.Fatalf("after logout: %v", err)
	}
}

func TestLogin_Throttle(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newService(t, &now)
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, "bob", "password-1", "viewer"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if _, _, err := s.Login(ctx, "bob", "wrong-pass", "10.0.0.2"); !errors.Is(err, errs.ErrUnauthorized) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if _, _, err := s.Login(ctx, "bob", "password-1", "10.0.0.2"); !errors.Is(err, errs.ErrRateLimited) {
		t.Fatalf("sixth attempt from the same address: %v, want rate limited", err)
	}
	// Another address is not locked out by these failures.
	if _, _, err := s.Login(ctx, "bob", "password-1", "10.0.0.3"); err != nil {
		t.Fatalf("from another address: %v", err)
	}
	// Names no account can have cost nothing and say nothing.
	if _, _, err := s.Login(ctx, strings.Repeat("x", 10000), "p", "10.0.0.4"); !errors.Is(err, errs.ErrUnauthorized) {
		t.Fatalf("junk name: %v", err)
	}
	now = now.Add(16 * time.Minute)
	if _, _, err := s.Login(ctx, "bob", "password-1", "10.0.0.2"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestTokens_ExpiryAndRevocation(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newService(t, &now)
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, "ci", "password-1", "operator"); err != nil {
		t.Fatal(err)
	}
	text, _, err := s.CreateToken(ctx, "ci", "deploy", "1h")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := s.store.ListTokens(ctx, "ci")
	if err != nil || len(stored) != 1 {
		t.Fatalf("stored tokens: %v %v", stored, err)
	}
	if tok := stored[0]; !strings.HasPrefix(text, TokenPrefix) || tok.Hash == text || strings.Contains(tok.Hash, text) {
		t.Fatalf("token %q stored as %q", text, tok.Hash)
	}
	if p, err := s.TokenPrincipal(ctx, text); err != nil || p.Username != "ci" || p.Token != "deploy" {
		t.Fatalf("principal %+v %v", p, err)
	}
	now = now.Add(61 * time.Minute)
	if _, err := s.TokenPrincipal(ctx, text); !errors.Is(err, errs.ErrUnauthorized) {
		t.Fatalf("expired token: %v", err)
	}
	text2, _, _ := s.CreateToken(ctx, "ci", "forever", "")
	if err := s.DeleteToken(ctx, "ci", "forever"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenPrincipal(ctx, text2); !errors.Is(err, errs.ErrUnauthorized) {
		t.Fatalf("revoked token: %v", err)
	}
	for _, bad := range []string{"-1h", "soon"} {
		if _, _, err := s.CreateToken(ctx, "ci", "x", bad); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("expires_in %q: %v", bad, err)
		}
	}
}

func TestEnsureAdmin(t *testing.T) {
	now := time.Now()
	s := newService(t, &now)
	ctx := context.Background()
	pw, err := s.EnsureAdmin(ctx, "")
	if err != nil || len(pw) < 16 {
		t.Fatalf("first start: %q %v", pw, err)
	}
	if _, _, err := s.Login(ctx, "admin", pw, "127.0.0.1"); err != nil {
		t.Fatalf("login with the generated password: %v", err)
	}
	if again, err := s.EnsureAdmin(ctx, "other-password"); err != nil || again != "" {
		t.Fatalf("second start must not touch users: %q %v", again, err)
	}
}

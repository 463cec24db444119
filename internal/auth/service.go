package auth

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/swarmops/swarmops/internal/audit"
	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// Principal is an authenticated caller.
type Principal struct {
	Username string
	Role     Role
	// Session is set for browser sessions (which need the CSRF token on
	// mutations); empty for API tokens.
	Session   string
	CSRFToken string
	Token     string // the API token's name, when authenticated by one
}

// Options tune a Service.
type Options struct {
	SessionTTL time.Duration
	BcryptCost int // bcrypt.DefaultCost when 0
	// Login throttling: after MaxFailures failed logins for one username
	// (or MaxFailures*4 from one client address) within FailureWindow,
	// logins answer 429 until the window ends.
	MaxFailures   int
	FailureWindow time.Duration
	Now           func() time.Time
}

// Service is the auth domain.
type Service struct {
	store Store
	audit *audit.Log
	opt   Options
	dummy []byte // hash compared when a user does not exist, to keep timing even
}

// Store is what Service needs of the store.
type Store interface {
	store.Users
	store.Sessions
	store.Tokens
	store.Throttle
}

// NewService makes the auth domain over st.
func NewService(st Store, log *audit.Log, opt Options) *Service {
	if opt.SessionTTL == 0 {
		opt.SessionTTL = 12 * time.Hour
	}
	if opt.BcryptCost == 0 {
		opt.BcryptCost = bcrypt.DefaultCost
	}
	if opt.MaxFailures == 0 {
		opt.MaxFailures = 5
	}
	if opt.FailureWindow == 0 {
		opt.FailureWindow = 15 * time.Minute
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	dummy, _ := bcrypt.GenerateFromPassword([]byte(randomText(12)), opt.BcryptCost)
	return &Service{store: st, audit: log, opt: opt, dummy: dummy}
}

var usernameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.@-]{0,63}$`)

func validUsername(u string) error {
	if !usernameRE.MatchString(u) {
		return errs.Invalid("username", "expected 1-64 letters, digits or _ . @ -, starting with a letter or digit")
	}
	return nil
}

func validPassword(p string) error {
	switch {
	case len(p) < 8:
		return errs.Invalid("password", "must be at least 8 characters")
	case len(p) > 72:
		return errs.Invalid("password", "must be at most 72 bytes (bcrypt's limit)")
	}
	return nil
}

func (s *Service) hash(password string) ([]byte, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), s.opt.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	return h, nil
}

// Login checks a username and password and opens a session. It answers the
// cookie value (shown to the browser only) and the session's principal,
// whose CSRFToken the client must send with mutating requests.
func (s *Service) Login(ctx context.Context, username, password, clientAddr string) (cookie string, p Principal, err error) {
	// A name no account can have is refused before it costs a store write
	// (throttle counters, audit records), so junk cannot flood the log.
	if validUsername(username) != nil || len(password) > 1024 {
		return "", Principal{}, errs.Unauthorized("invalid username or password")
	}
	throttled := false
	defer func() {
		if !throttled {
			s.audit.Record(ctx, username, "auth.login", "", username, err)
		}
	}()
	// Failures count per user and address (the usual guessing), per
	// address (one client trying many users) and per user from anywhere
	// (a spread-out attack), with limits that keep one attacker from
	// locking the real user out everywhere.
	user := strings.ToLower(username)
	keys := []struct {
		key string
		max int
	}{
		{"login:user-addr:" + user + "|" + clientAddr, s.opt.MaxFailures},
		{"login:addr:" + clientAddr, s.opt.MaxFailures * 4},
		{"login:user:" + user, s.opt.MaxFailures * 10},
	}
	for _, k := range keys {
		if err := s.throttled(ctx, k.key, k.max); err != nil {
			throttled = errors.Is(err, errs.ErrRateLimited)
			return "", Principal{}, err
		}
	}
	u, err := s.store.GetUser(ctx, username)
	if err != nil && !errors.Is(err, errs.ErrNotFound) {
		return "", Principal{}, fmt.Errorf("login: %w", err)
	}
	hash := s.dummy
	if err == nil {
		hash = u.PasswordHash
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || err != nil {
		for _, k := range keys {
			_, _ = s.store.AddFailure(ctx, k.key, s.opt.FailureWindow)
		}
		return "", Principal{}, errs.Unauthorized("invalid username or password")
	}
	_ = s.store.ResetFailures(ctx, keys[0].key)
	now := s.opt.Now().UTC()
	cookie = randomText(32)
	sess := store.Session{
		ID: hashText(cookie), Username: u.Username, CSRFToken: randomText(24),
		CreatedAt: now, ExpiresAt: now.Add(s.opt.SessionTTL),
	}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return "", Principal{}, fmt.Errorf("login: save session: %w", err)
	}
	return cookie, Principal{Username: u.Username, Role: Role(u.Role), Session: sess.ID, CSRFToken: sess.CSRFToken}, nil
}

func (s *Service) throttled(ctx context.Context, key string, max int) error {
	n, err := s.store.Failures(ctx, key)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	if n >= max {
		return errs.RateLimited(s.opt.FailureWindow, "too many failed logins; try again later")
	}
	return nil
}

// touchEvery limits idle-deadline writes to one per this much of the TTL.
const touchFraction = 10

// SessionPrincipal answers who holds the session cookie, moving its idle
// deadline forward.
func (s *Service) SessionPrincipal(ctx context.Context, cookie string) (Principal, error) {
	if cookie == "" {
		return Principal{}, errs.Unauthorized("no session; log in first")
	}
	id := hashText(cookie)
	sess, err := s.store.GetSession(ctx, id)
	if errors.Is(err, errs.ErrNotFound) {
		return Principal{}, errs.Unauthorized("session expired or ended; log in again")
	}
	if err != nil {
		return Principal{}, fmt.Errorf("read session: %w", err)
	}
	u, err := s.store.GetUser(ctx, sess.Username)
	if errors.Is(err, errs.ErrNotFound) {
		return Principal{}, errs.Unauthorized("session's user no longer exists")
	}
	if err != nil {
		return Principal{}, fmt.Errorf("read session user: %w", err)
	}
	now := s.opt.Now()
	if sess.ExpiresAt.Sub(now) < s.opt.SessionTTL-s.opt.SessionTTL/touchFraction {
		if err := s.store.TouchSession(ctx, id, now.Add(s.opt.SessionTTL)); err != nil && !errors.Is(err, errs.ErrNotFound) {
			return Principal{}, fmt.Errorf("touch session: %w", err)
		}
	}
	return Principal{Username: u.Username, Role: Role(u.Role), Session: id, CSRFToken: sess.CSRFToken}, nil
}

// Logout ends the session on every instance.
func (s *Service) Logout(ctx context.Context, p Principal) (err error) {
	defer func() { s.audit.Record(ctx, p.Username, "auth.logout", "", p.Username, err) }()
	if p.Session == "" {
		return errs.Invalid("session", "logout ends browser sessions; revoke an API token with DELETE /api/v1/tokens/{name}")
	}
	if err := s.store.DeleteSession(ctx, p.Session); err != nil && !errors.Is(err, errs.ErrNotFound) {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}

// TokenPrefix starts every API token's text, so leaked tokens are easy to
// find with secret scanners.
const TokenPrefix = "sot_"

// TokenPrincipal answers who holds the API token text.
func (s *Service) TokenPrincipal(ctx context.Context, text string) (Principal, error) {
	if !strings.HasPrefix(text, TokenPrefix) {
		return Principal{}, errs.Unauthorized("invalid API token")
	}
	t, err := s.store.GetTokenByHash(ctx, hashText(text))
	if errors.Is(err, errs.ErrNotFound) {
		return Principal{}, errs.Unauthorized("invalid or revoked API token")
	}
	if err != nil {
		return Principal{}, fmt.Errorf("read token: %w", err)
	}
	if !t.ExpiresAt.IsZero() && !s.opt.Now().Before(t.ExpiresAt) {
		return Principal{}, errs.Unauthorized("API token %q expired at %s", t.Name, t.ExpiresAt.UTC().Format(time.RFC3339))
	}
	u, err := s.store.GetUser(ctx, t.Username)
	if errors.Is(err, errs.ErrNotFound) {
		return Principal{}, errs.Unauthorized("API token's user no longer exists")
	}
	if err != nil {
		return Principal{}, fmt.Errorf("read token user: %w", err)
	}
	return Principal{Username: u.Username, Role: Role(u.Role), Token: t.Name}, nil
}

package auth

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/rs/zerolog"
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
	// Method is how the caller signed in: "" (password or API token),
	// MethodOIDC or MethodHeader.
	Method string
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
	// MaxHashing bounds the password checks one instance runs at once
	// (default twice the CPUs, at least 2); MaxHashWait bounds how long a
	// login waits for a slot (default 2s) before it is answered 429 with
	// Retry-After. At most 4*MaxHashing logins wait at once; more are
	// answered at once.
	MaxHashing  int
	MaxHashWait time.Duration
	Now         func() time.Time
	// PasswordOff refuses password sign-in (SWARMOPS_LOCAL_LOGIN=false):
	// users sign in through SSO; API tokens and the CLI still work.
	PasswordOff bool
}

// Service is the auth domain.
type Service struct {
	store Store
	audit *audit.Log
	opt   Options
	dummy []byte // hash compared when a user does not exist, to keep timing even
	// hashing bounds concurrent password checks; hashes counts them.
	hashing *slots
	hashes  atomic.Uint64
	// header remembers auth-proxy users this instance let in lately.
	header headerSeen
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
	if opt.MaxHashing <= 0 {
		opt.MaxHashing = max(2, 2*runtime.GOMAXPROCS(0))
	}
	if opt.MaxHashWait <= 0 {
		opt.MaxHashWait = 2 * time.Second
	}
	dummy, _ := bcrypt.GenerateFromPassword([]byte(randomText(12)), opt.BcryptCost)
	return &Service{store: st, audit: log, opt: opt, dummy: dummy,
		hashing: newSlots(opt.MaxHashing, 4*opt.MaxHashing, opt.MaxHashWait)}
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
//
// The attempt is counted before the password is checked, atomically in
// the store, so attempts made at once on any number of instances cannot
// all pass the limit; a success takes its count back. The password check
// itself waits for one of a bounded number of slots per instance.
func (s *Service) Login(ctx context.Context, username, password, clientAddr string) (cookie string, p Principal, err error) {
	if s.opt.PasswordOff {
		return "", Principal{}, errs.Forbidden("password sign-in is off here (SWARMOPS_LOCAL_LOGIN=false): sign in with single sign-on, or use an API token")
	}
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
	keys := loginKeys(username, clientAddr, s.opt.MaxFailures)
	if err := s.countAttempt(ctx, keys); err != nil {
		throttled = errors.Is(err, errs.ErrRateLimited)
		return "", Principal{}, err
	}
	u, ok, err := s.checkPassword(ctx, username, password)
	if err != nil {
		s.undoAttempt(ctx, keys)
		throttled = errors.Is(err, errs.ErrRateLimited)
		return "", Principal{}, err
	}
	if !ok {
		return "", Principal{}, errs.Unauthorized("invalid username or password")
	}
	_ = s.store.ResetFailures(ctx, keys[0].key)
	s.undoAttempt(ctx, keys[1:])
	now := s.opt.Now().UTC()
	cookie = randomText(32)
	// The session carries the credential epoch read before the check: a
	// password change or removal that got in meanwhile makes it void.
	sess := store.Session{
		ID: hashText(cookie), Username: u.Username, CSRFToken: randomText(24),
		CreatedAt: now, ExpiresAt: now.Add(s.opt.SessionTTL), CredentialEpoch: u.CredentialEpoch,
	}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return "", Principal{}, fmt.Errorf("login: save session: %w", err)
	}
	return cookie, Principal{Username: u.Username, Role: Role(u.Role), Session: sess.ID, CSRFToken: sess.CSRFToken}, nil
}

// loginKey is a throttle counter of logins and its limit.
type loginKey struct {
	key string
	max int
}

// loginKeys answers the counters a login attempt counts on: per user and
// address (the usual guessing), per address (one client trying many
// users) and per user from anywhere (a spread-out attack), with limits
// that keep one attacker from locking the real user out everywhere.
func loginKeys(username, clientAddr string, maxFailures int) []loginKey {
	user := strings.ToLower(username)
	return []loginKey{
		{"login:user-addr:" + user + "|" + clientAddr, maxFailures},
		{"login:addr:" + clientAddr, maxFailures * 4},
		{"login:user:" + user, maxFailures * 10},
	}
}

// countAttempt counts the attempt on every key. Over any limit, it takes
// the counts back (a refused attempt is not a guess, and must not push the
// wider counters toward locking the user out) and answers ErrRateLimited.
func (s *Service) countAttempt(ctx context.Context, keys []loginKey) error {
	for i, k := range keys {
		n, err := s.store.AddFailure(ctx, k.key, s.opt.FailureWindow)
		if err != nil {
			s.undoAttempt(ctx, keys[:i])
			return fmt.Errorf("login: %w", err)
		}
		if n > k.max {
			s.undoAttempt(ctx, keys[:i+1])
			return errs.RateLimited(s.opt.FailureWindow, "too many failed logins; try again later")
		}
	}
	return nil
}

// undoAttempt takes back an attempt's counts; the request's end must not
// keep them, so a cancelled context does not.
func (s *Service) undoAttempt(ctx context.Context, keys []loginKey) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, k := range keys {
		_ = s.store.UndoFailure(ctx, k.key)
	}
}

// checkPassword compares password with username's hash (a dummy one for
// an unknown user, to keep timing even) in one of the instance's hashing
// slots, and answers the user as read before the comparison.
func (s *Service) checkPassword(ctx context.Context, username, password string) (store.User, bool, error) {
	u, err := s.store.GetUser(ctx, username)
	if err != nil && !errors.Is(err, errs.ErrNotFound) {
		return store.User{}, false, fmt.Errorf("login: %w", err)
	}
	// Users of single sign-on have no password here; they are compared
	// with the dummy hash like unknown names, so timing tells nothing.
	known := err == nil && u.Source == "" && !u.Disabled
	hash := s.dummy
	if known {
		hash = u.PasswordHash
	}
	release, err := s.hashing.acquire(ctx)
	if err != nil {
		return store.User{}, false, err
	}
	defer release()
	s.hashes.Add(1)
	ok := bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
	return u, ok && known, nil
}

// HashChecks answers how many password hashes this instance has compared
// at login since it started.
func (s *Service) HashChecks() uint64 { return s.hashes.Load() }

// touchEvery limits idle-deadline writes to one per this much of the TTL.
const touchFraction = 10

// SessionPrincipal answers who holds the session cookie, moving its idle
// deadline forward.
func (s *Service) SessionPrincipal(ctx context.Context, cookie string) (Principal, error) {
	if cookie == "" {
		return Principal{}, errs.Unauthorized("no session; log in first")
	}
	id := hashText(cookie)
	// The session and its user in one read of the store: every
	// authenticated request pays for it. Both are read from the store each
	// time (a backend may spare decoding a text it decoded before, never
	// the read), so a logout, a new password, a new role or a removal on
	// any instance holds at the next request everywhere.
	sess, u, err := s.store.GetSessionUser(ctx, id)
	switch {
	case errors.Is(err, errs.ErrNotFound) && sess == (store.Session{}):
		return Principal{}, errs.Unauthorized("session expired or ended; log in again")
	case errors.Is(err, errs.ErrNotFound):
		return Principal{}, errs.Unauthorized("session's user no longer exists")
	case err != nil:
		return Principal{}, fmt.Errorf("read session: %w", err)
	}
	if u.Disabled {
		_ = s.store.DeleteSession(ctx, id)
		return Principal{}, errs.Unauthorized("session ended: single sign-on refused %s at a later login", u.Username)
	}
	if sess.CredentialEpoch != u.CredentialEpoch {
		// Made before a password change or revocation (or for a removed
		// user of the same name): end it.
		_ = s.store.DeleteSession(ctx, id)
		return Principal{}, errs.Unauthorized("session ended: the user's credentials changed; log in again")
	}
	now := s.opt.Now()
	if sess.ExpiresAt.Sub(now) < s.opt.SessionTTL-s.opt.SessionTTL/touchFraction {
		if err := s.store.TouchSession(ctx, id, now.Add(s.opt.SessionTTL)); err != nil && !errors.Is(err, errs.ErrNotFound) {
			return Principal{}, fmt.Errorf("touch session: %w", err)
		}
	}
	return Principal{Username: u.Username, Role: Role(u.Role), Session: id, CSRFToken: sess.CSRFToken, Method: sess.Method}, nil
}

// WithClustersAhead answers ctx asking SessionPrincipal's read of the
// session to bring the cluster registry along in the same round trip
// (store.ReadAhead), for a request that changes nothing and lists the
// clusters first: the listing then takes what was read, without another
// round trip to a remote store.
func WithClustersAhead(ctx context.Context) context.Context {
	return store.WithReadAhead(ctx, &store.ReadAhead{Clusters: true})
}

// Logout ends the session on every instance.
func (s *Service) Logout(ctx context.Context, p Principal) (err error) {
	action := "auth.logout"
	if p.Method != "" {
		action += "." + p.Method
	}
	defer func() { s.audit.Record(ctx, p.Username, action, "", p.Username, err) }()
	if p.Method == MethodHeader {
		return errs.Invalid("session", "you are signed in by the auth proxy in front of SwarmOps: sign out there")
	}
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
	if u.Disabled {
		return Principal{}, errs.Unauthorized("API token %q: single sign-on refused its user %s at their last login", t.Name, u.Username)
	}
	if now := s.opt.Now(); now.Sub(t.LastUsedAt) >= store.TokenUseResolution {
		// Best effort: a failed note of use must not refuse the request.
		if err := s.store.TouchToken(ctx, t.Hash, now); err != nil && !errors.Is(err, errs.ErrNotFound) {
			zerolog.Ctx(ctx).Warn().Err(err).Str("token", t.Name).Msg("cannot record the API token's use")
		}
	}
	return Principal{Username: u.Username, Role: Role(u.Role), Token: t.Name}, nil
}

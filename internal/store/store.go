package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Store is everything a SwarmOps instance keeps outside its own memory.
type Store interface {
	Clusters
	Users
	Sessions
	Tokens
	Registries
	Audit
	Throttle
	Idempotency
	StackRevisions
	Meta
	LoginStates

	// Kind names the backend: "local" or "redis".
	Kind() string
	// Ping answers nil when the backend serves requests.
	Ping(ctx context.Context) error
	Close() error
}

// TLS is the client material for an engine endpoint, PEM encoded. Key is a
// secret: it is never answered or logged, and it is stored sealed
// (KeySealed, by internal/state's sealing store), never in the clear.
type TLS struct {
	CA   string `json:"ca,omitempty"`
	Cert string `json:"cert,omitempty"`
	Key  string `json:"key,omitempty"`
	// KeySealed is Key sealed by internal/seal, as the backends hold it.
	KeySealed []byte `json:"key_sealed,omitempty"`
}

// Cluster is a registered swarm.
type Cluster struct {
	Name string `json:"name"`
	// Endpoints are engine API addresses of the swarm's managers, the one
	// the cluster was registered with first.
	Endpoints []string          `json:"endpoints"`
	TLS       *TLS              `json:"tls,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	// SwarmID is the swarm's cluster ID, to notice an endpoint that now
	// belongs to another swarm.
	SwarmID   string    `json:"swarm_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Clusters is the cluster registry. Names are unique.
type Clusters interface {
	// CreateCluster fails with errs.ErrConflict when the name is taken.
	CreateCluster(ctx context.Context, c Cluster) error
	GetCluster(ctx context.Context, name string) (Cluster, error)
	// ListClusters answers clusters sorted by name.
	ListClusters(ctx context.Context) ([]Cluster, error)
	// UpdateCluster replaces a stored cluster; errs.ErrNotFound if absent.
	UpdateCluster(ctx context.Context, c Cluster) error
	// DeleteCluster removes the cluster, and the default mark if it held it.
	DeleteCluster(ctx context.Context, name string) error
	// DefaultCluster answers the default cluster's name, "" when none is set.
	DefaultCluster(ctx context.Context) (string, error)
	// SetDefaultCluster marks name as the default ("" clears it).
	SetDefaultCluster(ctx context.Context, name string) error
	// ListClustersPublic answers what a listing of the registry shows, in
	// one read of the backend (one round trip to Redis): every cluster
	// sorted by name as ListClusters does, but without key material
	// (TLS.Key and TLS.KeySealed empty, whichever the record held), and
	// the default cluster's name ("" when none is set), both read at one
	// moment. Nothing in it is sealed, so a sealing layer passes it as is.
	ListClustersPublic(ctx context.Context) ([]Cluster, string, error)
}

// WithoutKey answers c without TLS key material (TLS.Key and
// TLS.KeySealed empty); c itself is left as it is.
func WithoutKey(c Cluster) Cluster {
	if c.TLS != nil && (c.TLS.Key != "" || len(c.TLS.KeySealed) > 0) {
		t := *c.TLS
		t.Key, t.KeySealed = "", nil
		c.TLS = &t
	}
	return c
}

// User is a local account.
type User struct {
	Username     string    `json:"username"`
	Role         string    `json:"role"`
	PasswordHash []byte    `json:"password_hash"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	// CredentialEpoch changes whenever the user's credentials are taken
	// back (new password, tokens revoked); a session made under another
	// epoch is not honoured. It starts at the creation time in Unix
	// nanoseconds, so a user removed and made again never matches the
	// sessions of the one before. 0 (records of older builds) matches
	// sessions without an epoch.
	CredentialEpoch int64 `json:"credential_epoch,omitempty"`
	// Source says where the user signs in: "" (local, a password), "oidc"
	// or "header" (an auth proxy). Single sign-on never takes over a user
	// of another source, whatever the name.
	Source string `json:"source,omitempty"`
	// Subject is the identity provider's "issuer|sub" for OIDC users, the
	// key they are found by at every login.
	Subject string `json:"subject,omitempty"`
	// Disabled is set when single sign-on refused the user at their last
	// login (deny list, groups that no longer map): their sessions and API
	// tokens are refused until a login lets them in again.
	Disabled bool `json:"disabled,omitempty"`
}

// Users holds accounts; usernames are unique.
type Users interface {
	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, username string) (User, error)
	// ListUsers answers users sorted by username.
	ListUsers(ctx context.Context) ([]User, error)
	UpdateUser(ctx context.Context, u User) error
	DeleteUser(ctx context.Context, username string) error
	// ChangeUser stores what change makes of the user called username, as
	// one atomic step with respect to every other write of any user, on
	// every instance: change sees the stored user and every user (to keep
	// rules across users, such as one admin at least), and runs again on
	// what is stored now when another write came in between. change may
	// not rename the user. An error of change is answered and nothing is
	// stored; errs.ErrNotFound when there is no such user.
	ChangeUser(ctx context.Context, username string, change func(u User, all []User) (User, error)) (User, error)
	// RemoveUserIf removes the user called username when check, given the
	// stored user and every user, answers nil; atomic like ChangeUser.
	RemoveUserIf(ctx context.Context, username string, check func(u User, all []User) error) error
}

// Session is a logged-in browser. ID is the hash of the cookie's value, so
// a copy of the store does not hand out live sessions.
type Session struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	CSRFToken string    `json:"csrf_token"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is the idle deadline; TouchSession moves it.
	ExpiresAt time.Time `json:"expires_at"`
	// CredentialEpoch is the user's User.CredentialEpoch when the session
	// was made; the session ends when the user's changes.
	CredentialEpoch int64 `json:"credential_epoch,omitempty"`
	// Method is how the session signed in: "" (password) or "oidc"; an
	// OIDC session's logout also sends the browser to the provider's.
	Method string `json:"method,omitempty"`
}

// Sessions holds sessions until they expire. Expired sessions are never
// answered, whether or not the backend has removed them yet.
type Sessions interface {
	CreateSession(ctx context.Context, s Session) error
	GetSession(ctx context.Context, id string) (Session, error)
	// GetSessionUser answers the unexpired session id and the user it
	// names, read at one moment in one read of the backend (one round trip
	// to Redis): what authenticating a request needs. errs.ErrNotFound
	// when there is no such session (Session and User zero), or when the
	// session's user is gone (the Session answered, the User zero).
	GetSessionUser(ctx context.Context, id string) (Session, User, error)
	// TouchSession sets a new idle deadline.
	TouchSession(ctx context.Context, id string, expiresAt time.Time) error
	DeleteSession(ctx context.Context, id string) error
	// DeleteUserSessions ends every session of username (password change,
	// user removed).
	DeleteUserSessions(ctx context.Context, username string) error
}

// Token is an API token; only the hash of its text is kept.
type Token struct {
	Hash      string    `json:"hash"`
	Name      string    `json:"name"`
	Username  string    `json:"username"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at,omitempty"` // zero: never
	// LastUsedAt is when the token last authenticated a request, to the
	// minute (TokenUseResolution); zero: never used.
	LastUsedAt time.Time `json:"last_used_at,omitempty"`
}

// TokenUseResolution is how stale a token's LastUsedAt may be: a token
// used again within it is not written again, so a busy script costs the
// store one write a minute, not one per request.
const TokenUseResolution = time.Minute

// Tokens holds API tokens. A name is unique per user.
type Tokens interface {
	// CreateToken fails with errs.ErrConflict when the user has a token of
	// that name.
	CreateToken(ctx context.Context, t Token) error
	GetTokenByHash(ctx context.Context, hash string) (Token, error)
	// TouchToken records that the token of hash was used at at;
	// errs.ErrNotFound when it is gone.
	TouchToken(ctx context.Context, hash string, at time.Time) error
	// ListTokens answers the user's tokens sorted by name.
	ListTokens(ctx context.Context, username string) ([]Token, error)
	DeleteToken(ctx context.Context, username, name string) error
	DeleteUserTokens(ctx context.Context, username string) error
}

// Registry is a private image registry. Password is a secret, stored
// sealed (PasswordSealed) like TLS.Key.
type Registry struct {
	Name     string `json:"name"`
	URL      string `json:"url"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// PasswordSealed is Password sealed by internal/seal.
	PasswordSealed     []byte `json:"password_sealed,omitempty"`
	InsecureSkipVerify bool   `json:"insecure_skip_verify,omitempty"`
	// CA is a PEM bundle trusted for the registry's TLS certificate in
	// addition to the system roots.
	CA        string    `json:"ca,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// CreatedBy is the user who registered it.
	CreatedBy string `json:"created_by,omitempty"`
}

// Registries holds registry credentials; names are unique.
type Registries interface {
	CreateRegistry(ctx context.Context, r Registry) error
	GetRegistry(ctx context.Context, name string) (Registry, error)
	ListRegistries(ctx context.Context) ([]Registry, error)
	// UpdateRegistry replaces a stored registry; errs.ErrNotFound if absent.
	UpdateRegistry(ctx context.Context, r Registry) error
	DeleteRegistry(ctx context.Context, name string) error
}

// LoginStates holds sign-ons in progress: what an identity provider's
// redirect back must match (the OIDC state, nonce and PKCE verifier), for a
// few minutes, on every instance.
type LoginStates interface {
	// PutLoginState stores value under id until ttl has passed;
	// errs.ErrConflict when id is taken.
	PutLoginState(ctx context.Context, id string, value []byte, ttl time.Duration) error
	// TakeLoginState answers the value stored under id and removes it, in
	// one step: of callers taking the same id at once, on any instance,
	// one gets it. errs.ErrNotFound when there is none or it expired.
	TakeLoginState(ctx context.Context, id string) ([]byte, error)
}

// Meta holds the store's own small documents (the schema version), by
// name. Values are opaque to the backend.
type Meta interface {
	// GetMeta answers the value stored under name; errs.ErrNotFound when
	// there is none.
	GetMeta(ctx context.Context, name string) ([]byte, error)
	// PutMeta stores value under name, replacing any.
	PutMeta(ctx context.Context, name string, value []byte) error
}

// AuditRecord is one mutating call.
type AuditRecord struct {
	ID        string    `json:"id"`
	Time      time.Time `json:"time"`
	User      string    `json:"user"`
	Action    string    `json:"action"`
	Cluster   string    `json:"cluster,omitempty"`
	Target    string    `json:"target,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	Instance  string    `json:"instance,omitempty"`
	Result    string    `json:"result"` // "ok" or "error"
	Error     string    `json:"error,omitempty"`
}

// AuditFilter selects records; zero fields match everything.
type AuditFilter struct {
	Cluster string
	User    string
	Action  string // exact, or a prefix ending in "." ("service.")
	Since   time.Time
	Limit   int // 0: the backend's default (100)
}

// Match reports whether r passes f (Limit aside). An Action ending in "."
// is a prefix: "service." selects every service action.
func (f AuditFilter) Match(r AuditRecord) bool {
	switch {
	case f.Cluster != "" && r.Cluster != f.Cluster,
		f.User != "" && r.User != f.User,
		!f.Since.IsZero() && r.Time.Before(f.Since):
		return false
	case strings.HasSuffix(f.Action, "."):
		return strings.HasPrefix(r.Action, f.Action)
	default:
		return f.Action == "" || r.Action == f.Action
	}
}

// Audit is an append-only log capped at a configured number of records;
// the oldest go first.
type Audit interface {
	AppendAudit(ctx context.Context, r AuditRecord) error
	// ListAudit answers matching records, newest first.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditRecord, error)
}

// Throttle counts failures per key over a window, shared by all instances
// (login attempts per user and per client address, refused calls per
// principal for the audit log's budget).
type Throttle interface {
	// AddFailure counts one failure and answers the count within the
	// window that started with the first failure. The count is atomic:
	// callers counting at once on any instance get distinct answers, so
	// an attempt counted before it is checked is refused once over a limit.
	AddFailure(ctx context.Context, key string, window time.Duration) (int, error)
	Failures(ctx context.Context, key string) (int, error)
	ResetFailures(ctx context.Context, key string) error
	// UndoFailure takes back one count of key in its current window (never
	// below zero; nothing when the window is over), for an attempt counted
	// before it was checked that then succeeded.
	UndoFailure(ctx context.Context, key string) error
}

// IdempotentResult is the first answer given to an Idempotency-Key.
type IdempotentResult struct {
	Status      int    `json:"status"`
	ContentType string `json:"content_type"`
	Body        []byte `json:"body"`
	// Fingerprint identifies the request (method, path, body hash) so a key
	// reused for another request is refused.
	Fingerprint string `json:"fingerprint"`
	Done        bool   `json:"done"`
}

// ErrTooManyKeys is ClaimIdempotent's answer to an owner that already
// holds its limit of live keys.
var ErrTooManyKeys = errors.New("too many live idempotency keys")

// Idempotency remembers answers to requests that carried an Idempotency-Key.
// Each key is held by an owner (a principal); an owner's live keys (claims
// and answers not yet expired) are counted on every instance at once.
type Idempotency interface {
	// ClaimIdempotent claims key, held by owner, for a request. It answers
	// (zero, true) when the caller is first and must act, or the stored
	// result and false: an unfinished one (Done false) means the first
	// request is still running. A new key of an owner that holds limit
	// live keys already (limit > 0) is not claimed: ErrTooManyKeys.
	ClaimIdempotent(ctx context.Context, owner, key, fingerprint string, ttl time.Duration, limit int) (IdempotentResult, bool, error)
	// FinishIdempotent stores the answer for owner's key; the key stays
	// counted until the answer expires.
	FinishIdempotent(ctx context.Context, owner, key string, r IdempotentResult, ttl time.Duration) error
	// AbortIdempotent forgets owner's key, so a retry may act (the first
	// attempt failed before acting), and no longer counts it.
	AbortIdempotent(ctx context.Context, owner, key string) error
}

// StackRevision is one successful deploy of a stack, as SwarmOps made it.
// The store keeps it as given; Sealed data is sealed by the caller
// (internal/seal), so the store never holds a secret file in the clear.
type StackRevision struct {
	Cluster string `json:"cluster"`
	Stack   string `json:"stack"`
	// Number is 1, 2, ... per (cluster, stack); AddStackRevision sets it.
	Number  int               `json:"number"`
	Time    time.Time         `json:"time"`
	User    string            `json:"user"`
	Compose string            `json:"compose"`
	Env     map[string]string `json:"env,omitempty"`
	// Files are the plain files (configs, env files) by their "./path".
	Files map[string]string `json:"files,omitempty"`
	// Sealed are the files used as secrets, by their "./path".
	Sealed map[string]SealedFile `json:"sealed,omitempty"`
	// Options are the deploy options (prune, resolve_image) as the domain
	// encodes them; the store does not read them.
	Options json.RawMessage `json:"options,omitempty"`
	// Result is the deploy's answer as the domain encodes it.
	Result json.RawMessage `json:"result,omitempty"`
}

// SealedFile is a secret file of a stack revision: Data is sealed by
// internal/seal, SHA256 (hex) is the plain content's, so a revision can
// say which secret it used without opening it.
type SealedFile struct {
	Data   []byte `json:"data"`
	SHA256 string `json:"sha256"`
}

// StackRevisionCap is the number of revisions kept per stack; the oldest
// go first.
const StackRevisionCap = 50

// StackRevisions is the deploy history of stacks. Numbers count on after
// older revisions are dropped and are never reused; a removed stack keeps
// its history, so a later deploy continues its numbering.
type StackRevisions interface {
	// AddStackRevision stores r as the next revision of its stack,
	// atomically (two instances adding at once get distinct numbers), and
	// answers the number. Only the newest StackRevisionCap revisions of a
	// stack are kept.
	AddStackRevision(ctx context.Context, r StackRevision) (int, error)
	// ListStackRevisions answers the stack's revisions newest first (at
	// most StackRevisionCap), an empty list when it has none.
	ListStackRevisions(ctx context.Context, cluster, stack string) ([]StackRevision, error)
	// GetStackRevision answers one revision; errs.ErrNotFound when absent.
	GetStackRevision(ctx context.Context, cluster, stack string, number int) (StackRevision, error)
	// ListRevisedStacks answers every stack that has revisions, sorted by
	// cluster, then stack; an empty list when none has.
	ListRevisedStacks(ctx context.Context) ([]StackRef, error)
	// PutStackRevision stores r under its own Number (1 or more),
	// replacing a revision of that number, and raises the stack's count to
	// at least r.Number, so a later AddStackRevision numbers after it. The
	// cap holds: a revision StackRevisionCap or more behind the stack's
	// newest number is not kept. Import and key rotation (which re-seals
	// Sealed files in place) use it; deploys use AddStackRevision.
	PutStackRevision(ctx context.Context, r StackRevision) error
}

// StackRef names a stack of a cluster.
type StackRef struct {
	Cluster string `json:"cluster"`
	Stack   string `json:"stack"`
}

// EncodeStackRevision answers r as the backends store it: JSON without
// HTML escaping, so the compose text and the domain's raw JSON (compact)
// come back byte for byte rather than with <, > and & as \u escapes.
func EncodeStackRevision(r StackRevision) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// EncodeNumberedStackRevision is EncodeStackRevision for PutStackRevision:
// r must name its cluster and stack and carry a number of 1 or more.
func EncodeNumberedStackRevision(r StackRevision) ([]byte, error) {
	if r.Cluster == "" || r.Stack == "" {
		return nil, errors.New("cluster and stack names are required")
	}
	if r.Number < 1 {
		return nil, fmt.Errorf("%s/%s: number %d, want 1 or more", r.Cluster, r.Stack, r.Number)
	}
	return EncodeStackRevision(r)
}

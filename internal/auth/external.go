package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// Sign-on methods other than a password.
const (
	MethodOIDC   = "oidc"
	MethodHeader = "header"
)

// ExternalUser is a user an identity provider (OIDC) or an auth proxy (the
// trusted header) vouched for, with the role the SSO policy gave them.
type ExternalUser struct {
	Method string // MethodOIDC or MethodHeader
	// Subject is "issuer|sub" for OIDC: the key the user is found by at
	// every login, whatever their name becomes. Empty for the header,
	// whose proxy names users by name only.
	Subject  string
	Username string
	Role     Role
}

// matches reports whether u is the stored record of x: same source, and
// for OIDC the same subject. A local user is never taken over by name.
func (x ExternalUser) matches(u store.User) bool {
	return u.Source == x.Method && u.Subject == x.Subject
}

func (x ExternalUser) auditAction() string { return "auth.login." + x.Method }

// clash explains why x cannot have the name u holds.
func (x ExternalUser) clash(u store.User) error {
	owner := "a local user (password sign-in)"
	switch u.Source {
	case MethodOIDC:
		owner = "another identity of the OIDC provider"
	case MethodHeader:
		owner = "a user of the auth proxy"
	}
	return errs.Conflict("the name %q belongs to %s; single sign-on never signs in as an existing user of another source. An admin can remove or rename that user, or choose another username claim", x.Username, owner)
}

// SignOn records a successful single sign-on and opens a browser session:
// the user is found by source and subject (created on first sign-on),
// given x's role, and let in again if an earlier sign-on had refused them.
// A name held by a user of another source is refused (ErrConflict).
func (s *Service) SignOn(ctx context.Context, x ExternalUser) (cookie string, p Principal, err error) {
	defer func() { s.audit.Record(ctx, x.Username, x.auditAction(), "", x.Username, err) }()
	u, _, err := s.syncExternal(ctx, x)
	if err != nil {
		return "", Principal{}, err
	}
	now := s.opt.Now().UTC()
	cookie = randomText(32)
	sess := store.Session{
		ID: hashText(cookie), Username: u.Username, CSRFToken: randomText(24), Method: x.Method,
		CreatedAt: now, ExpiresAt: now.Add(s.opt.SessionTTL), CredentialEpoch: u.CredentialEpoch,
	}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return "", Principal{}, fmt.Errorf("sign-on: save session: %w", err)
	}
	return cookie, Principal{Username: u.Username, Role: Role(u.Role), Session: sess.ID, CSRFToken: sess.CSRFToken, Method: x.Method}, nil
}

// syncExternal finds or creates x's record and makes it say x's role,
// enabled; changed reports whether it wrote anything.
func (s *Service) syncExternal(ctx context.Context, x ExternalUser) (_ store.User, changed bool, err error) {
	if err := validUsername(x.Username); err != nil {
		return store.User{}, false, errs.Invalid("username", "the identity's name %q cannot be a SwarmOps user name: expected 1-64 letters, digits or _ . @ -, starting with a letter or digit", x.Username)
	}
	if _, err := ParseRole(string(x.Role)); err != nil {
		return store.User{}, false, fmt.Errorf("sign-on: %w", err)
	}
	name, found, err := s.findExternal(ctx, x)
	if err != nil {
		return store.User{}, false, err
	}
	if !found {
		now := s.opt.Now().UTC()
		u := store.User{Username: x.Username, Role: string(x.Role), Source: x.Method, Subject: x.Subject,
			CreatedAt: now, UpdatedAt: now, CredentialEpoch: now.UnixNano()}
		err := s.store.CreateUser(ctx, u)
		if errors.Is(err, errs.ErrConflict) {
			// Taken meanwhile (or by a user of another source): look again.
			if cur, gerr := s.store.GetUser(ctx, x.Username); gerr == nil && !x.matches(cur) {
				return store.User{}, false, x.clash(cur)
			}
			return s.syncExternal(ctx, x)
		}
		if err != nil {
			return store.User{}, false, fmt.Errorf("sign-on: create user: %w", err)
		}
		return u, true, nil
	}
	u, err := s.store.ChangeUser(ctx, name, func(u store.User, _ []store.User) (store.User, error) {
		if !x.matches(u) {
			return store.User{}, x.clash(u)
		}
		changed = u.Role != string(x.Role) || u.Disabled
		if changed {
			u.Role, u.Disabled, u.UpdatedAt = string(x.Role), false, s.opt.Now().UTC()
		}
		return u, nil
	})
	return u, changed, err
}

// findExternal answers the stored name of x's record. OIDC users are found
// by subject (their name at the provider may change); header users by
// name. A name held by another source is a clash.
func (s *Service) findExternal(ctx context.Context, x ExternalUser) (string, bool, error) {
	if x.Subject != "" {
		all, err := s.store.ListUsers(ctx)
		if err != nil {
			return "", false, fmt.Errorf("sign-on: %w", err)
		}
		for _, u := range all {
			if x.matches(u) {
				return u.Username, true, nil
			}
		}
	}
	u, err := s.store.GetUser(ctx, x.Username)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("sign-on: %w", err)
	case !x.matches(u):
		return "", false, x.clash(u)
	}
	return u.Username, true, nil
}

// RefuseSignOn records that single sign-on refused x (why says the
// policy's reason): a known user of that source is disabled, so their
// sessions (ended here) and API tokens stop working until a sign-on lets
// them in again. It answers the refusal as ErrForbidden.
func (s *Service) RefuseSignOn(ctx context.Context, x ExternalUser, why error) error {
	refusal := errs.Forbidden("single sign-on refused %s: %v", x.Username, why)
	s.audit.Record(ctx, x.Username, x.auditAction(), "", x.Username, refusal)
	name, found, err := s.findExternal(ctx, x)
	if err != nil || !found {
		return refusal
	}
	_, err = s.store.ChangeUser(ctx, name, func(u store.User, _ []store.User) (store.User, error) {
		if !x.matches(u) {
			return store.User{}, x.clash(u)
		}
		u.Disabled, u.UpdatedAt = true, s.opt.Now().UTC()
		return u, nil
	})
	if err != nil {
		return fmt.Errorf("sign-on refused, but the user could not be disabled: %w", err)
	}
	if err := s.store.DeleteUserSessions(ctx, name); err != nil {
		return fmt.Errorf("sign-on refused, but the user's sessions could not be ended: %w", err)
	}
	return refusal
}

// headerSyncEvery bounds how often one instance writes what the auth
// proxy says of a user: within it, requests of the same user and role are
// let in on what the instance saw last.
const headerSyncEvery = time.Minute

// headerSeen is an instance's memory of auth-proxy users.
type headerSeen struct {
	mu   sync.Mutex
	seen map[string]headerEntry // username -> last outcome
}

type headerEntry struct {
	role Role
	err  error // a clash or refusal, answered again until the entry ages
	at   time.Time
}

// HeaderPrincipal answers the principal of a request an auth proxy vouched
// for (x), keeping the user's record in step: created on first sight, its
// role following the proxy's groups. Every instance writes at most once a
// minute per user and role, so a busy user costs no store write per
// request. A refusal (why != nil) disables the user as RefuseSignOn does.
func (s *Service) HeaderPrincipal(ctx context.Context, x ExternalUser, why error) (Principal, error) {
	now := s.opt.Now()
	s.header.mu.Lock()
	e, ok := s.header.seen[x.Username]
	s.header.mu.Unlock()
	if !ok || e.role != x.Role || now.Sub(e.at) >= headerSyncEvery || (why == nil) != (e.err == nil) {
		e = headerEntry{role: x.Role, at: now}
		if why != nil {
			e.err = s.RefuseSignOn(ctx, x, why)
		} else {
			_, changed, err := s.syncExternal(ctx, x)
			switch {
			case errs.KindOf(err) != nil:
				e.err = err // a clash or a bad name: remembered
				s.audit.Record(ctx, x.Username, x.auditAction(), "", x.Username, err)
			case err != nil:
				return Principal{}, err // the store: not remembered
			case changed || !ok:
				// Created, role changed, let in again, or first seen
				// by this instance: a sign-on worth a record.
				s.audit.Record(ctx, x.Username, x.auditAction(), "", x.Username, nil)
			}
		}
		s.header.mu.Lock()
		if s.header.seen == nil || len(s.header.seen) > 10000 {
			s.header.seen = map[string]headerEntry{}
		}
		s.header.seen[x.Username] = e
		s.header.mu.Unlock()
	}
	if e.err != nil {
		return Principal{}, e.err
	}
	return Principal{Username: x.Username, Role: x.Role, Method: MethodHeader}, nil
}

// SignOnFailed records a sign-in of method that failed before anyone was
// identified (a used state, a refused ID token, an unreachable provider).
func (s *Service) SignOnFailed(ctx context.Context, method string, err error) {
	s.audit.Record(ctx, "", "auth.login."+method, "", "", err)
}

package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/swarmops/swarmops/internal/audit"
	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// User is an account as answers show it; the password hash stays in the
// store.
type User struct {
	Username  string
	Role      Role
	CreatedAt time.Time
	UpdatedAt time.Time
	// Tokens is the number of the user's unexpired API tokens (ListUsers
	// only).
	Tokens int
	// Source is where the user signs in: "local", MethodOIDC or
	// MethodHeader.
	Source string
	// Disabled is set while single sign-on refuses the user.
	Disabled bool
}

func userView(u store.User) User {
	src := u.Source
	if src == "" {
		src = "local"
	}
	return User{Username: u.Username, Role: Role(u.Role), CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, Source: src, Disabled: u.Disabled}
}

// DefaultRole is the role of a user created without one: the least, so a
// forgotten role never grants changes.
const DefaultRole = Viewer

// auditName is what the audit log records of a name given by a request:
// the name when it is valid, else a mark, so refused junk is not stored.
func auditName(name string, valid error) string {
	if valid != nil {
		return "(invalid name)"
	}
	return name
}

// CreateUser adds an account; role "" is DefaultRole.
func (s *Service) CreateUser(ctx context.Context, username, password, role string) (_ User, err error) {
	nameErr := validUsername(username)
	defer func() { s.audit.Record(ctx, "", "user.create", "", auditName(username, nameErr), err) }()
	if nameErr != nil {
		return User{}, nameErr
	}
	if err := validPassword(password); err != nil {
		return User{}, err
	}
	if role == "" {
		role = string(DefaultRole)
	}
	r, err := ParseRole(role)
	if err != nil {
		return User{}, errs.Invalid("role", "expected viewer, operator or admin")
	}
	hash, err := s.hash(password)
	if err != nil {
		return User{}, err
	}
	now := s.opt.Now().UTC()
	u := store.User{Username: username, Role: string(r), PasswordHash: hash, CreatedAt: now, UpdatedAt: now,
		CredentialEpoch: now.UnixNano()}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return User{}, fmt.Errorf("create user %q: %w", username, err)
	}
	return userView(u), nil
}

// UserChange is a partial update of an account.
type UserChange struct {
	Role     *string
	Password *string
	// RevokeTokens ends every API token and session of the user.
	RevokeTokens bool
}

// UpdateUser changes a role or password, or revokes the user's
// credentials. A new password or a revocation ends every session of the
// user (and one being made by a login that raced it: the credential
// epoch moves); the last admin cannot be demoted. The change is one
// atomic step of the store, so two updates at once keep both changes and
// two admins demoting each other at once leave one admin.
func (s *Service) UpdateUser(ctx context.Context, username string, ch UserChange) (_ User, err error) {
	nameErr := validUsername(username)
	defer func() { s.audit.Record(ctx, "", "user.update", "", auditName(username, nameErr), err) }()
	if nameErr != nil {
		return User{}, errs.NotFound("user %q not found", username)
	}
	if ch.Role == nil && ch.Password == nil && !ch.RevokeTokens {
		return User{}, errs.Invalid("body", "give role, password and/or revoke_tokens: true")
	}
	var role Role
	if ch.Role != nil {
		if role, err = ParseRole(*ch.Role); err != nil {
			return User{}, errs.Invalid("role", "expected viewer, operator or admin")
		}
	}
	var hash []byte
	if ch.Password != nil {
		if err := validPassword(*ch.Password); err != nil {
			return User{}, err
		}
		if hash, err = s.hash(*ch.Password); err != nil {
			return User{}, err
		}
	}
	now := s.opt.Now().UTC()
	u, err := s.store.ChangeUser(ctx, username, func(u store.User, all []store.User) (store.User, error) {
		if ch.Role != nil {
			if Role(u.Role) == Admin && role != Admin {
				if err := keepOneAdmin(all, username); err != nil {
					return u, err
				}
			}
			u.Role = string(role)
		}
		if hash != nil && u.Source != "" {
			return u, errs.Invalid("password", "%s signs in through %s and has no password here", username, u.Source)
		}
		if hash != nil {
			u.PasswordHash = hash
		}
		if hash != nil || ch.RevokeTokens {
			u.CredentialEpoch++
		}
		u.UpdatedAt = now
		return u, nil
	})
	if err != nil {
		return User{}, fmt.Errorf("update user %q: %w", username, err)
	}
	if hash != nil || ch.RevokeTokens {
		if err := s.store.DeleteUserSessions(ctx, username); err != nil {
			return User{}, fmt.Errorf("update user %q: end sessions: %w", username, err)
		}
	}
	if ch.RevokeTokens {
		if err := s.store.DeleteUserTokens(ctx, username); err != nil {
			return User{}, fmt.Errorf("update user %q: revoke tokens: %w", username, err)
		}
	}
	return userView(u), nil
}

// DeleteUser removes an account with its sessions and tokens. The last
// admin cannot be removed, also when two admins remove each other at once.
func (s *Service) DeleteUser(ctx context.Context, username string) (err error) {
	nameErr := validUsername(username)
	defer func() { s.audit.Record(ctx, "", "user.delete", "", auditName(username, nameErr), err) }()
	if nameErr != nil {
		return errs.NotFound("user %q not found", username)
	}
	u, err := s.store.GetUser(ctx, username)
	if err != nil {
		return fmt.Errorf("delete user %q: %w", username, err)
	}
	if Role(u.Role) == Admin {
		all, err := s.store.ListUsers(ctx)
		if err != nil {
			return fmt.Errorf("count admins: %w", err)
		}
		if err := keepOneAdmin(all, username); err != nil {
			return err
		}
	}
	// Credentials go first: a failure later leaves an account that cannot
	// log in, never a live session of a removed user. (A session a racing
	// login makes after this is void: the user is gone, and a user made
	// again under the name has another credential epoch.)
	if err := s.store.DeleteUserSessions(ctx, username); err != nil {
		return fmt.Errorf("delete user %q: sessions: %w", username, err)
	}
	if err := s.store.DeleteUserTokens(ctx, username); err != nil {
		return fmt.Errorf("delete user %q: tokens: %w", username, err)
	}
	err = s.store.RemoveUserIf(ctx, username, func(u store.User, all []store.User) error {
		if Role(u.Role) == Admin {
			return keepOneAdmin(all, username)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete user %q: %w", username, err)
	}
	return nil
}

// keepOneAdmin refuses a change that leaves no admin but except.
func keepOneAdmin(all []store.User, except string) error {
	for _, o := range all {
		if o.Username != except && Role(o.Role) == Admin {
			return nil
		}
	}
	return errs.Conflict("%q is the last admin; make another admin first", except)
}

// ListUsers answers every account, sorted by username.
func (s *Service) ListUsers(ctx context.Context) ([]User, error) {
	us, err := s.store.ListUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	out := make([]User, len(us))
	now := s.opt.Now()
	for i, u := range us {
		out[i] = userView(u)
		ts, err := s.store.ListTokens(ctx, u.Username)
		if err != nil {
			return nil, fmt.Errorf("list users: tokens of %q: %w", u.Username, err)
		}
		for _, t := range ts {
			if t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt) {
				out[i].Tokens++
			}
		}
	}
	return out, nil
}

// EnsureAdmin creates the user admin when no user exists, with password or
// a random one. It answers the password it set, "" when users existed.
func (s *Service) EnsureAdmin(ctx context.Context, password string) (string, error) {
	users, err := s.store.ListUsers(ctx)
	if err != nil {
		return "", fmt.Errorf("look for users: %w", err)
	}
	if len(users) > 0 {
		return "", nil
	}
	if password == "" {
		password = RandomPassword()
	}
	ctx = audit.WithActor(ctx, audit.Actor{User: "system"})
	if _, err := s.CreateUser(ctx, "admin", password, string(Admin)); err != nil {
		if errors.Is(err, errs.ErrConflict) { // another instance was first
			return "", nil
		}
		return "", err
	}
	return password, nil
}

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
}

func userView(u store.User) User {
	return User{Username: u.Username, Role: Role(u.Role), CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

// DefaultRole is the role of a user created without one: the least, so a
// forgotten role never grants changes.
const DefaultRole = Viewer

// CreateUser adds an account; role "" is DefaultRole.
func (s *Service) CreateUser(ctx context.Context, username, password, role string) (_ User, err error) {
	defer func() { s.audit.Record(ctx, "", "user.create", "", username, err) }()
	if err := validUsername(username); err != nil {
		return User{}, err
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
	u := store.User{Username: username, Role: string(r), PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return User{}, fmt.Errorf("create user %q: %w", username, err)
	}
	return userView(u), nil
}

// UserChange is a partial update of an account.
type UserChange struct {
	Role     *string
	Password *string
}

// UpdateUser changes a role or password. A new password ends every session
// of the user; the last admin cannot be demoted.
func (s *Service) UpdateUser(ctx context.Context, username string, ch UserChange) (_ User, err error) {
	defer func() { s.audit.Record(ctx, "", "user.update", "", username, err) }()
	if ch.Role == nil && ch.Password == nil {
		return User{}, errs.Invalid("body", "give role and/or password")
	}
	u, err := s.store.GetUser(ctx, username)
	if err != nil {
		return User{}, fmt.Errorf("update user %q: %w", username, err)
	}
	if ch.Role != nil {
		r, err := ParseRole(*ch.Role)
		if err != nil {
			return User{}, errs.Invalid("role", "expected viewer, operator or admin")
		}
		if Role(u.Role) == Admin && r != Admin {
			if err := s.keepOneAdmin(ctx, username); err != nil {
				return User{}, err
			}
		}
		u.Role = string(r)
	}
	if ch.Password != nil {
		if err := validPassword(*ch.Password); err != nil {
			return User{}, err
		}
		if u.PasswordHash, err = s.hash(*ch.Password); err != nil {
			return User{}, err
		}
	}
	u.UpdatedAt = s.opt.Now().UTC()
	if err := s.store.UpdateUser(ctx, u); err != nil {
		return User{}, fmt.Errorf("update user %q: %w", username, err)
	}
	if ch.Password != nil {
		if err := s.store.DeleteUserSessions(ctx, username); err != nil {
			return User{}, fmt.Errorf("update user %q: end sessions after password change: %w", username, err)
		}
	}
	return userView(u), nil
}

// DeleteUser removes an account with its sessions and tokens. The last
// admin cannot be removed.
func (s *Service) DeleteUser(ctx context.Context, username string) (err error) {
	defer func() { s.audit.Record(ctx, "", "user.delete", "", username, err) }()
	u, err := s.store.GetUser(ctx, username)
	if err != nil {
		return fmt.Errorf("delete user %q: %w", username, err)
	}
	if Role(u.Role) == Admin {
		if err := s.keepOneAdmin(ctx, username); err != nil {
			return err
		}
	}
	// Credentials go first: a failure later leaves an account that cannot
	// log in, never a live session of a removed user.
	if err := s.store.DeleteUserSessions(ctx, username); err != nil {
		return fmt.Errorf("delete user %q: sessions: %w", username, err)
	}
	if err := s.store.DeleteUserTokens(ctx, username); err != nil {
		return fmt.Errorf("delete user %q: tokens: %w", username, err)
	}
	if err := s.store.DeleteUser(ctx, username); err != nil {
		return fmt.Errorf("delete user %q: %w", username, err)
	}
	return nil
}

func (s *Service) keepOneAdmin(ctx context.Context, except string) error {
	users, err := s.store.ListUsers(ctx)
	if err != nil {
		return fmt.Errorf("count admins: %w", err)
	}
	for _, o := range users {
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
	for i, u := range us {
		out[i] = userView(u)
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

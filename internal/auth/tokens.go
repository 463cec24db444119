package auth

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// Token is an API token as answers show it: never its text or hash.
type Token struct {
	Name      string
	Username  string
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
	// LastUsedAt is when it last authenticated a request, to the minute;
	// zero: never.
	LastUsedAt time.Time
}

func tokenView(t store.Token) Token {
	return Token{Name: t.Name, Username: t.Username, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt}
}

var tokenNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$`)

// CreateToken makes an API token for username. expiresIn "" or "0" means
// never; otherwise a Go duration ("720h"). The text is answered once and
// kept only as a hash.
func (s *Service) CreateToken(ctx context.Context, username, name, expiresIn string) (text string, _ Token, err error) {
	target := username + "/" + name
	if !tokenNameRE.MatchString(name) {
		target = username + "/(invalid name)"
	}
	defer func() { s.audit.Record(ctx, "", "token.create", "", target, err) }()
	if !tokenNameRE.MatchString(name) {
		return "", Token{}, errs.Invalid("name", "expected 1-64 letters, digits or _ . -, starting with a letter or digit")
	}
	now := s.opt.Now().UTC()
	t := store.Token{Name: name, Username: username, CreatedAt: now}
	if expiresIn != "" && expiresIn != "0" {
		d, err := time.ParseDuration(expiresIn)
		if err != nil || d <= 0 {
			return "", Token{}, errs.Invalid("expires_in", "expected a positive duration such as 720h, or 0 for never")
		}
		t.ExpiresAt = now.Add(d)
	}
	text = TokenPrefix + randomText(32)
	t.Hash = hashText(text)
	if err := s.store.CreateToken(ctx, t); err != nil {
		return "", Token{}, fmt.Errorf("create token %q: %w", name, err)
	}
	return text, tokenView(t), nil
}

// ListTokens answers username's tokens (without their texts).
func (s *Service) ListTokens(ctx context.Context, username string) ([]Token, error) {
	ts, err := s.store.ListTokens(ctx, username)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	out := make([]Token, len(ts))
	for i, t := range ts {
		out[i] = tokenView(t)
	}
	return out, nil
}

// UserTokens answers the tokens of another user (an admin's view):
// errs.ErrNotFound when there is no such user.
func (s *Service) UserTokens(ctx context.Context, username string) ([]Token, error) {
	if validUsername(username) != nil {
		return nil, errs.NotFound("user %q not found", username)
	}
	if _, err := s.store.GetUser(ctx, username); err != nil {
		return nil, fmt.Errorf("list tokens of %q: %w", username, err)
	}
	return s.ListTokens(ctx, username)
}

// DeleteToken revokes username's token name.
func (s *Service) DeleteToken(ctx context.Context, username, name string) (err error) {
	target := username + "/" + name
	if !tokenNameRE.MatchString(name) || validUsername(username) != nil {
		target = "(invalid name)"
	}
	defer func() { s.audit.Record(ctx, "", "token.delete", "", target, err) }()
	if target == "(invalid name)" {
		return errs.NotFound("token %q of user %q not found", name, username)
	}
	if err := s.store.DeleteToken(ctx, username, name); err != nil {
		return fmt.Errorf("revoke token %q: %w", name, err)
	}
	return nil
}

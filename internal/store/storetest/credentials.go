package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// This file holds the contract of the writes that keep credentials
// consistent: atomic user changes and removals checked against every user,
// sessions keeping their credential epoch, and attempts counted before
// they are checked and taken back after.

func testChangeUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, name := range []string{"ann", "ben"} {
		ok(t, s.CreateUser(ctx, store.User{Username: name, Role: "admin", PasswordHash: []byte("h"), CreatedAt: t0, UpdatedAt: t0, CredentialEpoch: 7}))
	}
	// Many changes at once: none is lost.
	const n = 12
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := s.ChangeUser(ctx, "ann", func(u store.User, all []store.User) (store.User, error) {
				if len(all) != 2 {
					t.Errorf("change sees %d users, want 2", len(all))
				}
				u.CredentialEpoch++
				return u, nil
			})
			if err != nil {
				t.Errorf("ChangeUser: %v", err)
			}
		})
	}
	wg.Wait()
	u, err := s.GetUser(ctx, "ann")
	ok(t, err)
	if u.CredentialEpoch != 7+n || u.Role != "admin" || string(u.PasswordHash) != "h" {
		t.Fatalf("after %d concurrent epoch bumps: %+v, want epoch %d and the rest kept", n, u, 7+n)
	}
	// A refused change stores nothing; an unknown user is not found.
	refuse := errs.Conflict("no")
	if _, err := s.ChangeUser(ctx, "ann", func(u store.User, _ []store.User) (store.User, error) {
		u.Role = "viewer"
		return u, refuse
	}); !errors.Is(err, errs.ErrConflict) {
		t.Fatalf("refused change: %v, want the change's conflict", err)
	}
	if u, _ := s.GetUser(ctx, "ann"); u.Role != "admin" {
		t.Fatalf("a refused change was stored: %+v", u)
	}
	if _, err := s.ChangeUser(ctx, "nobody", func(u store.User, _ []store.User) (store.User, error) { return u, nil }); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("change of an unknown user: %v, want not found", err)
	}
	// Two admins demoting each other at once: each change checks that
	// another admin stays, so exactly one of them succeeds.
	demote := func(name string) error {
		_, err := s.ChangeUser(ctx, name, func(u store.User, all []store.User) (store.User, error) {
			for _, o := range all {
				if o.Username != name && o.Role == "admin" {
					u.Role = "viewer"
					return u, nil
				}
			}
			return u, errs.Conflict("last admin")
		})
		return err
	}
	errc := make(chan error, 2)
	go func() { errc <- demote("ann") }()
	go func() { errc <- demote("ben") }()
	e1, e2 := <-errc, <-errc
	if (e1 == nil) == (e2 == nil) {
		t.Fatalf("two admins demoting each other: %v and %v, want exactly one refused", e1, e2)
	}
	// RemoveUserIf checks against every user in the same step.
	if err := s.RemoveUserIf(ctx, "ben", func(store.User, []store.User) error { return refuse }); !errors.Is(err, errs.ErrConflict) {
		t.Fatalf("refused removal: %v", err)
	}
	ok(t, s.RemoveUserIf(ctx, "ann", func(store.User, []store.User) error { return nil }))
	if _, err := s.GetUser(ctx, "ann"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("removed user: %v", err)
	}
	users, err := s.ListUsers(ctx)
	ok(t, err)
	if len(users) != 1 || users[0].Username != "ben" {
		t.Fatalf("users after removal: %+v", users)
	}
	if err := s.RemoveUserIf(ctx, "ann", func(store.User, []store.User) error { return nil }); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("removal of a removed user: %v", err)
	}
}

func testSessionEpoch(t *testing.T, s store.Store) {
	ctx := t.Context()
	sess := store.Session{ID: "ep-1", Username: "ann", CSRFToken: "c", CreatedAt: t0, ExpiresAt: time.Now().Add(time.Hour), CredentialEpoch: 42}
	ok(t, s.CreateSession(ctx, sess))
	ok(t, s.TouchSession(ctx, "ep-1", time.Now().Add(2*time.Hour)))
	got, err := s.GetSession(ctx, "ep-1")
	ok(t, err)
	if got.CredentialEpoch != 42 {
		t.Fatalf("session's credential epoch after a touch: %d, want 42", got.CredentialEpoch)
	}
}

func testUndoFailure(t *testing.T, s store.Store) {
	ctx := t.Context()
	for range 3 {
		_, err := s.AddFailure(ctx, "login:undo", time.Hour)
		ok(t, err)
	}
	ok(t, s.UndoFailure(ctx, "login:undo"))
	wantFailures(t, s, "login:undo", 2)
	for range 4 {
		ok(t, s.UndoFailure(ctx, "login:undo"))
	}
	wantFailures(t, s, "login:undo", 0)
	ok(t, s.UndoFailure(ctx, "login:never"))
	wantFailures(t, s, "login:never", 0)
	// Counting at once gives every caller its own count.
	const n = 20
	seen := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			c, err := s.AddFailure(ctx, "login:many", time.Hour)
			if err != nil {
				t.Errorf("AddFailure: %v", err)
			}
			seen <- c
		})
	}
	wg.Wait()
	close(seen)
	got := map[int]bool{}
	for c := range seen {
		got[c] = true
	}
	if len(got) != n {
		t.Fatalf("%d concurrent AddFailure calls answered %d distinct counts, want %d", n, len(got), n)
	}
}

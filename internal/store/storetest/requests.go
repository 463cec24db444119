package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// This file holds the contract of what requests write as they come:
// sessions, API tokens, audit records, login throttles and idempotency
// keys; storetest.go holds the registry's (clusters, users, registries).

func session(id, username string, expiresAt time.Time) store.Session {
	return store.Session{ID: id, Username: username, CSRFToken: "csrf-" + id, CreatedAt: t0, ExpiresAt: expiresAt.UTC()}
}

func testSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	later := time.Now().Add(time.Hour)
	in := session("s1", "alice", later)
	ok(t, s.CreateSession(ctx, in))
	isKind(t, s.CreateSession(ctx, in), errs.ErrConflict)
	got, err := s.GetSession(ctx, "s1")
	ok(t, err)
	same(t, got, in)
	_, err = s.GetSession(ctx, "nope")
	isKind(t, err, errs.ErrNotFound)

	in.ExpiresAt = later.Add(time.Hour).UTC()
	ok(t, s.TouchSession(ctx, "s1", in.ExpiresAt))
	got, err = s.GetSession(ctx, "s1")
	ok(t, err)
	same(t, got, in)
	isKind(t, s.TouchSession(ctx, "nope", later), errs.ErrNotFound)

	ok(t, s.DeleteSession(ctx, "s1"))
	_, err = s.GetSession(ctx, "s1")
	isKind(t, err, errs.ErrNotFound)
	ok(t, s.DeleteSession(ctx, "s1"))
	isKind(t, s.TouchSession(ctx, "s1", later), errs.ErrNotFound)
}

func testSessionExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Expired before it was stored: never answered, whether or not the
	// backend keeps it a while.
	ok(t, s.CreateSession(ctx, session("old", "alice", time.Now().Add(-time.Minute))))
	_, err := s.GetSession(ctx, "old")
	isKind(t, err, errs.ErrNotFound)
	isKind(t, s.TouchSession(ctx, "old", time.Now().Add(time.Hour)), errs.ErrNotFound)

	// A short deadline passes.
	short := time.Now().Add(150 * time.Millisecond)
	ok(t, s.CreateSession(ctx, session("short", "alice", short)))
	eventually(t, "session to expire", func() bool {
		_, err := s.GetSession(ctx, "short")
		if err == nil && !time.Now().Before(short) {
			t.Fatalf("GetSession answered a session after its deadline")
		}
		return errors.Is(err, errs.ErrNotFound)
	})

	// Touching moves the deadline: a session of an hour, touched to end
	// soon, ends soon.
	ok(t, s.CreateSession(ctx, session("touched", "alice", time.Now().Add(time.Hour))))
	ok(t, s.TouchSession(ctx, "touched", time.Now().Add(150*time.Millisecond)))
	eventually(t, "touched session to expire", func() bool {
		_, err := s.GetSession(ctx, "touched")
		return errors.Is(err, errs.ErrNotFound)
	})
}

func testDeleteUserSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	later := time.Now().Add(time.Hour)
	for i, u := range []string{"alice", "bob", "alice", "alice"} {
		ok(t, s.CreateSession(ctx, session(fmt.Sprint("s", i), u, later)))
	}
	ok(t, s.DeleteSession(ctx, "s2"))
	ok(t, s.DeleteUserSessions(ctx, "alice"))
	for _, id := range []string{"s0", "s2", "s3"} {
		_, err := s.GetSession(ctx, id)
		isKind(t, err, errs.ErrNotFound)
	}
	got, err := s.GetSession(ctx, "s1")
	ok(t, err)
	same(t, got, session("s1", "bob", later))
	ok(t, s.DeleteUserSessions(ctx, "nobody"))

	// New sessions after the purge live normally.
	ok(t, s.CreateSession(ctx, session("s4", "alice", later)))
	_, err = s.GetSession(ctx, "s4")
	ok(t, err)
}

func token(username, name string) store.Token {
	return store.Token{Hash: "hash-" + username + "-" + name, Name: name, Username: username, CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
}

func testTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	ok(t, s.CreateToken(ctx, token("alice", "deploy")))
	ok(t, s.CreateToken(ctx, token("alice", "ci")))
	ok(t, s.CreateToken(ctx, token("bob", "deploy")))
	noExpiry := token("bob", "forever")
	noExpiry.ExpiresAt = time.Time{}
	ok(t, s.CreateToken(ctx, noExpiry))

	isKind(t, s.CreateToken(ctx, token("alice", "deploy")), errs.ErrConflict)
	sameHash := token("carol", "x")
	sameHash.Hash = token("alice", "ci").Hash
	isKind(t, s.CreateToken(ctx, sameHash), errs.ErrConflict)
	_, err := s.GetTokenByHash(ctx, sameHash.Hash)
	ok(t, err)
	list, err := s.ListTokens(ctx, "carol")
	ok(t, err)
	same(t, list, []store.Token{})

	got, err := s.GetTokenByHash(ctx, token("alice", "ci").Hash)
	ok(t, err)
	same(t, got, token("alice", "ci"))
	got, err = s.GetTokenByHash(ctx, noExpiry.Hash)
	ok(t, err)
	same(t, got, noExpiry)
	_, err = s.GetTokenByHash(ctx, "nope")
	isKind(t, err, errs.ErrNotFound)

	list, err = s.ListTokens(ctx, "alice")
	ok(t, err)
	same(t, list, []store.Token{token("alice", "ci"), token("alice", "deploy")})

	ok(t, s.DeleteToken(ctx, "alice", "deploy"))
	isKind(t, s.DeleteToken(ctx, "alice", "deploy"), errs.ErrNotFound)
	isKind(t, s.DeleteToken(ctx, "carol", "deploy"), errs.ErrNotFound)
	_, err = s.GetTokenByHash(ctx, token("alice", "deploy").Hash)
	isKind(t, err, errs.ErrNotFound)
	_, err = s.GetTokenByHash(ctx, token("bob", "deploy").Hash)
	ok(t, err)
	ok(t, s.CreateToken(ctx, token("alice", "deploy")))

	ok(t, s.DeleteUserTokens(ctx, "alice"))
	list, err = s.ListTokens(ctx, "alice")
	ok(t, err)
	same(t, list, []store.Token{})
	_, err = s.GetTokenByHash(ctx, token("alice", "ci").Hash)
	isKind(t, err, errs.ErrNotFound)
	list, err = s.ListTokens(ctx, "bob")
	ok(t, err)
	same(t, list, []store.Token{token("bob", "deploy"), noExpiry})
	ok(t, s.DeleteUserTokens(ctx, "nobody"))
}

func testAudit(t *testing.T, s store.Store) {
	ctx := t.Context()
	recs := []store.AuditRecord{
		{Time: t0, User: "alice", Action: "service.create", Cluster: "prod", Target: "web", RequestID: "r1", Instance: "i1", Result: "ok"},
		{Time: t0.Add(1 * time.Minute), User: "bob", Action: "service.update", Cluster: "prod", Target: "web", Result: "error", Error: "engine said no"},
		{Time: t0.Add(2 * time.Minute), User: "alice", Action: "node.update", Cluster: "staging", Target: "n1", Result: "ok"},
		{Time: t0.Add(3 * time.Minute), User: "bob", Action: "service", Cluster: "staging", Result: "ok"},
		{Time: t0.Add(4 * time.Minute), User: "alice", Action: "cluster.create", Result: "ok"},
	}
	for _, r := range recs {
		ok(t, s.AppendAudit(ctx, r))
	}
	pick := func(idx ...int) []store.AuditRecord {
		out := []store.AuditRecord{}
		for _, i := range idx {
			out = append(out, recs[i])
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    store.AuditFilter
		want []store.AuditRecord
	}{
		{"all", store.AuditFilter{}, pick(4, 3, 2, 1, 0)},
		{"cluster", store.AuditFilter{Cluster: "prod"}, pick(1, 0)},
		{"user", store.AuditFilter{User: "alice"}, pick(4, 2, 0)},
		{"action exact", store.AuditFilter{Action: "service.update"}, pick(1)},
		{"action without dot is exact", store.AuditFilter{Action: "service"}, pick(3)},
		{"action prefix", store.AuditFilter{Action: "service."}, pick(1, 0)},
		{"since is inclusive", store.AuditFilter{Since: t0.Add(2 * time.Minute)}, pick(4, 3, 2)},
		{"limit", store.AuditFilter{Limit: 2}, pick(4, 3)},
		{"limit counts matches", store.AuditFilter{User: "alice", Limit: 2}, pick(4, 2)},
		{"all filters", store.AuditFilter{Cluster: "staging", User: "alice", Action: "node.", Since: t0}, pick(2)},
		{"none", store.AuditFilter{User: "carol"}, pick()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListAudit(ctx, tc.f)
			ok(t, err)
			same(t, got, tc.want, cmpopts.IgnoreFields(store.AuditRecord{}, "ID"))
		})
	}

	all, err := s.ListAudit(ctx, store.AuditFilter{})
	ok(t, err)
	ids := map[string]bool{}
	for _, r := range all {
		if r.ID == "" || ids[r.ID] {
			t.Errorf("record IDs %v: want each set and unique", all)
		}
		ids[r.ID] = true
	}
}

func testAuditCap(t *testing.T, s store.Store) {
	ctx := t.Context()
	var want []store.AuditRecord
	for i := range AuditCap + 3 {
		r := store.AuditRecord{Time: t0.Add(time.Duration(i) * time.Second), User: "alice", Action: fmt.Sprint("a", i), Result: "ok"}
		ok(t, s.AppendAudit(ctx, r))
		want = append([]store.AuditRecord{r}, want...)
	}
	got, err := s.ListAudit(ctx, store.AuditFilter{Limit: 100})
	ok(t, err)
	same(t, got, want[:AuditCap], cmpopts.IgnoreFields(store.AuditRecord{}, "ID"))
	got, err = s.ListAudit(ctx, store.AuditFilter{Action: "a0"})
	ok(t, err)
	same(t, got, []store.AuditRecord{})

	// A zero time is the time of appending.
	before := time.Now()
	ok(t, s.AppendAudit(ctx, store.AuditRecord{User: "bob", Action: "now", Result: "ok"}))
	got, err = s.ListAudit(ctx, store.AuditFilter{Limit: 1})
	ok(t, err)
	if len(got) != 1 || got[0].Time.Before(before.Add(-time.Second)) || got[0].Time.After(time.Now().Add(time.Second)) {
		t.Errorf("record appended without a time = %+v, want it stamped about %v", got, before)
	}
}

func testThrottle(t *testing.T, s store.Store) {
	ctx := t.Context()
	for want := 1; want <= 3; want++ {
		n, err := s.AddFailure(ctx, "login:alice", time.Hour)
		ok(t, err)
		if n != want {
			t.Fatalf("AddFailure = %d, want %d", n, want)
		}
	}
	wantFailures(t, s, "login:alice", 3)
	wantFailures(t, s, "login:bob", 0)
	ok(t, s.ResetFailures(ctx, "login:alice"))
	wantFailures(t, s, "login:alice", 0)
	ok(t, s.ResetFailures(ctx, "login:alice"))
	n, err := s.AddFailure(ctx, "login:alice", time.Hour)
	ok(t, err)
	if n != 1 {
		t.Fatalf("AddFailure after reset = %d, want 1", n)
	}
}

func testThrottleWindow(t *testing.T, s store.Store) {
	ctx := t.Context()
	// The window starts with the first failure; later ones do not move it.
	for range 2 {
		_, err := s.AddFailure(ctx, "ip:198.18.0.9", 150*time.Millisecond)
		ok(t, err)
	}
	eventually(t, "failure window to end", func() bool {
		n, err := s.Failures(ctx, "ip:198.18.0.9")
		ok(t, err)
		return n == 0
	})
	n, err := s.AddFailure(ctx, "ip:198.18.0.9", time.Hour)
	ok(t, err)
	if n != 1 {
		t.Fatalf("AddFailure in a new window = %d, want 1", n)
	}
}

func wantFailures(t *testing.T, s store.Store, key string, want int) {
	t.Helper()
	n, err := s.Failures(t.Context(), key)
	ok(t, err)
	if n != want {
		t.Fatalf("Failures(%q) = %d, want %d", key, n, want)
	}
}

func testIdempotency(t *testing.T, s store.Store) {
	ctx := t.Context()
	begin := func(key, fp string) (store.IdempotentResult, bool) {
		t.Helper()
		r, first, err := s.ClaimIdempotent(ctx, "o", key, fp, time.Hour, 0)
		ok(t, err)
		return r, first
	}
	r, first := begin("k1", "POST /x sha1")
	if !first {
		t.Fatalf("first ClaimIdempotent = %+v, not first", r)
	}
	same(t, r, store.IdempotentResult{})

	r, first = begin("k1", "POST /x sha1")
	if first {
		t.Fatal("second ClaimIdempotent while the first runs: first")
	}
	same(t, r, store.IdempotentResult{Fingerprint: "POST /x sha1"})

	// Another request with the key sees the first one's fingerprint.
	r, _ = begin("k1", "POST /y sha2")
	same(t, r, store.IdempotentResult{Fingerprint: "POST /x sha1"})

	done := store.IdempotentResult{Status: 201, ContentType: "application/json", Body: []byte(`{"id":"x"}`), Fingerprint: "POST /x sha1"}
	ok(t, s.FinishIdempotent(ctx, "o", "k1", done, time.Hour))
	r, first = begin("k1", "POST /x sha1")
	done.Done = true
	if first {
		t.Fatal("ClaimIdempotent after Finish: first")
	}
	same(t, r, done)

	_, first = begin("k2", "fp")
	if !first {
		t.Fatal("ClaimIdempotent of another key: not first")
	}
	ok(t, s.AbortIdempotent(ctx, "o", "k2"))
	if _, first = begin("k2", "fp"); !first {
		t.Fatal("ClaimIdempotent after Abort: not first")
	}
	ok(t, s.AbortIdempotent(ctx, "o", "never"))
	t.Run("Limit", func(t *testing.T) { testIdempotencyLimit(t, s) })
}

// testIdempotencyLimit: an owner holds at most limit live keys, claims
// and answers alike; another owner is not counted; an aborted or expired
// key frees its place; a key already held is answered, not refused.
func testIdempotencyLimit(t *testing.T, s store.Store) {
	ctx := t.Context()
	claim := func(owner, key string, ttl time.Duration) (bool, error) {
		t.Helper()
		_, first, err := s.ClaimIdempotent(ctx, owner, key, "fp", ttl, 3)
		return first, err
	}
	for _, k := range []string{"a", "b"} {
		if first, err := claim("lim", k, time.Hour); err != nil || !first {
			t.Fatalf("claim %s: first=%v err=%v", k, first, err)
		}
	}
	ok(t, s.FinishIdempotent(ctx, "lim", "a", store.IdempotentResult{Status: 200, Fingerprint: "fp"}, time.Hour))
	if first, err := claim("lim", "c", 150*time.Millisecond); err != nil || !first {
		t.Fatalf("claim c (third of 3): first=%v err=%v", first, err)
	}
	if _, err := claim("lim", "d", time.Hour); !errors.Is(err, store.ErrTooManyKeys) {
		t.Fatalf("claim d (fourth of 3): %v, want ErrTooManyKeys", err)
	}
	if first, err := claim("lim", "a", time.Hour); err != nil || first {
		t.Fatalf("claim a again at the limit: first=%v err=%v, want its answer", first, err)
	}
	if first, err := claim("other", "other-d", time.Hour); err != nil || !first {
		t.Fatalf("another owner's claim: first=%v err=%v", first, err)
	}
	ok(t, s.AbortIdempotent(ctx, "lim", "b"))
	if first, err := claim("lim", "d", time.Hour); err != nil || !first {
		t.Fatalf("claim d after b was aborted: first=%v err=%v", first, err)
	}
	eventually(t, "claim c to expire and free its place", func() bool {
		first, err := claim("lim", "e", time.Hour)
		if errors.Is(err, store.ErrTooManyKeys) {
			return false
		}
		ok(t, err)
		return first
	})
}

func testIdempotencyExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, first, err := s.ClaimIdempotent(ctx, "o", "k", "fp", 150*time.Millisecond, 0)
	ok(t, err)
	if !first {
		t.Fatal("ClaimIdempotent: not first")
	}
	eventually(t, "idempotency claim to expire", func() bool {
		_, first, err := s.ClaimIdempotent(ctx, "o", "k", "fp", time.Hour, 0)
		ok(t, err)
		return first
	})
	ok(t, s.FinishIdempotent(ctx, "o", "k", store.IdempotentResult{Status: 200, Fingerprint: "fp"}, 150*time.Millisecond))
	eventually(t, "idempotent answer to expire", func() bool {
		_, first, err := s.ClaimIdempotent(ctx, "o", "k", "fp", time.Hour, 0)
		ok(t, err)
		return first
	})
}

// eventually polls cond until it holds, failing the test after a deadline
// far beyond the short TTLs the suite uses.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("waiting for %s: %v", what, context.Cause(t.Context()))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func isKind(t *testing.T, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("err = %v, want kind %q", err, kind)
	}
}

func same(t *testing.T, got, want any, opts ...cmp.Option) {
	t.Helper()
	if d := cmp.Diff(got, want, opts...); d != "" {
		t.Fatalf("(-got +want)\n%s", d)
	}
}

func testTouchToken(t *testing.T, s store.Store) {
	ctx := t.Context()
	tk := token("touch", "ci")
	ok(t, s.CreateToken(ctx, tk))
	used := t0.Add(time.Hour)
	ok(t, s.TouchToken(ctx, tk.Hash, used))
	got, err := s.GetTokenByHash(ctx, tk.Hash)
	ok(t, err)
	tk.LastUsedAt = used
	same(t, got, tk)
	list, err := s.ListTokens(ctx, "touch")
	ok(t, err)
	same(t, list, []store.Token{tk})
	isKind(t, s.TouchToken(ctx, "hash-of-nothing", used), errs.ErrNotFound)
	ok(t, s.DeleteToken(ctx, "touch", "ci"))
	isKind(t, s.TouchToken(ctx, tk.Hash, used), errs.ErrNotFound)
}

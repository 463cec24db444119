package idempotency

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store/local"
)

func TestKeeper_ClaimReplayAndAbort(t *testing.T) {
	st, err := local.Open(t.TempDir(), local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	k := New(st, nil)
	ctx := context.Background()

	if _, first, err := k.Begin(ctx, "alice", "key-1", "POST /a h1"); err != nil || !first {
		t.Fatalf("first claim: first=%v err=%v", first, err)
	}
	if _, _, err := k.Begin(ctx, "alice", "key-1", "POST /a h1"); !errors.Is(err, errs.ErrConflict) {
		t.Fatalf("while the first runs: %v, want conflict", err)
	}
	// Another user's key of the same text is another key.
	if _, first, err := k.Begin(ctx, "bob", "key-1", "POST /a h1"); err != nil || !first {
		t.Fatalf("bob's key: first=%v err=%v", first, err)
	}
	want := Answer{Status: 201, ContentType: "application/json", Body: []byte(`{"id":"x"}`)}
	if err := k.Finish(ctx, "alice", "key-1", "POST /a h1", want); err != nil {
		t.Fatal(err)
	}
	got, first, err := k.Begin(ctx, "alice", "key-1", "POST /a h1")
	if err != nil || first || got.Status != 201 || string(got.Body) != `{"id":"x"}` {
		t.Fatalf("replay: %+v first=%v err=%v", got, first, err)
	}
	if _, _, err := k.Begin(ctx, "alice", "key-1", "POST /b h2"); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("key reused for another request: %v, want invalid", err)
	}
	if err := k.Abort(ctx, "bob", "key-1"); err != nil {
		t.Fatal(err)
	}
	if _, first, err := k.Begin(ctx, "bob", "key-1", "POST /a h1"); err != nil || !first {
		t.Fatalf("after abort: first=%v err=%v", first, err)
	}
}

func TestValidKey(t *testing.T) {
	for _, bad := range []string{"", strings.Repeat("k", 129), "has space", "tab\tkey", "ünïcode"} {
		err := ValidKey(bad)
		if pe, ok := errs.Public(err); !ok || pe.Field != Field {
			t.Errorf("ValidKey(%q) = %v, want invalid %s", bad, err, Field)
		}
	}
	if err := ValidKey("0b6f1c3e-7d7a-4c1e-9b53-2f1e4a3b9c10"); err != nil {
		t.Errorf("a UUID: %v", err)
	}
}

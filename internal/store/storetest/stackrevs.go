package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// This file holds the contract of stack revisions: per-stack numbering
// that survives the cap and concurrent deploys, newest-first listing, and
// records that come back exactly as stored.

// stackRev answers revision i of a stack, as a deploy stores it: every
// field set, Number left for the store to choose.
func stackRev(cluster, stack string, i int) store.StackRevision {
	return store.StackRevision{
		Cluster: cluster,
		Stack:   stack,
		Time:    t0.Add(time.Duration(i) * time.Minute),
		User:    "alice",
		Compose: fmt.Sprintf("services:\n  web:\n    image: hello:%d\n", i),
		Env:     map[string]string{"TAG": fmt.Sprint(i), "EMPTY": ""},
		Files:   map[string]string{"./nginx.conf": "worker_processes 1;\n"},
		Sealed: map[string]store.SealedFile{
			"./db_password": {Data: []byte{1, 0, 0xff, 0x7f, '"', '\\', byte(i)}, SHA256: "9f86d081884c7d65"},
		},
		Options: json.RawMessage(`{"prune":true,"resolve_image":"never"}`),
		Result:  json.RawMessage(fmt.Sprintf(`{"services":{"created":["%s_web"],"updated":[],"unchanged":[],"removed":[]},"warnings":["<%d> & more"]}`, stack, i)),
	}
}

// numbered answers r as the store answers it back under number n.
func numbered(r store.StackRevision, n int) store.StackRevision {
	r.Number = n
	return r
}

func addRev(t *testing.T, s store.Store, r store.StackRevision, want int) {
	t.Helper()
	n, err := s.AddStackRevision(t.Context(), r)
	ok(t, err)
	if n != want {
		t.Fatalf("AddStackRevision(%s/%s) = %d, want %d", r.Cluster, r.Stack, n, want)
	}
}

func testStackRevisions(t *testing.T, s store.Store) {
	ctx := t.Context()
	list, err := s.ListStackRevisions(ctx, "prod", "web")
	ok(t, err)
	same(t, list, []store.StackRevision{})
	_, err = s.GetStackRevision(ctx, "prod", "web", 1)
	isKind(t, err, errs.ErrNotFound)

	// A Number given by the caller is not the store's choice.
	in := stackRev("prod", "web", 1)
	in.Number = 7
	addRev(t, s, in, 1)
	addRev(t, s, stackRev("prod", "web", 2), 2)
	addRev(t, s, stackRev("prod", "web", 3), 3)

	// Same stack name in another cluster, another stack in the same
	// cluster: each numbered on its own.
	addRev(t, s, stackRev("dev", "web", 1), 1)
	addRev(t, s, stackRev("prod", "api", 1), 1)
	addRev(t, s, stackRev("prod", "web", 4), 4)

	list, err = s.ListStackRevisions(ctx, "prod", "web")
	ok(t, err)
	same(t, list, []store.StackRevision{
		numbered(stackRev("prod", "web", 4), 4), numbered(stackRev("prod", "web", 3), 3),
		numbered(stackRev("prod", "web", 2), 2), numbered(stackRev("prod", "web", 1), 1),
	})
	list, err = s.ListStackRevisions(ctx, "dev", "web")
	ok(t, err)
	same(t, list, []store.StackRevision{numbered(stackRev("dev", "web", 1), 1)})

	got, err := s.GetStackRevision(ctx, "prod", "web", 2)
	ok(t, err)
	same(t, got, numbered(stackRev("prod", "web", 2), 2))
	got, err = s.GetStackRevision(ctx, "prod", "api", 1)
	ok(t, err)
	same(t, got, numbered(stackRev("prod", "api", 1), 1))

	for _, miss := range []struct {
		cluster, stack string
		number         int
	}{{"prod", "web", 5}, {"prod", "web", 0}, {"prod", "web", -1}, {"dev", "web", 2}, {"prod", "nope", 1}, {"nope", "web", 1}} {
		_, err = s.GetStackRevision(ctx, miss.cluster, miss.stack, miss.number)
		isKind(t, err, errs.ErrNotFound)
	}
	list, err = s.ListStackRevisions(ctx, "nope", "web")
	ok(t, err)
	same(t, list, []store.StackRevision{})
}

// testStackRevisionsRoundTrip checks every field, secret bytes and raw
// JSON included, comes back as stored, and that neither what a store is
// given nor what it answers shares memory with what it keeps.
func testStackRevisionsRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	in := stackRev("prod", "web", 1)
	in.Time = time.Date(2025, 6, 7, 8, 9, 10, 123456789, time.UTC)
	in.Compose = "version: \"3.8\"\nservices:\n  web:\n    image: \"hello:1\" # ünïcödé, \\, \t\n"
	in.Env["QUOTE"] = `a "quoted" value`
	in.Files["./app.env"] = "A=1\nB=<&>\n"
	in.Sealed["./tls.key"] = store.SealedFile{Data: []byte{}, SHA256: "e3b0c442"}
	addRev(t, s, in, 1)
	in.Env["TAG"] = "changed"
	in.Sealed["./db_password"].Data[0] = 99
	in.Options[2] = 'X'

	want := numbered(stackRev("prod", "web", 1), 1)
	want.Time = time.Date(2025, 6, 7, 8, 9, 10, 123456789, time.UTC)
	want.Compose = "version: \"3.8\"\nservices:\n  web:\n    image: \"hello:1\" # ünïcödé, \\, \t\n"
	want.Env["QUOTE"] = `a "quoted" value`
	want.Files["./app.env"] = "A=1\nB=<&>\n"
	want.Sealed["./tls.key"] = store.SealedFile{Data: []byte{}, SHA256: "e3b0c442"}

	got, err := s.GetStackRevision(ctx, "prod", "web", 1)
	ok(t, err)
	same(t, got, want)
	got.Sealed["./db_password"].Data[0] = 99
	got.Files["./new"] = "x"
	list, err := s.ListStackRevisions(ctx, "prod", "web")
	ok(t, err)
	same(t, list, []store.StackRevision{want})
	list[0].Result[2] = 'X'
	got, err = s.GetStackRevision(ctx, "prod", "web", 1)
	ok(t, err)
	same(t, got, want)

	// A revision with nothing optional comes back without empty values.
	bare := store.StackRevision{Cluster: "prod", Stack: "bare", Time: t0, User: "bob", Compose: "services: {}\n"}
	addRev(t, s, bare, 1)
	got, err = s.GetStackRevision(ctx, "prod", "bare", 1)
	ok(t, err)
	same(t, got, numbered(bare, 1))
}

// testStackRevisionsCap adds more than the cap: the newest are kept, and
// numbering goes on where it was.
func testStackRevisionsCap(t *testing.T, s store.Store) {
	ctx := t.Context()
	const total = store.StackRevisionCap + 5
	for i := 1; i <= total; i++ {
		addRev(t, s, stackRev("prod", "web", i), i)
	}
	list, err := s.ListStackRevisions(ctx, "prod", "web")
	ok(t, err)
	var want []store.StackRevision
	for i := total; i > total-store.StackRevisionCap; i-- {
		want = append(want, numbered(stackRev("prod", "web", i), i))
	}
	same(t, list, want)
	for _, gone := range []int{1, total - store.StackRevisionCap} {
		_, err = s.GetStackRevision(ctx, "prod", "web", gone)
		isKind(t, err, errs.ErrNotFound)
	}
	got, err := s.GetStackRevision(ctx, "prod", "web", total-store.StackRevisionCap+1)
	ok(t, err)
	same(t, got, want[len(want)-1])

	addRev(t, s, stackRev("prod", "web", total+1), total+1)
	list, err = s.ListStackRevisions(ctx, "prod", "web")
	ok(t, err)
	if len(list) != store.StackRevisionCap || list[0].Number != total+1 || list[len(list)-1].Number != total-store.StackRevisionCap+2 {
		t.Errorf("after one more: %d revisions, %d to %d; want %d, %d to %d", len(list), list[0].Number, list[len(list)-1].Number,
			store.StackRevisionCap, total+1, total-store.StackRevisionCap+2)
	}
}

// testConcurrentStackRevisions is instances deploying one stack at once
// (the stack lock aside): every revision gets its own number, none is
// lost.
func testConcurrentStackRevisions(t *testing.T, s store.Store) {
	const goroutines, each = 8, 3
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		mu      sync.Mutex
		numbers []int
	)
	for g := range goroutines {
		wg.Go(func() {
			<-start
			for i := range each {
				r := stackRev("prod", "web", 0)
				r.User = fmt.Sprintf("user-%d-%d", g, i)
				n, err := s.AddStackRevision(t.Context(), r)
				if err != nil {
					t.Errorf("AddStackRevision: %v", err)
					return
				}
				mu.Lock()
				numbers = append(numbers, n)
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}
	slices.Sort(numbers)
	want := make([]int, goroutines*each)
	for i := range want {
		want[i] = i + 1
	}
	same(t, numbers, want)

	list, err := s.ListStackRevisions(t.Context(), "prod", "web")
	ok(t, err)
	users := map[string]int{}
	for i, r := range list {
		if r.Number != len(want)-i {
			t.Errorf("list[%d].Number = %d, want %d", i, r.Number, len(want)-i)
		}
		users[r.User]++
	}
	if len(users) != len(want) {
		t.Errorf("%d distinct revisions listed, want %d: %v", len(users), len(want), users)
	}
}

// testRevisedStacks lists the stacks that have revisions, whatever their
// names hold (":" joins them in Redis keys).
func testRevisedStacks(t *testing.T, s store.Store) {
	ctx := t.Context()
	refs, err := s.ListRevisedStacks(ctx)
	ok(t, err)
	same(t, refs, []store.StackRef{})

	addRev(t, s, stackRev("prod", "web", 1), 1)
	addRev(t, s, stackRev("prod", "web", 2), 2)
	addRev(t, s, stackRev("dev", "web", 1), 1)
	addRev(t, s, stackRev("prod", "api", 1), 1)
	addRev(t, s, stackRev("a:b", "c:d", 1), 1)
	put := numbered(stackRev("ops", "db", 1), 3)
	ok(t, s.PutStackRevision(ctx, put))

	refs, err = s.ListRevisedStacks(ctx)
	ok(t, err)
	same(t, refs, []store.StackRef{
		{Cluster: "a:b", Stack: "c:d"}, {Cluster: "dev", Stack: "web"}, {Cluster: "ops", Stack: "db"},
		{Cluster: "prod", Stack: "api"}, {Cluster: "prod", Stack: "web"},
	})
	list, err := s.ListStackRevisions(ctx, "a:b", "c:d")
	ok(t, err)
	same(t, list, []store.StackRevision{numbered(stackRev("a:b", "c:d", 1), 1)})
}

// testPutStackRevision stores revisions under their own numbers, as an
// import or a key rotation does: the count never goes back, numbers given
// are kept, a number given again replaces, and the cap holds.
func testPutStackRevision(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, bad := range []store.StackRevision{
		numbered(stackRev("prod", "web", 1), 0),
		numbered(stackRev("prod", "web", 1), -1),
		numbered(stackRev("", "web", 1), 1),
		numbered(stackRev("prod", "", 1), 1),
	} {
		if err := s.PutStackRevision(ctx, bad); err == nil {
			t.Fatalf("PutStackRevision(%q/%q number %d) = nil, want an error", bad.Cluster, bad.Stack, bad.Number)
		}
	}
	refs, err := s.ListRevisedStacks(ctx)
	ok(t, err)
	same(t, refs, []store.StackRef{})

	ok(t, s.PutStackRevision(ctx, numbered(stackRev("prod", "web", 3), 3)))
	got, err := s.GetStackRevision(ctx, "prod", "web", 3)
	ok(t, err)
	same(t, got, numbered(stackRev("prod", "web", 3), 3))
	_, err = s.GetStackRevision(ctx, "prod", "web", 1)
	isKind(t, err, errs.ErrNotFound)
	addRev(t, s, stackRev("prod", "web", 4), 4)

	// Below the count: kept under its number, the count stays.
	ok(t, s.PutStackRevision(ctx, numbered(stackRev("prod", "web", 2), 2)))
	addRev(t, s, stackRev("prod", "web", 5), 5)

	// The same number again replaces (a re-sealed revision).
	again := numbered(stackRev("prod", "web", 3), 3)
	again.User = "rotation"
	again.Sealed = map[string]store.SealedFile{"./db_password": {Data: []byte{9, 9, 9}, SHA256: "9f86d081884c7d65"}}
	ok(t, s.PutStackRevision(ctx, again))
	list, err := s.ListStackRevisions(ctx, "prod", "web")
	ok(t, err)
	same(t, list, []store.StackRevision{
		numbered(stackRev("prod", "web", 5), 5), numbered(stackRev("prod", "web", 4), 4),
		again, numbered(stackRev("prod", "web", 2), 2),
	})

	// Far ahead: the count jumps, and the cap drops what is now too old.
	far := 5 + store.StackRevisionCap
	ok(t, s.PutStackRevision(ctx, numbered(stackRev("prod", "web", far), far)))
	list, err = s.ListStackRevisions(ctx, "prod", "web")
	ok(t, err)
	same(t, list, []store.StackRevision{numbered(stackRev("prod", "web", far), far)})
	// A number the cap no longer keeps is not kept when put either.
	ok(t, s.PutStackRevision(ctx, numbered(stackRev("prod", "web", 5), 5)))
	_, err = s.GetStackRevision(ctx, "prod", "web", 5)
	isKind(t, err, errs.ErrNotFound)
	ok(t, s.PutStackRevision(ctx, numbered(stackRev("prod", "web", 6), 6)))
	addRev(t, s, stackRev("prod", "web", far+1), far+1)
	list, err = s.ListStackRevisions(ctx, "prod", "web")
	ok(t, err)
	same(t, list, []store.StackRevision{
		numbered(stackRev("prod", "web", far+1), far+1), numbered(stackRev("prod", "web", far), far),
	})

	// Other stacks count on their own.
	addRev(t, s, stackRev("prod", "api", 1), 1)
	refs, err = s.ListRevisedStacks(ctx)
	ok(t, err)
	same(t, refs, []store.StackRef{{Cluster: "prod", Stack: "api"}, {Cluster: "prod", Stack: "web"}})
}

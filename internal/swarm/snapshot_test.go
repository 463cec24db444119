package swarm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/swarmops/swarmops/internal/errs"
)

func TestSnapshots_BoundedLeastRecentlyUsedFirst(t *testing.T) {
	s := newSnapshots()
	at := time.Unix(1, 0)
	for i := range maxSnapshots {
		s.put(fmt.Sprintf("a\x00k%d", i), i, at)
	}
	if _, ok := s.get("a\x00k0"); !ok { // used: now the newest
		t.Fatal("k0 missing before the bound was passed")
	}
	s.put("b\x00new", "x", at)
	if _, ok := s.get("a\x00k1"); ok {
		t.Error("the least recently used entry was kept past the bound")
	}
	if _, ok := s.get("a\x00k0"); !ok {
		t.Error("a recently used entry was dropped")
	}
	s.put("a\x00k0", 42, at.Add(time.Second))
	if got, _ := s.get("a\x00k0"); got.v != 42 || !got.at.Equal(at.Add(time.Second)) {
		t.Errorf("a put did not replace: %+v", got)
	}
	s.forget("a")
	if _, ok := s.get("a\x00k0"); ok {
		t.Error("forget kept the cluster's snapshots")
	}
	if _, ok := s.get("b\x00new"); !ok {
		t.Error("forget dropped another cluster's snapshot")
	}
}

func TestFreshness_OldestSnapshotWins(t *testing.T) {
	ctx, fr := WithFreshness(context.Background())
	if _, _, stale := fr.Stale(); stale {
		t.Fatal("fresh context says stale")
	}
	newer, older := time.Unix(200, 0), time.Unix(100, 0)
	markStale(ctx, newer, Electing)
	markStale(ctx, older, NoQuorum)
	markStale(ctx, newer, NoQuorum)
	since, reason, stale := fr.Stale()
	if !stale || !since.Equal(older) || reason != NoQuorum {
		t.Errorf("stale=%v since=%v reason=%q; want the oldest snapshot's time", stale, since, reason)
	}
	markStale(context.Background(), older, Electing) // no Freshness: nothing to mark, no panic
}

func TestIsNoLeader(t *testing.T) {
	for _, tc := range []struct {
		err     error
		want    bool
		refused bool
	}{
		{cerrdefs.ErrUnavailable.WithMessage("The swarm does not have a leader. It's possible that too few managers are online."), true, true},
		{errors.New("Error response from daemon: rpc error: code = Unknown desc = raft: no elected cluster leader"), true, true},
		{errors.New("Error response from daemon: rpc error: code = DeadlineExceeded desc = context deadline exceeded"), true, false},
		{cerrdefs.ErrUnavailable.WithMessage("This node is not a swarm manager."), false, false},
		{context.DeadlineExceeded, false, false}, // no answer at all: a dead manager, not a leaderless swarm
		{cerrdefs.ErrNotFound.WithMessage("service x not found"), false, false},
		{nil, false, false},
	} {
		if got := isNoLeader(tc.err); got != tc.want {
			t.Errorf("isNoLeader(%v) = %v, want %v", tc.err, got, tc.want)
		}
		if tc.want && leaderRefused(tc.err) != tc.refused {
			t.Errorf("leaderRefused(%v) = %v, want %v", tc.err, !tc.refused, tc.refused)
		}
	}
}

func TestElectionError_SaysWhatAndWhen(t *testing.T) {
	e := Election{Status: Electing, Since: time.Unix(100, 0), Seconds: 4}
	e.Managers.Reachable, e.Managers.Total = 2, 3
	err := electionError("prod", e, nothingSent(write))
	pe, ok := errs.Public(err)
	if !ok || pe.Kind != errs.ErrUnavailable || pe.RetryAfter != electionRetryAfter || pe.Details["election"] != Electing {
		t.Fatalf("%#v", err)
	}
	for _, w := range []string{`"prod"`, "electing a new leader", "2 of 3", "nothing was applied"} {
		if !strings.Contains(pe.Message, w) {
			t.Errorf("message %q lacks %q", pe.Message, w)
		}
	}
	e.Status = NoQuorum
	e.Managers.Reachable = 1
	pe, _ = errs.Public(electionError("prod", e, nothingSent(read)))
	for _, w := range []string{"lost its quorum", "1 of 3", "force-new-cluster", "retry shortly"} {
		if !strings.Contains(pe.Message, w) {
			t.Errorf("message %q lacks %q", pe.Message, w)
		}
	}
}

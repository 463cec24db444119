package redis_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	goredis "github.com/redis/go-redis/v9"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
	"github.com/swarmops/swarmops/internal/store/redis"
	"github.com/swarmops/swarmops/internal/testenv"
)

// readsFixture is a store on a Redis of the test's own, with a user, its
// session and three clusters, one of them the default.
type readsFixture struct {
	srv  *testenv.RedisServer
	raw  *goredis.Client
	s    *redis.Store
	sess store.Session
	user store.User
	list []store.Cluster
}

func newReadsFixture(t *testing.T, prefix string) readsFixture {
	t.Helper()
	srv := testenv.NewRedis(t, "")
	f := readsFixture{srv: srv, raw: goredis.NewClient(&goredis.Options{Addr: srv.Addr})}
	t.Cleanup(func() { f.raw.Close() })
	f.s = redis.New(goredis.NewClient(&goredis.Options{Addr: srv.Addr}), redis.Options{Prefix: prefix})
	t.Cleanup(func() { f.s.Close() })
	ctx := t.Context()
	t0 := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	f.user = store.User{Username: "alice", Role: "operator", PasswordHash: []byte("hash"), CreatedAt: t0, UpdatedAt: t0, CredentialEpoch: 3}
	must(t, f.s.CreateUser(ctx, f.user))
	f.sess = store.Session{ID: "sid", Username: "alice", CSRFToken: "csrf", CreatedAt: t0, ExpiresAt: time.Now().Add(time.Hour).UTC(), CredentialEpoch: 3}
	must(t, f.s.CreateSession(ctx, f.sess))
	for _, name := range []string{"prod", "dev", "edge"} {
		c := store.Cluster{Name: name, Endpoints: []string{"tcp://198.18.0.11:2375"}, Labels: map[string]string{"env": name}, CreatedAt: t0, UpdatedAt: t0}
		must(t, f.s.CreateCluster(ctx, c))
		f.list = append(f.list, c)
	}
	must(t, f.s.SetDefaultCluster(ctx, "prod"))
	f.list = []store.Cluster{f.list[1], f.list[2], f.list[0]} // by name
	return f
}

// reads answers how many requests Redis has read from its clients.
func (f readsFixture) reads(t *testing.T) int {
	t.Helper()
	return int(testenv.RedisStats(t, f.raw).Reads)
}

// check reads the session with its user and the listing, and compares
// them with the fixture's.
func (f readsFixture) check(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	sess, u, err := f.s.GetSessionUser(ctx, "sid")
	must(t, err)
	if diff := cmp.Diff(f.sess, sess); diff != "" {
		t.Errorf("GetSessionUser session (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(f.user, u); diff != "" {
		t.Errorf("GetSessionUser user (-want +got):\n%s", diff)
	}
	list, def, err := f.s.ListClustersPublic(ctx)
	must(t, err)
	if diff := cmp.Diff(f.list, list); diff != "" || def != "prod" {
		t.Errorf("ListClustersPublic: default %q, list (-want +got):\n%s", def, diff)
	}
	full, err := f.s.ListClusters(ctx)
	must(t, err)
	if diff := cmp.Diff(f.list, full); diff != "" {
		t.Errorf("ListClusters (-want +got):\n%s", diff)
	}
}

// TestStore_OneRoundTrip: what every request reads (a session with its
// user, the registry's listing) is one request to Redis each.
func TestStore_OneRoundTrip(t *testing.T) {
	skipShort(t)
	f := newReadsFixture(t, "swarmops:")
	f.check(t) // scripts loaded, connections made
	ctx := t.Context()
	for name, read := range map[string]func() error{
		"GetSessionUser":     func() error { _, _, err := f.s.GetSessionUser(ctx, "sid"); return err },
		"ListClustersPublic": func() error { _, _, err := f.s.ListClustersPublic(ctx); return err },
		"ListClusters":       func() error { return second(f.s.ListClusters(ctx)) },
	} {
		before := f.reads(t)
		must(t, read())
		// Less the INFO of reads.
		if n := f.reads(t) - before - 1; n != 1 {
			t.Errorf("%s took %d requests to Redis, want 1", name, n)
		}
	}
}

// TestStore_ReadsWithoutSort: an ACL user that may read only the keys
// under its prefix is refused SORT's GET by Redis 7, and a prefix with a
// "*" cannot be a SORT pattern; both are answered all the same.
func TestStore_ReadsWithoutSort(t *testing.T) {
	skipShort(t)
	t.Run("prefix with a star", func(t *testing.T) {
		f := newReadsFixture(t, "so*ops:")
		f.check(t)
	})
	t.Run("ACL user of the prefix only", func(t *testing.T) {
		f := newReadsFixture(t, "team-a:")
		ctx := t.Context()
		must(t, f.raw.Do(ctx, "ACL", "SETUSER", "team-a", "on", ">pw-team-a", "~team-a:*", "+@all").Err())
		s := redis.New(goredis.NewClient(&goredis.Options{Addr: f.srv.Addr, Username: "team-a", Password: "pw-team-a"}),
			redis.Options{Prefix: "team-a:"})
		defer s.Close()
		f.s = s
		for range 2 { // refused, then not tried again
			f.check(t)
		}
	})
	t.Run("ACL user denied the dangerous commands", func(t *testing.T) {
		// The Redis documentation's own example of a restricted user, and
		// common on managed Redis: SORT and SORT_RO are @dangerous.
		f := newReadsFixture(t, "team-b:")
		ctx := t.Context()
		must(t, f.raw.Do(ctx, "ACL", "SETUSER", "team-b", "on", ">pw-team-b", "~*", "+@all", "-@dangerous").Err())
		s := redis.New(goredis.NewClient(&goredis.Options{Addr: f.srv.Addr, Username: "team-b", Password: "pw-team-b"}),
			redis.Options{Prefix: "team-b:"})
		defer s.Close()
		f.s = s
		for range 2 {
			f.check(t)
		}
	})
	t.Run("too few replicas for writes", func(t *testing.T) {
		// min-replicas-to-write with no replica refuses writes; reads,
		// listings included, go on.
		f := newReadsFixture(t, "swarmops:")
		ctx := t.Context()
		must(t, f.raw.ConfigSet(ctx, "min-replicas-to-write", "1").Err())
		t.Cleanup(func() { _ = f.raw.ConfigSet(context.Background(), "min-replicas-to-write", "0").Err() })
		for range 2 {
			f.check(t)
		}
	})
}

// TestStore_SessionUserText: a session whose text is not as this build
// writes it still answers its own user, never another.
func TestStore_SessionUserText(t *testing.T) {
	skipShort(t)
	f := newReadsFixture(t, "swarmops:")
	ctx := t.Context()
	must(t, f.s.CreateUser(ctx, store.User{Username: "mallory", Role: "admin"}))
	exp := f.sess.ExpiresAt.Format(time.RFC3339Nano)
	for name, text := range map[string]string{
		"spaces":             `{"id": "sid", "username": "alice", "csrf_token": "csrf", "expires_at": "` + exp + `"}`,
		"escaped name":       `{"id":"sid","username":"\u0061lice","csrf_token":"csrf","expires_at":"` + exp + `"}`,
		"another name first": `{"future":{"username":"mallory"},"id":"sid","username":"alice","csrf_token":"csrf","expires_at":"` + exp + `"}`,
	} {
		must(t, f.raw.Set(ctx, "swarmops:session:sid", text, time.Hour).Err())
		_, u, err := f.s.GetSessionUser(ctx, "sid")
		if err != nil || u.Username != "alice" || u.Role != "operator" {
			t.Errorf("%s: user %+v, %v; want alice", name, u, err)
		}
	}
	// A session of a user that is gone, whichever name comes first.
	must(t, f.s.DeleteUser(ctx, "alice"))
	for _, text := range []string{
		`{"id":"sid","username":"alice","expires_at":"` + exp + `"}`,
		`{"x":{"username":"mallory"},"id":"sid","username":"alice","expires_at":"` + exp + `"}`,
	} {
		must(t, f.raw.Set(ctx, "swarmops:session:sid", text, time.Hour).Err())
		sess, u, err := f.s.GetSessionUser(ctx, "sid")
		if !errsIsNotFound(err) || sess.ID != "sid" || u.Username != "" {
			t.Errorf("session of a removed user (%s): %+v, %+v, %v; want not found with the session", text, sess, u, err)
		}
	}
}

// TestStore_ListingFollowsWrites: the listing reads what is stored now,
// record by record, however often the same records were read before.
func TestStore_ListingFollowsWrites(t *testing.T) {
	skipShort(t)
	f := newReadsFixture(t, "swarmops:")
	ctx := t.Context()
	for i := range 3 {
		f.check(t)
		f.list[0].Labels = map[string]string{"round": fmt.Sprint(i)}
		must(t, f.s.UpdateCluster(ctx, f.list[0]))
	}
	// A record written back as it was before is read as it is again.
	f.list[0].Labels = map[string]string{"env": "dev"}
	must(t, f.s.UpdateCluster(ctx, f.list[0]))
	f.check(t)
}

func errsIsNotFound(err error) bool { return errs.KindOf(err) == errs.ErrNotFound }

// TestStore_ReadAhead: a session read asked to read the registry ahead
// (store.ReadAhead) reads it in the same round trip, and the listing
// that follows answers it without another; it is taken once, a write in
// between drops it, and a Redis that lost the session script or refuses
// SORT answers the same, only with more round trips.
func TestStore_ReadAhead(t *testing.T) {
	skipShort(t)
	f := newReadsFixture(t, "swarmops:")
	f.check(t) // scripts loaded, connections made
	ahead := func() context.Context { return store.WithReadAhead(t.Context(), &store.ReadAhead{Clusters: true}) }
	// read answers the session with its user and then the listing of
	// ctx, checked against the fixture's, and the round trips they took.
	read := func(ctx context.Context, want []store.Cluster) int {
		t.Helper()
		before := f.reads(t)
		_, u, err := f.s.GetSessionUser(ctx, "sid")
		must(t, err)
		list, def, err := f.s.ListClustersPublic(ctx)
		must(t, err)
		n := f.reads(t) - before - 1
		if diff := cmp.Diff(want, list); diff != "" || def != "prod" || u.Username != "alice" {
			t.Errorf("user %q, default %q, list (-want +got):\n%s", u.Username, def, diff)
		}
		return n
	}

	t.Run("one round trip", func(t *testing.T) {
		if n := read(ahead(), f.list); n != 1 {
			t.Errorf("session and listing read ahead: %d round trips, want 1", n)
		}
		if n := read(t.Context(), f.list); n != 2 {
			t.Errorf("without reading ahead: %d round trips, want 2", n)
		}
	})
	t.Run("taken once", func(t *testing.T) {
		ctx := ahead()
		read(ctx, f.list)
		before := f.reads(t)
		list, _, err := f.s.ListClustersPublic(ctx)
		must(t, err)
		if n := f.reads(t) - before - 1; n != 1 || len(list) != len(f.list) {
			t.Errorf("a second listing: %d round trips (want 1, read again), %d clusters", n, len(list))
		}
	})
	t.Run("a write drops it", func(t *testing.T) {
		added := store.Cluster{Name: "zz-added", Endpoints: []string{"tcp://198.18.0.12:2375"}, Labels: map[string]string{}}
		t.Cleanup(func() { _ = f.s.DeleteCluster(context.Background(), added.Name) })
		// Each write changes what the listing answers after it.
		for _, w := range []struct {
			name  string
			write func(ctx context.Context) error
			check func(list []store.Cluster, def string) bool
		}{
			{"create", func(ctx context.Context) error { return f.s.CreateCluster(ctx, added) },
				func(l []store.Cluster, _ string) bool {
					return len(l) == len(f.list)+1 && l[len(l)-1].Name == added.Name
				}},
			{"update", func(ctx context.Context) error {
				added.Labels = map[string]string{"after": "update"}
				return f.s.UpdateCluster(ctx, added)
			}, func(l []store.Cluster, _ string) bool { return l[len(l)-1].Labels["after"] == "update" }},
			{"default mark", func(ctx context.Context) error { return f.s.SetDefaultCluster(ctx, added.Name) },
				func(_ []store.Cluster, def string) bool { return def == added.Name }},
			{"delete", func(ctx context.Context) error { return f.s.DeleteCluster(ctx, added.Name) },
				func(l []store.Cluster, def string) bool { return len(l) == len(f.list) && def == "" }},
		} {
			ctx := ahead()
			_, _, err := f.s.GetSessionUser(ctx, "sid")
			must(t, err)
			must(t, w.write(ctx))
			list, def, err := f.s.ListClustersPublic(ctx)
			must(t, err)
			if !w.check(list, def) {
				t.Errorf("a listing after a %s in the same request: default %q, %+v", w.name, def, list)
			}
		}
		must(t, f.s.SetDefaultCluster(t.Context(), "prod"))
	})
	t.Run("prefix with a star", func(t *testing.T) {
		g := newReadsFixture(t, "so*ops:")
		if n := func() int {
			ctx := ahead()
			before := g.reads(t)
			_, _, err := g.s.GetSessionUser(ctx, "sid")
			must(t, err)
			list, def, err := g.s.ListClustersPublic(ctx)
			must(t, err)
			if diff := cmp.Diff(g.list, list); diff != "" || def != "prod" {
				t.Errorf("default %q, list (-want +got):\n%s", def, diff)
			}
			return g.reads(t) - before - 1
		}(); n < 2 {
			t.Errorf("%d round trips: a prefix with a star cannot be read by SORT", n)
		}
	})
	t.Run("script flushed", func(t *testing.T) {
		must(t, f.raw.ScriptFlush(t.Context()).Err())
		if n := read(ahead(), f.list); n > 3 {
			t.Errorf("%d round trips", n)
		}
		if n := read(ahead(), f.list); n != 1 {
			t.Errorf("once loaded again: %d round trips, want 1", n)
		}
	})
	t.Run("SORT refused", func(t *testing.T) {
		g := newReadsFixture(t, "team-c:")
		must(t, g.raw.Do(t.Context(), "ACL", "SETUSER", "team-c", "on", ">pw-team-c", "~*", "+@all", "-@dangerous").Err())
		s := redis.New(goredis.NewClient(&goredis.Options{Addr: g.srv.Addr, Username: "team-c", Password: "pw-team-c"}),
			redis.Options{Prefix: "team-c:"})
		defer s.Close()
		g.s = s
		for range 3 {
			ctx := ahead()
			_, u, err := g.s.GetSessionUser(ctx, "sid")
			must(t, err)
			list, def, err := g.s.ListClustersPublic(ctx)
			must(t, err)
			if diff := cmp.Diff(g.list, list); diff != "" || def != "prod" || u.Username != "alice" {
				t.Errorf("user %q, default %q, list (-want +got):\n%s", u.Username, def, diff)
			}
		}
	})
}

package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// AuditCap is the audit cap the stores given to Run must have.
const AuditCap = 5

// Run runs the contract suite. open answers a new, empty store whose audit
// cap is AuditCap, closed when its test ends; it is called from parallel
// subtests.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		test func(t *testing.T, s store.Store)
	}{
		{"Clusters", testClusters},
		{"ClustersCopies", testClustersCopies},
		{"DefaultCluster", testDefaultCluster},
		{"ConcurrentCreateCluster", testConcurrentCreateCluster},
		{"Users", testUsers},
		{"Registries", testRegistries},
		{"Sessions", testSessions},
		{"SessionExpiry", testSessionExpiry},
		{"DeleteUserSessions", testDeleteUserSessions},
		{"Tokens", testTokens},
		{"TouchToken", testTouchToken},
		{"Audit", testAudit},
		{"AuditCap", testAuditCap},
		{"Throttle", testThrottle},
		{"ThrottleWindow", testThrottleWindow},
		{"Idempotency", testIdempotency},
		{"IdempotencyExpiry", testIdempotencyExpiry},
		{"StackRevisions", testStackRevisions},
		{"StackRevisionsRoundTrip", testStackRevisionsRoundTrip},
		{"StackRevisionsCap", testStackRevisionsCap},
		{"ConcurrentStackRevisions", testConcurrentStackRevisions}, {"RevisedStacks", testRevisedStacks}, {"PutStackRevision", testPutStackRevision},
		{"Meta", testMeta}, {"LoginStates", testLoginStates},
		{"ChangeUser", testChangeUser}, {"SessionEpoch", testSessionEpoch}, {"UndoFailure", testUndoFailure},
		{"SessionUser", testSessionUser}, {"ClustersPublic", testClustersPublic},
		{"Ping", func(t *testing.T, s store.Store) { ok(t, s.Ping(t.Context())) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, open(t))
		})
	}
}

// t0 is the time the fixtures were made; JSON keeps times to the
// nanosecond, so they compare exactly after a round trip.
var t0 = time.Date(2025, 3, 4, 5, 6, 7, 890, time.UTC)

func cluster(name string) store.Cluster {
	return store.Cluster{
		Name:      name,
		Endpoints: []string{"tcp://198.18.0.11:2375", "tcp://198.18.0.12:2375"},
		TLS:       &store.TLS{CA: "ca-pem", Cert: "cert-pem", Key: "key-pem"},
		Labels:    map[string]string{"env": name},
		SwarmID:   "swarm-" + name,
		CreatedAt: t0,
		UpdatedAt: t0,
	}
}

func testClusters(t *testing.T, s store.Store) {
	ctx := t.Context()
	// An empty list is empty, not nil: it renders as [] in JSON.
	list, err := s.ListClusters(ctx)
	ok(t, err)
	same(t, list, []store.Cluster{})

	for _, name := range []string{"prod", "dev", "staging"} {
		ok(t, s.CreateCluster(ctx, cluster(name)))
	}
	got, err := s.GetCluster(ctx, "prod")
	ok(t, err)
	same(t, got, cluster("prod"))

	list, err = s.ListClusters(ctx)
	ok(t, err)
	same(t, list, []store.Cluster{cluster("dev"), cluster("prod"), cluster("staging")})

	isKind(t, s.CreateCluster(ctx, cluster("prod")), errs.ErrConflict)
	_, err = s.GetCluster(ctx, "nope")
	isKind(t, err, errs.ErrNotFound)

	upd := cluster("prod")
	upd.Endpoints = []string{"unix:///run/docker.sock"}
	upd.TLS = nil
	upd.UpdatedAt = t0.Add(time.Hour)
	ok(t, s.UpdateCluster(ctx, upd))
	got, err = s.GetCluster(ctx, "prod")
	ok(t, err)
	same(t, got, upd)
	isKind(t, s.UpdateCluster(ctx, cluster("nope")), errs.ErrNotFound)

	ok(t, s.DeleteCluster(ctx, "prod"))
	_, err = s.GetCluster(ctx, "prod")
	isKind(t, err, errs.ErrNotFound)
	isKind(t, s.DeleteCluster(ctx, "prod"), errs.ErrNotFound)
	ok(t, s.CreateCluster(ctx, cluster("prod")))
}

// testClustersCopies checks that neither the value given to a store nor
// the values it answers share memory with what it keeps.
func testClustersCopies(t *testing.T, s store.Store) {
	ctx := t.Context()
	in := cluster("prod")
	ok(t, s.CreateCluster(ctx, in))
	in.Labels["env"] = "changed"
	in.Endpoints[0] = "changed"
	in.TLS.Key = "changed"

	got, err := s.GetCluster(ctx, "prod")
	ok(t, err)
	got.Labels["env"] = "changed"
	got.Endpoints[0] = "changed"
	list, err := s.ListClusters(ctx)
	ok(t, err)
	list[0].Labels["new"] = "x"
	list[0].TLS.CA = "changed"

	got, err = s.GetCluster(ctx, "prod")
	ok(t, err)
	same(t, got, cluster("prod"))
}

func testDefaultCluster(t *testing.T, s store.Store) {
	ctx := t.Context()
	wantDefault := func(want string) {
		t.Helper()
		got, err := s.DefaultCluster(ctx)
		ok(t, err)
		if got != want {
			t.Fatalf("DefaultCluster = %q, want %q", got, want)
		}
	}
	wantDefault("")
	ok(t, s.CreateCluster(ctx, cluster("a")))
	ok(t, s.CreateCluster(ctx, cluster("b")))
	ok(t, s.SetDefaultCluster(ctx, "a"))
	wantDefault("a")
	isKind(t, s.SetDefaultCluster(ctx, "nope"), errs.ErrNotFound)
	wantDefault("a")
	ok(t, s.SetDefaultCluster(ctx, ""))
	wantDefault("")

	ok(t, s.SetDefaultCluster(ctx, "b"))
	ok(t, s.DeleteCluster(ctx, "a"))
	wantDefault("b")
	ok(t, s.DeleteCluster(ctx, "b"))
	wantDefault("")
	ok(t, s.CreateCluster(ctx, cluster("b")))
	wantDefault("")
}

// testConcurrentCreateCluster is two instances registering one name at once,
// many times over: exactly one wins.
func testConcurrentCreateCluster(t *testing.T, s store.Store) {
	const n = 16
	var (
		wg              sync.WaitGroup
		start           = make(chan struct{})
		results         = make(chan error, n)
		wins, conflicts int
	)
	for range n {
		wg.Go(func() {
			<-start
			results <- s.CreateCluster(t.Context(), cluster("race"))
		})
	}
	close(start)
	wg.Wait()
	close(results)
	for err := range results {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, errs.ErrConflict):
			conflicts++
		default:
			t.Errorf("CreateCluster: %v, want nil or a conflict", err)
		}
	}
	if wins != 1 || conflicts != n-1 {
		t.Errorf("%d successes and %d conflicts, want 1 and %d", wins, conflicts, n-1)
	}
}

func user(name string) store.User {
	return store.User{Username: name, Role: "viewer", PasswordHash: []byte("hash-of-" + name), CreatedAt: t0, UpdatedAt: t0}
}

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, name := range []string{"carol", "alice", "bob"} {
		ok(t, s.CreateUser(ctx, user(name)))
	}
	isKind(t, s.CreateUser(ctx, user("bob")), errs.ErrConflict)
	list, err := s.ListUsers(ctx)
	ok(t, err)
	same(t, list, []store.User{user("alice"), user("bob"), user("carol")})

	got, err := s.GetUser(ctx, "alice")
	ok(t, err)
	got.PasswordHash[0] = 'X'
	got, err = s.GetUser(ctx, "alice")
	ok(t, err)
	same(t, got, user("alice"))
	_, err = s.GetUser(ctx, "nope")
	isKind(t, err, errs.ErrNotFound)

	upd := user("alice")
	upd.Role = "admin"
	upd.PasswordHash = []byte("new")
	ok(t, s.UpdateUser(ctx, upd))
	got, err = s.GetUser(ctx, "alice")
	ok(t, err)
	same(t, got, upd)
	isKind(t, s.UpdateUser(ctx, user("nope")), errs.ErrNotFound)

	ok(t, s.DeleteUser(ctx, "alice"))
	isKind(t, s.DeleteUser(ctx, "alice"), errs.ErrNotFound)
	list, err = s.ListUsers(ctx)
	ok(t, err)
	same(t, list, []store.User{user("bob"), user("carol")})
}

func registry(name string) store.Registry {
	return store.Registry{Name: name, URL: "https://" + name + ".example", Username: "u", Password: "p", InsecureSkipVerify: true, CreatedAt: t0}
}

func testRegistries(t *testing.T, s store.Store) {
	ctx := t.Context()
	ok(t, s.CreateRegistry(ctx, registry("zot")))
	ok(t, s.CreateRegistry(ctx, registry("hub")))
	isKind(t, s.CreateRegistry(ctx, registry("zot")), errs.ErrConflict)
	got, err := s.GetRegistry(ctx, "hub")
	ok(t, err)
	same(t, got, registry("hub"))
	_, err = s.GetRegistry(ctx, "nope")
	isKind(t, err, errs.ErrNotFound)
	list, err := s.ListRegistries(ctx)
	ok(t, err)
	same(t, list, []store.Registry{registry("hub"), registry("zot")})
	changed := registry("hub")
	changed.Username, changed.InsecureSkipVerify = "v", false
	ok(t, s.UpdateRegistry(ctx, changed))
	got, err = s.GetRegistry(ctx, "hub")
	ok(t, err)
	same(t, got, changed)
	isKind(t, s.UpdateRegistry(ctx, registry("nope")), errs.ErrNotFound)
	ok(t, s.DeleteRegistry(ctx, "hub"))
	isKind(t, s.DeleteRegistry(ctx, "hub"), errs.ErrNotFound)
	list, err = s.ListRegistries(ctx)
	ok(t, err)
	same(t, list, []store.Registry{registry("zot")})
}

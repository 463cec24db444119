package storetest

import (
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// This file holds the contract of the reads every request makes in one
// read of the backend: a session with its user, and the registry's
// listing.

func testSessionUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	later := time.Now().Add(time.Hour)
	u := user("alice")
	u.PasswordHash, u.CredentialEpoch = []byte("hash-1"), 7
	ok(t, s.CreateUser(ctx, u))
	in := session("su-1", "alice", later)
	in.CredentialEpoch = 7
	ok(t, s.CreateSession(ctx, in))

	gotSess, gotUser, err := s.GetSessionUser(ctx, "su-1")
	ok(t, err)
	same(t, gotSess, in)
	same(t, gotUser, u)

	// What it answers is the caller's: changing it changes nothing stored.
	gotUser.PasswordHash[0] = 'X'
	_, again, err := s.GetSessionUser(ctx, "su-1")
	ok(t, err)
	same(t, again, u)

	// No such session, or an expired one: not found, nothing answered.
	for _, id := range []string{"nope", "su-old"} {
		if id == "su-old" {
			ok(t, s.CreateSession(ctx, session(id, "alice", time.Now().Add(-time.Minute))))
		}
		sess, usr, err := s.GetSessionUser(ctx, id)
		isKind(t, err, errs.ErrNotFound)
		same(t, sess, store.Session{})
		same(t, usr, store.User{})
	}

	// Every read is of what is stored now: a new role, a new epoch.
	changed := u
	changed.Role, changed.CredentialEpoch = "viewer", 8
	ok(t, s.UpdateUser(ctx, changed))
	_, gotUser, err = s.GetSessionUser(ctx, "su-1")
	ok(t, err)
	same(t, gotUser, changed)

	// The user gone: not found, with the session answered.
	ok(t, s.DeleteUser(ctx, "alice"))
	gotSess, gotUser, err = s.GetSessionUser(ctx, "su-1")
	isKind(t, err, errs.ErrNotFound)
	same(t, gotSess, in)
	same(t, gotUser, store.User{})

	// The session gone (logout): not found.
	ok(t, s.CreateUser(ctx, u))
	ok(t, s.DeleteSession(ctx, "su-1"))
	gotSess, _, err = s.GetSessionUser(ctx, "su-1")
	isKind(t, err, errs.ErrNotFound)
	same(t, gotSess, store.Session{})

	// Sessions of another user of the store are that user's.
	ok(t, s.CreateUser(ctx, user("bob")))
	ok(t, s.CreateSession(ctx, session("su-2", "bob", later)))
	_, gotUser, err = s.GetSessionUser(ctx, "su-2")
	ok(t, err)
	same(t, gotUser, user("bob"))
}

func testClustersPublic(t *testing.T, s store.Store) {
	ctx := t.Context()
	list, def, err := s.ListClustersPublic(ctx)
	ok(t, err)
	same(t, list, []store.Cluster{})
	same(t, def, "")

	sealed := cluster("sealed")
	sealed.TLS.Key, sealed.TLS.KeySealed = "", []byte("sealed-key")
	plain := cluster("plain")
	plain.TLS = nil
	for _, c := range []store.Cluster{cluster("prod"), sealed, cluster("dev"), plain} {
		ok(t, s.CreateCluster(ctx, c))
	}
	ok(t, s.SetDefaultCluster(ctx, "prod"))

	list, def, err = s.ListClustersPublic(ctx)
	ok(t, err)
	want := []store.Cluster{cluster("dev"), plain, cluster("prod"), cluster("sealed")}
	for i := range want {
		if want[i].TLS != nil {
			want[i].TLS.Key = ""
		}
	}
	same(t, list, want)
	same(t, def, "prod")

	// The full records are as they were, and what was answered is the
	// caller's.
	list[0].Labels["env"] = "changed"
	list[0].Endpoints[0] = "changed"
	full, err := s.ListClusters(ctx)
	ok(t, err)
	same(t, full, []store.Cluster{cluster("dev"), plain, cluster("prod"), sealed})
	list, _, err = s.ListClustersPublic(ctx)
	ok(t, err)
	same(t, list, want)

	// Every read is of what is stored now.
	ok(t, s.DeleteCluster(ctx, "prod"))
	moved := cluster("dev")
	moved.Endpoints = []string{"tcp://198.18.0.13:2375"}
	moved.TLS = nil
	ok(t, s.UpdateCluster(ctx, moved))
	list, def, err = s.ListClustersPublic(ctx)
	ok(t, err)
	same(t, list, []store.Cluster{moved, plain, want[3]})
	same(t, def, "")
}

package local

import (
	"errors"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// TestStore_ReadsOfOneTransaction: the session with its user and the
// listing with the default mark each come from one read transaction, and
// say the store is closed once it is.
func TestStore_ReadsOfOneTransaction(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, err := range []error{
		s.CreateUser(ctx, store.User{Username: "ann", Role: "admin"}),
		s.CreateSession(ctx, store.Session{ID: "sid", Username: "ann", ExpiresAt: time.Now().Add(time.Hour)}),
		s.CreateCluster(ctx, store.Cluster{Name: "prod", TLS: &store.TLS{Cert: "c", KeySealed: []byte("k")}}),
		s.SetDefaultCluster(ctx, "prod"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	before := s.db.Stats().TxN // read transactions begun
	if _, u, err := s.GetSessionUser(ctx, "sid"); err != nil || u.Role != "admin" {
		t.Fatalf("GetSessionUser: %+v, %v", u, err)
	}
	list, def, err := s.ListClustersPublic(ctx)
	if err != nil || def != "prod" || len(list) != 1 || list[0].TLS == nil || list[0].TLS.KeySealed != nil || list[0].TLS.Cert != "c" {
		t.Fatalf("ListClustersPublic: %+v, %q, %v", list, def, err)
	}
	if n := s.db.Stats().TxN - before; n != 2 {
		t.Errorf("the two reads took %d read transactions, want 2", n)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.GetSessionUser(ctx, "sid")
	if !errors.Is(err, errs.ErrUnavailable) {
		t.Errorf("GetSessionUser of a closed store: %v, want unavailable", err)
	}
	if _, _, err := s.ListClustersPublic(ctx); !errors.Is(err, errs.ErrUnavailable) {
		t.Errorf("ListClustersPublic of a closed store: %v, want unavailable", err)
	}
}

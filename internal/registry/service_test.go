package registry

import (
	"context"
	"strings"
	"testing"

	dockerregistry "github.com/docker/docker/api/types/registry"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
	"github.com/swarmops/swarmops/internal/store/local"
)

// TestService_AuthFor: an image gets the credentials of the registration
// serving its host, as image references name hosts (Docker Hub is
// docker.io, a default port is dropped), and nothing otherwise.
func TestService_AuthFor(t *testing.T) {
	st, err := local.Open(t.TempDir(), local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ctx := context.Background()
	for _, r := range []store.Registry{
		{Name: "hub", URL: "https://index.docker.io", Username: "hub-user", Password: "hub-pw"},
		{Name: "corp", URL: "https://Registry.Example.com:443", Username: "corp-user", Password: "corp-pw"},
		{Name: "lan", URL: "http://10.0.0.5:5000", Username: "lan-user", Password: "lan-pw"},
		{Name: "open", URL: "https://open.example.com"},
	} {
		if err := st.CreateRegistry(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	s := NewService(st, nil, nil)
	for _, tc := range []struct{ image, user, server string }{
		{"nginx:1.27", "hub-user", "docker.io"},
		{"docker.io/library/nginx", "hub-user", "docker.io"},
		{"registry.example.com/team/app:v2", "corp-user", "registry.example.com"},
		{"registry.example.com/team/app@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "corp-user", "registry.example.com"},
		{"10.0.0.5:5000/app:1", "lan-user", "10.0.0.5:5000"},
		{"10.0.0.5/app:1", "", ""},              // another port: another registry
		{"open.example.com/app:1", "", ""},      // registered without credentials
		{"elsewhere.example.com/app:1", "", ""}, // not registered
		{"Not An Image", "", ""},                // the engine will say what is wrong
	} {
		got, err := s.AuthFor(ctx, tc.image)
		if err != nil {
			t.Fatalf("%s: %v", tc.image, err)
		}
		if tc.user == "" {
			if got != "" {
				t.Errorf("%s: credentials %q, want none", tc.image, got)
			}
			continue
		}
		ac, err := dockerregistry.DecodeAuthConfig(got)
		if err != nil {
			t.Fatalf("%s: %v", tc.image, err)
		}
		if ac.Username != tc.user || ac.ServerAddress != tc.server || ac.Password == "" {
			t.Errorf("%s: user %q server %q; want %q at %q", tc.image, ac.Username, ac.ServerAddress, tc.user, tc.server)
		}
	}
}

// TestService_UpdateKeepsThePasswordAtItsHost: moving a registration to
// another host without giving the password again is refused before the
// new host is asked anything, so the stored password never reaches it;
// with the password given, or on the same host, the update goes on to
// the registry's check (which fails here: nothing listens on port 1).
func TestService_UpdateKeepsThePasswordAtItsHost(t *testing.T) {
	st, err := local.Open(t.TempDir(), local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ctx := context.Background()
	if err := st.CreateRegistry(ctx, store.Registry{Name: "corp", URL: "http://127.0.0.1:1", Username: "u", Password: "stored-pw"}); err != nil {
		t.Fatal(err)
	}
	s := NewService(st, nil, nil)
	refusedForPassword := func(err error) bool {
		pe, ok := errs.Public(err)
		return ok && pe.Field == "password" && strings.Contains(pe.Message, "again")
	}
	moved := "http://127.0.0.2:1"
	if _, err = s.Update(ctx, "corp", Input{URL: &moved}); !refusedForPassword(err) {
		t.Fatalf("a move to another host without the password: %v, want a 400 on password", err)
	}
	if got, err := st.GetRegistry(ctx, "corp"); err != nil || got.URL != "http://127.0.0.1:1" {
		t.Fatalf("the registration changed: %+v %v", got, err)
	}
	pw := "new-pw"
	if _, err = s.Update(ctx, "corp", Input{URL: &moved, Password: &pw}); err == nil || refusedForPassword(err) {
		t.Errorf("a move with the password given: %v, want the new host's check to fail", err)
	}
	same := "http://127.0.0.1:1/"
	if _, err = s.Update(ctx, "corp", Input{URL: &same}); err == nil || refusedForPassword(err) {
		t.Errorf("the same host written again: %v, want the check to fail, not a password request", err)
	}
}

package registry

import (
	"context"
	"testing"

	dockerregistry "github.com/docker/docker/api/types/registry"

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

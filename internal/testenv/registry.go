package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"
)

// Registry is a private registry (Distribution 2.8, API v2) with its
// storage under Dir.
type Registry struct {
	Addr     string // host:port
	URL      string // http://Addr, or https://Addr with TLS
	User     string // user of basic auth or of the token service, if any
	Password string
	CA       string // with TLS: PEM of the CA that signed the registry's certificate
	Dir      string
	proc     *Process
	tokens   *tokenServer
}

// RegistryOptions configure StartRegistryWith.
type RegistryOptions struct {
	// User and Password are the only credentials the registry accepts: in
	// its htpasswd file (basic auth), or at its token service with Token.
	User, Password string
	// Bridge makes the registry listen on this process's bridge address
	// (198.18.N.1) instead of loopback, so that its engines can push to and
	// pull from it (they trust 198.18.0.0/15 as an insecure registry).
	Bridge bool
	// Token configures `auth: token`: clients get bearer tokens from a
	// token service this test process runs on the registry's host, which
	// grants every requested action to User/Password (anyone without User).
	Token bool
	// TokenTTL is how long the registry accepts a token (default 5m).
	TokenTTL time.Duration
	// NoDelete turns storage.delete.enabled off: deletes answer 405.
	NoDelete bool
	// TLS serves https with a certificate (for the listening address and
	// localhost) of a fresh CA, whose PEM is Registry.CA.
	TLS bool
}

// StartRegistry starts a registry without auth on a free loopback port and
// stops it when the test ends.
func StartRegistry(t testing.TB) *Registry {
	t.Helper()
	return StartRegistryWith(t, RegistryOptions{})
}

// StartRegistryWith starts a registry as opts say and stops it when the
// test ends.
func StartRegistryWith(t testing.TB, opts RegistryOptions) *Registry {
	t.Helper()
	Require(t, "docker-registry", "docker-registry")
	host := "127.0.0.1"
	if opts.Bridge {
		s, err := getSlot()
		if err != nil {
			t.Fatalf("testenv: network slot: %v", err)
		}
		host = slotPrefix(s.n) + ".1"
	}
	dir := SubDir(t, "registry")
	r := &Registry{Addr: net.JoinHostPort(host, strconv.Itoa(FreePort(t))), User: opts.User, Password: opts.Password, Dir: dir}
	r.URL = "http://" + r.Addr
	auth, err := r.authConfig(host, opts)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	if r.tokens != nil {
		t.Cleanup(r.tokens.stop)
	}
	tlsConfig := ""
	if opts.TLS {
		if tlsConfig, err = r.serveTLS(host); err != nil {
			t.Fatalf("testenv: %v", err)
		}
	}
	config := fmt.Sprintf(`version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: %t
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: swarmops-test
%s%s`, filepath.Join(dir, "data"), !opts.NoDelete, r.Addr, tlsConfig, auth)
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	p, err := startProcess("docker-registry", filepath.Join(dir, "log"), exec.Command("docker-registry", "serve", cfg))
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	r.proc = p
	t.Cleanup(func() { _ = p.Stop(10 * time.Second) })
	c := &http.Client{Timeout: time.Second, Transport: r.Transport()}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := c.Get(r.URL + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || ((opts.User != "" || opts.Token) && resp.StatusCode == http.StatusUnauthorized) {
				return r
			}
			err = fmt.Errorf("GET /v2/: %s", resp.Status)
		}
		if !p.Running() || time.Now().After(deadline) {
			t.Fatalf("testenv: registry on %s not answering: %v\n%s", r.Addr, err, tail(p.Log, 3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// authConfig answers the registry's auth section for opts (starting the
// token service for Token).
func (r *Registry) authConfig(host string, opts RegistryOptions) (string, error) {
	if opts.Token {
		ttl := opts.TokenTTL
		if ttl <= 0 {
			ttl = 5 * time.Minute
		}
		ts, err := startTokenServer(host, opts.User, opts.Password, ttl)
		if err != nil {
			return "", err
		}
		r.tokens = ts
		bundle := filepath.Join(r.Dir, "token-signer.pem")
		if err := ts.writeCert(bundle); err != nil {
			return "", err
		}
		return fmt.Sprintf("auth:\n  token:\n    realm: %s\n    service: %s\n    issuer: %s\n    rootcertbundle: %s\n",
			ts.realm, tokenService, tokenIssuer, bundle), nil
	}
	if opts.User == "" {
		return "", nil
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(opts.Password), bcrypt.MinCost)
	if err != nil {
		return "", err
	}
	htpasswd := filepath.Join(r.Dir, "htpasswd")
	if err := os.WriteFile(htpasswd, fmt.Appendf(nil, "%s:%s\n", opts.User, hash), 0o600); err != nil {
		return "", err
	}
	return fmt.Sprintf("auth:\n  htpasswd:\n    realm: swarmops-test\n    path: %s\n", htpasswd), nil
}

// serveTLS makes a CA and a server certificate for host and answers the
// registry's http.tls section.
func (r *Registry) serveTLS(host string) (string, error) {
	ca, err := newCA("swarmops-test registry CA")
	if err != nil {
		return "", err
	}
	cert, key, err := ca.issue("swarmops-test registry", []net.IP{net.ParseIP(host), net.IPv4(127, 0, 0, 1)}, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return "", err
	}
	certPath, keyPath := filepath.Join(r.Dir, "tls-cert.pem"), filepath.Join(r.Dir, "tls-key.pem")
	if err := os.WriteFile(certPath, []byte(cert), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(keyPath, []byte(key), 0o600); err != nil {
		return "", err
	}
	r.CA = ca.certPEM
	r.URL = "https://" + r.Addr
	return fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\n", certPath, keyPath), nil
}

// Stop stops the registry and waits for it to exit.
func (r *Registry) Stop() error { return r.proc.Stop(10 * time.Second) }

// TokenRequests answers how many tokens the token service (Token) has
// issued so far.
func (r *Registry) TokenRequests() int {
	if r.tokens == nil {
		return 0
	}
	return int(r.tokens.issued.Load())
}

// Transport answers an HTTP transport that trusts the registry's CA (with
// TLS), for talking to it directly.
func (r *Registry) Transport() http.RoundTripper {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if r.CA != "" {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM([]byte(r.CA))
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return tr
}

// PushRandom pushes a small random linux/amd64 image (two layers, created
// now) under every tag of repo, without an engine, and answers its digest.
func (r *Registry) PushRandom(t testing.TB, repo string, tags ...string) string {
	t.Helper()
	img, err := randomImage("amd64", "")
	if err != nil {
		t.Fatalf("testenv: random image: %v", err)
	}
	return r.push(t, repo, tags, img)
}

// PushRandomIndex pushes an OCI index of two small random images
// (linux/amd64 and linux/arm64/v8, created now, their platforms in the
// index) under every tag of repo and answers the index's digest.
func (r *Registry) PushRandomIndex(t testing.TB, repo string, tags ...string) string {
	t.Helper()
	var adds []mutate.IndexAddendum
	for _, p := range []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}} {
		img, err := randomImage(p.Architecture, p.Variant)
		if err != nil {
			t.Fatalf("testenv: random image: %v", err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	return r.push(t, repo, tags, mutate.AppendManifests(empty.Index, adds...))
}

func randomImage(arch, variant string) (v1.Image, error) {
	img, err := random.Image(256, 2)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = "linux", arch, variant
	cf.Created = v1.Time{Time: time.Now().UTC().Truncate(time.Second)}
	return mutate.ConfigFile(img, cf)
}

// push writes img (a v1.Image or v1.ImageIndex) under every tag.
func (r *Registry) push(t testing.TB, repo string, tags []string, img remote.Taggable) string {
	t.Helper()
	if len(tags) == 0 {
		t.Fatalf("testenv: push to %s/%s: no tag", r.Addr, repo)
	}
	var opts []name.Option
	if r.CA == "" {
		opts = append(opts, name.Insecure)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ropts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(r.Transport()),
		remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: r.User, Password: r.Password})),
	}
	var digest v1.Hash
	for i, tag := range tags {
		ref, err := name.NewTag(r.Addr+"/"+repo+":"+tag, opts...)
		if err != nil {
			t.Fatalf("testenv: %v", err)
		}
		switch x := img.(type) {
		case v1.ImageIndex:
			if i == 0 {
				err = remote.WriteIndex(ref, x, ropts...)
			} else {
				err = remote.Tag(ref, x, ropts...)
			}
			if err == nil {
				digest, err = x.Digest()
			}
		case v1.Image:
			if i == 0 {
				err = remote.Write(ref, x, ropts...)
			} else {
				err = remote.Tag(ref, x, ropts...)
			}
			if err == nil {
				digest, err = x.Digest()
			}
		default:
			err = fmt.Errorf("cannot push a %T", img)
		}
		if err != nil {
			t.Fatalf("testenv: push %s: %v", ref, err)
		}
	}
	return digest.String()
}

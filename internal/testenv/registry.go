package testenv

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Registry is a private registry (Distribution 2.8, API v2) with deletes
// enabled and its storage under Dir.
type Registry struct {
	Addr     string // host:port
	URL      string // http://Addr
	User     string // basic auth user, if any
	Password string
	Dir      string
	proc     *Process
}

// RegistryOptions configure StartRegistryWith.
type RegistryOptions struct {
	User, Password string // htpasswd basic auth when User is set
	// Bridge makes the registry listen on this process's bridge address
	// (198.18.N.1) instead of loopback, so that its engines can push to and
	// pull from it (they trust 198.18.0.0/15 as an insecure registry).
	Bridge bool
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
	auth := ""
	if opts.User != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(opts.Password), bcrypt.MinCost)
		if err != nil {
			t.Fatalf("testenv: %v", err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, fmt.Appendf(nil, "%s:%s\n", opts.User, hash), 0o600); err != nil {
			t.Fatalf("testenv: %v", err)
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: swarmops-test\n    path: %s\n", htpasswd)
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
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: swarmops-test
%s`, filepath.Join(dir, "data"), r.Addr, auth)
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
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := c.Get(r.URL + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || (opts.User != "" && resp.StatusCode == http.StatusUnauthorized) {
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

// Stop stops the registry and waits for it to exit.
func (r *Registry) Stop() error { return r.proc.Stop(10 * time.Second) }

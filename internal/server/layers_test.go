package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const mod = "github.com/swarmops/swarmops/"

// layerRule forbids packages matching From to import any package matching
// one of Not, directly (Direct) or through any dependency.
type layerRule struct {
	Why    string
	From   []string
	Not    []string
	Direct bool
}

// layerRules are the promises of the doc.go files and ARCHITECTURE.md:
// transports never see a store record, the domain never sees a transport
// or a backend.
var layerRules = []layerRule{
	{
		Why:    "a transport maps domain types; store records (TLS keys, password hashes) must not reach it",
		From:   []string{mod + "internal/httpapi", mod + "internal/webui", mod + "internal/httpauth", mod + "internal/httpx"},
		Not:    []string{mod + "internal/store", mod + "internal/lock", "github.com/redis/go-redis", "github.com/go-redsync/redsync", "go.etcd.io/bbolt"},
		Direct: true,
	},
	{
		Why: "the domain never depends on fiber, a store backend, a lock backend or a transport",
		From: []string{mod + "internal/swarm", mod + "internal/auth", mod + "internal/audit", mod + "internal/idempotency",
			mod + "internal/stack", mod + "internal/registry", mod + "internal/seal", mod + "internal/state", mod + "internal/signon", mod + "internal/sso"},
		Not: []string{"github.com/gofiber/fiber", "github.com/valyala/fasthttp", "github.com/redis/go-redis", "github.com/go-redsync/redsync",
			"go.etcd.io/bbolt", mod + "internal/store/local", mod + "internal/store/redis", mod + "internal/lock/local",
			mod + "internal/lock/redis", mod + "internal/httpapi", mod + "internal/webui", mod + "internal/httpauth", mod + "internal/httpx",
			mod + "internal/server"},
	},
	{
		Why:  "the store's interfaces name no backend",
		From: []string{mod + "internal/store", mod + "internal/lock"},
		Not:  []string{"github.com/redis/go-redis", "github.com/go-redsync/redsync", "go.etcd.io/bbolt"},
	},
}

type goPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// under reports whether path is pkg or below it.
func under(path, pkg string) bool {
	return path == pkg || strings.HasPrefix(path, pkg+"/")
}

// fromMatch matches a rule's From entry: the store and lock rules name
// the interface packages themselves, not their backends.
func fromMatch(path, from string) bool {
	if from == mod+"internal/store" || from == mod+"internal/lock" {
		return path == from
	}
	return under(path, from)
}

// layerViolations answers one line per import that breaks a rule.
func layerViolations(pkgs []goPackage, rules []layerRule) []string {
	var out []string
	for _, p := range pkgs {
		for _, r := range rules {
			matched := false
			for _, f := range r.From {
				matched = matched || fromMatch(p.ImportPath, f)
			}
			if !matched {
				continue
			}
			imports := p.Deps
			if r.Direct {
				imports = p.Imports
			}
			for _, imp := range imports {
				for _, bad := range r.Not {
					if under(imp, bad) {
						out = append(out, p.ImportPath+" imports "+imp+": "+r.Why)
					}
				}
			}
		}
	}
	return out
}

func listPackages(t *testing.T) []goPackage {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list ./... in %s: %v\n%s", root, err, stderr.String())
	}
	var pkgs []goPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// TestLayers holds the package layering: it lists every package's imports
// (non-test files) and fails on an arrow that points the wrong way.
func TestLayers(t *testing.T) {
	pkgs := listPackages(t)
	seen := map[string]bool{}
	for _, p := range pkgs {
		seen[p.ImportPath] = true
	}
	// The rules must be looking at the real packages, not at nothing.
	for _, want := range []string{"internal/httpapi", "internal/httpauth", "internal/swarm", "internal/auth", "internal/store"} {
		if !seen[mod+want] {
			t.Fatalf("go list did not list %s; got %d packages", want, len(pkgs))
		}
	}
	for _, v := range layerViolations(pkgs, layerRules) {
		t.Error(v)
	}
}

// TestLayers_CatchesViolations: the check fails on the arrows it exists
// to forbid.
func TestLayers_CatchesViolations(t *testing.T) {
	pkgs := []goPackage{
		{ImportPath: mod + "internal/httpapi", Imports: []string{mod + "internal/store"}},
		{ImportPath: mod + "internal/swarm", Deps: []string{"github.com/gofiber/fiber/v2"}},
		{ImportPath: mod + "internal/auth", Deps: []string{"github.com/redis/go-redis/v9"}},
		{ImportPath: mod + "internal/store", Deps: []string{"go.etcd.io/bbolt"}},
		// Allowed: the server wires backends; a store backend uses redis;
		// the API uses the domain.
		{ImportPath: mod + "internal/server", Imports: []string{mod + "internal/store/redis"}},
		{ImportPath: mod + "internal/store/redis", Deps: []string{"github.com/redis/go-redis/v9"}},
		{ImportPath: mod + "internal/httpapi/x", Imports: []string{mod + "internal/swarm"}},
	}
	got := layerViolations(pkgs, layerRules)
	if len(got) != 4 {
		t.Fatalf("want 4 violations (httpapi->store, swarm->fiber, auth->redis, store->bbolt), got %d:\n%s", len(got), strings.Join(got, "\n"))
	}
}

package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Redocly answers the command line of the Redocly CLI OpenAPI linter that
// make test-deps installs (internal/testenv/testdata/redocly, the version
// its package-lock.json pins), failing the test when it is not there.
func Redocly(t testing.TB) []string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	dir := filepath.Join(root, "internal", "testenv", "testdata", "redocly")
	cli := filepath.Join(dir, "node_modules", "@redocly", "cli", "bin", "cli.js")
	if _, err := os.Stat(cli); err != nil {
		t.Fatalf("testenv: the Redocly CLI linter is not installed (%v); run make test-deps, or: npm ci --prefix %s", err, dir)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("testenv: Node.js is not installed; the OpenAPI linter needs Node.js 20.19+ (https://nodejs.org)")
	}
	return []string{node, cli}
}

package form

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestImports_NoTransportOrClient holds doc.go's promise for everything
// form links in, its docker/cli parsers included.
func TestImports_NoTransportOrClient(t *testing.T) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/docker/docker/api/types/swarm") {
		t.Fatalf("go list -deps answered no swarm types: %q", out)
	}
	forbidden := []string{
		"github.com/gofiber/",
		"github.com/valyala/fasthttp",
		"github.com/redis/",
		"github.com/go-redsync/",
		"github.com/docker/docker/client",
		"github.com/docker/cli/cli/command",
	}
	for _, pkg := range deps {
		for _, f := range forbidden {
			if strings.HasPrefix(pkg, f) {
				t.Errorf("form depends on %s", pkg)
			}
		}
	}
}

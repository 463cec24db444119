package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// readme answers README.md.
func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// section answers README's text from the heading line to the next heading
// of the same level or above.
func section(t *testing.T, text, heading string) string {
	t.Helper()
	i := strings.Index(text, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README has no %q", heading)
	}
	rest := text[i+1+len(heading):]
	level := strings.Count(strings.Fields(heading)[0], "#")
	for _, l := range regexp.MustCompile(`(?m)^#+ `).FindAllStringIndex(rest, -1) {
		if l[1]-l[0]-1 <= level {
			return rest[:l[0]]
		}
	}
	return rest
}

// TestREADME_TestPackages: the packages README says `make test` installs
// are those internal/testenv/install-deps.sh installs.
func TestREADME_TestPackages(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "internal", "testenv", "install-deps.sh"))
	if err != nil {
		t.Fatal(err)
	}
	var script []string
	for _, m := range regexp.MustCompile(`need\+=\(([^)]*)\)`).FindAllStringSubmatch(string(b), -1) {
		script = append(script, strings.Fields(m[1])...)
	}
	text := readme(t)
	i := strings.Index(text, "`make test` must run as root")
	if i < 0 {
		t.Fatal("README does not say what `make test` needs")
	}
	para := text[i:]
	para = para[:strings.Index(para, "\n\n")]
	var said []string
	for _, m := range regexp.MustCompile("\\(`([^`]+)`,\\s+and\\s+`([^`]+)` for the race detector\\)").FindAllStringSubmatch(para, -1) {
		said = append(said, strings.Fields(m[1]+" "+m[2])...)
	}
	slices.Sort(script)
	slices.Sort(said)
	if len(script) < 5 || !slices.Equal(said, script) {
		t.Errorf("README says make test installs %q; install-deps.sh installs %q", said, script)
	}
}

// TestREADME_LayoutListsEveryPackage: README's Layout names every
// directory that holds Go code, and every top-level file and directory of
// the repository that is part of it.
func TestREADME_LayoutListsEveryPackage(t *testing.T) {
	root := repoRoot(t)
	layout := section(t, readme(t), "## Layout")
	listed := map[string]bool{}
	for _, line := range strings.Split(layout, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			listed[strings.TrimSuffix(f[0], "/")] = true
		}
	}
	// A package may be named by its last two elements within its
	// parent's lines (store/local, cmd/testenv-sweep).
	mentioned := func(dir string) bool {
		return listed[dir] || strings.Contains(layout, filepath.Base(filepath.Dir(dir))+"/"+filepath.Base(dir))
	}
	dirs := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") {
			rel, _ := filepath.Rel(root, filepath.Dir(path))
			dirs[rel] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 20 {
		t.Fatalf("found only %d directories with Go code", len(dirs))
	}
	for dir := range dirs {
		if dir != "." && !mentioned(dir) {
			t.Errorf("README's Layout does not name %s", dir)
		}
	}
	for _, top := range []string{"compose.yaml", "stack.yaml", "Makefile", ".ci/run", "deploy", "web", "docs/screenshots"} {
		if _, err := os.Stat(filepath.Join(root, top)); err != nil {
			t.Errorf("%s: %v (drop it from this list)", top, err)
		} else if !listed[top] {
			t.Errorf("README's Layout does not name %s", top)
		}
	}
	for _, must := range []string{"internal/errs", "internal/version", ".ci/run"} {
		if !listed[must] {
			t.Errorf("README's Layout does not name %s", must)
		}
	}
}

// TestREADME_StackImage: README's stack section builds the image under the
// name stack.yaml runs by default, and `make image` names the image it
// builds after IMAGE.
func TestREADME_StackImage(t *testing.T) {
	cfg := loadCompose(t, "stack.yaml", nil)
	image := service(t, cfg, "swarmops").Image
	stack := section(t, readme(t), "### On a swarm: stack.yaml")
	if !strings.Contains(stack, "    make image IMAGE="+image+"\n") {
		t.Errorf("README's stack section does not build the image stack.yaml runs (%s) with `make image IMAGE=%s`", image, image)
	}
	compose := loadCompose(t, "compose.yaml", nil)
	if got := service(t, compose, "swarmops-1").Image; got != image {
		t.Errorf("compose.yaml runs %s, stack.yaml %s", got, image)
	}
	out, err := exec.Command("make", "-n", "-C", repoRoot(t), "image", "IMAGE="+image, "IMAGE_BIN=/nonexistent/swarmops").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "build --build-arg") || !strings.Contains(string(out), "-t "+image+" ") {
		t.Errorf("make -n image IMAGE=%s: %v\n%s\nwant a docker build tagged %s", image, err, out, image)
	}
}

// TestNginxTriesMatchInstances: the nginx files try as many instances as
// compose.yaml and stack.yaml run, and README says to keep them equal.
func TestNginxTriesMatchInstances(t *testing.T) {
	compose := loadCompose(t, "compose.yaml", nil)
	instances := 0
	for _, s := range compose.Services {
		if strings.HasPrefix(s.Name, "swarmops-") {
			instances++
		}
	}
	stack := service(t, loadCompose(t, "stack.yaml", nil), "swarmops")
	if stack.Deploy.Replicas == nil || int(*stack.Deploy.Replicas) != instances {
		t.Fatalf("compose.yaml runs %d instances, stack.yaml %v", instances, stack.Deploy.Replicas)
	}
	for _, file := range []string{"swarmops.conf", "auth-proxy.conf"} {
		b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "nginx", file))
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)^\s*proxy_next_upstream_tries\s+(\d+);`).FindAllStringSubmatch(string(b), -1)
		if len(m) != 1 || m[0][1] != strconv.Itoa(instances) {
			t.Errorf("%s: proxy_next_upstream_tries %v, want %d (the instances of compose.yaml and stack.yaml)", file, m, instances)
		}
	}
	nginx := section(t, readme(t), "### nginx")
	if !strings.Contains(nginx, "`proxy_next_upstream_tries` to the number of instances. The file says `"+strconv.Itoa(instances)+"`") {
		t.Errorf("README's nginx section does not say the file's tries (%d) and why", instances)
	}
}

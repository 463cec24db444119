package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	mu       sync.Mutex
	stops    []func()
	baseOnce sync.Once
	baseDir  string
	baseErr  error
)

// Main runs the package's tests and then stops, in reverse order, every
// process-wide component they started, whatever the result. Use it as
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	StopAll()
	return code
}

// StopAll stops every process-wide component started so far.
func StopAll() {
	mu.Lock()
	s := stops
	stops = nil
	mu.Unlock()
	for i := len(s) - 1; i >= 0; i-- {
		s[i]()
	}
	if baseDir != "" && os.Getenv("SWARMOPS_TEST_KEEP") == "" {
		_ = os.RemoveAll(baseDir)
	}
}

// atExit registers f to run when Main ends.
func atExit(f func()) {
	mu.Lock()
	defer mu.Unlock()
	stops = append(stops, f)
}

// BaseDir answers this test process's private directory, where components
// keep their data, sockets, pid files and logs. SWARMOPS_TEST_KEEP=1 keeps it
// after the run for post-mortems.
func BaseDir(t testing.TB) string {
	t.Helper()
	baseOnce.Do(func() {
		baseDir, baseErr = os.MkdirTemp("", fmt.Sprintf("swarmops-test-%d-", os.Getpid()))
	})
	if baseErr != nil {
		t.Fatalf("testenv: make temp dir: %v", baseErr)
	}
	return baseDir
}

// SubDir makes a fresh directory under BaseDir whose name starts with name.
func SubDir(t testing.TB, name string) string {
	t.Helper()
	d, err := os.MkdirTemp(BaseDir(t), name+"-")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return d
}

// Require answers the path of binary, or fails the test saying which Debian
// package provides it. `make test` installs them all. With -short it skips
// the test instead, whether binary is there or not: a short run needs
// nothing but the test binaries, and every component testenv starts (an
// engine, redis-server, nginx, a registry, Chromium) asks Require first.
func Require(t testing.TB, binary, debianPackage string) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("testenv: skipped with -short: needs %s (Debian package %s), and a short run starts no program", binary, debianPackage)
	}
	p, err := exec.LookPath(binary)
	if err != nil {
		t.Fatalf("testenv: %s not found in PATH: run `make test` (it installs the test dependencies) "+
			"or `apt-get install -y %s` as root", binary, debianPackage)
	}
	return p
}

// tail answers the last n bytes of a log file, for failure messages.
func tail(path string, n int64) string {
	f, err := os.Open(filepath.Clean(path))
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := st.Size() - n
	if off < 0 {
		off = 0
	}
	buf := make([]byte, st.Size()-off)
	_, _ = f.ReadAt(buf, off)
	return string(buf)
}

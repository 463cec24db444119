package main_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/swarmops/swarmops/internal/testenv"
)

// run runs the binary with kv as its whole environment, in dir ("" for
// the test's), answering standard output, standard error and the exit code.
func run(t *testing.T, dir string, kv []string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = env(kv...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("run %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

// makeStore makes a local store in dir as a first start does, with the
// admin (password admin-password-1).
func makeStore(t *testing.T, dir string) {
	t.Helper()
	p := serve(t, "SWARMOPS_DATA_DIR="+dir, "SWARMOPS_AUTOREGISTER=false", "SWARMOPS_ADMIN_PASSWORD=admin-password-1")
	testenv.Poll(t, 10*time.Second, "the first admin", func() error {
		if !strings.Contains(p.stdout.String(), "created user admin") {
			return errors.New("not yet")
		}
		return nil
	})
	p.stop()
}

// TestFirstStart_PasswordWhateverTheLogLevel: with the log filtered to
// errors, the first admin's random password still reaches the operator,
// as one plain line on standard error, and it works.
func TestFirstStart_PasswordWhateverTheLogLevel(t *testing.T) {
	p := serve(t, "SWARMOPS_DATA_DIR="+t.TempDir(), "SWARMOPS_AUTOREGISTER=false", "SWARMOPS_LOG_LEVEL=error")
	re := regexp.MustCompile(`^swarmops: created user admin with the random password (\S+) \(shown once; reset it with: swarmops user passwd admin\)\n$`)
	var pw string
	testenv.Poll(t, 10*time.Second, "the admin password on standard error", func() error {
		m := re.FindStringSubmatch(p.stderr.String())
		if m == nil {
			return fmt.Errorf("standard error so far: %q", p.stderr.String())
		}
		pw = m[1]
		return nil
	})
	if strings.Contains(p.stdout.String(), pw) {
		t.Errorf("the log, filtered to errors, has the password line:\n%s", p.stdout.String())
	}
	login(t, p.url, "admin", pw)
}

// TestConsoleLog_ColourOnlyOnATerminal: SWARMOPS_LOG_FORMAT=console writes
// no colour codes into a pipe, and colours on a terminal.
func TestConsoleLog_ColourOnlyOnATerminal(t *testing.T) {
	const esc = "\x1b["
	p := serve(t, "SWARMOPS_DATA_DIR="+t.TempDir(), "SWARMOPS_AUTOREGISTER=false", "SWARMOPS_LOG_FORMAT=console",
		"SWARMOPS_ADMIN_PASSWORD=admin-password-1")
	testenv.Poll(t, 10*time.Second, "the serving line", func() error {
		if !strings.Contains(p.stdout.String(), "serving") {
			return errors.New("not yet")
		}
		return nil
	})
	if strings.Contains(p.stdout.String(), esc) {
		t.Errorf("colour codes in a pipe:\n%q", p.stdout.String())
	}

	// The same on a terminal: colours.
	ptm, pts := openPTY(t)
	port := testenv.FreePort(t)
	cmd := exec.Command(binary, "serve")
	cmd.Env = env("SWARMOPS_DATA_DIR="+t.TempDir(), "SWARMOPS_AUTOREGISTER=false", "SWARMOPS_LOG_FORMAT=console",
		"SWARMOPS_ADMIN_PASSWORD=admin-password-1", "SWARMOPS_SHUTDOWN_DRAIN=0s", fmt.Sprintf("SWARMOPS_LISTEN=127.0.0.1:%d", port))
	cmd.Stdout, cmd.Stderr = pts, pts
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pts.Close()
	var term testenv.SyncBuffer
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(&term, ptm); close(copied) }()
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		ptm.Close()
		<-copied
	}()
	testenv.Poll(t, 10*time.Second, "a coloured serving line on the terminal", func() error {
		if !strings.Contains(term.String(), "serving") || !strings.Contains(term.String(), esc) {
			return fmt.Errorf("terminal so far: %q", term.String())
		}
		return nil
	})
}

// openPTY answers a new pseudo-terminal's master and slave ends.
func openPTY(t *testing.T) (ptm, pts *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, ptm.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("unlock pty: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, ptm.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatalf("pty number: %v", e)
	}
	pts, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	return ptm, pts
}

// TestRedisDown_LibraryLinesInTheLog: while Redis is down, go-redis's own
// lines go into the JSON log, a bounded number of them, and nothing is
// written to standard error.
func TestRedisDown_LibraryLinesInTheLog(t *testing.T) {
	r := testenv.NewRedis(t, "")
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	p := serve(t, "SWARMOPS_STORE=redis", "SWARMOPS_REDIS_URL="+r.URL(0), "SWARMOPS_AUTOREGISTER=false")
	// Requests that need Redis make the client dial, and fail, again and again.
	testenv.Poll(t, 30*time.Second, "go-redis lines (in the log or on stderr) while Redis is down for 5s", func() error {
		if resp, err := http.Get(p.url + "/readyz"); err == nil {
			resp.Body.Close()
		}
		if time.Since(began) < 5*time.Second || !strings.Contains(p.stdout.String(), `"source":"go-redis"`) && p.stderr.String() == "" {
			return errors.New("not yet")
		}
		return nil
	})
	p.stop()
	lasted := time.Since(began)
	if p.stderr.String() != "" {
		t.Errorf("standard error while Redis was down:\n%s", p.stderr.String())
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(p.stdout.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("a log line is not JSON: %q", line)
			continue
		}
		if m["source"] == "go-redis" {
			n++
			if m["level"] != "warn" || !strings.Contains(fmt.Sprint(m["message"]), "connection refused") {
				t.Errorf("go-redis line: %v", m)
			}
		}
	}
	// At most one line every 10 s, the first at once.
	if most := 1 + int(lasted/(10*time.Second)); n < 1 || n > most {
		t.Errorf("%d go-redis lines in %s, want 1 to %d", n, lasted.Round(time.Second), most)
	}
}

// silentRedis accepts connections and never answers, like a Redis behind
// a dropped route; it records whether a client has given up on one.
type silentRedis struct {
	ln     net.Listener
	mu     sync.Mutex
	conns  int
	closed int
}

func newSilentRedis(t *testing.T) *silentRedis {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &silentRedis{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns++
			s.mu.Unlock()
			go func() {
				_, _ = io.Copy(io.Discard, c) // until the client closes it
				c.Close()
				s.mu.Lock()
				s.closed++
				s.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *silentRedis) counts() (conns, closed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns, s.closed
}

// TestRedisSilentAtStart_HealthzAtOnce: with a Redis that does not answer,
// the instance serves /healthz before the client has given up on any
// connection (it does not wait for Redis before it listens), and /readyz
// says why it is not ready.
func TestRedisSilentAtStart_HealthzAtOnce(t *testing.T) {
	r := newSilentRedis(t)
	p := start(t, "SWARMOPS_STORE=redis", "SWARMOPS_REDIS_URL=redis://"+r.ln.Addr().String()+"/0", "SWARMOPS_AUTOREGISTER=false")
	var conns, closed int
	testenv.Poll(t, 15*time.Second, "/healthz", func() error {
		resp, err := http.Get(p.url + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		conns, closed = r.counts()
		if resp.StatusCode != 200 {
			return fmt.Errorf("/healthz: %s", resp.Status)
		}
		return nil
	})
	if closed > 0 {
		t.Errorf("/healthz answered only after the Redis client gave up on %d of %d connections: the start waited for Redis", closed, conns)
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Get(p.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(body), `"reason":"store unavailable: redis did not answer within 1s"`) {
		t.Errorf("/readyz: %s %s, want 503 saying Redis does not answer", resp.Status, body)
	}
}

// TestRedisWrongPassword_Exits: credentials Redis refuses stop the
// instance at the first answer, saying so, without the password.
func TestRedisWrongPassword_Exits(t *testing.T) {
	r := testenv.NewRedis(t, "right-redis-password")
	p := start(t, "SWARMOPS_STORE=redis", "SWARMOPS_REDIS_URL=redis://"+r.Addr+"/0", "SWARMOPS_REDIS_PASSWORD=wrong-redis-hunter2",
		"SWARMOPS_AUTOREGISTER=false")
	var err error
	select {
	case err = <-p.done:
		p.done <- err
	case <-time.After(30 * time.Second):
		t.Fatal("still running 30s after start with a wrong Redis password")
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(p.stderr.String(), "swarmops: redis refused the credentials: check SWARMOPS_REDIS_PASSWORD") {
		t.Errorf("exit %v, stderr:\n%s\nwant exit code 1 and a line saying Redis refused the credentials", err, p.stderr.String())
	}
	if strings.Contains(p.logs.String(), "hunter2") {
		t.Errorf("the password is in the output:\n%s", p.logs.String())
	}
}

// TestConfigErrors_ListenBeforeTheStore: a listen address that cannot be
// listened on stops the start with exit code 2 naming the variable, before
// the data directory is made.
func TestConfigErrors_ListenBeforeTheStore(t *testing.T) {
	for _, listen := range []string{"127.0.0.1:99999", ":abc", "127.0.0.1:65536"} {
		dir := filepath.Join(t.TempDir(), "data")
		_, stderr, code := run(t, "", []string{"SWARMOPS_LISTEN=" + listen, "SWARMOPS_DATA_DIR=" + dir}, "", "serve")
		if want := fmt.Sprintf("swarmops: configuration: SWARMOPS_LISTEN=%q: ", listen); code != 2 || !strings.HasPrefix(stderr, want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("SWARMOPS_LISTEN=%s: exit %d, stderr %q; want 2 and one line beginning %s", listen, code, stderr, want)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("SWARMOPS_LISTEN=%s: the data directory was made (%v)", listen, err)
		}
	}
}

// TestConfigErrors_AliasNamesTheVariableSet: a bad value of an original
// SwarmOps variable is reported under that variable's name.
func TestConfigErrors_AliasNamesTheVariableSet(t *testing.T) {
	_, stderr, code := run(t, "", []string{"swarmops_swarmstoragemode=mongo", "swarmops_port=99999"}, "", "serve")
	for _, want := range []string{
		`swarmops: configuration: swarmops_port="99999" (the original SwarmOps' name for SWARMOPS_LISTEN): the port must be a number from 1 to 65535`,
		`swarmops: configuration: swarmops_swarmstoragemode="mongo" (the original SwarmOps' name for SWARMOPS_STORE): expected local or redis`,
	} {
		if code != 2 || !strings.Contains(stderr, want) || strings.Contains(stderr, "alias for") {
			t.Errorf("exit %d, stderr:\n%s\nwant exit code 2 and the line %s", code, stderr, want)
		}
	}
}

// TestUnknownVariables_WarnedOnce: a mistyped SWARMOPS_* variable is
// warned about once at start with the name meant: in the log when
// serving, on standard error from the commands, and among the problems
// when the typo leaves a setting missing.
func TestUnknownVariables_WarnedOnce(t *testing.T) {
	dir := t.TempDir()
	const warning = "SWARMOPS_REDIS_ULR is not a SwarmOps setting and is ignored; did you mean SWARMOPS_REDIS_URL?"
	p := serve(t, "SWARMOPS_DATA_DIR="+dir, "SWARMOPS_AUTOREGISTER=false", "SWARMOPS_ADMIN_PASSWORD=admin-password-1",
		"SWARMOPS_REDIS_ULR=redis://r:6379/0")
	p.stop()
	n := 0
	for _, line := range strings.Split(p.stdout.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["message"] == warning && m["level"] == "warn" {
			n++
		}
	}
	if n != 1 || strings.Contains(p.stderr.String(), "SWARMOPS_REDIS_ULR") {
		t.Errorf("%d warnings in the log, want 1; log:\n%s\nstderr:\n%s", n, p.stdout.String(), p.stderr.String())
	}

	_, stderr, code := run(t, "", []string{"SWARMOPS_DATA_DIR=" + dir, "SWARMOPS_REDIS_ULR=redis://r:6379/0"}, "", "user", "list")
	if code != 0 || strings.Count(stderr, "swarmops: warning: "+warning+"\n") != 1 {
		t.Errorf("user list: exit %d, stderr:\n%s\nwant the warning once", code, stderr)
	}

	_, stderr, code = run(t, "", []string{"SWARMOPS_STORE=redis", "SWARMOPS_REDIS_ULR=redis://r:6379/0"}, "", "serve")
	if code != 2 || !strings.Contains(stderr, "needs SWARMOPS_REDIS_URL") || strings.Count(stderr, warning) != 1 {
		t.Errorf("redis mode with the URL mistyped: exit %d, stderr:\n%s\nwant exit code 2, the missing URL and the warning", code, stderr)
	}
}

// TestHelp_ListsCommandsAndFlags: every way of asking for help lists the
// commands and the flags.
func TestHelp_ListsCommandsAndFlags(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"serve", "-h"}, {"user", "add", "--help"}} {
		stdout, stderr, code := run(t, "", nil, "", args...)
		for _, want := range []string{"serve ", "user add NAME [ROLE]", "user passwd NAME", "state export", "secret-key rotate",
			"-listen string", "SWARMOPS_LISTEN", "-data-dir string", "flags may stand\nanywhere after the command"} {
			if code != 0 || !strings.Contains(stdout, want) {
				t.Errorf("swarmops %s: exit %d, stdout lacks %q:\n%s\nstderr: %s", strings.Join(args, " "), code, want, stdout, stderr)
				break
			}
		}
	}
}

// TestUserCommands_NeverCreateAStore: run where there is no store, a user
// command says which store it looked for and makes none; run against one,
// it says which store it opened.
func TestUserCommands_NeverCreateAStore(t *testing.T) {
	elsewhere := t.TempDir()
	_, stderr, code := run(t, elsewhere, nil, "new-long-password\n", "user", "passwd", "admin")
	want := "no SwarmOps store at " + filepath.Join(elsewhere, "data", "swarmops.db")
	if code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("user passwd without a store: exit %d, stderr %q; want 1 and %q", code, stderr, want)
	}
	if _, err := os.Stat(filepath.Join(elsewhere, "data")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("user passwd made ./data (%v)", err)
	}

	dir := t.TempDir()
	makeStore(t, dir)
	stdout, stderr, code := run(t, elsewhere, []string{"SWARMOPS_DATA_DIR=" + dir}, "new-long-password\n", "user", "passwd", "admin")
	if code != 0 || !strings.Contains(stdout, "password of admin changed") ||
		stderr != "swarmops: user passwd: local store "+filepath.Join(dir, "swarmops.db")+"\n" {
		t.Errorf("user passwd: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

package main_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/testenv"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "swarmops-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "swarmops")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build swarmops: %v\n%s", err, out)
		os.Exit(1)
	}
	code := testenv.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is a minimal environment for the binary: nothing of the test
// machine's SWARMOPS_* settings leaks in.
func env(kv ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}, kv...)
}

// proc is a running `swarmops serve`.
type proc struct {
	cmd  *exec.Cmd
	url  string
	logs *testenv.SyncBuffer // standard output and error together
	// stdout (the log) and stderr apart.
	stdout, stderr *testenv.SyncBuffer
	done           chan error
}

// serve starts the binary and waits until it answers /healthz.
func serve(t *testing.T, kv ...string) *proc {
	t.Helper()
	p := start(t, kv...)
	p.waitHealthz(t)
	return p
}

// start starts the binary and stops it when the test ends.
func start(t *testing.T, kv ...string) *proc {
	t.Helper()
	port := testenv.FreePort(t)
	p := &proc{url: fmt.Sprintf("http://127.0.0.1:%d", port), logs: &testenv.SyncBuffer{},
		stdout: &testenv.SyncBuffer{}, stderr: &testenv.SyncBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(binary, "serve")
	p.cmd.Env = env(append([]string{fmt.Sprintf("SWARMOPS_LISTEN=127.0.0.1:%d", port), "SWARMOPS_SHUTDOWN_DRAIN=0s"}, kv...)...)
	p.cmd.Stdout, p.cmd.Stderr = io.MultiWriter(p.logs, p.stdout), io.MultiWriter(p.logs, p.stderr)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("swarmops log:\n%s", p.logs.String())
		}
	})
	return p
}

// stop interrupts the process and waits for it (killing it after 20 s).
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-p.done:
		p.done <- err
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
	}
}

// waitHealthz waits until the process answers /healthz.
func (p *proc) waitHealthz(t *testing.T) {
	t.Helper()
	testenv.Poll(t, 15*time.Second, "swarmops answering /healthz", func() error {
		select {
		case err := <-p.done:
			p.done <- err
			return fmt.Errorf("exited: %v\n%s", err, p.logs.String())
		default:
		}
		resp, err := http.Get(p.url + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
}

type session struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

func login(t *testing.T, base, user, password string) *session {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	s := &session{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	var out struct {
		CSRFToken string `json:"csrf_token"`
	}
	s.must("POST", "/api/v1/auth/login", fmt.Sprintf(`{"username":%q,"password":%q}`, user, password), 200, &out)
	s.csrf = out.CSRFToken
	return s
}

// on answers a session with the same cookie and CSRF token against another
// instance.
func (s *session) on(base string) *session {
	c := *s
	c.base = base
	jar, _ := cookiejar.New(nil)
	c.c = &http.Client{Jar: jar, Timeout: 30 * time.Second}
	for _, ck := range s.c.Jar.Cookies(mustURL(s.base)) {
		c.c.Jar.SetCookies(mustURL(base), []*http.Cookie{{Name: ck.Name, Value: ck.Value, Path: "/"}})
	}
	return &c
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func (s *session) do(method, path, body string) (int, string) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if s.csrf != "" {
		req.Header.Set("X-CSRF-Token", s.csrf)
	}
	resp, err := s.c.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *session) must(method, path, body string, want int, out any) string {
	s.t.Helper()
	status, text := s.do(method, path, body)
	if status != want {
		s.t.Fatalf("%s %s: %d, want %d: %s", method, path, status, want, text)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(text), out); err != nil {
			s.t.Fatalf("decode %s: %v", text, err)
		}
	}
	return text
}

func TestConfigErrors_ExitTwoWithOneLineEach(t *testing.T) {
	cmd := exec.Command(binary, "serve")
	cmd.Env = env("SWARMOPS_STORE=etcd", "SWARMOPS_ENGINE_TIMEOUT=soon", "SWARMOPS_LISTEN=nowhere", "SWARMOPS_REDIS_PASSWORD=hunter2-secret")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("exit: %v, want code 2; stderr:\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 3 {
		t.Errorf("want one line per mistake (3), got:\n%s", stderr.String())
	}
	for _, v := range []string{"SWARMOPS_STORE", "SWARMOPS_ENGINE_TIMEOUT", "SWARMOPS_LISTEN"} {
		if !strings.Contains(stderr.String(), v) {
			t.Errorf("no line names %s:\n%s", v, stderr.String())
		}
	}
	if strings.Contains(stderr.String(), "hunter2") {
		t.Errorf("a secret leaked into the error output")
	}
	out, err := exec.Command(binary, "bogus").CombinedOutput()
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), "unknown command") {
		t.Errorf("unknown command: %v %s", err, out)
	}
}

// Single sign-on settings that cannot work stop the start, one line each.
func TestConfigErrors_SSO(t *testing.T) {
	for _, tc := range []struct {
		env   []string
		names string
	}{
		{[]string{"SWARMOPS_OIDC_ISSUER=https://idp.example.com", "SWARMOPS_PUBLIC_URL=https://so.example.com", "SWARMOPS_OIDC_CLIENT_ID=so", "SWARMOPS_OIDC_ROLE_MAP=ops=root"}, "SWARMOPS_OIDC_ROLE_MAP"},
		{[]string{"SWARMOPS_OIDC_ISSUER=idp.example.com", "SWARMOPS_PUBLIC_URL=https://so.example.com", "SWARMOPS_OIDC_CLIENT_ID=so", "SWARMOPS_OIDC_ROLE_MAP=ops=operator"}, "SWARMOPS_OIDC_ISSUER"},
		{[]string{"SWARMOPS_OIDC_ISSUER=https://idp.example.com", "SWARMOPS_PUBLIC_URL=https://so.example.com", "SWARMOPS_OIDC_ROLE_MAP=ops=operator", "SWARMOPS_OIDC_CLIENT_SECRET=hunter2-secret"}, "SWARMOPS_OIDC_CLIENT_ID"},
	} {
		cmd := exec.Command(binary, "serve")
		cmd.Env = env(tc.env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		if !errors.As(err, &exit) || exit.ExitCode() != 2 || len(lines) != 1 || !strings.Contains(lines[0], tc.names) || strings.Contains(stderr.String(), "hunter2") {
			t.Errorf("%v: exit %v, stderr:\n%s\nwant exit code 2 and one line naming %s", tc.env, err, stderr.String(), tc.names)
		}
	}
}

func TestVersion(t *testing.T) {
	out, err := exec.Command(binary, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "swarmops ") {
		t.Fatalf("version: %v %q", err, out)
	}
}

func TestUserCommands_RecoverAdmin(t *testing.T) {
	dir := t.TempDir()
	// The user commands change a store; serve makes it.
	makeStore(t, dir)
	run := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(binary, append([]string{"user"}, args...)...)
		cmd.Env = env("SWARMOPS_DATA_DIR=" + dir)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("first-password\n", "add", "alice", "operator"); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	// Flags anywhere: after the operands, --data-dir is a flag, not the role.
	other := t.TempDir()
	makeStore(t, other)
	if out, err := run("gina-password\n", "add", "gina", "--data-dir="+other); err != nil || !strings.Contains(out, "user gina added with role viewer") {
		t.Fatalf("user add gina --data-dir=...: %v %s", err, out)
	}
	if out, err := run("", "list", "--data-dir", other); err != nil || !regexp.MustCompile(`gina\s+viewer`).MatchString(out) ||
		!strings.Contains(out, "local store "+filepath.Join(other, "swarmops.db")) {
		t.Fatalf("user list --data-dir (gina there, and the store named): %v\n%s", err, out)
	}
	if out, err := run("short\n", "add", "bob"); err == nil || !strings.Contains(out, "password") {
		t.Fatalf("user add with a short password: %v %s", err, out)
	}
	// Without a role, the domain's default: the least one.
	if out, err := run("carol-password\n", "add", "carol"); err != nil || !strings.Contains(out, "role viewer") {
		t.Fatalf("user add without a role: %v %s", err, out)
	}
	out, err := run("", "list")
	if err != nil || !regexp.MustCompile(`alice\s+operator`).MatchString(out) || !regexp.MustCompile(`carol\s+viewer`).MatchString(out) ||
		strings.Contains(out, "bob") || strings.Contains(out, "gina") {
		t.Fatalf("user list: %v\n%s", err, out)
	}
	if out, err := run("second-password\n", "passwd", "alice"); err != nil {
		t.Fatalf("user passwd: %v %s", err, out)
	}
	// The break-glass token: printed alone on stdout, valid for the API.
	cmd := exec.Command(binary, "user", "token", "alice", "breakglass", "30m")
	cmd.Env = env("SWARMOPS_DATA_DIR=" + dir)
	tokOut, err := cmd.Output()
	token := strings.TrimSpace(string(tokOut))
	if err != nil || !strings.HasPrefix(token, "sot_") || strings.Contains(token, "\n") {
		t.Fatalf("user token: %v %q", err, tokOut)
	}
	p := serve(t, "SWARMOPS_DATA_DIR="+dir, "SWARMOPS_AUTOREGISTER=false")
	login(t, p.url, "alice", "second-password")
	req, _ := http.NewRequest(http.MethodGet, p.url+"/api/v1/auth/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /auth/me with the CLI's token: %s, want 200", resp.Status)
	}
	// While the server holds the file, the CLI says why it cannot.
	if out, err := run("", "list"); err == nil || !strings.Contains(out, "in use by another SwarmOps process") {
		t.Fatalf("user list while serving: %v %s", err, out)
	}
}

// TestLocalStore_SecondProcessFails: local mode is single-instance, and a
// second process on the same directory says so at start.
func TestLocalStore_SecondProcessFails(t *testing.T) {
	dir := t.TempDir()
	serve(t, "SWARMOPS_DATA_DIR="+dir, "SWARMOPS_AUTOREGISTER=false")
	cmd := exec.Command(binary, "serve")
	cmd.Env = env("SWARMOPS_DATA_DIR="+dir, fmt.Sprintf("SWARMOPS_LISTEN=127.0.0.1:%d", testenv.FreePort(t)))
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use by another SwarmOps process") || !strings.Contains(string(out), "SWARMOPS_STORE=redis") {
		t.Fatalf("second process: %v\n%s", err, out)
	}
}

// TestFirstStart_AdminAndAutoregister: a first start creates admin with a
// random password shown once, and registers the local engine (here: a
// manager of the shared test swarm) as cluster "local".
func TestFirstStart_AdminAndAutoregister(t *testing.T) {
	sw := testenv.SharedSwarm(t)
	dir := t.TempDir()
	p := serve(t, "SWARMOPS_DATA_DIR="+dir, "SWARMOPS_LOCAL_ENDPOINT="+sw.Managers[0].Socket)
	var pw string
	testenv.Poll(t, 10*time.Second, "the generated admin password in the log", func() error {
		m := regexp.MustCompile(`"password":"([^"]+)"`).FindStringSubmatch(p.stdout.String())
		if m == nil {
			return errors.New("not logged yet")
		}
		pw = m[1]
		return nil
	})
	if want := "swarmops: created user admin with the random password " + pw + " "; !strings.HasPrefix(p.stderr.String(), want) ||
		strings.Count(p.stderr.String(), "\n") != 1 {
		t.Errorf("standard error: %q, want one line beginning %q", p.stderr.String(), want)
	}
	admin := login(t, p.url, "admin", pw)
	testenv.Poll(t, 15*time.Second, "cluster local registered", func() error {
		status, text := admin.do("GET", "/api/v1/clusters/local/health", "")
		if status != 200 || !strings.Contains(text, `"healthy"`) {
			return fmt.Errorf("%d %s", status, text)
		}
		return nil
	})
	if !strings.Contains(p.logs.String(), "registered the local swarm manager as cluster local") {
		t.Errorf("the log does not say the local engine was registered")
	}
	if n := strings.Count(p.stdout.String(), pw); n != 1 {
		t.Errorf("the admin password appears %d times in the log, want once", n)
	}
}

// TestTwoProcesses_ShareRedis: two processes on one Redis see each
// other's clusters at once, accept each other's sessions, and a logout
// through one ends the session on both.
func TestTwoProcesses_ShareRedis(t *testing.T) {
	sw := testenv.SharedSwarm(t)
	r := testenv.NewRedis(t, "redis-pw")
	common := []string{"SWARMOPS_STORE=redis", "SWARMOPS_REDIS_URL=redis://" + r.Addr + "/0", "SWARMOPS_REDIS_PASSWORD=redis-pw",
		"SWARMOPS_REDIS_PREFIX=two:", "SWARMOPS_ADMIN_PASSWORD=admin-password-1", "SWARMOPS_AUTOREGISTER=false"}
	a := serve(t, append(common, "SWARMOPS_INSTANCE_ID=a")...)
	b := serve(t, append(common, "SWARMOPS_INSTANCE_ID=b")...)

	sa := login(t, a.url, "admin", "admin-password-1")
	sa.must("POST", "/api/v1/clusters", fmt.Sprintf(`{"name":"shared","endpoint":%q}`, sw.Managers[0].Endpoint), 201, nil)
	sb := sa.on(b.url)
	var l struct {
		Items []struct{ Name string }
	}
	sb.must("GET", "/api/v1/clusters", "", 200, &l)
	if len(l.Items) != 1 || l.Items[0].Name != "shared" {
		t.Fatalf("instance b sees %+v, want the cluster made through a", l.Items)
	}
	resp, err := sb.c.Get(b.url + "/api/v1/version")
	if err != nil || resp.Header.Get("X-SwarmOps-Instance") != "b" {
		t.Fatalf("instance header: %v %v", err, resp.Header)
	}
	sb.must("DELETE", "/api/v1/clusters/shared", "", 204, nil)
	sa.must("GET", "/api/v1/clusters/shared", "", 404, nil)

	sa.must("POST", "/api/v1/auth/logout", "", 204, nil)
	if status, text := sb.do("GET", "/api/v1/auth/me", ""); status != 401 {
		t.Fatalf("session on b after logout through a: %d %s", status, text)
	}
	for _, line := range strings.Split(a.logs.String()+b.logs.String(), "\n") {
		if strings.Contains(line, "redis-pw") {
			t.Fatalf("the Redis password leaked into a log line: %s", line)
		}
	}
}

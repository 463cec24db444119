// Package deploy_test proves the deployment files of the repository
// (deploy/Dockerfile, deploy/nginx/, compose.yaml, stack.yaml) with real
// processes: SwarmOps binaries built once from ./cmd/swarmops, a real
// redis-server, a real nginx running deploy/nginx/swarmops.conf, and a
// real swarm running stack.yaml.
package deploy_test

import (
	"bytes"
	"context"
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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

const adminPassword = "ha-admin-password-for-tests"

// repoRoot answers the module's root directory (the tests run in deploy/).
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("no go.mod in %s: run the tests from the deploy package", dir)
	}
	return dir
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// swarmopsBinary builds ./cmd/swarmops once per test process, as `make
// build` does (static, version stamped), into the process's temp dir.
func swarmopsBinary(t testing.TB) string {
	t.Helper()
	testenv.Require(t, "go", "golang-go")
	root := repoRoot(t)
	out := filepath.Join(testenv.BaseDir(t), "swarmops")
	binOnce.Do(func() {
		const pkg = "github.com/swarmops/swarmops/internal/version"
		cmd := exec.Command("go", "build", "-trimpath",
			"-ldflags", "-s -w -X "+pkg+".Version=ha-test -X "+pkg+".Commit=deploy-test",
			"-o", out, "./cmd/swarmops")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/swarmops: %v\n%s", err, b)
			return
		}
		binPath = out
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// instance is a SwarmOps process.
type instance struct {
	ID   string
	Addr string // 127.0.0.1:port
	URL  string // http://Addr
	Log  string // its stdout and stderr (JSON log lines)
	env  map[string]string
	bin  string // the swarmops binary it runs
	cmd  *exec.Cmd
	done chan struct{}
	err  error // the exit, once done is closed
}

// redisEnv is the configuration of an instance in redis mode on r: the
// password comes from a file, as in stack.yaml.
func redisEnv(t testing.TB, r *testenv.RedisServer, prefix string) map[string]string {
	t.Helper()
	pwFile := filepath.Join(t.TempDir(), "redis_password")
	if err := os.WriteFile(pwFile, []byte(r.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"SWARMOPS_STORE":               "redis",
		"SWARMOPS_REDIS_URL":           "redis://" + r.Addr + "/0",
		"SWARMOPS_REDIS_PASSWORD_FILE": pwFile,
		"SWARMOPS_REDIS_PREFIX":        prefix,
	}
}

// stopWait is how long an instance may take to stop after SIGTERM: its
// drain (SWARMOPS_SHUTDOWN_DRAIN) and closing streams take seconds, never
// this long.
const stopWait = 45 * time.Second

// startInstance runs `swarmops serve` on a free loopback port with env
// (plus defaults for tests) and stops it when the test ends.
func startInstance(t testing.TB, id string, env map[string]string) *instance {
	t.Helper()
	return startInstanceAt(t, id, net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(t))), env)
}

// restart starts a new process in place of in, which has exited: the same
// name, address and configuration, as an orchestrator would.
func (in *instance) restart(t testing.TB) *instance {
	t.Helper()
	if in.Running() {
		t.Fatalf("restart %s: still running", in.ID)
	}
	return startBinaryAt(t, in.bin, in.ID, in.Addr, in.env)
}

func startInstanceAt(t testing.TB, id, addr string, env map[string]string) *instance {
	t.Helper()
	return startBinaryAt(t, swarmopsBinary(t), id, addr, env)
}

// startBinaryAt runs bin (HEAD's build, or another: see upgrade_test.go)
// as startInstanceAt does.
func startBinaryAt(t testing.TB, bin, id, addr string, env map[string]string) *instance {
	t.Helper()
	dir := testenv.SubDir(t, "swarmops-"+id)
	in := &instance{ID: id, Addr: addr, URL: "http://" + addr, Log: filepath.Join(dir, "log"), env: env, bin: bin, done: make(chan struct{})}
	vars := map[string]string{
		"SWARMOPS_LISTEN":          in.Addr,
		"SWARMOPS_DATA_DIR":        filepath.Join(dir, "data"),
		"SWARMOPS_ADMIN_PASSWORD":  adminPassword,
		"SWARMOPS_AUTOREGISTER":    "false",
		"SWARMOPS_INSTANCE_ID":     id,
		"SWARMOPS_TRUSTED_PROXIES": "127.0.0.1/32",
		"SWARMOPS_SHUTDOWN_DRAIN":  "2s",
		"SWARMOPS_LOG_LEVEL":       "info",
		"SWARMOPS_LOG_FORMAT":      "json",
	}
	for k, v := range env {
		vars[k] = v
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = cleanEnv("SWARMOPS_", "swarmops_")
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logf, err := os.Create(in.Log)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, and killed if this test binary dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start swarmops %s: %v", id, err)
	}
	in.cmd = cmd
	go func() {
		in.err = cmd.Wait()
		logf.Close()
		close(in.done)
	}()
	t.Cleanup(func() {
		in.Term()
		if in.Wait(stopWait) != nil {
			_ = in.cmd.Process.Kill()
			<-in.done
			t.Errorf("swarmops %s: sent SIGTERM and waited %s for the process to exit; it was still running, so it was killed", id, stopWait)
		}
		if t.Failed() {
			t.Logf("swarmops %s log (%s), last lines:\n%s", id, in.Log, tailFile(in.Log, 3000))
		}
	})
	return in
}

// cleanEnv answers the process environment without variables that start
// with any of prefixes (a developer's own SWARMOPS_* or DOCKER_* settings).
func cleanEnv(prefixes ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		skip := false
		for _, p := range prefixes {
			if strings.HasPrefix(kv, p) {
				skip = true
			}
		}
		if !skip {
			out = append(out, kv)
		}
	}
	return out
}

// waitReady polls the instance's /readyz until it answers 200.
func (in *instance) waitReady(t testing.TB) {
	t.Helper()
	testenv.Poll(t, 20*time.Second, "swarmops "+in.ID+" ready", func() error {
		if !in.Running() {
			return fmt.Errorf("exited: %v\n%s", in.err, tailFile(in.Log, 2000))
		}
		st, body, _, err := get(in.URL+"/readyz", "")
		if err != nil {
			return err
		}
		if st != 200 {
			return fmt.Errorf("/readyz: %d %s", st, body)
		}
		return nil
	})
}

// Running reports whether the process has not exited.
func (in *instance) Running() bool {
	select {
	case <-in.done:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL, as a crash would.
func (in *instance) Kill() {
	if in.Running() {
		_ = in.cmd.Process.Signal(syscall.SIGKILL)
	}
}

// Term sends SIGTERM: a graceful stop.
func (in *instance) Term() {
	if in.Running() {
		_ = in.cmd.Process.Signal(syscall.SIGTERM)
	}
}

// Wait waits for the exit and answers an error if it did not come within
// timeout.
func (in *instance) Wait(timeout time.Duration) error {
	select {
	case <-in.done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("still running %s after", timeout)
	}
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// logLines answers the JSON lines of an instance's log.
func logLines(path string) []map[string]any {
	b, _ := os.ReadFile(path)
	var out []map[string]any
	for _, line := range bytes.Split(b, []byte("\n")) {
		var m map[string]any
		if json.Unmarshal(line, &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// httpClient keeps connections alive, like a browser, and never waits
// forever.
var httpClient = &http.Client{Timeout: 30 * time.Second}

// session is a logged-in admin: the cookie and the CSRF token, sent
// explicitly so that one session can be shown to any instance.
type session struct {
	Cookie string
	CSRF   string
}

func (s session) header(h http.Header) {
	if s.Cookie != "" {
		h.Set("Cookie", "swarmops_session="+s.Cookie)
	}
	if s.CSRF != "" {
		h.Set("X-CSRF-Token", s.CSRF)
	}
}

// do sends a request with a JSON body (if not nil) and answers the
// status, body and headers.
func do(c *http.Client, method, url string, s session, body any, h map[string]string) (int, []byte, http.Header, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return 0, nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	s.header(req.Header)
	for k, v := range h {
		req.Header.Set(k, v)
	}
	return exchange(c, req)
}

// exchange sends req and answers the status, the whole body and the
// headers.
func exchange(c *http.Client, req *http.Request) (int, []byte, http.Header, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header, err
}

func get(url, cookie string) (int, []byte, http.Header, error) {
	return do(httpClient, http.MethodGet, url, session{Cookie: cookie}, nil, nil)
}

// login logs in as admin at base and answers the session.
func login(base string) (session, error) {
	st, body, h, err := do(httpClient, http.MethodPost, base+"/api/v1/auth/login", session{},
		map[string]string{"username": "admin", "password": adminPassword}, nil)
	if err != nil {
		return session{}, err
	}
	if st != 200 {
		return session{}, fmt.Errorf("login: %d %s", st, body)
	}
	var out struct {
		CSRFToken string `json:"csrf_token"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return session{}, fmt.Errorf("login answer %s: %v", body, err)
	}
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == "swarmops_session" {
			return session{Cookie: c.Value, CSRF: out.CSRFToken}, nil
		}
	}
	return session{}, fmt.Errorf("login set no swarmops_session cookie: %v", h.Values("Set-Cookie"))
}

func mustLogin(t testing.TB, base string) session {
	t.Helper()
	var s session
	testenv.Poll(t, 20*time.Second, "admin login at "+base, func() (err error) {
		s, err = login(base)
		return err
	})
	return s
}

// problem is the API's error body.
type problem struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func parseProblem(b []byte) (problem, bool) {
	var p problem
	return p, json.Unmarshal(b, &p) == nil && p.Error.Code != ""
}

// result is one request of a load loop.
type result struct {
	start    time.Time
	status   int
	instance string
	body     string
	err      error
}

// load sends GET requests with a session to url from several workers
// until stopped, or until its bound in count or time is reached.
type load struct {
	mu      sync.Mutex
	results []result
	stop    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

// The load is steady, not flat out: 4 workers sending one request every
// 5 ms each at most (800 a second), well below what this machine serves,
// so that a failure means an instance failed, not that every process
// starved for CPU.
const (
	loadWorkers  = 4
	loadEvery    = 5 * time.Millisecond
	loadMaxCount = 40000
	loadMaxTime  = 2 * time.Minute
)

func startLoad(base string, s session, paths ...string) *load {
	l := &load{stop: make(chan struct{})}
	deadline := time.Now().Add(loadMaxTime)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: loadWorkers}}
	for w := 0; w < loadWorkers; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			tick := time.NewTicker(loadEvery)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				case <-tick.C:
				}
				if time.Now().After(deadline) || l.count() >= loadMaxCount {
					return
				}
				start := time.Now()
				st, body, h, err := do(client, http.MethodGet, base+paths[(w+i)%len(paths)], s, nil, nil)
				r := result{start: start, status: st, body: string(body), err: err}
				if h != nil {
					r.instance = h.Get("X-SwarmOps-Instance")
				}
				l.mu.Lock()
				l.results = append(l.results, r)
				l.mu.Unlock()
			}
		}()
	}
	return l
}

func (l *load) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.results)
}

// waitMore waits until n more requests have been answered.
func (l *load) waitMore(t testing.TB, n int) {
	t.Helper()
	target := l.count() + n
	testenv.Poll(t, time.Minute, fmt.Sprintf("%d more requests of the load loop", n), func() error {
		if got := l.count(); got < target {
			return fmt.Errorf("%d of %d", got, target)
		}
		return nil
	})
}

// waitServedBy waits until each of ins has answered a request of the
// last half second.
func (l *load) waitServedBy(t testing.TB, ins ...*instance) {
	t.Helper()
	testenv.Poll(t, 20*time.Second, "load reaching every live instance", func() error {
		by := map[string]int{}
		for _, r := range l.since(time.Now().Add(-500 * time.Millisecond)) {
			by[r.instance]++
		}
		for _, in := range ins {
			if by[in.ID] == 0 {
				return fmt.Errorf("nothing from %s in the last 500ms: %v", in.ID, by)
			}
		}
		return nil
	})
}

// Stop ends the loop and answers every result.
func (l *load) Stop() []result {
	l.once.Do(func() { close(l.stop) })
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]result(nil), l.results...)
}

// since answers the results of requests started at or after t0.
func (l *load) since(t0 time.Time) []result {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []result
	for _, r := range l.results {
		if !r.start.Before(t0) {
			out = append(out, r)
		}
	}
	return out
}

// failures describes the results that are not 200, at most max of them.
func failures(rs []result, max int) (n int, examples []string) {
	for _, r := range rs {
		if r.err == nil && r.status == 200 {
			continue
		}
		n++
		if len(examples) < max {
			examples = append(examples, fmt.Sprintf("%s: status %d instance %q err %v body %.200s",
				r.start.Format("15:04:05.000"), r.status, r.instance, r.err, r.body))
		}
	}
	return n, examples
}

// projectConf answers deploy/nginx/<file> with its two `server
// swarmops:10130 ...` lines (the instances and their backups) each
// repeated for every instance's loopback address, and
// proxy_next_upstream_tries set to the number of instances, as README
// tells an operator to. Nothing else changes.
func projectConf(t testing.TB, file string, ins ...*instance) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "nginx", file))
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	servers := regexp.MustCompile(`(?m)^(\s*)server\s+swarmops:10130\b([^;]*);`)
	if n := len(servers.FindAllString(conf, -1)); n != 2 {
		t.Fatalf("%s: expected 2 `server swarmops:10130` lines (instances and their backups), found %d", file, n)
	}
	// As README says to: the tries are the number of instances.
	tries := regexp.MustCompile(`(?m)^(\s*)proxy_next_upstream_tries\s+\d+;`)
	if n := len(tries.FindAllString(conf, -1)); n != 1 {
		t.Fatalf("%s: expected one proxy_next_upstream_tries line, found %d", file, n)
	}
	conf = tries.ReplaceAllString(conf, fmt.Sprintf("${1}proxy_next_upstream_tries %d;", len(ins)))
	return servers.ReplaceAllStringFunc(conf, func(line string) string {
		m := servers.FindStringSubmatch(line)
		var out []string
		for _, in := range ins {
			out = append(out, m[1]+"server "+in.Addr+m[2]+";")
		}
		return strings.Join(out, "\n")
	})
}

// nginxConf answers deploy/nginx/swarmops.conf for testenv.StartNginx: its
// instances as projectConf puts them, and `listen 80` on the test's
// loopback port. Nothing else of the file changes.
func nginxConf(t testing.TB, ins ...*instance) string {
	t.Helper()
	conf := projectConf(t, "swarmops.conf", ins...)
	listen := regexp.MustCompile(`(?m)^(\s*)listen\s+80\b`)
	if !listen.MatchString(conf) {
		t.Fatalf("swarmops.conf: no `listen 80`")
	}
	conf = listen.ReplaceAllString(conf, "${1}listen 127.0.0.1:{{PORT}}")
	return testenv.NginxConf(conf)
}

// startNginx runs nginx with the project's config in front of ins.
func startNginx(t testing.TB, ins ...*instance) *testenv.Nginx {
	t.Helper()
	return startNginxWith(t, nginxConf(t, ins...))
}

// startNginxWith runs nginx with a complete config (see testenv.NginxConf)
// and shows its warnings and errors when the test fails.
func startNginxWith(t testing.TB, conf string) *testenv.Nginx {
	t.Helper()
	x := testenv.StartNginx(t, conf)
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		b, _ := os.ReadFile(filepath.Join(x.Dir, "error.log"))
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			if l != "" && !strings.Contains(l, "[notice]") {
				lines = append(lines, l)
			}
		}
		t.Logf("nginx error log, last warnings and errors:\n%s", strings.Join(lines[max(0, len(lines)-30):], "\n"))
	})
	return x
}

// dockerCLI runs the docker CLI against a node's socket with extra
// environment, in dir, and answers its output.
func dockerCLI(ctx context.Context, node *testenv.Node, dir string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", append([]string{"-H", node.Socket}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv("DOCKER_"), "DOCKER_CONFIG="+filepath.Join(node.Dir, "cli-deploy"), "DOCKER_CLI_HINTS=false")
	cmd.Env = append(cmd.Env, env...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("docker %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), stderr.String())
	}
	return out.String(), nil
}

var errNotYet = errors.New("not yet")

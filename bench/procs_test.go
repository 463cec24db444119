package bench

import (
	"bufio"
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
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/swarmops/swarmops/internal/testenv"
)

// binaries are the programs the suite runs as processes of their own,
// built while the engines start.
type binaries struct {
	done         chan struct{}
	err          error
	swarmops     string
	refserver    string
	swarmopsDesc string
}

// repoRoot answers the module's root (the test runs in bench/).
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("no go.mod in %s: run the suite from its package (go test ./bench/)", dir)
	}
	return dir
}

// buildBinaries builds ./cmd/swarmops as `make build` does (static,
// trimmed, stripped) and bench/refserver the same way, in the background.
func buildBinaries(t *testing.T) *binaries {
	t.Helper()
	testenv.Require(t, "go", "golang-go")
	root := repoRoot(t)
	dir := testenv.SubDir(t, "bin")
	b := &binaries{
		done: make(chan struct{}), swarmops: filepath.Join(dir, "swarmops"), refserver: filepath.Join(dir, "refserver"),
		swarmopsDesc: "built as `make build` does: CGO_ENABLED=0 -trimpath -ldflags '-s -w'",
	}
	go func() {
		defer close(b.done)
		const pkg = "github.com/swarmops/swarmops/internal/version"
		for _, c := range [][]string{
			{"build", "-trimpath", "-ldflags", "-s -w -X " + pkg + ".Version=bench -X " + pkg + ".Commit=bench", "-o", b.swarmops, "./cmd/swarmops"},
			{"build", "-trimpath", "-ldflags", "-s -w", "-o", b.refserver, "./bench/refserver"},
		} {
			cmd := exec.Command("go", c...)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				b.err = fmt.Errorf("go %s: %v\n%s", strings.Join(c, " "), err, out)
				return
			}
		}
	}()
	return b
}

// wait waits for the builds.
func (b *binaries) wait(t *testing.T) *binaries {
	t.Helper()
	<-b.done
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b
}

// process is a server the suite started, stopped by its pid when the
// test ends.
type process struct {
	name string
	url  string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

// startProcess runs bin with env (the environment less SWARMOPS_* and
// DOCKER_* settings, plus env) on a loopback port, output to a log file.
func startProcess(t *testing.T, name, bin string, env []string, args ...string) *process {
	t.Helper()
	dir := testenv.SubDir(t, name)
	p := &process{name: name, log: filepath.Join(dir, "log"), done: make(chan struct{})}
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SWARMOPS_") && !strings.HasPrefix(kv, "DOCKER_") && !strings.HasPrefix(kv, "REF_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Dir = dir
	logf, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, and killed if the test binary dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p.cmd = cmd
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s log (%s), last lines:\n%s", name, p.log, tailFile(p.log, 3000))
		}
	})
	return p
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM, and SIGKILL to its group after 30 s.
func (p *process) stop() {
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(30 * time.Second):
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
	<-p.done
}

// waitHTTP waits until GET url answers 200 (with header), or the process
// exits.
func (p *process) waitHTTP(t *testing.T, url string, header http.Header) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	testenv.Poll(t, 60*time.Second, p.name+" to answer GET "+url, func() error {
		if !p.running() {
			t.Fatalf("%s exited at start; log:\n%s", p.name, tailFile(p.log, 3000))
		}
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if header != nil {
			req.Header = header.Clone()
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	})
}

// memInfo is a process's resident memory, in kB.
type memInfo struct{ rss, hwm int64 }

func readMem(pid int) (memInfo, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memInfo{}, err
	}
	defer f.Close()
	var m memInfo
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch k {
		case "VmRSS":
			dst = &m.rss
		case "VmHWM":
			dst = &m.hwm
		default:
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return m, fmt.Errorf("%s: %q", k, v)
		}
		*dst = n
	}
	if m.rss == 0 {
		return m, errors.New("no VmRSS in /proc/<pid>/status")
	}
	return m, sc.Err()
}

func (p *process) mem(t *testing.T) memInfo {
	t.Helper()
	m, err := readMem(p.pid())
	if err != nil {
		t.Fatalf("%s memory: %v", p.name, err)
	}
	return m
}

func tailFile(path string, n int64) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if int64(len(b)) > n {
		b = b[int64(len(b))-n:]
	}
	return string(b)
}

// swarmOps is a `swarmops serve` process in redis mode.
type swarmOps struct {
	url  string
	proc *process
}

const adminPassword = "bench-admin-password"

func startSwarmOps(t *testing.T, bin string, redis *testenv.RedisServer) *swarmOps {
	t.Helper()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(t)))
	dir := testenv.SubDir(t, "swarmops-data")
	p := startProcess(t, "swarmops", bin, []string{
		"SWARMOPS_LISTEN=" + addr,
		"SWARMOPS_STORE=redis",
		"SWARMOPS_REDIS_URL=" + redis.URL(0),
		"SWARMOPS_REDIS_PREFIX=bench:",
		"SWARMOPS_DATA_DIR=" + dir,
		"SWARMOPS_ADMIN_PASSWORD=" + adminPassword,
		"SWARMOPS_AUTOREGISTER=false",
		"SWARMOPS_INSTANCE_ID=bench",
		"SWARMOPS_SHUTDOWN_DRAIN=1s",
	}, "serve")
	p.url = "http://" + addr
	p.waitHTTP(t, p.url+"/readyz", nil)
	return &swarmOps{url: p.url, proc: p}
}

// login logs the first admin in and answers its session client.
func (s *swarmOps) login(t *testing.T) *apiClient {
	t.Helper()
	c := &apiClient{base: s.url, http: &http.Client{Transport: testenv.KeepAliveTransport(64, 8), Timeout: 2 * time.Minute}}
	body := strings.NewReader(`{"username":"admin","password":"` + adminPassword + `"}`)
	var resp *http.Response
	testenv.Poll(t, 30*time.Second, "the first admin to log in", func() error {
		var err error
		_, _ = body.Seek(0, io.SeekStart)
		resp, err = c.http.Post(s.url+"/api/v1/auth/login", "application/json", body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return fmt.Errorf("%s %s", resp.Status, b)
		}
		return nil
	})
	defer resp.Body.Close()
	var out struct {
		CSRFToken string `json:"csrf_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("login answer: %v", err)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == "swarmops_session" {
			c.session = ck.Value
		}
	}
	if c.session == "" || out.CSRFToken == "" {
		t.Fatalf("login answered no session cookie or no csrf_token")
	}
	c.csrf = out.CSRFToken
	c.header = http.Header{"Cookie": {"swarmops_session=" + c.session}}
	return c
}

// startReference starts bench/refserver on the same Redis, with the
// session and the data it answers: SwarmOps's own answer to GET
// /api/v1/clusters, so both send the same bytes.
func startReference(t *testing.T, bin string, redis *testenv.RedisServer, admin *apiClient) *process {
	t.Helper()
	const prefix = "bench:ref:"
	opts, err := goredis.ParseURL(redis.URL(0))
	if err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(opts)
	defer rdb.Close()
	sess, _ := json.Marshal(map[string]any{
		"id": admin.session, "username": "admin", "role": "admin", "csrf_token": admin.csrf,
		"created_at": time.Now().UTC(), "expires_at": time.Now().Add(24 * time.Hour).UTC(), "auth": "local",
	})
	ctx := context.Background()
	if err := rdb.Set(ctx, prefix+"session:"+admin.session, sess, 0).Err(); err != nil {
		t.Fatalf("redis: %v", err)
	}
	if err := rdb.Set(ctx, prefix+"data", admin.fetch(t, "/api/v1/clusters"), 0).Err(); err != nil {
		t.Fatalf("redis: %v", err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(t)))
	p := startProcess(t, "refserver", bin, []string{"REF_LISTEN=" + addr, "REF_REDIS_URL=" + redis.URL(0), "REF_PREFIX=" + prefix})
	p.url = "http://" + addr
	p.waitHTTP(t, p.url+"/api/v1/clusters", admin.header)
	return p
}

// requireWrk answers the path of Debian's wrk, or fails the test saying
// how to get it.
func requireWrk(t *testing.T) string {
	t.Helper()
	return testenv.Require(t, "wrk", "wrk")
}

type wrkResult struct {
	rps    float64
	errors string // wrk's "Socket errors" line, if any
	out    string
	err    error
}

var (
	wrkRPS    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	wrkSocket = regexp.MustCompile(`Socket errors:[^\n]*`)
)

// runWrkErr runs wrk for d with conns connections (2 threads at most) on
// url with cookie.
func runWrkErr(wrk string, d time.Duration, conns int, url, cookie string) wrkResult {
	secs := max(1, int(d.Round(time.Second)/time.Second))
	args := []string{"-t", strconv.Itoa(min(2, conns)), "-c", strconv.Itoa(conns), "-d", fmt.Sprintf("%ds", secs),
		"--timeout", "20s", "-H", "Cookie: " + cookie, url}
	ctx, cancel := context.WithTimeout(context.Background(), d+2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, wrk, args...).CombinedOutput()
	r := wrkResult{out: string(out)}
	if err != nil {
		r.err = fmt.Errorf("wrk %s: %v\n%s", strings.Join(args, " "), err, out)
		return r
	}
	if m := wrkNon2xx.FindStringSubmatch(r.out); m != nil {
		r.err = fmt.Errorf("wrk %s: %s answers were not 2xx:\n%s", url, m[1], out)
		return r
	}
	m := wrkRPS.FindStringSubmatch(r.out)
	if m == nil {
		r.err = fmt.Errorf("wrk %s: no Requests/sec in its output:\n%s", url, out)
		return r
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	r.errors = wrkSocket.FindString(r.out)
	return r
}

func runWrk(t *testing.T, wrk string, d time.Duration, conns int, url, cookie string) wrkResult {
	t.Helper()
	r := runWrkErr(wrk, d, conns, url, cookie)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.errors != "" {
		t.Logf("wrk %s: %s", url, r.errors)
	}
	return r
}

package deploy_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/swarmops/swarmops/internal/seal"
	"github.com/swarmops/swarmops/internal/testenv"
)

// previousRefEnv names another ref than the parent commit to build as
// the previous release.
const previousRefEnv = "SWARMOPS_PREVIOUS_REF"

// previousRef is the ref the upgrade tests build as the previous release.
func previousRef() string {
	if r := strings.TrimSpace(os.Getenv(previousRefEnv)); r != "" {
		return r
	}
	return "HEAD^"
}

var (
	prevOnce   sync.Once
	prevPath   string
	prevCommit string
	prevErr    error
)

// previousBinary builds the previous release (previousRef) once per test
// process, as swarmopsBinary builds HEAD, from a detached worktree that
// is removed once built. A clone without that commit (a shallow one) is a
// failure that says how to fetch it, never a skip.
func previousBinary(t testing.TB) string {
	t.Helper()
	testenv.Require(t, "go", "golang-go")
	testenv.Require(t, "git", "git")
	root, base := repoRoot(t), testenv.BaseDir(t)
	prevOnce.Do(func() { prevPath, prevCommit, prevErr = buildPrevious(root, base, previousRef()) })
	if prevErr != nil {
		t.Fatal(prevErr)
	}
	return prevPath
}

// buildPrevious checks ref out into a worktree under base, builds
// ./cmd/swarmops there and answers the binary and the commit.
func buildPrevious(root, base, ref string) (bin, commit string, err error) {
	git := func(args ...string) (string, error) {
		cmd := exec.Command("git", args...)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return strings.TrimSpace(string(out)), nil
	}
	commit, err = git("rev-parse", "--verify", "--quiet", ref+"^{commit}")
	if err != nil {
		why := "it is not in this clone"
		if shallow, _ := git("rev-parse", "--is-shallow-repository"); shallow == "true" {
			why = "this clone is shallow"
		}
		return "", "", fmt.Errorf("the upgrade tests build the previous release %s (%s names another ref), but %s: "+
			"run `git fetch --unshallow` (or fetch that ref) and test again", ref, previousRefEnv, why)
	}
	src := filepath.Join(base, "previous-src")
	_, _ = git("worktree", "prune") // entries of runs that were killed
	if _, err := git("worktree", "add", "--detach", src, commit); err != nil {
		return "", "", err
	}
	defer func() {
		if _, rmErr := git("worktree", "remove", "--force", src); rmErr != nil {
			_ = os.RemoveAll(src)
			_, _ = git("worktree", "prune")
		}
	}()
	bin = filepath.Join(base, "swarmops-previous")
	const pkg = "github.com/swarmops/swarmops/internal/version"
	cmd := exec.Command("go", "build", "-trimpath",
		"-ldflags", "-s -w -X "+pkg+".Version="+previousVersion+" -X "+pkg+".Commit="+commit[:12],
		"-o", bin, "./cmd/swarmops")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("go build ./cmd/swarmops of the previous release %s (%s): %v\n%s", ref, commit[:12], err, out)
	}
	return bin, commit, nil
}

// previousVersion is the version the previous build is stamped with (HEAD
// is "ha-test", see swarmopsBinary), so logs and /api/v1/version tell them
// apart.
const previousVersion = "previous-test"

// startBuild is startInstance with another binary than HEAD's.
func startBuild(t testing.TB, bin, id string, env map[string]string) *instance {
	t.Helper()
	return startBinaryAt(t, bin, id, net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(t))), env)
}

// waitFailedExit waits up to timeout for in to exit by itself and answers
// its log; the exit must be a failure (non-zero status).
func (in *instance) waitFailedExit(t testing.TB, timeout time.Duration) string {
	t.Helper()
	if err := in.Wait(timeout); err != nil {
		t.Fatalf("%s should have refused to start and exited, but it is %v; log:\n%s", in.ID, err, tailFile(in.Log, 3000))
	}
	var exit *exec.ExitError
	if !errors.As(in.err, &exit) || exit.ExitCode() == 0 {
		t.Errorf("%s exited with %v; want a non-zero status", in.ID, in.err)
	}
	b, _ := os.ReadFile(in.Log)
	return string(b)
}

// withEnv answers a copy of env with more set.
func withEnv(env map[string]string, more map[string]string) map[string]string {
	out := make(map[string]string, len(env)+len(more))
	for k, v := range env {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// newSecretKey answers a fresh SWARMOPS_SECRET_KEY value and its Box.
func newSecretKey(t testing.TB) (string, *seal.Box) {
	t.Helper()
	k, err := seal.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	box, err := seal.New(k)
	if err != nil {
		t.Fatal(err)
	}
	return seal.EncodeKey(k), box
}

// rawRedis reads and writes the test's Redis beside SwarmOps, as an
// operator with redis-cli would: what is really stored.
type rawRedis struct {
	c      *goredis.Client
	prefix string
}

func newRawRedis(t testing.TB, r *testenv.RedisServer, prefix string) *rawRedis {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: r.Addr, Password: r.Password})
	t.Cleanup(func() { _ = c.Close() })
	return &rawRedis{c: c, prefix: prefix}
}

// dump answers every key under the prefix (without it) with its type and
// value, each in a stable text form.
func (rr *rawRedis) dump(t testing.TB) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	iter := rr.c.Scan(ctx, 0, rr.prefix+"*", 500).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		typ, err := rr.c.Type(ctx, key).Result()
		if err != nil {
			t.Fatalf("redis TYPE %s: %v", key, err)
		}
		var val string
		switch typ {
		case "string":
			val, err = rr.c.Get(ctx, key).Result()
		case "set":
			var m []string
			m, err = rr.c.SMembers(ctx, key).Result()
			slices.Sort(m)
			val = strings.Join(m, "\n")
		case "zset":
			var m []goredis.Z
			m, err = rr.c.ZRangeWithScores(ctx, key, 0, -1).Result()
			var parts []string
			for _, z := range m {
				parts = append(parts, fmt.Sprintf("%v=%v", z.Score, z.Member))
			}
			val = strings.Join(parts, "\n")
		case "hash":
			var m map[string]string
			m, err = rr.c.HGetAll(ctx, key).Result()
			var parts []string
			for k, v := range m {
				parts = append(parts, k+"="+v)
			}
			slices.Sort(parts)
			val = strings.Join(parts, "\n")
		case "list":
			var m []string
			m, err = rr.c.LRange(ctx, key, 0, -1).Result()
			val = strings.Join(m, "\n")
		case "stream":
			var m []goredis.XMessage
			m, err = rr.c.XRange(ctx, key, "-", "+").Result()
			val = fmt.Sprint(m)
		case "none": // gone meanwhile
			continue
		default:
			val = "(type " + typ + ")"
		}
		if err != nil && !errors.Is(err, goredis.Nil) {
			t.Fatalf("redis read %s (%s): %v", key, typ, err)
		}
		out[strings.TrimPrefix(key, rr.prefix)] = typ + ":" + val
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("redis SCAN %s*: %v", rr.prefix, err)
	}
	return out
}

// get answers the JSON object stored at key (without the prefix).
func (rr *rawRedis) get(t testing.TB, key string) map[string]any {
	t.Helper()
	s, err := rr.c.Get(context.Background(), rr.prefix+key).Result()
	if err != nil {
		t.Fatalf("redis GET %s%s: %v", rr.prefix, key, err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("redis %s%s is not a JSON object: %v: %.300s", rr.prefix, key, err, s)
	}
	return m
}

// set stores v as JSON at key (without the prefix).
func (rr *rawRedis) set(t testing.TB, key string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := rr.c.Set(context.Background(), rr.prefix+key, b, 0).Err(); err != nil {
		t.Fatalf("redis SET %s%s: %v", rr.prefix, key, err)
	}
}

// sadd adds members to the set at key (without the prefix).
func (rr *rawRedis) sadd(t testing.TB, key string, members ...any) {
	t.Helper()
	if err := rr.c.SAdd(context.Background(), rr.prefix+key, members...).Err(); err != nil {
		t.Fatalf("redis SADD %s%s: %v", rr.prefix, key, err)
	}
}

// addFields writes fields into the JSON record at key as a newer version
// would add them, keeping the rest.
func (rr *rawRedis) addFields(t testing.TB, key string, fields map[string]any) {
	t.Helper()
	m := rr.get(t, key)
	for k, v := range fields {
		m[k] = v
	}
	rr.set(t, key, m)
}

// keysLike answers the keys (without the prefix) that start with start.
func (rr *rawRedis) keysLike(t testing.TB, start string) []string {
	t.Helper()
	var out []string
	for k := range rr.dump(t) {
		if strings.HasPrefix(k, start) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// secretText is a secret the store must never hold in the clear.
type secretText struct {
	what, text string
}

// forms answers the texts whose presence shows the secret in the clear:
// itself, a PEM body line, and its base64 (as a []byte field holds it).
func (s secretText) forms() []string {
	out := []string{s.text, base64.StdEncoding.EncodeToString([]byte(s.text))}
	if len(out[1]) > 40 {
		out[1] = out[1][:40]
	}
	for _, line := range strings.Split(s.text, "\n") {
		if len(line) >= 40 && !strings.HasPrefix(line, "-----") {
			out = append(out, line)
			break
		}
	}
	return out
}

// checkNoSecrets fails when any value under the prefix holds a private
// key in PEM or one of secrets, naming the key and the secret (never the
// secret's text).
func (rr *rawRedis) checkNoSecrets(t testing.TB, step string, secrets ...secretText) {
	t.Helper()
	for key, val := range rr.dump(t) {
		if strings.Contains(val, "PRIVATE KEY") {
			t.Errorf("%s: redis %s%s holds a PEM private key in the clear", step, rr.prefix, key)
		}
		for _, s := range secrets {
			for _, f := range s.forms() {
				if f != "" && strings.Contains(val, f) {
					t.Errorf("%s: redis %s%s holds %s in the clear", step, rr.prefix, key, s.what)
					break
				}
			}
		}
	}
}

// diffDumps describes how after differs from before, keys whose name
// starts with any of ignore aside.
func diffDumps(before, after map[string]string, ignore ...string) []string {
	skip := func(k string) bool {
		for _, p := range ignore {
			if strings.HasPrefix(k, p) {
				return true
			}
		}
		return false
	}
	var out []string
	for k, v := range before {
		if skip(k) {
			continue
		}
		if w, ok := after[k]; !ok {
			out = append(out, "removed "+k)
		} else if w != v {
			out = append(out, fmt.Sprintf("changed %s: %.200s -> %.200s", k, v, w))
		}
	}
	for k, v := range after {
		if _, ok := before[k]; !ok && !skip(k) {
			out = append(out, fmt.Sprintf("added %s: %.200s", k, v))
		}
	}
	slices.Sort(out)
	return out
}

// logsWith answers the JSON log lines of path whose message is msg.
func logsWith(path, msg string) []map[string]any {
	var out []map[string]any
	for _, l := range logLines(path) {
		if l["message"] == msg {
			out = append(out, l)
		}
	}
	return out
}

// caller is a client of one instance with a session.
type caller struct {
	t  testing.TB
	in *instance
	s  session
}

// call sends a request and fails the test unless the status is want.
func (a caller) call(method, path string, body any, want int) []byte {
	a.t.Helper()
	st, out, _, err := do(httpClient, method, a.in.URL+path, a.s, body, nil)
	if err != nil {
		a.t.Fatalf("%s %s via %s: %v", method, path, a.in.ID, err)
	}
	if st != want {
		a.t.Fatalf("%s %s via %s: %d %s; want %d", method, path, a.in.ID, st, out, want)
	}
	return out
}

// json sends a request wanting status want and decodes the answer.
func (a caller) json(method, path string, body any, want int) map[string]any {
	a.t.Helper()
	out := a.call(method, path, body, want)
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		a.t.Fatalf("%s %s via %s: answer is not a JSON object: %v: %.300s", method, path, a.in.ID, err, out)
	}
	return m
}

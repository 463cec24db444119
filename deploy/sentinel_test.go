package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/cli/cli/compose/loader"
	composetypes "github.com/docker/cli/cli/compose/types"
	goredis "github.com/redis/go-redis/v9"

	"github.com/swarmops/swarmops/internal/seal"
	"github.com/swarmops/swarmops/internal/testenv"
)

// sentinelEnv is the configuration of an instance in Sentinel mode on s,
// as stack-sentinel.yaml sets it.
func sentinelEnv(t testing.TB, s *testenv.Sentinel, prefix string) map[string]string {
	t.Helper()
	key, err := seal.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"SWARMOPS_STORE":           "redis",
		"SWARMOPS_REDIS_SENTINELS": strings.Join(s.Sentinels(), ","),
		"SWARMOPS_REDIS_MASTER":    s.MasterName(),
		"SWARMOPS_REDIS_PREFIX":    prefix,
		"SWARMOPS_SECRET_KEY":      seal.EncodeKey(key),
	}
}

// senOp is one request of the failover test's load: a read, or a write
// (the creation of an API token called name).
type senOp struct {
	instance   string
	write      bool
	name       string
	start, end time.Time
	status     int
	body       string
	err        error
}

func (o senOp) ok() bool { return o.err == nil && (o.status == 200 || o.status == 201) }

func (o senOp) String() string {
	kind := "GET /api/v1/users"
	if o.write {
		kind = "POST /api/v1/tokens " + o.name
	}
	body := o.body
	if o.ok() {
		body = "" // a created token's text is a secret
	}
	return fmt.Sprintf("%s %s at %s (%s): %d %v %.160s", o.instance, kind, o.start.Format("15:04:05.000"),
		o.end.Sub(o.start).Round(time.Millisecond), o.status, o.err, body)
}

// senLoad runs, against each instance, one writer creating API tokens one
// after the other and two readers listing users, each at most every
// 20 ms: steady load that leaves this 2-core machine room for the
// failover itself.
type senLoad struct {
	mu   sync.Mutex
	ops  []senOp
	stop context.CancelFunc
	wg   sync.WaitGroup
}

func startSenLoad(s session, ins ...*instance) *senLoad {
	ctx, cancel := context.WithCancel(context.Background())
	l := &senLoad{stop: cancel}
	client := &http.Client{Timeout: 30 * time.Second}
	for _, in := range ins {
		for w := range 3 {
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
				for i := 0; ctx.Err() == nil; i++ {
					op := senOp{instance: in.ID, write: w == 0, start: time.Now()}
					method, url, body := http.MethodGet, in.URL+"/api/v1/users", any(nil)
					if op.write {
						op.name = fmt.Sprintf("%s-%d", in.ID, i)
						method, url, body = http.MethodPost, in.URL+"/api/v1/tokens", map[string]string{"name": op.name}
					}
					var b []byte
					op.status, b, _, op.err = do(client, method, url, s, body, nil)
					op.end, op.body = time.Now(), string(b)
					l.mu.Lock()
					l.ops = append(l.ops, op)
					l.mu.Unlock()
					select {
					case <-ctx.Done():
					case <-tick.C:
					}
				}
			}()
		}
	}
	return l
}

func (l *senLoad) snapshot() []senOp {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ops)
}

// Stop ends the load and answers every request it made.
func (l *senLoad) Stop() []senOp {
	l.stop()
	l.wg.Wait()
	return l.snapshot()
}

// waitAcked waits until each instance has n more acknowledged writes and
// a successful read started after since.
func (l *senLoad) waitAcked(t *testing.T, timeout time.Duration, what string, since time.Time, n int, ins ...*instance) {
	t.Helper()
	testenv.Poll(t, timeout, what, func() error {
		writes, reads := map[string]int{}, map[string]int{}
		for _, o := range l.snapshot() {
			if o.ok() && !o.start.Before(since) {
				if o.write {
					writes[o.instance]++
				} else {
					reads[o.instance]++
				}
			}
		}
		for _, in := range ins {
			if writes[in.ID] < n || reads[in.ID] == 0 {
				return fmt.Errorf("acked writes %v, good reads %v since %s", writes, reads, since.Format("15:04:05.000"))
			}
		}
		return nil
	})
}

// TestSentinelFailover runs two instances in Sentinel mode under read and
// write load and SIGKILLs the Redis master. The instances must follow the
// promoted replica by themselves, reads recover within the Sentinel
// failover bound, every write the API acknowledged is still there
// afterwards, and the writes that failed meanwhile failed with 503.
func TestSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Sentinel topology and SwarmOps")
	}
	t0 := time.Now()
	sen := testenv.NewSentinel(t)
	prefix := "sentinel-failover:"
	env := sentinelEnv(t, sen, prefix)
	a, b := startInstance(t, "sen-a", env), startInstance(t, "sen-b", env)
	a.waitReady(t)
	b.waitReady(t)
	s := mustLogin(t, a.URL)
	t.Logf("topology and instances ready in %s", time.Since(t0).Round(time.Millisecond))
	defer func() {
		if t.Failed() {
			t.Logf("sentinel topology logs:\n%s", sen.Logs())
		}
	}()

	load := startSenLoad(s, a, b)
	defer load.Stop()
	load.waitAcked(t, 30*time.Second, "20 acknowledged writes per instance before the failover", t0, 20, a, b)

	old, err := sen.KillMaster()
	if err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	var promoted time.Duration
	testenv.Poll(t, 30*time.Second, "the sentinels to promote the replica", func() error {
		m, err := sen.Master()
		if err != nil {
			return err
		}
		if m == old {
			return fmt.Errorf("master is still %s", m)
		}
		promoted = time.Since(killed)
		return nil
	})
	// Reads and writes go on well after the promotion, through both
	// instances, without restarting them.
	load.waitAcked(t, 30*time.Second, "20 acknowledged writes per instance after the failover", killed.Add(promoted), 20, a, b)
	ops := load.Stop()
	for _, in := range []*instance{a, b} {
		if !in.Running() {
			t.Fatalf("instance %s exited: %v", in.ID, in.err)
		}
	}

	// The bound: Sentinel calls the master down after down-after-
	// milliseconds, the quorum agrees and a leader promotes the replica
	// within failover-timeout; then go-redis asks a sentinel again on its
	// next dial. Two seconds of slack cover the instances' first requests.
	bound := testenv.SentinelDownAfter + testenv.SentinelFailoverTimeout + 2*time.Second
	var (
		acked        = map[string]bool{}
		failedWrites []senOp
		bad          []string
		slowest      senOp
	)
	// Per instance: the end of the last failed read, and of the first read
	// that started after the kill and succeeded.
	lastFail, firstGood := map[string]time.Duration{}, map[string]time.Duration{}
	for _, o := range ops {
		if d := o.end.Sub(o.start); d > slowest.end.Sub(slowest.start) {
			slowest = o
		}
		switch {
		case o.ok() && o.write:
			acked[o.name] = true
		case o.ok():
			if d := o.end.Sub(killed); !o.write && o.start.After(killed) && (firstGood[o.instance] == 0 || d < firstGood[o.instance]) {
				firstGood[o.instance] = d
			}
		case o.err == nil && o.status == 503:
			p, ok := parseProblem([]byte(o.body))
			if !ok || p.Error.Code != "unavailable" || !strings.Contains(p.Error.Message, "store unavailable") {
				bad = append(bad, "503 without the store's unavailable problem: "+o.String())
			}
			if o.write {
				failedWrites = append(failedWrites, o)
			}
			if !o.write && o.end.After(killed) {
				lastFail[o.instance] = max(lastFail[o.instance], o.end.Sub(killed))
			}
		default:
			bad = append(bad, "neither success nor 503: "+o.String())
		}
	}
	for _, x := range bad[:min(len(bad), 10)] {
		t.Error(x)
	}
	if len(bad) > 10 {
		t.Errorf("... and %d more such requests", len(bad)-10)
	}
	// A request must not hang: at most the bound plus a WAIT timeout.
	if d := slowest.end.Sub(slowest.start); d > bound+time.Second {
		t.Errorf("slowest request took %s, more than %s: %s", d.Round(time.Millisecond), bound+time.Second, slowest)
	}
	for _, in := range []*instance{a, b} {
		if lastFail[in.ID] > bound || firstGood[in.ID] > bound {
			t.Errorf("reads through %s failed until %s and first succeeded again %s after the kill, beyond the %s bound",
				in.ID, lastFail[in.ID], firstGood[in.ID], bound)
		}
	}

	// Every acknowledged write is in the store the instances now use, read
	// straight from the new master and through each instance.
	ctx := t.Context()
	rc := goredis.NewFailoverClient(&goredis.FailoverOptions{MasterName: sen.MasterName(), SentinelAddrs: sen.Sentinels()})
	defer rc.Close()
	names, err := rc.HKeys(ctx, prefix+"user-tokens:admin").Result()
	if err != nil {
		t.Fatalf("read the tokens from the new master: %v", err)
	}
	held := map[string]bool{}
	for _, n := range names {
		held[n] = true
	}
	var lost []string
	for n := range acked {
		if !held[n] {
			lost = append(lost, n)
		}
	}
	slices.Sort(lost)
	if len(lost) > 0 {
		t.Errorf("%d of %d acknowledged writes are lost after the failover: %v", len(lost), len(acked), lost)
	}
	for _, in := range []*instance{a, b} {
		if err := sameTokens(in, s, held); err != nil {
			t.Errorf("through %s: %v", in.ID, err)
		}
	}
	appliedAnyway := 0
	for _, o := range failedWrites {
		if held[o.name] {
			appliedAnyway++
		}
	}
	t.Logf("master %s SIGKILLed; sentinels promoted the replica after %s (down-after %s, failover-timeout %s, bound for reads %s)",
		old, promoted.Round(time.Millisecond), testenv.SentinelDownAfter, testenv.SentinelFailoverTimeout, bound)
	for _, in := range []*instance{a, b} {
		t.Logf("reads through %s: last failure ended %s, first success of a read sent after the kill %s after the kill",
			in.ID, lastFail[in.ID].Round(time.Millisecond), firstGood[in.ID].Round(time.Millisecond))
	}
	t.Logf("slowest request %s: %s", slowest.end.Sub(slowest.start).Round(time.Millisecond), slowest)
	t.Logf("%d requests; %d writes acknowledged, all %d found after the failover; %d writes failed with 503 (%d of them applied anyway), %d tokens held",
		len(ops), len(acked), len(acked)-len(lost), len(failedWrites), appliedAnyway, len(held))
}

// sameTokens checks that in lists exactly the tokens names holds.
func sameTokens(in *instance, s session, names map[string]bool) error {
	st, body, _, err := do(httpClient, http.MethodGet, in.URL+"/api/v1/tokens", s, nil, nil)
	if err != nil || st != 200 {
		return fmt.Errorf("GET /api/v1/tokens: %d %v %.200s", st, err, body)
	}
	var got struct {
		Items []struct {
			Name string `json:"name"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		return err
	}
	if len(got.Items) != len(names) {
		return fmt.Errorf("lists %d tokens, the store holds %d", len(got.Items), len(names))
	}
	for _, it := range got.Items {
		if !names[it.Name] {
			return fmt.Errorf("lists token %q the store does not hold", it.Name)
		}
	}
	return nil
}

// TestStackSentinelFile loads stack.yaml with the deploy/stack-sentinel.yaml
// overlay, as `docker stack deploy -c stack.yaml -c deploy/stack-sentinel.yaml`
// does, and checks that SwarmOps is pointed at exactly the sentinel
// services, under the name they monitor, that the monitored master and
// the replica are the data services, with append-only persistence, and
// that every entrypoint script is valid shell.
func TestStackSentinelFile(t *testing.T) {
	cfg := loadComposeFiles(t, "stack.yaml", "deploy/stack-sentinel.yaml")
	checkFileRefs(t, cfg)
	so := service(t, cfg, "swarmops")
	// Only the database of the URL counts in Sentinel mode.
	if v := envOf(so, "SWARMOPS_REDIS_URL"); v != "redis://redis:6379/0" || envOf(so, "SWARMOPS_REDIS_PASSWORD_FILE") == "" {
		t.Errorf("swarmops: SWARMOPS_REDIS_URL %q without a password file; want database 0 and the password from the secret", v)
	}
	master := envOf(so, "SWARMOPS_REDIS_MASTER")
	listed := strings.Split(envOf(so, "SWARMOPS_REDIS_SENTINELS"), ",")

	monitor := regexp.MustCompile(`(?m)^sentinel monitor (\S+) (\S+) (\d+) (\d+)$`)
	port := regexp.MustCompile(`(?m)^port (\d+)$`)
	var sentinels []string
	for _, s := range cfg.Services {
		script := strings.Join(s.Entrypoint, " ")
		if !strings.Contains(script, "--sentinel") {
			continue
		}
		sentinels = append(sentinels, s.Name+":"+firstGroup(port, script))
		m := monitor.FindStringSubmatch(script)
		if m == nil {
			t.Errorf("%s: no `sentinel monitor` line in its configuration", s.Name)
			continue
		}
		if m[1] != master {
			t.Errorf("%s monitors %q, SWARMOPS_REDIS_MASTER is %q", s.Name, m[1], master)
		}
		data := service(t, cfg, m[2])
		if !strings.Contains(strings.Join(data.Entrypoint, " "), "--appendonly yes") {
			t.Errorf("%s: the monitored master %s has no append-only persistence", s.Name, m[2])
		}
		if q := m[4]; q != "2" {
			t.Errorf("%s: quorum %s, want 2 of the 3 sentinels", s.Name, q)
		}
		if envOf(s, "SENTINEL_ANNOUNCE") != "{{.Service.Name}}" {
			t.Errorf("%s announces %q, want its service name", s.Name, envOf(s, "SENTINEL_ANNOUNCE"))
		}
	}
	slices.Sort(sentinels)
	slices.Sort(listed)
	if len(sentinels) != 3 || !slices.Equal(sentinels, listed) {
		t.Errorf("SWARMOPS_REDIS_SENTINELS lists %q, the sentinel services are %q (want 3)", listed, sentinels)
	}

	replica := service(t, cfg, "redis-replica")
	if got := envOf(replica, "REDIS_REPLICAOF"); got != "redis 6379" {
		t.Errorf("redis-replica replicates %q, want the master service `redis 6379`", got)
	}
	for _, name := range []string{"redis", "redis-replica"} {
		s := service(t, cfg, name)
		script := strings.Join(s.Entrypoint, " ")
		for _, want := range []string{"--appendonly yes", "masterauth", "requirepass", "--replica-announce-ip"} {
			if !strings.Contains(script, want) {
				t.Errorf("%s: entrypoint lacks %q", name, want)
			}
		}
		if len(s.Volumes) == 0 || s.Volumes[0].Target != "/data" {
			t.Errorf("%s: no volume on /data for its append-only file: %+v", name, s.Volumes)
		}
	}
	t.Run("entrypoint scripts parse", func(t *testing.T) {
		sh := testenv.Require(t, "sh", "dash") // a program: skipped with -short
		for _, s := range cfg.Services {
			if len(s.Entrypoint) == 3 && s.Entrypoint[0] == "/bin/sh" {
				if out, err := exec.Command(sh, "-n", "-c", s.Entrypoint[2]).CombinedOutput(); err != nil {
					t.Errorf("%s: entrypoint script: %v %s", s.Name, err, out)
				}
			}
		}
	})
}

func firstGroup(re *regexp.Regexp, s string) string {
	if m := re.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

// loadComposeFiles loads compose files of the repository merged in order,
// with the docker CLI's loader, as `docker stack deploy -c a -c b` does.
func loadComposeFiles(t *testing.T, names ...string) *composetypes.Config {
	t.Helper()
	root := repoRoot(t)
	var files []composetypes.ConfigFile
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		dict, err := loader.ParseYAML(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		files = append(files, composetypes.ConfigFile{Filename: name, Config: dict})
	}
	cfg, err := loader.Load(composetypes.ConfigDetails{WorkingDir: root, ConfigFiles: files, Environment: map[string]string{}})
	if err != nil {
		t.Fatalf("%s: %v", strings.Join(names, " + "), err)
	}
	return cfg
}

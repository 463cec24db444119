package main_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	goredis "github.com/redis/go-redis/v9"

	"github.com/swarmops/swarmops/internal/seal"
	"github.com/swarmops/swarmops/internal/state"
	"github.com/swarmops/swarmops/internal/store"
	"github.com/swarmops/swarmops/internal/store/local"
	redisstore "github.com/swarmops/swarmops/internal/store/redis"
	"github.com/swarmops/swarmops/internal/testenv"
)

// stateSecrets are the fixtures' secrets in the clear; no archive may
// hold them.
var stateSecrets = []string{"STATE-TLS-KEY-PLAIN-3b8e", "STATE-REGISTRY-PASSWORD-c41d", "STATE-DB-SECRET-77aa"}

// stateRun runs the binary with kv as its whole environment and stdin as
// its input, answering standard output and error apart.
func stateRun(t *testing.T, kv []string, stdin []byte, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = env(kv...)
	cmd.Stdin = bytes.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// populateLocal fills a local data directory as a running SwarmOps
// would have: a key file, secrets sealed with it, every kind of record.
// It answers the key, base64 encoded.
func populateLocal(t *testing.T, dir string) string {
	t.Helper()
	ctx := t.Context()
	keys, _, err := seal.LoadKey("", "local", dir)
	stateMust(t, err)
	box, err := seal.New(keys...)
	stateMust(t, err)
	sealed := func(s string) []byte {
		b, err := box.Seal([]byte(s))
		stateMust(t, err)
		return b
	}
	st, err := local.Open(dir, local.Options{})
	stateMust(t, err)
	defer st.Close()
	at := time.Date(2025, 7, 8, 9, 10, 11, 0, time.UTC)
	stateMust(t, state.WriteSchema(ctx, st, state.Version, "test"))
	stateMust(t, st.CreateCluster(ctx, store.Cluster{Name: "prod", Endpoints: []string{"tcp://198.18.0.11:2376"},
		TLS: &store.TLS{CA: "ca", Cert: "cert", KeySealed: sealed(stateSecrets[0])}, CreatedAt: at, UpdatedAt: at}))
	stateMust(t, st.SetDefaultCluster(ctx, "prod"))
	stateMust(t, st.CreateUser(ctx, store.User{Username: "alice", Role: "admin", PasswordHash: []byte("$argon2id$x"), CreatedAt: at, UpdatedAt: at}))
	stateMust(t, st.CreateToken(ctx, store.Token{Hash: "h1", Name: "ci", Username: "alice", CreatedAt: at}))
	stateMust(t, st.CreateRegistry(ctx, store.Registry{Name: "hub", URL: "https://registry.example", Username: "u",
		PasswordSealed: sealed(stateSecrets[1]), CreatedAt: at}))
	for i := range 2 {
		_, err := st.AddStackRevision(ctx, store.StackRevision{Cluster: "prod", Stack: "web", Time: at, User: "alice",
			Compose: fmt.Sprintf("services: {} # %d\n", i),
			Sealed:  map[string]store.SealedFile{"./db": {Data: sealed(stateSecrets[2]), SHA256: "00"}}})
		stateMust(t, err)
	}
	stateMust(t, st.AppendAudit(ctx, store.AuditRecord{Time: at, User: "alice", Action: "cluster.create", Result: "ok"}))
	return seal.EncodeKey(keys[0])
}

func stateMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// exportOf answers the state of a store, read in the test's own process.
func exportOf(t *testing.T, st store.Store) *state.Archive {
	t.Helper()
	a, err := state.Export(t.Context(), st, state.ExportOptions{Audit: true})
	stateMust(t, err)
	return a
}

// TestState_LocalToRedis: local -> redis is `state export` on the local
// data directory and `state import` into Redis, with the local key as
// SWARMOPS_SECRET_KEY; the Redis store then holds the same state.
func TestState_LocalToRedis(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := populateLocal(t, dir)
	localEnv := []string{"SWARMOPS_DATA_DIR=" + dir}

	out := filepath.Join(t.TempDir(), "backup.json")
	stdout, stderr, err := stateRun(t, localEnv, nil, "state", "export", "--audit", "--output", out)
	if err != nil {
		t.Fatalf("state export: %v\n%s", err, stderr)
	}
	if stdout != "" || !strings.Contains(stderr, "exported 1 clusters, 1 users, 1 tokens, 1 registries, 2 stack revisions, 1 audit records from the local store") {
		t.Fatalf("state export said %q on stdout, %q on stderr; want the counts on stderr only", stdout, stderr)
	}
	fi, err := os.Stat(out)
	stateMust(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("archive mode %v, want 0600", fi.Mode().Perm())
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".backup.json.*")); len(left) > 0 {
		t.Fatalf("temporary files left beside the archive: %v", left)
	}
	data, err := os.ReadFile(out)
	stateMust(t, err)
	for _, s := range append(stateSecrets, key) {
		if bytes.Contains(data, []byte(s)) {
			t.Fatalf("the archive holds a secret in the clear (%.12s...)", s)
		}
	}

	// Standard output is the default.
	stdout, stderr, err = stateRun(t, localEnv, nil, "state", "export")
	if err != nil {
		t.Fatalf("state export to stdout: %v\n%s", err, stderr)
	}
	var doc struct {
		Format string `json:"format"`
		Audit  []any  `json:"audit"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || doc.Format != "swarmops-state" || doc.Audit != nil {
		t.Fatalf("state export to stdout: %v, format %q, %d audit records (want none without --audit)", err, doc.Format, len(doc.Audit))
	}

	srv := testenv.Redis(t)
	prefix := "state-cli-" + rand.Text()[:10] + ":"
	redisEnv := func(prefix string, kv ...string) []string {
		return append([]string{"SWARMOPS_STORE=redis", "SWARMOPS_REDIS_URL=" + srv.URL(0), "SWARMOPS_REDIS_PREFIX=" + prefix}, kv...)
	}
	_, stderr, err = stateRun(t, redisEnv(prefix, "SWARMOPS_SECRET_KEY="+key), nil, "state", "import", out)
	if err != nil || !strings.Contains(stderr, "imported 1 clusters, 1 users, 1 tokens, 1 registries, 2 stack revisions, 1 audit records into the redis store") {
		t.Fatalf("state import: %v\n%s", err, stderr)
	}
	if strings.Contains(stderr, key) {
		t.Fatal("state import printed the secret key")
	}
	rs := redisstore.New(goredis.NewClient(&goredis.Options{Addr: srv.Addr}), redisstore.Options{Prefix: prefix})
	t.Cleanup(func() { _ = rs.Close() })
	ls, err := local.Open(dir, local.Options{})
	stateMust(t, err)
	want := exportOf(t, ls)
	stateMust(t, ls.Close())
	got := exportOf(t, rs)
	// The import is audited in the store it filled.
	if n := len(got.Audit); n == 0 || got.Audit[n-1].Action != "state.import" || got.Audit[n-1].User != "cli" {
		t.Fatalf("the last audit record after the import is %+v, want state.import by cli", got.Audit[max(n-1, 0):])
	}
	got.Audit = got.Audit[:len(got.Audit)-1]
	if d := cmp.Diff(got, want, cmpopts.IgnoreFields(state.Archive{}, "ExportedAt", "By")); d != "" {
		t.Fatalf("the redis store's state differs from the local one (-redis +local)\n%s", d)
	}

	// Again: the store is no longer empty.
	_, stderr, err = stateRun(t, redisEnv(prefix, "SWARMOPS_SECRET_KEY="+key), nil, "state", "import", out)
	if err == nil || !strings.Contains(stderr, "not empty") || !strings.Contains(stderr, "--merge") {
		t.Fatalf("second import: %v\n%s; want a refusal pointing to --merge", err, stderr)
	}
	_, stderr, err = stateRun(t, redisEnv(prefix, "SWARMOPS_SECRET_KEY="+key), nil, "state", "import", "--merge", out)
	if err != nil || !strings.Contains(stderr, "skipped): 1 clusters, 1 users, 1 tokens, 1 registries, 2 stack revisions, 1 audit records") {
		t.Fatalf("merge import: %v\n%s", err, stderr)
	}

	// From standard input, into a store whose instances have another key,
	// or none: refused, naming the key.
	other, err := seal.NewKey()
	stateMust(t, err)
	box, err := seal.New(other)
	stateMust(t, err)
	for _, kv := range [][]string{{"SWARMOPS_SECRET_KEY=" + seal.EncodeKey(other)}, nil} {
		p := "state-cli-" + rand.Text()[:10] + ":"
		_, stderr, err = stateRun(t, redisEnv(p, kv...), data, "state", "import", "-")
		if err == nil || !strings.Contains(stderr, "SWARMOPS_SECRET_KEY") || !strings.Contains(stderr, "key id "+want.KeyIDs[0]) {
			t.Fatalf("import with key %v: %v\n%s; want a refusal naming key id %s", kv != nil, err, stderr, want.KeyIDs[0])
		}
		if kv != nil && !strings.Contains(stderr, box.KeyID()) {
			t.Errorf("the refusal does not name the configured key id %s: %s", box.KeyID(), stderr)
		}
	}

	// Usage errors name the syntax.
	_, stderr, err = stateRun(t, localEnv, nil, "state", "import")
	if err == nil || !strings.Contains(stderr, "state import [--merge] FILE|-") {
		t.Fatalf("import without a file: %v\n%s", err, stderr)
	}
}

// TestState_LocalInUse: while SwarmOps serves a local data directory, the
// state commands say to stop it first.
func TestState_LocalInUse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	populateLocal(t, dir)
	serve(t, "SWARMOPS_DATA_DIR="+dir, "SWARMOPS_AUTOREGISTER=false")
	_, stderr, err := stateRun(t, []string{"SWARMOPS_DATA_DIR=" + dir}, nil, "state", "export")
	if err == nil || !strings.Contains(stderr, "in use by another SwarmOps process") || !strings.Contains(stderr, "stop SwarmOps first") {
		t.Fatalf("state export while serving: %v\n%s", err, stderr)
	}
}

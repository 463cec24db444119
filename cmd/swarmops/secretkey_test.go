package main_test

import (
	"crypto/rand"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/swarmops/swarmops/internal/seal"
	"github.com/swarmops/swarmops/internal/state"
	"github.com/swarmops/swarmops/internal/store"
	"github.com/swarmops/swarmops/internal/store/local"
	redisstore "github.com/swarmops/swarmops/internal/store/redis"
	"github.com/swarmops/swarmops/internal/testenv"
)

const testTLSKey = "-----BEGIN EC PRIVATE KEY-----\nnot-a-real-key\n-----END EC PRIVATE KEY-----\n"

// runCLI runs the binary with kv as its environment and answers its
// output and error.
func runCLI(t *testing.T, kv []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = env(kv...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustBox(t *testing.T, keys ...[]byte) *seal.Box {
	t.Helper()
	b, err := seal.New(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sealedKeyID(t *testing.T, st store.Store, cluster string) string {
	t.Helper()
	c, err := st.GetCluster(t.Context(), cluster)
	if err != nil {
		t.Fatal(err)
	}
	if c.TLS == nil || c.TLS.Key != "" {
		t.Fatalf("cluster %s's TLS key is not stored sealed: %+v", cluster, c.TLS)
	}
	id, err := seal.KeyIDOf(c.TLS.KeySealed)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestSecretKey_GenerateAndShow(t *testing.T) {
	out, err := runCLI(t, nil, "secret-key", "generate")
	if err != nil {
		t.Fatalf("secret-key generate: %v\n%s", err, out)
	}
	key, err := seal.ParseKey(out)
	if err != nil {
		t.Fatalf("secret-key generate printed %q, not a key: %v", out, err)
	}
	other, _ := seal.NewKey()
	box := mustBox(t, key, other)
	out, err = runCLI(t, []string{"SWARMOPS_SECRET_KEY=" + seal.EncodeKey(key) + "," + seal.EncodeKey(other)}, "secret-key", "show")
	if err != nil || !strings.Contains(out, "sealing key id "+box.KeyID()) || !strings.Contains(out, box.KeyIDs()[1]) {
		t.Fatalf("secret-key show: %v\n%s\nwant key ids %v", err, out, box.KeyIDs())
	}
	if strings.Contains(out, seal.EncodeKey(key)) {
		t.Error("secret-key show printed the key")
	}
	out, err = runCLI(t, []string{"SWARMOPS_STORE=redis", "SWARMOPS_REDIS_URL=redis://127.0.0.1:1/0", "SWARMOPS_SECRET_KEY=" + seal.EncodeKey(key)}, "secret-key", "rotate")
	if err == nil || !strings.Contains(out, "SWARMOPS_SECRET_KEY=NEW,OLD") {
		t.Errorf("rotate with one key: %v\n%s\nwant a usage error explaining NEW,OLD", err, out)
	}
}

func TestSecretKey_RotateLocal(t *testing.T) {
	dir := t.TempDir()
	keys, created, err := seal.LoadKey("", "local", dir)
	if err != nil || !created {
		t.Fatalf("make the key file: %v", err)
	}
	oldBox := mustBox(t, keys...)
	st, err := local.Open(dir, local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := store.Cluster{Name: "prod", Endpoints: []string{"tcp://198.18.0.10:2376"}, TLS: &store.TLS{CA: "ca", Cert: "cert", Key: testTLSKey}, CreatedAt: time.Now()}
	if err := state.Sealing(st, oldBox).CreateCluster(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	st.Close()

	kv := []string{"SWARMOPS_DATA_DIR=" + dir}
	out, err := runCLI(t, kv, "secret-key", "rotate")
	if err != nil {
		t.Fatalf("secret-key rotate: %v\n%s", err, out)
	}
	if !strings.Contains(out, "re-sealed 1 cluster TLS keys") {
		t.Errorf("rotate output does not count the cluster:\n%s", out)
	}
	newKeys, _, err := seal.LoadKey("", "local", dir)
	if err != nil || len(newKeys) != 1 {
		t.Fatalf("key file after the rotation: %d keys, %v; want the new key alone", len(newKeys), err)
	}
	newBox := mustBox(t, newKeys...)
	if newBox.KeyID() == oldBox.KeyID() {
		t.Fatal("the key file still holds the old key")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("data directory holds %d entries after the rotation, want the store and the key file", len(entries))
	}
	st, err = local.Open(dir, local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if id := sealedKeyID(t, st, "prod"); id != newBox.KeyID() {
		t.Errorf("the TLS key is sealed with %s after the rotation, want the new key %s", id, newBox.KeyID())
	}
	got, err := state.Sealing(st, newBox).GetCluster(t.Context(), "prod")
	if err != nil || got.TLS.Key != testTLSKey {
		t.Errorf("the TLS key with the new key: %v (intact: %v)", err, err == nil && got.TLS.Key == testTLSKey)
	}
	audit, err := st.ListAudit(t.Context(), store.AuditFilter{Action: "state.secret-key.rotate"})
	if err != nil || len(audit) != 1 || audit[0].Target != newBox.KeyID() {
		t.Errorf("audit of the rotation: %+v, %v", audit, err)
	}
}

func TestSecretKey_RotateRedis(t *testing.T) {
	srv := testenv.Redis(t)
	prefix := "rotate-" + rand.Text()[:10] + ":"
	oldKey, _ := seal.NewKey()
	newKey, _ := seal.NewKey()
	client := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	st := redisstore.New(client, redisstore.Options{Prefix: prefix})
	defer st.Close()
	c := store.Cluster{Name: "prod", Endpoints: []string{"tcp://198.18.0.10:2376"}, TLS: &store.TLS{Key: testTLSKey}, CreatedAt: time.Now()}
	if err := state.Sealing(st, mustBox(t, oldKey)).CreateCluster(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	kv := []string{"SWARMOPS_STORE=redis", "SWARMOPS_REDIS_URL=" + srv.URL(0), "SWARMOPS_REDIS_PREFIX=" + prefix,
		"SWARMOPS_SECRET_KEY=" + seal.EncodeKey(newKey) + "," + seal.EncodeKey(oldKey)}
	out, err := runCLI(t, kv, "secret-key", "rotate")
	if err != nil || !strings.Contains(out, "set SWARMOPS_SECRET_KEY to it on every instance") {
		t.Fatalf("secret-key rotate: %v\n%s", err, out)
	}
	if strings.Contains(out, seal.EncodeKey(newKey)) || strings.Contains(out, seal.EncodeKey(oldKey)) {
		t.Error("rotate printed a key")
	}
	if id := sealedKeyID(t, st, "prod"); id != mustBox(t, newKey).KeyID() {
		t.Errorf("the TLS key is sealed with %s after the rotation, want the new key's %s", id, mustBox(t, newKey).KeyID())
	}
	// Without the old key, a store sealed with it cannot be rotated.
	third, _ := seal.NewKey()
	kv[len(kv)-1] = "SWARMOPS_SECRET_KEY=" + seal.EncodeKey(third) + "," + seal.EncodeKey(oldKey)
	out, err = runCLI(t, kv, "secret-key", "rotate")
	if err == nil || !strings.Contains(out, mustBox(t, newKey).KeyID()) {
		t.Errorf("rotate without the key in use: %v\n%s\nwant a refusal naming key id %s", err, out, mustBox(t, newKey).KeyID())
	}
}

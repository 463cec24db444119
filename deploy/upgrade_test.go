package deploy_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/seal"
	"github.com/swarmops/swarmops/internal/state"
	"github.com/swarmops/swarmops/internal/testenv"
)

// headVersion is what swarmopsBinary stamps HEAD with.
const headVersion = "ha-test"

// newerFields are top-level record fields that a newer SwarmOps added and
// neither build knows; every rewrite must keep them.
func newerFields() map[string]any {
	return map[string]any{
		"webauthn_epoch": 7.0,
		"sso":            map[string]any{"provider": "oidc", "subject": "u-4711", "groups": []any{"ops", "dev"}},
	}
}

// TestUpgrade runs the previous release (the parent commit, built by the
// test) and HEAD on one Redis, as a start-first rolling upgrade does, and
// HEAD on stores other builds left: a v1 store it migrates, one migrated
// past it, one sealed with another key.
func TestUpgrade(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the previous release and starts redis-server, an engine and SwarmOps processes")
	}
	start := time.Now()
	// Both builds at once: the previous one in the background while HEAD
	// builds (previousBinary waits for it).
	testenv.Require(t, "git", "git")
	root, base := repoRoot(t), testenv.BaseDir(t)
	go prevOnce.Do(func() { prevPath, prevCommit, prevErr = buildPrevious(root, base, previousRef()) })
	swarmopsBinary(t)
	prev := previousBinary(t)
	t.Logf("built HEAD and the previous release %s (%.12s) in %s", previousRef(), prevCommit, time.Since(start).Round(100*time.Millisecond))
	r := testenv.NewRedis(t, "upgrade-redis-password")

	// The longest first (it waits for the 10s schema check twice), so the
	// others run meanwhile.
	t.Run("SchemaTooNewWhileServing", func(t *testing.T) { t.Parallel(); testSchemaTooNewWhileServing(t, r) })
	t.Run("MixedVersions", func(t *testing.T) { t.Parallel(); testMixedVersions(t, r, prev) })
	t.Run("SchemaTooNew", func(t *testing.T) { t.Parallel(); testSchemaTooNew(t, r) })
	t.Run("Migration", func(t *testing.T) { t.Parallel(); testMigration(t, r) })
	t.Run("MigrationWithoutKey", func(t *testing.T) { t.Parallel(); testMigrationWithoutKey(t, r) })
	t.Run("WrongKey", func(t *testing.T) { t.Parallel(); testWrongKey(t, r) })
}

// testMixedVersions: the previous release serves, HEAD joins it on the
// same Redis, and through each in turn users, tokens and a TLS cluster are
// changed. After every step each build answers what the other wrote,
// known fields are all there, fields of a newer version survive both
// builds' rewrites, and no secret is in Redis in the clear.
func testMixedVersions(t *testing.T, r *testenv.RedisServer, prevBin string) {
	const prefix = "upg-mixed:"
	tn := testenv.StartTLSNode(t)
	key, box := newSecretKey(t)
	env := withEnv(redisEnv(t, r, prefix), map[string]string{"SWARMOPS_SECRET_KEY": key})
	rr := newRawRedis(t, r, prefix)

	// The installation runs the previous release; the upgrade starts HEAD
	// beside it.
	old := startBuild(t, prevBin, "mix-old", env)
	old.waitReady(t)
	cur := startInstance(t, "mix-new", env)
	cur.waitReady(t)
	for in, want := range map[*instance]string{old: previousVersion, cur: headVersion} {
		v := caller{t, in, session{}}.json(http.MethodGet, "/api/v1/version", nil, 200)
		if v["version"] != want {
			t.Fatalf("%s answers version %v; want %s (is it the build this test meant?)", in.ID, v["version"], want)
		}
	}
	if sc := rr.get(t, "meta:schema"); sc["version"] != float64(state.Version) {
		t.Errorf("after HEAD started, the schema document is %v; want version %d", sc, state.Version)
	}
	// Each migration ran once, by whichever build came to it first (the
	// old build itself when it already knows schema documents).
	ran := map[any]string{}
	for _, in := range []*instance{old, cur} {
		for _, l := range logsWith(in.Log, "store schema migrated") {
			if by, dup := ran[l["to"]]; dup {
				t.Errorf("the migration to schema %v ran twice: by %s and %s", l["to"], by, in.ID)
			}
			ran[l["to"]] = in.ID
		}
	}
	if ran[float64(state.Version)] == "" {
		t.Errorf("no instance logged \"store schema migrated\" to schema %d; migrations logged: %v", state.Version, ran)
	}
	t.Logf("migrations on the old build's store, by schema and instance: %v", ran)

	// One session, made by the old build, shown to both.
	s := mustLogin(t, old.URL)
	O, N := caller{t, old, s}, caller{t, cur, s}
	secrets := []secretText{
		{"the engine TLS client key", tn.ClientTLS.Key},
		{"SWARMOPS_SECRET_KEY", key},
		{"the admin password", adminPassword},
	}
	step := func(what string) {
		t.Helper()
		rr.checkNoSecrets(t, what, secrets...)
		if t.Failed() {
			t.FailNow()
		}
	}
	keepsNewer := func(what, key string) map[string]any {
		t.Helper()
		m := rr.get(t, key)
		for k, v := range newerFields() {
			if !reflect.DeepEqual(m[k], v) {
				t.Errorf("%s: redis %s%s lost the newer version's field %q: have %v, want %v", what, prefix, key, k, m[k], v)
			}
		}
		return m
	}
	step("both builds started")
	same := func(what, key string, before, after map[string]any, fields ...string) {
		t.Helper()
		for _, f := range fields {
			if !reflect.DeepEqual(before[f], after[f]) {
				t.Errorf("%s: redis %s%s field %q changed from %v to %v", what, prefix, key, f, before[f], after[f])
			}
		}
	}

	// Users: created by the old build, role changed by HEAD, password by
	// the old one, role and password by HEAD.
	const user = "mixed-user"
	pw := []string{"mixed-user-password-1", "mixed-user-password-2", "mixed-user-password-3"}
	for i, p := range pw {
		secrets = append(secrets, secretText{fmt.Sprintf("user password %d", i+1), p})
	}
	userRole := func(c caller) string {
		t.Helper()
		var out struct {
			Items []struct{ Username, Role string } `json:"items"`
		}
		if err := json.Unmarshal(c.call(http.MethodGet, "/api/v1/users", nil, 200), &out); err != nil {
			t.Fatal(err)
		}
		for _, u := range out.Items {
			if u.Username == user {
				return u.Role
			}
		}
		return "(not listed)"
	}
	canLogin := func(in *instance, password string) bool {
		t.Helper()
		st, body, _, err := do(httpClient, http.MethodPost, in.URL+"/api/v1/auth/login", session{},
			map[string]string{"username": user, "password": password}, nil)
		if err != nil || (st != 200 && st != 401) {
			t.Fatalf("login as %s at %s: %d %v %s", user, in.ID, st, err, body)
		}
		return st == 200
	}
	O.call(http.MethodPost, "/api/v1/users", map[string]string{"username": user, "password": pw[0], "role": "viewer"}, 201)
	if got := userRole(N); got != "viewer" {
		t.Errorf("HEAD lists %s with role %s after the old build created it as viewer", user, got)
	}
	step("user created by the old build")
	rr.addFields(t, "user:"+user, newerFields())
	before := rr.get(t, "user:"+user)

	N.call(http.MethodPatch, "/api/v1/users/"+user, map[string]string{"role": "operator"}, 200)
	after := keepsNewer("role changed by HEAD", "user:"+user)
	same("role changed by HEAD", "user:"+user, before, after, "username", "password_hash", "created_at")
	if after["role"] != "operator" {
		t.Errorf("role changed by HEAD: stored role %v", after["role"])
	}
	if got := userRole(O); got != "operator" {
		t.Errorf("the old build lists %s with role %s after HEAD made it operator", user, got)
	}
	step("role changed by HEAD")

	before = after
	O.call(http.MethodPatch, "/api/v1/users/"+user, map[string]string{"password": pw[1]}, 200)
	after = keepsNewer("password changed by the old build", "user:"+user)
	same("password changed by the old build", "user:"+user, before, after, "username", "role", "created_at")
	if reflect.DeepEqual(before["password_hash"], after["password_hash"]) {
		t.Errorf("password changed by the old build: the stored hash did not change")
	}
	if !canLogin(cur, pw[1]) || canLogin(cur, pw[0]) {
		t.Errorf("after the old build changed the password, HEAD does not take the new one only")
	}
	step("password changed by the old build")

	before = after
	N.call(http.MethodPatch, "/api/v1/users/"+user, map[string]string{"password": pw[2], "role": "admin"}, 200)
	after = keepsNewer("role and password changed by HEAD", "user:"+user)
	same("role and password changed by HEAD", "user:"+user, before, after, "username", "created_at")
	if !canLogin(old, pw[2]) || canLogin(old, pw[1]) {
		t.Errorf("after HEAD changed the password, the old build does not take the new one only")
	}
	if got := userRole(O); got != "admin" {
		t.Errorf("the old build lists %s with role %s after HEAD made it admin", user, got)
	}
	step("role and password changed by HEAD")

	// API tokens: one made by each build, used at the other; the records
	// are never rewritten, and keep newer fields; HEAD revokes the old
	// build's token.
	tokOld := O.json(http.MethodPost, "/api/v1/tokens", map[string]string{"name": "from-old"}, 201)["token"].(string)
	tokNew := N.json(http.MethodPost, "/api/v1/tokens", map[string]string{"name": "from-new"}, 201)["token"].(string)
	secrets = append(secrets, secretText{"the old build's API token", tokOld}, secretText{"HEAD's API token", tokNew})
	tokenKey := map[string]string{}
	for _, k := range rr.keysLike(t, "token:") {
		if name, _ := rr.get(t, k)["name"].(string); name != "" {
			tokenKey[name] = k
		}
	}
	if tokenKey["from-old"] == "" || tokenKey["from-new"] == "" {
		t.Fatalf("token records in redis by name: %v; want from-old and from-new", tokenKey)
	}
	for _, k := range tokenKey {
		rr.addFields(t, k, newerFields())
	}
	bearer := func(in *instance, tok string) int {
		t.Helper()
		st, body, _, err := do(httpClient, http.MethodGet, in.URL+"/api/v1/auth/me", session{}, nil, map[string]string{"Authorization": "Bearer " + tok})
		if err != nil {
			t.Fatalf("GET /auth/me with a token at %s: %v", in.ID, err)
		}
		if st == 200 && !strings.Contains(string(body), `"via":"token"`) {
			t.Errorf("GET /auth/me with a token at %s: %s; want via token", in.ID, body)
		}
		return st
	}
	if st := bearer(cur, tokOld); st != 200 {
		t.Errorf("HEAD answered %d to the old build's token; want 200", st)
	}
	if st := bearer(old, tokNew); st != 200 {
		t.Errorf("the old build answered %d to HEAD's token; want 200", st)
	}
	tokenNames := func(c caller) []string {
		t.Helper()
		var out struct {
			Items []struct{ Name string } `json:"items"`
		}
		if err := json.Unmarshal(c.call(http.MethodGet, "/api/v1/tokens", nil, 200), &out); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, it := range out.Items {
			names = append(names, it.Name)
		}
		slices.Sort(names)
		return names
	}
	for _, c := range []caller{O, N} {
		if got := tokenNames(c); !slices.Equal(got, []string{"from-new", "from-old"}) {
			t.Errorf("%s lists the admin's tokens %v; want [from-new from-old]", c.in.ID, got)
		}
	}
	for _, k := range tokenKey {
		keepsNewer("tokens used by both builds", k)
	}
	N.call(http.MethodDelete, "/api/v1/tokens/from-old", nil, 204)
	if got := tokenNames(O); !slices.Equal(got, []string{"from-new"}) {
		t.Errorf("after HEAD revoked from-old, the old build lists %v", got)
	}
	if st := bearer(old, tokOld); st != 401 {
		t.Errorf("the old build answered %d to the token HEAD revoked; want 401", st)
	}
	keepsNewer("a token revoked beside it", tokenKey["from-new"])
	step("tokens")

	// A cluster with TLS material, made a swarm and registered by HEAD:
	// the key is stored sealed, and stays so (and usable by HEAD) through
	// the old build's rewrite.
	const cluster = "mixed-tls"
	const ck = "cluster:" + cluster
	N.call(http.MethodPost, "/api/v1/clusters/init", map[string]any{
		"name": cluster, "endpoint": tn.Endpoint, "advertise_addr": tn.Addr,
		"tls":    map[string]string{"ca": tn.ClientTLS.CA, "cert": tn.ClientTLS.Cert, "key": tn.ClientTLS.Key},
		"labels": map[string]string{"tier": "gold"},
	}, 201)
	step("cluster registered by HEAD")
	sealedKey := func(what string, rec map[string]any) string {
		t.Helper()
		tls, _ := rec["tls"].(map[string]any)
		if tls == nil {
			t.Fatalf("%s: redis %s%s has no tls: %v", what, prefix, ck, rec)
		}
		if tls["ca"] != tn.ClientTLS.CA || tls["cert"] != tn.ClientTLS.Cert {
			t.Errorf("%s: redis %s%s lost its CA or client certificate", what, prefix, ck)
		}
		if k, ok := tls["key"]; ok && k != "" {
			t.Errorf("%s: redis %s%s has a tls.key field", what, prefix, ck)
		}
		b64, _ := tls["key_sealed"].(string)
		blob, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(blob) == 0 {
			t.Fatalf("%s: redis %s%s tls.key_sealed is %q (%v); want the sealed key", what, prefix, ck, b64, err)
		}
		plain, err := box.Open(blob)
		if err != nil || string(plain) != tn.ClientTLS.Key {
			t.Errorf("%s: tls.key_sealed does not open to the client key with SWARMOPS_SECRET_KEY (%v)", what, err)
		}
		return b64
	}
	healthy := func(what string, c caller) {
		t.Helper()
		testenv.Poll(t, 30*time.Second, what+": "+cluster+" healthy through "+c.in.ID, func() error {
			st, body, _, err := do(httpClient, http.MethodGet, c.in.URL+"/api/v1/clusters/"+cluster+"/health", c.s, nil, nil)
			if err != nil {
				return err
			}
			var h struct {
				Status   string   `json:"status"`
				Problems []string `json:"problems"`
			}
			if st != 200 || json.Unmarshal(body, &h) != nil || h.Status != "healthy" {
				return fmt.Errorf("%d %.300s", st, body)
			}
			return nil
		})
	}
	clusterView := func(c caller) (labels map[string]any, isDefault bool) {
		t.Helper()
		v := c.json(http.MethodGet, "/api/v1/clusters/"+cluster, nil, 200)
		tls, _ := v["tls"].(map[string]any)
		if tls["ca"] != true || tls["client_cert"] != true || !strings.Contains(fmt.Sprint(tls["cert_subject"]), "swarmops-test client") {
			t.Errorf("%s answers the TLS summary %v; want a CA and the client certificate", c.in.ID, tls)
		}
		labels, _ = v["labels"].(map[string]any)
		isDefault, _ = v["default"].(bool)
		return labels, isDefault
	}
	sealedKey("registered by HEAD", rr.get(t, ck))
	healthy("registered by HEAD", N)
	if l, _ := clusterView(O); l["tier"] != "gold" {
		t.Errorf("the old build answers labels %v for the cluster HEAD registered", l)
	}
	// A build before schema 2 cannot open a sealed key: it reads the
	// cluster, but reaches a TLS engine only once it is replaced.
	if st, body, _, err := do(httpClient, http.MethodGet, old.URL+"/api/v1/clusters/"+cluster+"/health", s, nil, nil); err == nil {
		t.Logf("the old build's health of the TLS cluster, its key sealed: %d %.300s", st, body)
	}
	rr.addFields(t, ck, newerFields())
	before = rr.get(t, ck)

	O.call(http.MethodPatch, "/api/v1/clusters/"+cluster, map[string]any{"labels": map[string]string{"tier": "gold", "rolled": "old"}}, 200)
	after = keepsNewer("labels changed by the old build", ck)
	// A build before schema 2 keeps key_sealed as it was; a later one may
	// seal the key again (a new nonce): sealedKey opens it either way.
	same("labels changed by the old build", ck, before, after, "name", "endpoints", "swarm_id", "created_at")
	sealedKey("labels changed by the old build", after)
	if l, _ := clusterView(N); l["rolled"] != "old" || l["tier"] != "gold" {
		t.Errorf("HEAD answers labels %v after the old build set rolled=old", l)
	}
	healthy("after the old build's rewrite, the key", N)
	step("cluster labels changed by the old build")

	before = after
	N.call(http.MethodPatch, "/api/v1/clusters/"+cluster, map[string]any{"labels": map[string]string{"tier": "gold", "rolled": "new"}, "default": true}, 200)
	after = keepsNewer("labels and default changed by HEAD", ck)
	same("labels and default changed by HEAD", ck, before, after, "name", "endpoints", "swarm_id", "created_at")
	sealedKey("labels and default changed by HEAD", after)
	if l, def := clusterView(O); l["rolled"] != "new" || !def {
		t.Errorf("the old build answers labels %v, default %v after HEAD set rolled=new and the default mark", l, def)
	}
	healthy("after HEAD's rewrite, the key", N)
	step("cluster labels and default changed by HEAD")

	// The old build sets TLS material itself (the same again): it stores
	// the key in the clear, as builds before schema 2 do. A serving HEAD
	// instance seals what an older instance left in the clear within its
	// schema check interval (10s).
	O.call(http.MethodPatch, "/api/v1/clusters/"+cluster, map[string]any{
		"tls": map[string]string{"ca": tn.ClientTLS.CA, "cert": tn.ClientTLS.Cert, "key": tn.ClientTLS.Key},
	}, 200)
	// A build before schema 2 stores the key in the clear; a later one
	// seals it.
	tls, _ := rr.get(t, ck)["tls"].(map[string]any)
	oldWroteClear := tls["key"] == tn.ClientTLS.Key
	if oldWroteClear {
		t.Logf("the old build stored the TLS key it was given in the clear (a build before schema 2 does); HEAD must seal it")
		testenv.Poll(t, 20*time.Second, "HEAD sealing the TLS key the old build stored in the clear", func() error {
			if tls, _ := rr.get(t, ck)["tls"].(map[string]any); tls["key"] != nil || tls["key_sealed"] == nil {
				return fmt.Errorf("stored tls has key %v, key_sealed %v", tls["key"] != nil, tls["key_sealed"] != nil)
			}
			return nil
		})
	} else {
		step("TLS set by the old build")
	}
	keepsNewer("TLS set by the old build", ck)
	var sealedBy []map[string]any
	for _, in := range []*instance{old, cur} {
		sealedBy = append(sealedBy, logsWith(in.Log, "sealed secrets an older instance had stored in the clear")...)
	}
	switch {
	case oldWroteClear && (len(sealedBy) != 1 || sealedBy[0]["secrets"] != 1.0):
		t.Errorf("HEAD logged %v; want one warning that it sealed 1 secret an older instance stored in the clear", sealedBy)
	case !oldWroteClear && len(sealedBy) != 0:
		t.Errorf("HEAD logged %v; the old build stored no secret in the clear", sealedBy)
	}
	keepsNewer("TLS set by the old build, sealed by HEAD", ck)
	sealedKey("TLS set by the old build, sealed by HEAD", rr.get(t, ck))
	healthy("after HEAD sealed the key the old build stored", N)
	step("TLS set by the old build, sealed by HEAD")

	// In the end both builds answer the same users, tokens and clusters:
	// HEAD says all the old build says (it may say more: a newer API
	// adds fields, never drops or changes one).
	for _, path := range []string{"/api/v1/users", "/api/v1/tokens", "/api/v1/clusters"} {
		a, b := O.call(http.MethodGet, path, nil, 200), N.call(http.MethodGet, path, nil, 200)
		if !jsonSaysAll(b, a) {
			t.Errorf("GET %s: HEAD does not say all the old build says:\n  old:  %.600s\n  HEAD: %.600s", path, a, b)
		}
	}
	for _, in := range []*instance{old, cur} {
		if b, _ := os.ReadFile(in.Log); strings.Contains(string(b), "PRIVATE KEY") || strings.Contains(string(b), pw[2]) {
			t.Errorf("%s logged a private key or a user password", in.ID)
		}
	}
}

// jsonSaysAll reports whether JSON document b holds everything a holds:
// every field of a's objects, with the same value, at the same place
// (lists of the same length, item by item). b may have more fields.
func jsonSaysAll(b, a []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && holds(y, x)
}

func holds(big, small any) bool {
	switch s := small.(type) {
	case map[string]any:
		b, ok := big.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range s {
			if bv, ok := b[k]; !ok || !holds(bv, v) {
				return false
			}
		}
		return true
	case []any:
		b, ok := big.([]any)
		if !ok || len(b) != len(s) {
			return false
		}
		for i := range s {
			if !holds(b[i], s[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(big, small)
}

// legacyStore is what builds before schema 2 left in Redis: no schema
// document, a cluster's engine TLS key and a registry password in the
// clear, and a cluster without TLS.
type legacyStore struct {
	tlsCA, tlsCert, tlsKey string
	regPassword            string
}

func writeLegacyStore(t *testing.T, rr *rawRedis) legacyStore {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile, _ := selfSigned(t, dir)
	cert, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	l := legacyStore{tlsCA: string(cert), tlsCert: string(cert), tlsKey: string(key),
		regPassword: fmt.Sprintf("legacy-registry-password-%d", time.Now().UnixNano())}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rr.set(t, "cluster:legacy", map[string]any{
		"name": "legacy", "endpoints": []string{"tcp://127.0.0.1:1"},
		"tls":    map[string]string{"ca": l.tlsCA, "cert": l.tlsCert, "key": l.tlsKey},
		"labels": map[string]string{"env": "legacy"}, "swarm_id": "legacy-swarm-id",
		"created_at": at, "updated_at": at,
	})
	rr.set(t, "cluster:plain", map[string]any{
		"name": "plain", "endpoints": []string{"tcp://127.0.0.1:2"}, "swarm_id": "plain-swarm-id",
		"created_at": at, "updated_at": at,
	})
	rr.sadd(t, "clusters", "legacy", "plain")
	rr.set(t, "registry:legacy-reg", map[string]any{
		"name": "legacy-reg", "url": "https://registry.example.test", "username": "ci",
		"password": l.regPassword, "created_at": at,
	})
	rr.sadd(t, "registries", "legacy-reg")
	return l
}

func (l legacyStore) secrets() []secretText {
	return []secretText{{"the legacy cluster's TLS key", l.tlsKey}, {"the legacy registry password", l.regPassword}}
}

// recordKeys keeps the keys of records, indexes and meta documents of a
// dump: what a migration may change, without sessions, audit or locks.
func recordKeys(d map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range d {
		for _, p := range []string{"cluster:", "clusters", "registry:", "registries", "user:", "users", "meta:", "token:", "default"} {
			if strings.HasPrefix(k, p) {
				out[k] = v
			}
		}
	}
	return out
}

// testMigration: two HEAD instances started at once on a v1 store; one
// migrates, both serve; a restart migrates nothing again.
func testMigration(t *testing.T, r *testenv.RedisServer) {
	const prefix = "upg-migrate:"
	rr := newRawRedis(t, r, prefix)
	legacy := writeLegacyStore(t, rr)
	plainBefore := rr.get(t, "cluster:plain")
	legacyBefore := rr.get(t, "cluster:legacy")
	key, box := newSecretKey(t)
	env := withEnv(redisEnv(t, r, prefix), map[string]string{"SWARMOPS_SECRET_KEY": key})

	start := time.Now()
	a, b := startInstance(t, "mig-1", env), startInstance(t, "mig-2", env)
	a.waitReady(t)
	b.waitReady(t)
	t.Logf("two instances on the v1 store ready in %s", time.Since(start).Round(10*time.Millisecond))

	var migrated []map[string]any
	for _, in := range []*instance{a, b} {
		for _, l := range logsWith(in.Log, "store schema migrated") {
			l["by"] = in.ID
			migrated = append(migrated, l)
		}
	}
	// One instance ran every migration, each once; the one to schema 2
	// sealed the two secrets.
	if len(migrated) != state.Version-1 {
		t.Fatalf("\"store schema migrated\" logged %d times by the two instances: %v; want once per migration (%d)", len(migrated), migrated, state.Version-1)
	}
	for _, m := range migrated {
		if m["by"] != migrated[0]["by"] {
			t.Errorf("both instances migrated: %v", migrated)
		}
	}
	if m := migrated[0]; m["from"] != 1.0 || m["to"] != 2.0 || m["changed"] != 2.0 {
		t.Errorf("%s logged the migration %v; want from 1, to 2, changed 2 (a cluster key and a registry password)", m["by"], m)
	}
	sc := rr.get(t, "meta:schema")
	if sc["version"] != float64(state.Version) || !strings.Contains(fmt.Sprint(sc["by"]), fmt.Sprint(migrated[0]["by"])) {
		t.Errorf("schema document %v; want version %d, by naming %s", sc, state.Version, migrated[0]["by"])
	}
	rr.checkNoSecrets(t, "after the migration", legacy.secrets()...)

	// The secrets are sealed with the key, the rest of the records as it was.
	cl := rr.get(t, "cluster:legacy")
	tls, _ := cl["tls"].(map[string]any)
	blob, _ := base64.StdEncoding.DecodeString(fmt.Sprint(tls["key_sealed"]))
	if plain, err := box.Open(blob); err != nil || string(plain) != legacy.tlsKey {
		t.Errorf("cluster legacy: tls.key_sealed does not open to the key it had in the clear (%v)", err)
	}
	if tls["ca"] != legacy.tlsCA || tls["cert"] != legacy.tlsCert {
		t.Errorf("cluster legacy lost its CA or certificate in the migration")
	}
	for _, f := range []string{"name", "endpoints", "labels", "swarm_id", "created_at", "updated_at"} {
		if !reflect.DeepEqual(cl[f], legacyBefore[f]) {
			t.Errorf("cluster legacy field %q changed in the migration: %v -> %v", f, legacyBefore[f], cl[f])
		}
	}
	if got := rr.get(t, "cluster:plain"); !reflect.DeepEqual(got, plainBefore) {
		t.Errorf("cluster plain (no secret) changed in the migration: %v -> %v", plainBefore, got)
	}
	reg := rr.get(t, "registry:legacy-reg")
	blob, _ = base64.StdEncoding.DecodeString(fmt.Sprint(reg["password_sealed"]))
	if plain, err := box.Open(blob); err != nil || string(plain) != legacy.regPassword {
		t.Errorf("registry legacy-reg: password_sealed does not open to the password it had in the clear (%v)", err)
	}
	if reg["username"] != "ci" || reg["url"] != "https://registry.example.test" {
		t.Errorf("registry legacy-reg lost fields in the migration: %v", reg)
	}

	// Either instance answers the cluster.
	for _, in := range []*instance{a, b} {
		v := caller{t, in, mustLogin(t, in.URL)}.json(http.MethodGet, "/api/v1/clusters/legacy", nil, 200)
		tls, _ := v["tls"].(map[string]any)
		labels, _ := v["labels"].(map[string]any)
		if tls["client_cert"] != true || tls["ca"] != true || labels["env"] != "legacy" {
			t.Errorf("%s answers cluster legacy %v; want its TLS summary and labels", in.ID, v)
		}
	}

	// A restart migrates nothing again and changes no record.
	records := recordKeys(rr.dump(t))
	a.Term()
	if err := a.Wait(45 * time.Second); err != nil {
		t.Fatalf("%s after SIGTERM: %v", a.ID, err)
	}
	a2 := a.restart(t)
	a2.waitReady(t)
	for _, msg := range []string{"store schema migrated", "sealed secrets an older instance had stored in the clear"} {
		if n := len(logsWith(a2.Log, msg)); n != 0 {
			t.Errorf("%s logged %q %d times after its restart on the migrated store; want none", a2.ID, msg, n)
		}
	}
	if d := diffDumps(records, recordKeys(rr.dump(t))); len(d) > 0 {
		t.Errorf("the restart on the migrated store changed records:\n  %s", strings.Join(d, "\n  "))
	}
	for _, in := range []*instance{a, a2, b} {
		if b, _ := os.ReadFile(in.Log); strings.Contains(string(b), "PRIVATE KEY") || strings.Contains(string(b), legacy.regPassword) {
			t.Errorf("%s logged the TLS key or the registry password", in.ID)
		}
	}
}

// testMigrationWithoutKey: HEAD in redis mode without SWARMOPS_SECRET_KEY
// on a v1 store with secrets in the clear refuses to start, saying so, and
// leaves the store as it was.
func testMigrationWithoutKey(t *testing.T, r *testenv.RedisServer) {
	const prefix = "upg-nokey:"
	rr := newRawRedis(t, r, prefix)
	legacy := writeLegacyStore(t, rr)
	before := rr.dump(t)
	in := startInstance(t, "nokey", redisEnv(t, r, prefix))
	log := in.waitFailedExit(t, 30*time.Second)
	if !strings.Contains(log, "SWARMOPS_SECRET_KEY") {
		t.Errorf("%s exited without naming SWARMOPS_SECRET_KEY; log:\n%s", in.ID, tailFile(in.Log, 2000))
	}
	if strings.Contains(log, "PRIVATE KEY") || strings.Contains(log, legacy.regPassword) {
		t.Errorf("%s logged the TLS key or the registry password", in.ID)
	}
	if d := diffDumps(before, rr.dump(t), "lock:"); len(d) > 0 {
		t.Errorf("%s, refusing to start, changed the store:\n  %s", in.ID, strings.Join(d, "\n  "))
	}
}

// testWrongKey: HEAD with another key than the one the store's secrets
// were sealed with refuses to start, naming the key ids, and changes
// nothing.
func testWrongKey(t *testing.T, r *testenv.RedisServer) {
	const prefix = "upg-wrongkey:"
	rr := newRawRedis(t, r, prefix)
	keyA, boxA := newSecretKey(t)
	keyB, boxB := newSecretKey(t)
	dir := t.TempDir()
	certFile, keyFile, _ := selfSigned(t, dir)
	cert, _ := os.ReadFile(certFile)
	pem, _ := os.ReadFile(keyFile)
	blob, err := boxA.Seal(pem)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := seal.KeyIDOf(blob); err != nil || id != boxA.KeyID() {
		t.Fatalf("KeyIDOf(sealed) = %q, %v; want %s", id, err, boxA.KeyID())
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rr.set(t, "meta:schema", map[string]any{"version": 2, "min_reader": 2, "updated_at": at, "by": "swarmops test on key-a"})
	rr.set(t, "cluster:sealed", map[string]any{
		"name": "sealed", "endpoints": []string{"tcp://127.0.0.1:1"}, "swarm_id": "sealed-swarm-id",
		"tls":        map[string]any{"ca": string(cert), "cert": string(cert), "key_sealed": blob},
		"created_at": at, "updated_at": at,
	})
	rr.sadd(t, "clusters", "sealed")
	before := rr.dump(t)

	in := startInstance(t, "wrongkey", withEnv(redisEnv(t, r, prefix), map[string]string{"SWARMOPS_SECRET_KEY": keyB}))
	log := in.waitFailedExit(t, 30*time.Second)
	for what, id := range map[string]string{"the sealing key's id": boxA.KeyID(), "the given key's id": boxB.KeyID()} {
		if !strings.Contains(log, id) {
			t.Errorf("%s exited without naming %s (%s); log:\n%s", in.ID, what, id, tailFile(in.Log, 2000))
		}
	}
	if !strings.Contains(log, "SWARMOPS_SECRET_KEY") || !strings.Contains(log, "cluster sealed") {
		t.Errorf("%s exited without naming SWARMOPS_SECRET_KEY and what the missing key sealed; log:\n%s", in.ID, tailFile(in.Log, 2000))
	}
	for what, s := range map[string]string{"key A": keyA, "key B": keyB, "the TLS key": string(pem)} {
		if strings.Contains(log, s) {
			t.Errorf("%s logged %s", in.ID, what)
		}
	}
	if d := diffDumps(before, rr.dump(t), "lock:"); len(d) > 0 {
		t.Errorf("%s, refusing to start, changed the store:\n  %s", in.ID, strings.Join(d, "\n  "))
	}
}

// tooNewSchema is a schema document a future SwarmOps wrote.
func tooNewSchema() map[string]any {
	return map[string]any{"version": 99, "min_reader": 99, "updated_at": "2030-01-02T03:04:05Z", "by": "swarmops 99.0.0 on future-1"}
}

// checkTooOldText fails unless text says the store's schema is too new
// for this build and to upgrade it.
func checkTooOldText(t *testing.T, what, text string) {
	t.Helper()
	for _, want := range []string{"schema version 99", "reads schema 99", "upgrade this instance"} {
		if !strings.Contains(text, want) {
			t.Errorf("%s does not say %q:\n%.2000s", what, want, text)
		}
	}
}

// testSchemaTooNew: HEAD on a store a newer build migrated past what it
// reads exits at once, saying why, and writes nothing (it does not even
// seal a secret in the clear or create the first admin).
func testSchemaTooNew(t *testing.T, r *testenv.RedisServer) {
	const prefix = "upg-toonew:"
	rr := newRawRedis(t, r, prefix)
	legacy := writeLegacyStore(t, rr)
	rr.set(t, "meta:schema", tooNewSchema())
	before := rr.dump(t)
	key, _ := newSecretKey(t)
	start := time.Now()
	in := startInstance(t, "toonew", withEnv(redisEnv(t, r, prefix), map[string]string{"SWARMOPS_SECRET_KEY": key}))
	log := in.waitFailedExit(t, 30*time.Second)
	t.Logf("%s exited %s after its start: %v", in.ID, time.Since(start).Round(10*time.Millisecond), in.err)
	checkTooOldText(t, in.ID+"'s log", log)
	if len(logsWith(in.Log, "cannot use the store")) == 0 {
		t.Errorf("%s did not log \"cannot use the store\"", in.ID)
	}
	if strings.Contains(log, "PRIVATE KEY") || strings.Contains(log, legacy.regPassword) {
		t.Errorf("%s logged the TLS key or the registry password", in.ID)
	}
	if d := diffDumps(before, rr.dump(t)); len(d) > 0 {
		t.Errorf("%s, refusing a store too new, changed it:\n  %s", in.ID, strings.Join(d, "\n  "))
	}
}

// testSchemaTooNewWhileServing: a serving HEAD instance whose store a
// newer build migrates past it stops taking traffic (readiness 503 with
// the reason) within its schema check interval (10s), keeps running, and
// takes traffic again when the store is readable again (a restored
// backup, or the newer build rolled back before it migrated anything).
func testSchemaTooNewWhileServing(t *testing.T, r *testenv.RedisServer) {
	const prefix = "upg-watch:"
	rr := newRawRedis(t, r, prefix)
	key, _ := newSecretKey(t)
	in := startInstance(t, "watch", withEnv(redisEnv(t, r, prefix), map[string]string{"SWARMOPS_SECRET_KEY": key}))
	in.waitReady(t)
	original := rr.get(t, "meta:schema")
	rr.set(t, "meta:schema", tooNewSchema())
	changed := time.Now()
	var reason string
	testenv.Poll(t, 20*time.Second, in.ID+" /readyz 503 after the schema went to 99 (it reads the schema every 10s)", func() error {
		if !in.Running() {
			return fmt.Errorf("exited: %v", in.err)
		}
		st, body, _, err := get(in.URL+"/readyz", "")
		if err != nil {
			return err
		}
		if st != 503 {
			return fmt.Errorf("/readyz: %d %s", st, body)
		}
		var out struct{ Reason string }
		_ = json.Unmarshal(body, &out)
		reason = out.Reason
		return nil
	})
	t.Logf("%s failed readiness %s after the schema changed", in.ID, time.Since(changed).Round(100*time.Millisecond))
	checkTooOldText(t, in.ID+"'s /readyz reason", reason)
	if !in.Running() {
		t.Errorf("%s exited; a serving instance should keep running (failing readiness) until replaced", in.ID)
	}
	if len(logsWith(in.Log, "a newer SwarmOps migrated the store: this instance stops taking traffic")) != 1 {
		t.Errorf("%s did not log once that a newer SwarmOps migrated the store", in.ID)
	}

	// Ready again once the store is readable again (within the interval).
	rr.set(t, "meta:schema", original)
	in.waitReady(t)
}

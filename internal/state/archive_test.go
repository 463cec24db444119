package state_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	goredis "github.com/redis/go-redis/v9"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/seal"
	"github.com/swarmops/swarmops/internal/state"
	"github.com/swarmops/swarmops/internal/store"
	"github.com/swarmops/swarmops/internal/store/local"
	redisstore "github.com/swarmops/swarmops/internal/store/redis"
	"github.com/swarmops/swarmops/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// The secrets of the fixtures, in the clear: none may be found in an
// archive.
const (
	plainTLSKey   = "-----BEGIN EC PRIVATE KEY-----\nTLS-KEY-PLAIN-7f3a\n-----END EC PRIVATE KEY-----\n"
	plainRegistry = "REGISTRY-PASSWORD-PLAIN-91c2"
	plainDBSecret = "DB-SECRET-FILE-PLAIN-5d0e"
)

var at0 = time.Date(2025, 5, 6, 7, 8, 9, 123456789, time.UTC)

func archiveLocal(t *testing.T) store.Store {
	t.Helper()
	s, err := local.Open(t.TempDir(), local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// archiveRedis answers a store on the shared redis-server under a prefix of
// the test's own.
func archiveRedis(t *testing.T) store.Store {
	t.Helper()
	srv := testenv.Redis(t)
	s := redisstore.New(goredis.NewClient(&goredis.Options{Addr: srv.Addr}),
		redisstore.Options{Prefix: "archive-test-" + rand.Text()[:10] + ":"})
	t.Cleanup(func() { _ = s.Close() })
	return s
}

var archiveTargets = []struct {
	name string
	open func(t *testing.T) store.Store
}{{"local", archiveLocal}, {"redis", archiveRedis}}

func archiveBox(t *testing.T) *seal.Box {
	t.Helper()
	key, err := seal.NewKey()
	noErr(t, err)
	box, err := seal.New(key)
	noErr(t, err)
	return box
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func sealWith(t *testing.T, box *seal.Box, plain string) []byte {
	t.Helper()
	b, err := box.Seal([]byte(plain))
	noErr(t, err)
	return b
}

// populate fills st, a raw store at schema 2, as instances using box
// would have: every kind of record an archive holds, secrets sealed.
func populate(t *testing.T, st store.Store, box *seal.Box) {
	t.Helper()
	ctx := t.Context()
	noErr(t, state.WriteSchema(ctx, st, state.Version, "test"))
	noErr(t, st.CreateCluster(ctx, store.Cluster{
		Name: "prod", Endpoints: []string{"tcp://198.18.0.11:2376"}, SwarmID: "swarm-prod",
		TLS:    &store.TLS{CA: "ca-pem", Cert: "cert-pem", KeySealed: sealWith(t, box, plainTLSKey)},
		Labels: map[string]string{"env": "prod"}, CreatedAt: at0, UpdatedAt: at0.Add(time.Hour),
	}))
	noErr(t, st.CreateCluster(ctx, store.Cluster{Name: "dev", Endpoints: []string{"tcp://198.18.0.21:2375"}, CreatedAt: at0, UpdatedAt: at0}))
	noErr(t, st.SetDefaultCluster(ctx, "prod"))
	for _, u := range []store.User{
		{Username: "alice", Role: "admin", PasswordHash: []byte("$argon2id$alice"), CreatedAt: at0, UpdatedAt: at0},
		{Username: "bob", Role: "viewer", PasswordHash: []byte("$argon2id$bob"), CreatedAt: at0, UpdatedAt: at0},
	} {
		noErr(t, st.CreateUser(ctx, u))
	}
	noErr(t, st.CreateToken(ctx, store.Token{Hash: "hash-ci", Name: "ci", Username: "alice", CreatedAt: at0, ExpiresAt: at0.Add(24 * time.Hour)}))
	noErr(t, st.CreateToken(ctx, store.Token{Hash: "hash-laptop", Name: "laptop", Username: "bob", CreatedAt: at0}))
	noErr(t, st.CreateRegistry(ctx, store.Registry{Name: "hub", URL: "https://registry.example:5000", Username: "deploy",
		PasswordSealed: sealWith(t, box, plainRegistry), CreatedAt: at0}))
	noErr(t, st.CreateRegistry(ctx, store.Registry{Name: "open", URL: "http://127.0.0.1:5000", InsecureSkipVerify: true, CreatedAt: at0}))
	for i := 1; i <= 3; i++ {
		_, err := st.AddStackRevision(ctx, store.StackRevision{
			Cluster: "prod", Stack: "web", Time: at0.Add(time.Duration(i) * time.Minute), User: "alice",
			Compose: fmt.Sprintf("services:\n  web:\n    image: hello:%d # <&>\n", i),
			Env:     map[string]string{"TAG": fmt.Sprint(i)},
			Files:   map[string]string{"./nginx.conf": "worker_processes 1;\n"},
			Sealed:  map[string]store.SealedFile{"./db_password": {Data: sealWith(t, box, plainDBSecret), SHA256: "ab12"}},
			Options: json.RawMessage(`{"prune":true}`),
			Result:  json.RawMessage(`{"services":{"created":["web_web"]}}`),
		})
		noErr(t, err)
	}
	_, err := st.AddStackRevision(ctx, store.StackRevision{Cluster: "dev", Stack: "api", Time: at0, User: "bob", Compose: "services: {}\n"})
	noErr(t, err)
	for i, action := range []string{"cluster.create", "user.create", "service.update", "stack.deploy"} {
		noErr(t, st.AppendAudit(ctx, store.AuditRecord{Time: at0.Add(time.Duration(i) * time.Second), User: "alice",
			Action: action, Cluster: "prod", Target: fmt.Sprint("t", i), Result: "ok"}))
	}
}

// exportJSON exports st and answers the archive's bytes and the archive
// read back from them.
func exportJSON(t *testing.T, st store.Store, audit bool) ([]byte, *state.Archive) {
	t.Helper()
	a, err := state.Export(t.Context(), st, state.ExportOptions{Audit: audit, By: "test"})
	noErr(t, err)
	var b bytes.Buffer
	noErr(t, a.Write(&b))
	back, err := state.ReadArchive(bytes.NewReader(b.Bytes()))
	noErr(t, err)
	return b.Bytes(), back
}

// sameState compares two exports, when and by whom aside.
func sameState(t *testing.T, got, want *state.Archive) {
	t.Helper()
	if d := cmp.Diff(got, want, cmpopts.IgnoreFields(state.Archive{}, "ExportedAt", "By")); d != "" {
		t.Fatalf("state differs (-got +want)\n%s", d)
	}
}

// TestExportImport_LocalToRedis is the move from one node to many: a
// local store exported, the JSON imported into an empty Redis store, and
// the Redis store then exports the very same state.
func TestExportImport_LocalToRedis(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	box := archiveBox(t)
	src := archiveLocal(t)
	populate(t, src, box)

	data, a := exportJSON(t, src, true)
	for _, secret := range []string{plainTLSKey, "TLS-KEY-PLAIN", plainRegistry, plainDBSecret} {
		for _, form := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret))} {
			if bytes.Contains(data, []byte(form)) {
				t.Fatalf("the archive holds a secret in the clear (%.20q...)", form)
			}
		}
	}
	want := state.Counts{Clusters: 2, Users: 2, Tokens: 2, Registries: 2, StackRevisions: 4, Audit: 4}
	if got := a.Counts(); got != want {
		t.Fatalf("exported %v, want %v", got, want)
	}
	if a.Schema != state.Version || a.DefaultCluster != "prod" || !cmp.Equal(a.KeyIDs, []string{box.KeyID()}) {
		t.Fatalf("archive schema %d, default %q, key ids %v; want %d, prod, [%s]", a.Schema, a.DefaultCluster, a.KeyIDs, state.Version, box.KeyID())
	}
	if a.Audit[0].Action != "cluster.create" || a.Audit[3].Action != "stack.deploy" {
		t.Fatalf("audit not oldest first: %+v", a.Audit)
	}

	dst := archiveRedis(t)
	rep, err := state.Import(ctx, dst, a, state.ImportOptions{Box: box, By: "test"})
	noErr(t, err)
	if rep.Imported != want || rep.Skipped != (state.Counts{}) || !rep.SchemaWritten || rep.DefaultCluster != "prod" || len(rep.Plaintext) != 0 {
		t.Fatalf("import report %+v, want %v imported, none skipped, schema written, default prod", rep, want)
	}
	schema, err := state.ReadSchema(ctx, dst)
	noErr(t, err)
	if schema.Version != state.Version {
		t.Fatalf("imported store at schema %d, want %d", schema.Version, state.Version)
	}
	_, again := exportJSON(t, dst, true)
	sameState(t, again, a)

	// The secrets open with the exporting instance's key.
	c, err := dst.GetCluster(ctx, "prod")
	noErr(t, err)
	plain, err := box.Open(c.TLS.KeySealed)
	noErr(t, err)
	if string(plain) != plainTLSKey {
		t.Fatal("the imported TLS key does not open to the exported one")
	}
	// Numbering goes on after the imported revisions.
	n, err := dst.AddStackRevision(ctx, store.StackRevision{Cluster: "prod", Stack: "web", Time: at0, User: "alice", Compose: "x"})
	noErr(t, err)
	if n != 4 {
		t.Fatalf("first deploy after import is revision %d, want 4", n)
	}
}

// TestImport_RedisToLocal is the way back, numbering gaps (revisions the
// cap dropped) kept.
func TestImport_RedisToLocal(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	box := archiveBox(t)
	src := archiveRedis(t)
	populate(t, src, box)
	for i := range store.StackRevisionCap + 2 {
		_, err := src.AddStackRevision(ctx, store.StackRevision{Cluster: "dev", Stack: "long", Time: at0, User: "bob", Compose: fmt.Sprint(i)})
		noErr(t, err)
	}
	_, a := exportJSON(t, src, false)
	if a.Audit != nil {
		t.Fatalf("audit exported without asking: %d records", len(a.Audit))
	}
	dst := archiveLocal(t)
	_, err := state.Import(ctx, dst, a, state.ImportOptions{Box: box})
	noErr(t, err)
	_, again := exportJSON(t, dst, false)
	sameState(t, again, a)
	n, err := dst.AddStackRevision(ctx, store.StackRevision{Cluster: "dev", Stack: "long", Time: at0, User: "bob", Compose: "next"})
	noErr(t, err)
	if want := store.StackRevisionCap + 3; n != want {
		t.Fatalf("first deploy after import is revision %d, want %d", n, want)
	}
}

// TestImport_NotEmpty: a store with records is refused and left as it
// was; with Merge, what it has wins and the rest is added.
func TestImport_NotEmpty(t *testing.T) {
	t.Parallel()
	box := archiveBox(t)
	src := archiveLocal(t)
	populate(t, src, box)
	_, a := exportJSON(t, src, true)
	for _, target := range archiveTargets {
		t.Run(target.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			dst := target.open(t)
			mine := store.Cluster{Name: "prod", Endpoints: []string{"tcp://198.18.0.99:2375"}, CreatedAt: at0, UpdatedAt: at0}
			noErr(t, dst.CreateCluster(ctx, mine))
			carol := store.User{Username: "alice", Role: "viewer", PasswordHash: []byte("other"), CreatedAt: at0, UpdatedAt: at0}
			noErr(t, dst.CreateUser(ctx, carol))
			_, before := exportJSON(t, dst, true)

			_, err := state.Import(ctx, dst, a, state.ImportOptions{Box: box})
			if !errors.Is(err, errs.ErrConflict) || !strings.Contains(err.Error(), "not empty (1 clusters, 1 users)") || !strings.Contains(err.Error(), "--merge") {
				t.Fatalf("import into a store with records: %v; want a conflict naming what it holds and --merge", err)
			}
			_, after := exportJSON(t, dst, true)
			sameState(t, after, before)
			if _, err := dst.GetMeta(ctx, state.SchemaDoc); !errors.Is(err, errs.ErrNotFound) {
				t.Fatalf("refused import wrote the schema document: %v", err)
			}

			rep, err := state.Import(ctx, dst, a, state.ImportOptions{Box: box, Merge: true})
			noErr(t, err)
			if want := (state.Counts{Clusters: 1, Users: 1}); rep.Skipped != want {
				t.Fatalf("skipped %v, want %v", rep.Skipped, want)
			}
			if want := (state.Counts{Clusters: 1, Users: 1, Tokens: 2, Registries: 2, StackRevisions: 4, Audit: 4}); rep.Imported != want {
				t.Fatalf("imported %v, want %v", rep.Imported, want)
			}
			got, err := dst.GetCluster(ctx, "prod")
			noErr(t, err)
			if d := cmp.Diff(got, mine); d != "" {
				t.Fatalf("merge overwrote the store's cluster (-got +want)\n%s", d)
			}
			u, err := dst.GetUser(ctx, "alice")
			noErr(t, err)
			if d := cmp.Diff(u, carol); d != "" {
				t.Fatalf("merge overwrote the store's user (-got +want)\n%s", d)
			}
			// Merging the same archive again adds nothing.
			rep, err = state.Import(ctx, dst, a, state.ImportOptions{Box: box, Merge: true})
			noErr(t, err)
			if rep.Imported != (state.Counts{}) {
				t.Fatalf("second merge imported %v, want nothing", rep.Imported)
			}
		})
	}
}

// TestImport_Refused: archives an instance could not use are refused
// before anything is written.
func TestImport_Refused(t *testing.T) {
	t.Parallel()
	box := archiveBox(t)
	src := archiveLocal(t)
	populate(t, src, box)
	data, a := exportJSON(t, src, false)
	other := archiveBox(t)

	edited := func(f func(m map[string]any)) []byte {
		var m map[string]any
		noErr(t, json.Unmarshal(data, &m))
		f(m)
		out, err := json.Marshal(m)
		noErr(t, err)
		return out
	}
	newer := *a
	newer.Schema = state.Version + 1

	for _, tc := range []struct {
		name  string
		run   func(dst store.Store) error
		wants []string
	}{
		{"WrongKey", func(dst store.Store) error {
			_, err := state.Import(t.Context(), dst, a, state.ImportOptions{Box: other})
			return err
		}, []string{"key id " + box.KeyID(), "cluster prod", "registry hub", "SWARMOPS_SECRET_KEY gives key ids " + other.KeyID()}},
		{"NoKey", func(dst store.Store) error {
			_, err := state.Import(t.Context(), dst, a, state.ImportOptions{})
			return err
		}, []string{"key id " + box.KeyID(), "SWARMOPS_SECRET_KEY gives no key"}},
		{"NewerSchema", func(dst store.Store) error {
			_, err := state.Import(t.Context(), dst, &newer, state.ImportOptions{Box: box})
			return err
		}, []string{fmt.Sprintf("schema version %d", state.Version+1), fmt.Sprintf("reads up to schema %d", state.Version)}},
		{"UnknownFormat", func(store.Store) error {
			_, err := state.ReadArchive(bytes.NewReader(edited(func(m map[string]any) { m["format"] = "tarball" })))
			return err
		}, []string{`format "tarball"`}},
		{"NewerFormat", func(store.Store) error {
			_, err := state.ReadArchive(bytes.NewReader(edited(func(m map[string]any) { m["format_version"] = 2 })))
			return err
		}, []string{"format version 2", "newer SwarmOps"}},
		{"NotJSON", func(store.Store) error {
			_, err := state.ReadArchive(strings.NewReader("swarmops.db\x00\x01"))
			return err
		}, []string{"not a JSON document"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := archiveLocal(t)
			err := tc.run(dst)
			if err == nil {
				t.Fatalf("accepted; want an error saying %q", tc.wants)
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			users, _ := dst.ListUsers(t.Context())
			if _, merr := dst.GetMeta(t.Context(), state.SchemaDoc); len(users) != 0 || !errors.Is(merr, errs.ErrNotFound) {
				t.Errorf("refused import wrote %d users, schema document: %v", len(users), merr)
			}
		})
	}
}

// TestImport_WithoutSecrets: an archive that holds no sealed data needs
// no key.
func TestImport_WithoutSecrets(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	src := archiveLocal(t)
	noErr(t, src.CreateUser(ctx, store.User{Username: "alice", Role: "admin", PasswordHash: []byte("h"), CreatedAt: at0, UpdatedAt: at0}))
	_, a := exportJSON(t, src, false)
	if len(a.KeyIDs) != 0 {
		t.Fatalf("key ids %v for an archive without secrets", a.KeyIDs)
	}
	_, err := state.Import(ctx, archiveLocal(t), a, state.ImportOptions{})
	noErr(t, err)
}

// TestImport_Plaintext: a store exported before the migration sealed its
// secrets (schema 1) imports into a store without a schema, which then
// migrates at start; the report says which secrets are in the clear. A
// store already migrated refuses it.
func TestImport_Plaintext(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	src := archiveLocal(t)
	noErr(t, src.CreateCluster(ctx, store.Cluster{Name: "old", Endpoints: []string{"tcp://198.18.0.11:2376"},
		TLS: &store.TLS{Cert: "cert", Key: plainTLSKey}, CreatedAt: at0, UpdatedAt: at0}))
	_, a := exportJSON(t, src, false)
	if a.Schema != 1 {
		t.Fatalf("a store without a schema document exported as schema %d, want 1", a.Schema)
	}
	dst := archiveRedis(t)
	rep, err := state.Import(ctx, dst, a, state.ImportOptions{})
	noErr(t, err)
	if !cmp.Equal(rep.Plaintext, []string{"cluster old"}) || !rep.SchemaWritten {
		t.Fatalf("report %+v; want plaintext [cluster old] and the schema written", rep)
	}
	schema, err := state.ReadSchema(ctx, dst)
	noErr(t, err)
	if schema.Version != 1 {
		t.Fatalf("store at schema %d after importing a schema 1 archive, want 1 (so the migration runs)", schema.Version)
	}

	migrated := archiveRedis(t)
	noErr(t, state.WriteSchema(ctx, migrated, state.Version, "test"))
	_, err = state.Import(ctx, migrated, a, state.ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "1 secrets in the clear") {
		t.Fatalf("plaintext archive into a migrated store: %v; want a refusal", err)
	}
}

// TestExport_AuditPages: every audit record the store keeps is exported,
// beyond one page of a Redis stream read.
func TestExport_AuditPages(t *testing.T) {
	t.Parallel()
	srv := testenv.Redis(t)
	st := redisstore.New(goredis.NewClient(&goredis.Options{Addr: srv.Addr}),
		redisstore.Options{Prefix: "archive-test-" + rand.Text()[:10] + ":", AuditCap: 2000})
	t.Cleanup(func() { _ = st.Close() })
	const total = 1234
	for i := range total {
		noErr(t, st.AppendAudit(context.Background(), store.AuditRecord{Time: at0.Add(time.Duration(i) * time.Millisecond),
			User: "alice", Action: "service.update", Target: fmt.Sprint(i), Result: "ok"}))
	}
	_, a := exportJSON(t, st, true)
	if len(a.Audit) != total || a.Audit[0].Target != "0" || a.Audit[total-1].Target != fmt.Sprint(total-1) {
		t.Fatalf("exported %d audit records (first %+v); want %d, oldest first", len(a.Audit), a.Audit[0], total)
	}
}

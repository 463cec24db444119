package state_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/swarmops/swarmops/internal/errs"
	locallock "github.com/swarmops/swarmops/internal/lock/local"
	"github.com/swarmops/swarmops/internal/seal"
	"github.com/swarmops/swarmops/internal/state"
	"github.com/swarmops/swarmops/internal/store"
	"github.com/swarmops/swarmops/internal/store/local"
)

const plainKey = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49\n-----END EC PRIVATE KEY-----\n"

func newBox(t *testing.T, keys ...[]byte) *seal.Box {
	t.Helper()
	if len(keys) == 0 {
		k, err := seal.NewKey()
		if err != nil {
			t.Fatal(err)
		}
		keys = [][]byte{k}
	}
	b, err := seal.New(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func openLocal(t *testing.T) *local.Store {
	t.Helper()
	s, err := local.Open(t.TempDir(), local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func tlsCluster(name string) store.Cluster {
	return store.Cluster{Name: name, Endpoints: []string{"tcp://198.18.0.10:2376"},
		TLS: &store.TLS{CA: "ca-pem", Cert: "cert-pem", Key: plainKey}, CreatedAt: t0, UpdatedAt: t0}
}

// schemaOneStore answers a store as builds before schema 2 left it: no
// schema document, a TLS key and a registry password in the clear.
func schemaOneStore(t *testing.T) *local.Store {
	t.Helper()
	raw := openLocal(t)
	ctx := t.Context()
	must(t, raw.CreateCluster(ctx, tlsCluster("prod")))
	must(t, raw.CreateCluster(ctx, store.Cluster{Name: "plain", Endpoints: []string{"tcp://198.18.0.11:2375"}, CreatedAt: t0}))
	must(t, raw.CreateRegistry(ctx, store.Registry{Name: "zot", URL: "https://zot.test", Username: "ci", Password: "hunter2-registry", CreatedAt: t0}))
	return raw
}

// snapshot answers what a store holds, as the backend has it.
func snapshot(t *testing.T, st store.Store) string {
	t.Helper()
	ctx := t.Context()
	cs, err := st.ListClusters(ctx)
	must(t, err)
	rs, err := st.ListRegistries(ctx)
	must(t, err)
	schema, err := st.GetMeta(ctx, state.SchemaDoc)
	if err != nil && !errors.Is(err, errs.ErrNotFound) {
		t.Fatal(err)
	}
	out, err := json.Marshal(map[string]any{"clusters": cs, "registries": rs, "schema": string(schema)})
	must(t, err)
	return string(out)
}

func prepareOpts(box *seal.Box, log *bytes.Buffer) state.PrepareOptions {
	return state.PrepareOptions{Locker: locallock.New(time.Second), Box: box, By: "test", Log: zerolog.New(log)}
}

func TestPrepare_MigratesSchemaOne(t *testing.T) {
	raw := schemaOneStore(t)
	ctx := t.Context()
	box := newBox(t)
	var log bytes.Buffer
	must(t, state.Prepare(ctx, raw, prepareOpts(box, &log)))

	s, err := state.ReadSchema(ctx, raw)
	must(t, err)
	if s.Version != state.Version || s.MinReader != 2 || s.By != "test" || s.UpdatedAt.IsZero() {
		t.Errorf("schema after Prepare = %+v, want version %d, min reader 2, by test", s, state.Version)
	}
	if !strings.Contains(log.String(), `"message":"store schema migrated"`) || !strings.Contains(log.String(), `"changed":2`) {
		t.Errorf("log does not say the migration sealed 2 secrets:\n%s", log.String())
	}
	snap := snapshot(t, raw)
	if strings.Contains(snap, "PRIVATE KEY") || strings.Contains(snap, "hunter2") {
		t.Fatalf("secrets still in the clear in the raw store after the migration:\n%s", snap)
	}
	// The sealing store answers them as they were.
	st := state.Sealing(raw, box)
	c, err := st.GetCluster(ctx, "prod")
	must(t, err)
	if diff := cmp.Diff(tlsCluster("prod"), c); diff != "" {
		t.Errorf("cluster read through Sealing after the migration (-want +got):\n%s", diff)
	}
	r, err := st.GetRegistry(ctx, "zot")
	must(t, err)
	if r.Password != "hunter2-registry" || r.PasswordSealed != nil {
		t.Errorf("registry password through Sealing = %q (sealed %d bytes), want it in the clear", r.Password, len(r.PasswordSealed))
	}

	// Idempotent: a second start changes nothing and logs no migration.
	log.Reset()
	must(t, state.Prepare(ctx, raw, prepareOpts(box, &log)))
	if again := snapshot(t, raw); again != snap {
		t.Errorf("a second Prepare changed the store:\nbefore %s\nafter  %s", snap, again)
	}
	if strings.Contains(log.String(), "migrated") || strings.Contains(log.String(), "sealed") {
		t.Errorf("a second Prepare logged work:\n%s", log.String())
	}
}

func TestPrepare_ConcurrentInstancesMigrateOnce(t *testing.T) {
	raw := schemaOneStore(t)
	box := newBox(t)
	locker := locallock.New(time.Second)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		logs bytes.Buffer
	)
	for i := range 6 {
		wg.Go(func() {
			var log bytes.Buffer
			err := state.Prepare(t.Context(), raw, state.PrepareOptions{Locker: locker, Box: box, By: "instance", Log: zerolog.New(&log)})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("instance %d: %v", i, err)
			}
			logs.Write(log.Bytes())
		})
	}
	wg.Wait()
	if n := strings.Count(logs.String(), "store schema migrated"); n != 1 {
		t.Errorf("%d instances logged a migration, want exactly 1:\n%s", n, logs.String())
	}
}

func TestPrepare_RefusesNewerSchema(t *testing.T) {
	raw := schemaOneStore(t)
	ctx := t.Context()
	must(t, raw.PutMeta(ctx, state.SchemaDoc, []byte(`{"version":9,"min_reader":7,"updated_at":"2027-01-01T00:00:00Z","by":"swarmops v9 on far"}`)))
	before := snapshot(t, raw)
	var log bytes.Buffer
	err := state.Prepare(ctx, raw, prepareOpts(newBox(t), &log))
	var tooOld *state.TooOldError
	if !errors.As(err, &tooOld) {
		t.Fatalf("Prepare on a schema 9 store needing readers of 7: %v, want a TooOldError", err)
	}
	for _, want := range []string{"schema version 9", "swarmops v9 on far", "schema 7", "upgrade this instance"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if after := snapshot(t, raw); after != before {
		t.Errorf("a refused Prepare changed the store:\nbefore %s\nafter  %s", before, after)
	}

	// A newer schema that older builds may still read is fine.
	must(t, raw.PutMeta(ctx, state.SchemaDoc, []byte(`{"version":9,"min_reader":2}`)))
	must(t, state.Prepare(ctx, raw, prepareOpts(newBox(t), &log)))
	if s, _ := state.ReadSchema(ctx, raw); s.Version != 9 {
		t.Errorf("Prepare lowered a newer compatible schema to %d", s.Version)
	}
}

func TestPrepare_NeedsAKeyForPlainSecrets(t *testing.T) {
	raw := schemaOneStore(t)
	before := snapshot(t, raw)
	var log bytes.Buffer
	err := state.Prepare(t.Context(), raw, prepareOpts(nil, &log))
	if err == nil || !strings.Contains(err.Error(), "SWARMOPS_SECRET_KEY") || !strings.Contains(err.Error(), "cluster prod") ||
		!strings.Contains(err.Error(), "registry zot") {
		t.Fatalf("Prepare without a key over plaintext secrets: %v, want an error naming SWARMOPS_SECRET_KEY and what is in the clear", err)
	}
	if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Errorf("the error shows a secret: %v", err)
	}
	if after := snapshot(t, raw); after != before {
		t.Errorf("a failed migration changed the store:\nbefore %s\nafter  %s", before, after)
	}
}

func TestPrepare_WrongKey(t *testing.T) {
	raw := schemaOneStore(t)
	ctx := t.Context()
	k1, _ := seal.NewKey()
	k2, _ := seal.NewKey()
	right, wrong := newBox(t, k1), newBox(t, k2)
	var log bytes.Buffer
	must(t, state.Prepare(ctx, raw, prepareOpts(right, &log)))
	err := state.Prepare(ctx, raw, prepareOpts(wrong, &log))
	var ke *state.KeyError
	if !errors.As(err, &ke) || !strings.Contains(err.Error(), right.KeyID()) || !strings.Contains(err.Error(), wrong.KeyID()) ||
		!strings.Contains(err.Error(), "cluster prod") || !strings.Contains(err.Error(), "registry zot") {
		t.Fatalf("Prepare with another key: %v; want a KeyError naming key ids %s (stored) and %s (given) and what they sealed",
			err, right.KeyID(), wrong.KeyID())
	}
	// During a rotation both keys are given: fine.
	must(t, state.Prepare(ctx, raw, prepareOpts(newBox(t, k2, k1), &log)))
}

func TestPrepare_SealsWhatAnOlderInstanceWrote(t *testing.T) {
	// Schema 2 already, but an instance of an older build (still running
	// during a rolling upgrade) stored a key in the clear.
	raw := schemaOneStore(t)
	ctx := t.Context()
	box := newBox(t)
	var log bytes.Buffer
	must(t, state.Prepare(ctx, raw, prepareOpts(box, &log)))
	must(t, raw.CreateCluster(ctx, tlsCluster("late")))
	log.Reset()
	must(t, state.Prepare(ctx, raw, prepareOpts(box, &log)))
	c, err := raw.GetCluster(ctx, "late")
	must(t, err)
	if c.TLS.Key != "" || len(c.TLS.KeySealed) == 0 || !strings.Contains(log.String(), "in the clear") {
		t.Errorf("the late plaintext key: stored key %q, sealed %d bytes; log %s", c.TLS.Key, len(c.TLS.KeySealed), log.String())
	}
}

func TestSealing(t *testing.T) {
	raw := openLocal(t)
	ctx := context.Background()
	box := newBox(t)
	st := state.Sealing(raw, box)
	in := tlsCluster("prod")
	must(t, st.CreateCluster(ctx, in))
	if in.TLS.Key != plainKey {
		t.Error("CreateCluster changed the caller's TLS key")
	}
	stored, err := raw.GetCluster(ctx, "prod")
	must(t, err)
	if stored.TLS.Key != "" || len(stored.TLS.KeySealed) == 0 || stored.TLS.Cert != "cert-pem" {
		t.Fatalf("raw cluster TLS = key %q, sealed %d bytes, cert %q; want only the sealed key", stored.TLS.Key, len(stored.TLS.KeySealed), stored.TLS.Cert)
	}
	got, err := st.GetCluster(ctx, "prod")
	must(t, err)
	if diff := cmp.Diff(in, got); diff != "" {
		t.Errorf("GetCluster through Sealing (-want +got):\n%s", diff)
	}
	in.Labels = map[string]string{"env": "prod"}
	must(t, st.UpdateCluster(ctx, in))
	list, err := st.ListClusters(ctx)
	must(t, err)
	if len(list) != 1 || list[0].TLS.Key != plainKey || list[0].Labels["env"] != "prod" {
		t.Errorf("ListClusters through Sealing = %+v", list)
	}

	reg := store.Registry{Name: "zot", URL: "https://zot.test", Username: "ci", Password: "pw-1", CreatedAt: t0}
	must(t, st.CreateRegistry(ctx, reg))
	rawReg, err := raw.GetRegistry(ctx, "zot")
	must(t, err)
	if rawReg.Password != "" || len(rawReg.PasswordSealed) == 0 {
		t.Errorf("raw registry password %q, sealed %d bytes", rawReg.Password, len(rawReg.PasswordSealed))
	}
	reg.Password = "pw-2"
	must(t, st.UpdateRegistry(ctx, reg))
	regs, err := st.ListRegistries(ctx)
	must(t, err)
	if len(regs) != 1 || regs[0].Password != "pw-2" {
		t.Errorf("ListRegistries through Sealing = %+v", regs)
	}

	// Another key opens nothing, and says which key sealed it.
	_, err = state.Sealing(raw, newBox(t)).GetCluster(ctx, "prod")
	if !errors.Is(err, seal.ErrWrongKey) || !strings.Contains(err.Error(), box.KeyID()) {
		t.Errorf("GetCluster with another key: %v, want ErrWrongKey naming %s", err, box.KeyID())
	}

	// Without a key, a secret is refused (400 naming the variable) and
	// records without one pass.
	none := state.Sealing(openLocal(t), nil)
	err = none.CreateCluster(ctx, tlsCluster("x"))
	var e *errs.Error
	if !errors.As(err, &e) || !errors.Is(err, errs.ErrInvalid) || e.Field != "SWARMOPS_SECRET_KEY" {
		t.Errorf("CreateCluster with a TLS key and no secret key: %v, want a 400 naming SWARMOPS_SECRET_KEY", err)
	}
	must(t, none.CreateCluster(ctx, store.Cluster{Name: "y", Endpoints: []string{"unix:///var/run/docker.sock"}}))
	if _, err := none.GetCluster(ctx, "x"); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("the refused cluster was stored: %v", err)
	}
}

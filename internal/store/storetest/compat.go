package storetest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// Raw reads and writes a backend's stored records as bytes, to play a
// newer SwarmOps that wrote fields this build does not know. Kinds are
// "cluster", "user", "registry" (by name) and "session" (by id).
type Raw interface {
	Record(t *testing.T, kind, name string) []byte
	// SetRecord replaces the stored bytes, keeping any expiry.
	SetRecord(t *testing.T, kind, name string, data []byte)
}

// RunCompat runs the tests that need raw access: records keep the fields
// this build does not know when it rewrites them.
func RunCompat(t *testing.T, open func(t *testing.T) (store.Store, Raw)) {
	t.Run("UnknownFieldsSurviveUpdates", func(t *testing.T) {
		t.Parallel()
		s, raw := open(t)
		testUnknownFields(t, s, raw)
	})
}

// future is what "a newer version" added to every record: a scalar and
// an object, which must come back byte for byte.
const futureScalar, futureObject = `"epoch-7"`, `{"source":"oidc","groups":["ops","dev"]}`

func addFuture(t *testing.T, raw Raw, kind, name string) {
	t.Helper()
	var m map[string]json.RawMessage
	ok(t, json.Unmarshal(raw.Record(t, kind, name), &m))
	m["webauthn_epoch"] = json.RawMessage(futureScalar)
	m["sso"] = json.RawMessage(futureObject)
	data, err := json.Marshal(m)
	ok(t, err)
	raw.SetRecord(t, kind, name, data)
}

// fields answers the stored record's top-level fields.
func fields(t *testing.T, raw Raw, kind, name string) map[string]string {
	t.Helper()
	var m map[string]json.RawMessage
	data := raw.Record(t, kind, name)
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("stored %s %s is not a JSON object: %v\n%s", kind, name, err, data)
	}
	out := map[string]string{}
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}

func wantFuture(t *testing.T, raw Raw, kind, name string) map[string]string {
	t.Helper()
	f := fields(t, raw, kind, name)
	if f["webauthn_epoch"] != futureScalar || f["sso"] != futureObject {
		t.Fatalf("after an update by this build, stored %s %s lost the fields a newer version added: "+
			"webauthn_epoch=%s sso=%s (want %s and %s)", kind, name, f["webauthn_epoch"], f["sso"], futureScalar, futureObject)
	}
	return f
}

func testUnknownFields(t *testing.T, s store.Store, raw Raw) {
	ctx := t.Context()

	c := cluster("compat")
	ok(t, s.CreateCluster(ctx, c))
	addFuture(t, raw, "cluster", c.Name)
	c.Labels = nil // a known field left out must go
	c.Endpoints = []string{"tcp://198.18.0.99:2375"}
	c.UpdatedAt = t0.Add(time.Hour)
	ok(t, s.UpdateCluster(ctx, c))
	f := wantFuture(t, raw, "cluster", c.Name)
	if _, has := f["labels"]; has {
		t.Errorf("labels were cleared by the update but the stored record still has them: %v", f["labels"])
	}
	got, err := s.GetCluster(ctx, c.Name)
	ok(t, err)
	same(t, got, c)
	// A second update keeps them too (the merge does not need the newer
	// version to write again).
	c.SwarmID = "swarm-other"
	ok(t, s.UpdateCluster(ctx, c))
	wantFuture(t, raw, "cluster", c.Name)

	u := user("compat")
	ok(t, s.CreateUser(ctx, u))
	addFuture(t, raw, "user", u.Username)
	u.Role = "admin"
	ok(t, s.UpdateUser(ctx, u))
	if f := wantFuture(t, raw, "user", u.Username); f["role"] != `"admin"` {
		t.Errorf("stored role = %s after the update, want \"admin\"", f["role"])
	}

	r := registry("compat")
	ok(t, s.CreateRegistry(ctx, r))
	addFuture(t, raw, "registry", r.Name)
	r.Username = "someone-else"
	ok(t, s.UpdateRegistry(ctx, r))
	wantFuture(t, raw, "registry", r.Name)
	isKind(t, s.UpdateRegistry(ctx, registry("absent")), errs.ErrNotFound)

	sess := session("compat-session", u.Username, time.Now().Add(time.Hour))
	ok(t, s.CreateSession(ctx, sess))
	addFuture(t, raw, "session", sess.ID)
	later := time.Now().Add(2 * time.Hour).UTC()
	ok(t, s.TouchSession(ctx, sess.ID, later))
	wantFuture(t, raw, "session", sess.ID)
	gotSess, err := s.GetSession(ctx, sess.ID)
	ok(t, err)
	if !gotSess.ExpiresAt.Equal(later) {
		t.Errorf("touched session expires %v, want %v", gotSess.ExpiresAt, later)
	}
}

func testMeta(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetMeta(ctx, "schema")
	isKind(t, err, errs.ErrNotFound)
	ok(t, s.PutMeta(ctx, "schema", []byte(`{"version":1}`)))
	ok(t, s.PutMeta(ctx, "other", []byte(`x`)))
	ok(t, s.PutMeta(ctx, "schema", []byte(`{"version":2}`)))
	got, err := s.GetMeta(ctx, "schema")
	ok(t, err)
	same(t, string(got), `{"version":2}`)
	// The default cluster's mark is not a meta document and vice versa.
	ok(t, s.CreateCluster(ctx, cluster("meta")))
	ok(t, s.SetDefaultCluster(ctx, "meta"))
	_, err = s.GetMeta(ctx, "default_cluster")
	isKind(t, err, errs.ErrNotFound)
	name, err := s.DefaultCluster(ctx)
	ok(t, err)
	if !strings.EqualFold(name, "meta") {
		t.Errorf("default cluster = %q after meta writes, want meta", name)
	}
}

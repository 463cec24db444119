package state_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	locallock "github.com/swarmops/swarmops/internal/lock/local"
	"github.com/swarmops/swarmops/internal/seal"
	"github.com/swarmops/swarmops/internal/state"
	"github.com/swarmops/swarmops/internal/store"
)

// keyIDs answers the ids of the keys that sealed each secret of raw.
func keyIDs(t *testing.T, raw store.Store) map[string]string {
	t.Helper()
	ctx := t.Context()
	out := map[string]string{}
	id := func(blob []byte) string {
		s, err := seal.KeyIDOf(blob)
		if err != nil {
			return "damaged"
		}
		return s
	}
	cs, err := raw.ListClusters(ctx)
	must(t, err)
	for _, c := range cs {
		if c.TLS != nil && c.TLS.Key != "" {
			out["cluster "+c.Name] = "PLAINTEXT"
		}
		if c.TLS != nil && len(c.TLS.KeySealed) > 0 {
			out["cluster "+c.Name] = id(c.TLS.KeySealed)
		}
	}
	rs, err := raw.ListRegistries(ctx)
	must(t, err)
	for _, r := range rs {
		if len(r.PasswordSealed) > 0 {
			out["registry "+r.Name] = id(r.PasswordSealed)
		}
	}
	revs, err := raw.ListStackRevisions(ctx, "prod", "web")
	must(t, err)
	for _, r := range revs {
		for p, f := range r.Sealed {
			out[fmt.Sprintf("revision %d %s", r.Number, p)] = id(f.Data)
		}
	}
	return out
}

func TestRotate(t *testing.T) {
	ctx := t.Context()
	raw := openLocal(t)
	oldKey, _ := seal.NewKey()
	newKey, _ := seal.NewKey()
	oldBox, newOnly, rotating := newBox(t, oldKey), newBox(t, newKey), newBox(t, newKey, oldKey)

	// State sealed with the old key: clusters, a registry, a stack's
	// revisions with secret files.
	old := state.Sealing(raw, oldBox)
	for i := range 5 {
		must(t, old.CreateCluster(ctx, tlsCluster(fmt.Sprintf("c%d", i))))
	}
	must(t, old.CreateRegistry(ctx, store.Registry{Name: "zot", URL: "https://zot.test", Password: "registry-pw", CreatedAt: t0}))
	for i := range 3 {
		data, err := oldBox.Seal([]byte(fmt.Sprintf("db-password-%d", i)))
		must(t, err)
		_, err = raw.AddStackRevision(ctx, store.StackRevision{Cluster: "prod", Stack: "web", Time: t0, User: "ops",
			Compose: "services: {}\n", Sealed: map[string]store.SealedFile{"./db.txt": {Data: data, SHA256: "x"}}})
		must(t, err)
	}
	for what, id := range keyIDs(t, raw) {
		if id != oldBox.KeyID() {
			t.Fatalf("%s is sealed with %s before the rotation, want the old key %s", what, id, oldBox.KeyID())
		}
	}

	// An instance keeps serving through the rotation with both keys:
	// it reads every cluster and keeps changing one cluster's labels.
	serving := state.Sealing(raw, rotating)
	lk := locallock.New(5 * time.Second)
	stop := make(chan struct{})
	var (
		wg      sync.WaitGroup
		reads   atomic.Int64
		lastSet atomic.Int64
		failure atomic.Value
	)
	wg.Go(func() {
		for n := int64(1); ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			for i := range 5 {
				c, err := serving.GetCluster(ctx, fmt.Sprintf("c%d", i))
				if err != nil || c.TLS.Key != plainKey {
					failure.Store(fmt.Sprintf("read c%d during the rotation: %v (key intact: %v)", i, err, err == nil && c.TLS.Key == plainKey))
					return
				}
				reads.Add(1)
			}
			// A label change under the cluster's lock, as the domain does.
			lease, err := lk.Acquire(ctx, "cluster:c0")
			if err != nil {
				failure.Store(err.Error())
				return
			}
			c, err := serving.GetCluster(ctx, "c0")
			if err == nil {
				c.Labels = map[string]string{"n": fmt.Sprint(n)}
				err = serving.UpdateCluster(ctx, c)
			}
			lease.Release(context.Background())
			if err != nil {
				failure.Store(err.Error())
				return
			}
			lastSet.Store(n)
		}
	})
	for reads.Load() < 20 {
		time.Sleep(time.Millisecond)
	}
	rep, err := state.Rotate(ctx, raw, lk, rotating)
	close(stop)
	wg.Wait()
	must(t, err)
	if f := failure.Load(); f != nil {
		t.Fatal(f)
	}
	if rep.KeyID != newOnly.KeyID() || rep.Registries != 1 || rep.StackRevisions != 3 || rep.Clusters > 5 {
		t.Errorf("report %+v, want key %s, 1 registry, 3 revisions, at most 5 clusters (the serving writer re-seals c0 itself)", rep, newOnly.KeyID())
	}
	for what, id := range keyIDs(t, raw) {
		if id != newOnly.KeyID() {
			t.Errorf("%s is sealed with %s after the rotation, want the new key %s", what, id, newOnly.KeyID())
		}
	}
	// The new key alone opens everything, and no label change was lost.
	after := state.Sealing(raw, newOnly)
	c0, err := after.GetCluster(ctx, "c0")
	must(t, err)
	if c0.TLS.Key != plainKey || c0.Labels["n"] != fmt.Sprint(lastSet.Load()) {
		t.Errorf("c0 after the rotation: key intact %v, label n=%q, want the last one written (%d)",
			c0.TLS.Key == plainKey, c0.Labels["n"], lastSet.Load())
	}
	r, err := after.GetRegistry(ctx, "zot")
	must(t, err)
	if r.Password != "registry-pw" {
		t.Error("the registry password does not open with the new key")
	}
	revs, err := raw.ListStackRevisions(ctx, "prod", "web")
	must(t, err)
	for _, rev := range revs {
		plain, err := newOnly.Open(rev.Sealed["./db.txt"].Data)
		if err != nil || string(plain) != fmt.Sprintf("db-password-%d", rev.Number-1) {
			t.Errorf("revision %d's secret file with the new key: %q, %v", rev.Number, plain, err)
		}
	}
	if n, err := raw.AddStackRevision(ctx, store.StackRevision{Cluster: "prod", Stack: "web", Compose: "x"}); err != nil || n != 4 {
		t.Errorf("the next revision after the rotation is number %d (%v), want 4", n, err)
	}

	// Again: nothing left to do.
	rep, err = state.Rotate(ctx, raw, lk, rotating)
	if err != nil || rep.Total() != 0 {
		t.Errorf("a second rotation: %+v, %v; want nothing re-sealed", rep, err)
	}
	// A key that opens nothing stored is refused before any write.
	stranger, _ := seal.NewKey()
	_, err = state.Rotate(ctx, raw, lk, newBox(t, stranger))
	var ke *state.KeyError
	if !errors.As(err, &ke) || !strings.Contains(err.Error(), newOnly.KeyID()) {
		t.Errorf("rotation with a box lacking the stored key: %v, want a KeyError naming %s", err, newOnly.KeyID())
	}
	if _, err := state.Rotate(ctx, raw, lk, nil); !errors.Is(err, seal.ErrNoKey) {
		t.Errorf("rotation without a key: %v, want ErrNoKey", err)
	}
}

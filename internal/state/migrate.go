package state

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/lock"
	"github.com/swarmops/swarmops/internal/seal"
	"github.com/swarmops/swarmops/internal/store"
)

// MigrationKey is the lock every instance takes before migrating, so one
// migrates and the others wait and find the work done.
const MigrationKey = "state:migrate"

// migrationWait bounds how long an instance waits for another one's
// migration before it gives up (and is restarted by its orchestrator).
const migrationWait = 2 * time.Minute

// migration brings a store from the version before to its own. Each one
// is idempotent: run twice, or after an interrupted run, it changes
// nothing more.
type migration struct {
	to   int
	name string
	run  func(ctx context.Context, st store.Store, o PrepareOptions) (changed int, err error)
}

// migrations are in order of version, one per version above 1.
var migrations = []migration{
	{to: 2, name: "seal engine TLS keys and registry passwords", run: func(ctx context.Context, st store.Store, o PrepareOptions) (int, error) {
		return SealPlaintext(ctx, st, o.Locker, o.Box)
	}},
}

// PrepareOptions are Prepare's inputs besides the store.
type PrepareOptions struct {
	Locker lock.Locker
	// Box seals and opens secrets; nil when no key is configured.
	Box *seal.Box
	// By names this build and instance in the schema document.
	By  string
	Log zerolog.Logger
}

// Prepare readies st (the raw store, not Sealing's) for this build before
// it serves: it refuses a store a newer build migrated past what this one
// reads (*TooOldError), brings an older one up to Version under
// MigrationKey, seals any secret still in the clear (a build before
// schema 2 may have written one during a rolling upgrade), and checks
// that Box opens every stored secret, so a wrong SWARMOPS_SECRET_KEY
// stops the instance at start rather than failing requests later.
//
// Errors of kind errs.ErrUnavailable mean the store does not answer yet:
// call again. Any other error is final.
func Prepare(ctx context.Context, st store.Store, o PrepareOptions) error {
	s, err := ReadSchema(ctx, st)
	if err != nil {
		return err
	}
	if err := CheckReadable(s); err != nil {
		return err
	}
	if s.Version < Version {
		if err := migrate(ctx, st, o); err != nil {
			return err
		}
	} else if n, err := SealPlaintext(ctx, st, o.Locker, o.Box); err != nil {
		return err
	} else if n > 0 {
		o.Log.Warn().Int("secrets", n).Msg("sealed secrets an older instance had stored in the clear")
	}
	return CheckKeys(ctx, st, o.Box)
}

// migrate runs the migrations the store lacks while holding MigrationKey.
func migrate(ctx context.Context, st store.Store, o PrepareOptions) error {
	lease, err := acquire(ctx, o.Locker)
	if err != nil {
		return err
	}
	defer lease.Release(context.WithoutCancel(ctx))
	// Another instance may have migrated while this one waited.
	s, err := ReadSchema(ctx, st)
	if err != nil {
		return err
	}
	if err := CheckReadable(s); err != nil {
		return err
	}
	for _, m := range migrations {
		if m.to <= s.Version {
			continue
		}
		select {
		case <-lease.Lost():
			return errors.New("store migration: lost the migration lock; another instance may be migrating; start again")
		default:
		}
		start := time.Now()
		n, err := m.run(ctx, st, o)
		if err != nil {
			return fmt.Errorf("store migration to schema %d (%s): %w; nothing is lost: the store stays at schema %d "+
				"and the migration runs again at the next start", m.to, m.name, err, s.Version)
		}
		if err := WriteSchema(ctx, st, m.to, o.By); err != nil {
			return err
		}
		o.Log.Info().Int("from", s.Version).Int("to", m.to).Str("migration", m.name).Int("changed", n).
			Dur("took", time.Since(start)).Msg("store schema migrated")
		s.Version = m.to
	}
	return nil
}

// acquire takes MigrationKey, waiting up to migrationWait for an instance
// that is migrating.
func acquire(ctx context.Context, lk lock.Locker) (lock.Lease, error) {
	deadline := time.Now().Add(migrationWait)
	for {
		lease, err := lk.Acquire(lock.WithWait(ctx, 5*time.Second), MigrationKey)
		if err == nil || !errors.Is(err, errs.ErrLocked) || time.Now().After(deadline) {
			if err != nil {
				return nil, fmt.Errorf("store migration: %w", err)
			}
			return lease, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// SealPlaintext seals every engine TLS key and registry password stored
// in the clear, and answers how many it sealed. Prepare runs it at start,
// and a serving instance again now and then: an instance of a build from
// before schema 2, still running during a rolling upgrade, stores keys in
// the clear. Each record is re-read and rewritten under the lock its
// domain writes take, so no concurrent change is lost. Without a key it
// changes nothing and fails if there is anything to seal: the operator
// must give one.
func SealPlaintext(ctx context.Context, st store.Store, lk lock.Locker, box *seal.Box) (int, error) {
	clusters, err := st.ListClusters(ctx)
	if err != nil {
		return 0, err
	}
	regs, err := st.ListRegistries(ctx)
	if err != nil {
		return 0, err
	}
	var plain []string
	for _, c := range clusters {
		if c.TLS != nil && c.TLS.Key != "" {
			plain = append(plain, "cluster "+c.Name)
		}
	}
	for _, r := range regs {
		if r.Password != "" {
			plain = append(plain, "registry "+r.Name)
		}
	}
	if len(plain) == 0 {
		return 0, nil
	}
	if box == nil {
		return 0, fmt.Errorf("%d stored secrets are in the clear (%s) and SWARMOPS_SECRET_KEY is not set: "+
			"set it (32 random bytes in base64, e.g. `openssl rand -base64 32`, the same on every instance) to encrypt them",
			len(plain), strings.Join(plain, ", "))
	}
	n := 0
	for _, listed := range clusters {
		if listed.TLS == nil || listed.TLS.Key == "" {
			continue
		}
		err := locked(ctx, lk, lock.ClusterKey(listed.Name), func() error {
			c, err := st.GetCluster(ctx, listed.Name)
			if err != nil || c.TLS == nil || c.TLS.Key == "" {
				return err
			}
			if c, err = sealCluster(c, box); err != nil {
				return err
			}
			if err := st.UpdateCluster(ctx, c); err != nil {
				return err
			}
			n++
			return nil
		})
		if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return n, fmt.Errorf("cluster %s: %w", listed.Name, err)
		}
	}
	for _, listed := range regs {
		if listed.Password == "" {
			continue
		}
		err := locked(ctx, lk, lock.RegistryKey(listed.Name), func() error {
			r, err := st.GetRegistry(ctx, listed.Name)
			if err != nil || r.Password == "" {
				return err
			}
			if r, err = sealRegistry(r, box); err != nil {
				return err
			}
			if err := st.UpdateRegistry(ctx, r); err != nil {
				return err
			}
			n++
			return nil
		})
		if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return n, fmt.Errorf("registry %s: %w", listed.Name, err)
		}
	}
	return n, nil
}

// KeyError says stored secrets were sealed with keys this instance does
// not have.
type KeyError struct {
	// Missing maps a key id to what it sealed ("cluster prod", ...).
	Missing map[string][]string
	Have    []string
}

func (e *KeyError) Error() string {
	var parts []string
	for id, what := range e.Missing {
		if len(what) > 5 {
			what = append(what[:5:5], fmt.Sprintf("%d more", len(what)-5))
		}
		parts = append(parts, fmt.Sprintf("key id %s (%s)", id, strings.Join(what, ", ")))
	}
	slices.Sort(parts)
	have := "no key"
	if len(e.Have) > 0 {
		have = "key ids " + strings.Join(e.Have, ", ")
	}
	return fmt.Sprintf("stored secrets were sealed with keys this instance does not have: %s; SWARMOPS_SECRET_KEY gives %s. "+
		"Give the key they were sealed with (during a rotation, list the new key first and the old one after a comma)",
		strings.Join(parts, "; "), have)
}

// CheckKeys answers a *KeyError when box cannot open a stored engine TLS
// key, registry password or stack secret file. It opens none: the key ids
// say.
func CheckKeys(ctx context.Context, st store.Store, box *seal.Box) error {
	missing := map[string][]string{}
	note := func(blob []byte, what string) {
		id, err := seal.KeyIDOf(blob)
		if err != nil {
			id = "(damaged)"
		}
		if !box.Has(id) {
			missing[id] = append(missing[id], what)
		}
	}
	clusters, err := st.ListClusters(ctx)
	if err != nil {
		return err
	}
	for _, c := range clusters {
		if c.TLS != nil && len(c.TLS.KeySealed) > 0 {
			note(c.TLS.KeySealed, "cluster "+c.Name)
		}
	}
	regs, err := st.ListRegistries(ctx)
	if err != nil {
		return err
	}
	for _, r := range regs {
		if len(r.PasswordSealed) > 0 {
			note(r.PasswordSealed, "registry "+r.Name)
		}
	}
	stacks, err := st.ListRevisedStacks(ctx)
	if err != nil {
		return err
	}
	for _, ref := range stacks {
		revs, err := st.ListStackRevisions(ctx, ref.Cluster, ref.Stack)
		if err != nil {
			return err
		}
		for _, r := range revs {
			for path, f := range r.Sealed {
				note(f.Data, fmt.Sprintf("stack %s/%s revision %d file %s", ref.Cluster, ref.Stack, r.Number, path))
			}
		}
	}
	if len(missing) > 0 {
		return &KeyError{Missing: missing, Have: box.KeyIDs()}
	}
	return nil
}

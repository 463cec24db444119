package state

import (
	"context"
	"errors"
	"fmt"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/lock"
	"github.com/swarmops/swarmops/internal/seal"
	"github.com/swarmops/swarmops/internal/store"
)

// RotateReport counts what Rotate re-sealed.
type RotateReport struct {
	// KeyID is the key everything is now sealed with.
	KeyID          string `json:"key_id"`
	Clusters       int    `json:"clusters"`
	Registries     int    `json:"registries"`
	StackRevisions int    `json:"stack_revisions"`
}

// Total answers how many records Rotate rewrote.
func (r RotateReport) Total() int { return r.Clusters + r.Registries + r.StackRevisions }

// Rotate re-seals with box's sealing key every secret of the raw store
// sealed with another key box holds: engine TLS keys, registry passwords
// and the secret files of stack revisions. Instances keep serving
// meanwhile, as long as each has both keys (the new one first): each
// record is rewritten under the lock its domain writes take (the
// cluster's, the registry's, the stack's), so no concurrent change is
// overwritten. A secret sealed with a key box lacks stops it before any
// write (*KeyError); interrupted, it can simply run again.
func Rotate(ctx context.Context, raw store.Store, lk lock.Locker, box *seal.Box) (RotateReport, error) {
	rep := RotateReport{KeyID: box.KeyID()}
	if box == nil {
		return rep, seal.ErrNoKey
	}
	if err := CheckKeys(ctx, raw, box); err != nil {
		return rep, err
	}
	stale := func(blob []byte) bool {
		id, err := seal.KeyIDOf(blob)
		return err == nil && id != box.KeyID()
	}
	reseal := func(blob []byte) ([]byte, error) {
		plain, err := box.Open(blob)
		if err != nil {
			return nil, err
		}
		return box.Seal(plain)
	}

	clusters, err := raw.ListClusters(ctx)
	if err != nil {
		return rep, err
	}
	for _, listed := range clusters {
		if listed.TLS == nil || !stale(listed.TLS.KeySealed) {
			continue
		}
		err := locked(ctx, lk, lock.ClusterKey(listed.Name), func() error {
			c, err := raw.GetCluster(ctx, listed.Name) // as it is now, under the lock
			if err != nil || c.TLS == nil || !stale(c.TLS.KeySealed) {
				return err
			}
			tls := *c.TLS
			if tls.KeySealed, err = reseal(tls.KeySealed); err != nil {
				return fmt.Errorf("cluster %s: %w", c.Name, err)
			}
			c.TLS = &tls
			if err := raw.UpdateCluster(ctx, c); err != nil {
				return err
			}
			rep.Clusters++
			return nil
		})
		if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return rep, err
		}
	}

	regs, err := raw.ListRegistries(ctx)
	if err != nil {
		return rep, err
	}
	for _, listed := range regs {
		if !stale(listed.PasswordSealed) {
			continue
		}
		err := locked(ctx, lk, lock.RegistryKey(listed.Name), func() error {
			r, err := raw.GetRegistry(ctx, listed.Name)
			if err != nil || !stale(r.PasswordSealed) {
				return err
			}
			if r.PasswordSealed, err = reseal(r.PasswordSealed); err != nil {
				return fmt.Errorf("registry %s: %w", r.Name, err)
			}
			if err := raw.UpdateRegistry(ctx, r); err != nil {
				return err
			}
			rep.Registries++
			return nil
		})
		if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return rep, err
		}
	}

	stacks, err := raw.ListRevisedStacks(ctx)
	if err != nil {
		return rep, err
	}
	for _, ref := range stacks {
		err := locked(ctx, lk, lock.StackKey(ref.Cluster, ref.Stack), func() error {
			revs, err := raw.ListStackRevisions(ctx, ref.Cluster, ref.Stack)
			if err != nil {
				return err
			}
			for _, r := range revs {
				changed := false
				for path, f := range r.Sealed {
					if !stale(f.Data) {
						continue
					}
					if f.Data, err = reseal(f.Data); err != nil {
						return fmt.Errorf("stack %s/%s revision %d, file %s: %w", ref.Cluster, ref.Stack, r.Number, path, err)
					}
					r.Sealed[path] = f
					changed = true
				}
				if !changed {
					continue
				}
				if err := raw.PutStackRevision(ctx, r); err != nil {
					return err
				}
				rep.StackRevisions++
			}
			return nil
		})
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// locked runs fn holding key.
func locked(ctx context.Context, lk lock.Locker, key string, fn func() error) error {
	lease, err := lk.Acquire(ctx, key)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	defer lease.Release(context.WithoutCancel(ctx))
	return fn()
}

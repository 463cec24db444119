package swarm

import (
	"cmp"
	"context"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/lock"
	"github.com/swarmops/swarmops/internal/store"
)

// ref names the object a mutation is about: its ID, which its lock is
// taken on, and its name, which the audit log records.
type ref struct{ ID, Name string }

// step is one engine call of a mutation; o is the object as known so far,
// which a create's write fills in.
type step func(ctx context.Context, api Engine, o *ref) error

// mutation is one change of a registered cluster. Every such change goes
// through Fleet.mutate, which makes the same moves for every object kind:
// check the input, find the object, take its lock, write, read the
// outcome, and record the attempt in the audit log whatever its end.
// (AddCluster and InitCluster, which make a registration, have no record
// to read under a lock yet and keep their own sequence.)
type mutation struct {
	action  string // the audit action, e.g. "service.remove"
	cluster string
	// kind is the object kind whose lock is taken (lock.ObjectKey):
	// the object's ID once resolved, its name for a create. "" takes the
	// cluster's lock instead, for changes of the swarm or of its record
	// (joins, leaves, join tokens, the registration), and reads the
	// cluster's record under it.
	kind string
	// target is the object as the request names it (an ID, prefix or
	// name): the audit target until resolve answers the object's name.
	target string

	// check validates the input before anything is read; refused input
	// is audited too.
	check func() error
	// resolve finds an existing object through a read, before the lock
	// is taken. An error with a found object refuses that object, and the
	// audit names it. nil for a create, or with kind "".
	resolve func(ctx context.Context, api Engine) (ref, error)

	// locked, when set, is the whole of the change, run under the lock
	// with the cluster's record; prepare, write and reread are then unused.
	// It is for changes that are more than one engine write (a join talks
	// to the joining engine; registration changes are store writes); see
	// mutateLocked.
	locked func(ctx context.Context, c store.Cluster) error
	// prepare reads, under the lock, what the write must be checked
	// against (a fresh spec, the node list), and refuses the write.
	prepare step
	// write is the one engine write. It runs through Fleet.do as a write:
	// it moves to another manager only when the request never left, and
	// is answered as maybe applied when no answer came.
	write step
	// refused translates an error of write (e.g. refusedAsConflict).
	refused func(error) error
	// reread reads the outcome as a separate read after the write, so that
	// a retry of it on another manager never writes twice.
	reread step
	// rereadFailed answers for a reread that failed after the write was
	// made (a change that is made must not be answered as failed); nil:
	// the answer says the change was made and could not be read back,
	// marked maybe applied so that a retry does not make it again.
	rereadFailed func(error) error
}

// mutate runs m: check, then (for an object) the cluster's record and
// resolve, then the lock, then m.locked or prepare, write and reread.
func (f *Fleet) mutate(ctx context.Context, m mutation) (err error) {
	o := ref{Name: m.target}
	defer func() {
		f.audit.Record(ctx, "", m.action, m.cluster, o.Name, err)
		if err == nil {
			// Snapshots older than a change this instance made must not
			// be served as the swarm's state.
			f.snaps.forget(m.cluster)
		}
	}()
	if m.check != nil {
		if err := m.check(); err != nil {
			return err
		}
	}
	if m.kind == "" {
		// A cluster's record changes only under its lock: read it there.
		return f.withLock(ctx, lock.ClusterKey(m.cluster), func(ctx context.Context) error {
			c, err := f.cluster(ctx, m.cluster)
			if err != nil {
				return err
			}
			return f.underLock(ctx, c, m, &o)
		})
	}
	c, err := f.cluster(ctx, m.cluster)
	if err != nil {
		return err
	}
	if e, ok := f.ElectionOf(c.Name); ok {
		return electionError(c.Name, e, nothingSent(write))
	}
	if m.resolve != nil {
		if err := f.hedgedRead(ctx, c, func(ctx context.Context, api Engine) error {
			found, err := m.resolve(ctx, api)
			if found.ID != "" {
				o = found
			}
			return err
		}); err != nil {
			if e, ok := f.ElectionOf(c.Name); ok {
				return electionError(c.Name, e, nothingSent(write))
			}
			return err
		}
	}
	return f.withLock(ctx, lock.ObjectKey(m.cluster, m.kind, cmp.Or(o.ID, o.Name)), func(ctx context.Context) error {
		return f.underLock(ctx, c, m, &o)
	})
}

// mutateLocked runs m with locked as the whole of its change, and answers
// what locked answers.
func mutateLocked[T any](ctx context.Context, f *Fleet, m mutation, locked func(ctx context.Context, c store.Cluster) (T, error)) (T, error) {
	var out T
	m.locked = func(ctx context.Context, c store.Cluster) (err error) {
		out, err = locked(ctx, c)
		return err
	}
	err := f.mutate(ctx, m)
	return out, err
}

// underLock is the part of m run under its lock.
func (f *Fleet) underLock(ctx context.Context, c store.Cluster, m mutation, o *ref) error {
	if m.locked != nil {
		return m.locked(ctx, c)
	}
	bind := func(s step) func(context.Context, Engine) error {
		return func(ctx context.Context, api Engine) error { return s(ctx, api, o) }
	}
	if m.prepare != nil {
		if err := f.hedgedRead(ctx, c, bind(m.prepare)); err != nil {
			if e, ok := f.ElectionOf(c.Name); ok {
				return electionError(c.Name, e, nothingSent(write))
			}
			return err
		}
	}
	if _, err := f.do(ctx, c, write, bind(m.write)); err != nil {
		if m.refused != nil {
			return m.refused(err)
		}
		return err
	}
	if m.reread == nil {
		return nil
	}
	if _, err := f.do(ctx, c, read, bind(m.reread)); err != nil {
		if m.rereadFailed != nil {
			return m.rereadFailed(err)
		}
		return errs.MaybeApplied(err, "%s was made, but reading it back failed (%s); read it again rather than repeating the change", m.action, publicMessage(err))
	}
	return nil
}

package swarm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/docker/docker/client"
	"github.com/rs/zerolog"

	"github.com/swarmops/swarmops/internal/audit"
	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/lock"
	"github.com/swarmops/swarmops/internal/seal"
	"github.com/swarmops/swarmops/internal/store"
)

// Fleet is the set of registered swarms and the operations on them.
type Fleet struct {
	store   store.Clusters
	pool    *Pool
	locks   lock.Locker
	audit   *audit.Log
	timeout time.Duration
	now     func() time.Time
	feeds   feeds
	known   overviews
	// revisions keeps every stack deploy; box seals the files a stack
	// uses as secrets (nil: no key, and such deploys are refused).
	revisions store.StackRevisions
	box       *seal.Box
	// bindPaths are the host path prefixes operators may bind (hostaccess.go).
	bindPaths []string
	// elections are the clusters without a leader, snaps the last read
	// answers served meanwhile, probes the quick leader probes shared by
	// concurrent reads (election.go, snapshot.go).
	elections elections
	snaps     *snapshots
	probes    probes
	// serviceNames name the tasks of task lists (service_names.go).
	serviceNames *serviceNameCache
	// searches are the live reads of searches under way (search.go).
	searches searchFlights
	// authFor answers the registry credentials sent with an image
	// (registry_auth.go); nil sends none.
	authFor func(ctx context.Context, image string) (string, error)
}

// Options tune a Fleet.
type Options struct {
	// EngineTimeout bounds one engine call (streams excepted).
	EngineTimeout time.Duration
	Now           func() time.Time
	// StackRevisions stores stack history; nil keeps none (tests of
	// other parts).
	StackRevisions store.StackRevisions
	// Seal seals stack secret files at rest; nil refuses to store them.
	Seal *seal.Box
	// OperatorBindPaths are the clean host path prefixes operators may
	// bind-mount (SWARMOPS_OPERATOR_BIND_PATHS); other host access is the
	// admin's.
	OperatorBindPaths []string
	// RegistryAuth answers the encoded X-Registry-Auth of the registered
	// registry that image is pulled from, "" when none matches. Every
	// service create and update and every stack deploy sends it to the
	// engine, as --with-registry-auth does; nil sends none.
	RegistryAuth func(ctx context.Context, image string) (string, error)
}

// NewFleet wires the domain.
func NewFleet(st store.Clusters, pool *Pool, locks lock.Locker, log *audit.Log, opt Options) *Fleet {
	if opt.EngineTimeout == 0 {
		opt.EngineTimeout = 10 * time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Fleet{store: st, pool: pool, locks: locks, audit: log, timeout: opt.EngineTimeout, now: opt.Now,
		feeds: feeds{by: map[string]*feed{}}, revisions: opt.StackRevisions, box: opt.Seal, bindPaths: opt.OperatorBindPaths,
		authFor: opt.RegistryAuth, elections: elections{by: map[string]*election{}}, snaps: newSnapshots(), serviceNames: newServiceNameCache(), probes: probes{by: map[string]*probeCall{}}}
}

// callKind says how a failed call may be retried on another manager.
type callKind int

const (
	// read calls are idempotent: any failure to get an answer moves on.
	read callKind = iota
	// write calls move on only when the request never reached the engine.
	write
	// stream calls are reads without the per-call time limit.
	stream
	// batch calls are writes made of many engine calls (a stack deploy or
	// removal), bounded by batchCalls engine timeouts instead of one.
	batch
)

// batchCalls is how many engine timeouts a batch may take in all.
const batchCalls = 12

// writes reports whether a call of kind changes the swarm.
func (k callKind) writes() bool { return k == write || k == batch }

// Engine is the client API a domain call uses.
type Engine = client.APIClient

// do runs fn against the cluster's managers, the one that answered last
// first, until one answers. It reports the endpoint that answered.
func (f *Fleet) do(ctx context.Context, c store.Cluster, kind callKind, fn func(ctx context.Context, api Engine) error) (string, error) {
	if e, ok := f.ElectionOf(c.Name); ok {
		return "", electionError(c.Name, e, nothingSent(kind))
	}
	var failures []string
	for _, ep := range f.pool.order(c) {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		api, err := f.pool.Client(ep, tlsOf(c.TLS))
		if err != nil {
			return "", fmt.Errorf("cluster %q: %w", c.Name, err)
		}
		err, timedOut := f.attempt(ctx, kind, api, func(ctx context.Context, api Engine) error {
			if err := f.pool.ready(ctx, api); err != nil {
				return err
			}
			return fn(ctx, api)
		})
		if err == nil {
			f.pool.markUp(c.Name, ep)
			return ep, nil
		}
		if ctx.Err() != nil {
			// The caller went away (or lost its lock): that says nothing
			// about the manager, which must not be marked down for it. A
			// write that was sent may have been made all the same.
			if kind.writes() && classify(err, timedOut, kind) != notSent {
				return ep, maybeApplied(ctx.Err(), "the request ended while the engine at %s was making the change; it may have been made", ep)
			}
			return "", ctx.Err()
		}
		if isNoLeader(err) {
			// The manager answers, the swarm does not: no other manager
			// would either, unless the leader is back already.
			if p := f.quickProbe(ctx, c); p.leaderless() {
				e := f.beginElection(ctx, c, p)
				if kind.writes() && !leaderRefused(err) {
					return ep, maybeApplied(err, "manager %s of cluster %q lost its leader during the change; "+
						"it may or may not have been applied: check its state once the swarm has a leader again", ep, c.Name)
				}
				return ep, electionError(c.Name, e, nothingSent(kind))
			}
		}
		failure := classify(err, timedOut, kind)
		if failure != answered {
			zerolog.Ctx(ctx).Debug().Str("cluster", c.Name).Str("endpoint", ep).Str("cause", shortCause(err, timedOut)).
				Msg("manager did not answer; trying the next")
		}
		switch failure {
		case answered:
			f.pool.markUp(c.Name, ep)
			if errs.KindOf(err) != nil { // ours already (validation, not found)
				return ep, err
			}
			return ep, engineError(err)
		case notSent, notManager:
			f.pool.markDown(ep)
			failures = append(failures, ep+": "+shortCause(err, timedOut))
		case noAnswer:
			f.pool.markDown(ep)
			if kind.writes() {
				return ep, maybeApplied(err, "manager %s of cluster %q stopped answering during the change; "+
					"it may or may not have been applied: check its state before retrying", ep, c.Name)
			}
			failures = append(failures, ep+": "+shortCause(err, timedOut))
		}
	}
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	return "", errs.Unavailable(nil, "no manager of cluster %q answered (%s)", c.Name, strings.Join(failures, "; "))
}

// attempt runs fn once against api. Reads and writes get the engine
// timeout; a stream gets it for its setup only (until fn returns with the
// stream open), then lives as long as ctx.
func (f *Fleet) attempt(ctx context.Context, kind callKind, api Engine, fn func(ctx context.Context, api Engine) error) (err error, timedOut bool) {
	if kind != stream {
		limit := f.timeout
		if kind == batch {
			limit *= batchCalls
		}
		actx, cancel := context.WithTimeout(ctx, limit)
		defer cancel()
		err = fn(actx, api)
		return err, errors.Is(actx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
	}
	sctx, cancel := context.WithCancel(ctx)
	setup := time.AfterFunc(f.timeout, cancel)
	err = fn(sctx, api)
	timedOut = !setup.Stop() && ctx.Err() == nil
	if err != nil || timedOut {
		cancel()
		if err == nil {
			err = context.DeadlineExceeded
		}
	}
	return err, timedOut
}

// cluster answers a registered cluster.
func (f *Fleet) cluster(ctx context.Context, name string) (store.Cluster, error) {
	c, err := f.store.GetCluster(ctx, name)
	if errors.Is(err, errs.ErrNotFound) {
		return store.Cluster{}, errs.NotFound("cluster %q is not registered", name)
	}
	if err != nil {
		return store.Cluster{}, fmt.Errorf("cluster %q: %w", name, err)
	}
	return c, nil
}

// withLock runs fn holding key's lock; fn's context ends if the lease is
// lost.
func (f *Fleet) withLock(ctx context.Context, key string, fn func(ctx context.Context) error) error {
	lease, err := f.locks.Acquire(ctx, key)
	if err != nil {
		return err
	}
	defer func() { _ = lease.Release(context.WithoutCancel(ctx)) }()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-lease.Lost():
			cancel(errs.Unavailable(nil, "lost the lock on %s; the operation was stopped", key))
		case <-ctx.Done():
		}
	}()
	if err := fn(ctx); err != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) && ctx.Err() != nil {
			return cause
		}
		return err
	}
	return nil
}

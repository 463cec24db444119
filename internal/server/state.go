package server

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/lock"
	"github.com/swarmops/swarmops/internal/seal"
	"github.com/swarmops/swarmops/internal/state"
	"github.com/swarmops/swarmops/internal/store"
	redisstore "github.com/swarmops/swarmops/internal/store/redis"
	"github.com/swarmops/swarmops/internal/version"
)

// schemaCheckEvery is how often a serving instance reads the schema
// document again, to notice a newer build migrating the store past what
// it reads (it then fails readiness, and balancers stop sending to it),
// and seals what an instance of an older build stored in the clear.
const schemaCheckEvery = 10 * time.Second

// stateGate holds why the instance must not take traffic because of its
// store's state: not prepared yet, or a schema it cannot read. nil: fine.
type stateGate struct {
	err atomic.Pointer[error]
}

func newStateGate() *stateGate {
	g := &stateGate{}
	g.set(errs.Unavailable(nil, "the store's schema is not checked yet"))
	return g
}

func (g *stateGate) set(err error) {
	if err == nil {
		g.err.Store(nil)
		return
	}
	g.err.Store(&err)
}

func (g *stateGate) check() error {
	if p := g.err.Load(); p != nil {
		return *p
	}
	return nil
}

// prepareState runs state.Prepare until the store answers, then opens the
// gate, calls ready and keeps watching the schema until ctx ends. It
// answers the final error that must stop the instance (a schema too new,
// a wrong key), nil when ctx ended first.
func prepareState(ctx context.Context, raw store.Store, lk lock.Locker, box *seal.Box, instance string,
	gate *stateGate, log zerolog.Logger, ready func()) error {
	o := state.PrepareOptions{Locker: lk, Box: box, By: "swarmops " + version.Version + " on " + instance, Log: log}
	for delay := 250 * time.Millisecond; ; delay = min(2*delay, bootstrapRetryMax) {
		err := state.Prepare(ctx, raw, o)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		if redisstore.CredentialsRefused(err) {
			// Found at the first answer, since the client does not wait
			// for Redis before serving: a setting to fix, not an outage.
			err = fmt.Errorf("redis refused the credentials: check SWARMOPS_REDIS_PASSWORD (or the password in SWARMOPS_REDIS_URL): %w", err)
			gate.set(errs.Unavailable(nil, "%s", err.Error()))
			return err
		}
		if !errors.Is(err, errs.ErrUnavailable) && !errors.Is(err, errs.ErrLocked) {
			gate.set(errs.Unavailable(nil, "%s", err.Error()))
			return err
		}
		log.Warn().Err(err).Dur("retry_in", delay).Msg("cannot check the store's schema yet")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
	}
	gate.set(nil)
	ready()
	tick := time.NewTicker(schemaCheckEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		s, err := state.ReadSchema(ctx, raw)
		if err != nil {
			continue // the store's own outage shows in readiness already
		}
		if err := state.CheckReadable(s); err != nil {
			if gate.check() == nil {
				log.Error().Err(err).Msg("a newer SwarmOps migrated the store: this instance stops taking traffic")
			}
			gate.set(errs.Unavailable(nil, "%s", err.Error()))
			continue
		}
		gate.set(nil)
		if n, err := state.SealPlaintext(ctx, raw, lk, box); err != nil {
			log.Warn().Err(err).Msg("cannot seal secrets an older instance stored in the clear")
		} else if n > 0 {
			log.Warn().Int("secrets", n).Msg("sealed secrets an older instance had stored in the clear")
		}
	}
}

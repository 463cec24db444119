package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"github.com/swarmops/swarmops/internal/audit"
	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/config"
	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/httpapi"
	"github.com/swarmops/swarmops/internal/httpx"
	"github.com/swarmops/swarmops/internal/lock"
	locallock "github.com/swarmops/swarmops/internal/lock/local"
	redislock "github.com/swarmops/swarmops/internal/lock/redis"
	"github.com/swarmops/swarmops/internal/store"
	localstore "github.com/swarmops/swarmops/internal/store/local"
	redisstore "github.com/swarmops/swarmops/internal/store/redis"
	"github.com/swarmops/swarmops/internal/swarm"
	"github.com/swarmops/swarmops/internal/version"
)

func newLogger(cfg config.Config, out io.Writer) zerolog.Logger {
	level, _ := zerolog.ParseLevel(cfg.LogLevel)
	if cfg.LogFormat == "console" {
		out = zerolog.ConsoleWriter{Out: out, TimeFormat: time.RFC3339}
	}
	return zerolog.New(out).Level(level).With().Timestamp().Str("instance", cfg.InstanceID).Logger()
}

// openStore opens the configured store and the matching locker.
func openStore(ctx context.Context, cfg config.Config) (store.Store, lock.Locker, error) {
	switch cfg.Store {
	case "redis":
		client, err := redisstore.Connect(ctx, redisstore.ConnOptions{
			URL: cfg.RedisURL, Password: cfg.RedisPassword, Sentinels: cfg.RedisSentinels, Master: cfg.RedisMaster,
		})
		if err != nil {
			return nil, nil, err
		}
		st := redisstore.New(client, redisstore.Options{Prefix: cfg.RedisPrefix, AuditCap: int64(cfg.AuditCap)})
		lk := redislock.New(client, redislock.Options{Prefix: cfg.RedisPrefix + "lock:", Wait: cfg.LockWait})
		return st, lk, nil
	default:
		st, err := localstore.Open(cfg.DataDir, localstore.Options{AuditCap: cfg.AuditCap})
		if err != nil {
			return nil, nil, err
		}
		return st, locallock.New(cfg.LockWait), nil
	}
}

// dialTimeout leaves room to try a few managers within one engine timeout.
func dialTimeout(engine time.Duration) time.Duration {
	return min(3*time.Second, engine/3)
}

// serve runs the server until ctx ends, then drains and stops.
func serve(ctx context.Context, cfg config.Config, stdout io.Writer) error {
	log := newLogger(cfg, stdout)
	log.Info().Str("version", version.Version).Str("commit", version.Commit).Str("config", cfg.String()).Msg("starting")

	st, locker, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	auditLog := audit.New(st, cfg.InstanceID)
	authSvc := auth.NewService(st, auditLog, auth.Options{SessionTTL: cfg.SessionTTL})
	pool := swarm.NewPool(dialTimeout(cfg.EngineTimeout))
	defer pool.Close()
	fleet := swarm.NewFleet(st, pool, locker, auditLog, swarm.Options{EngineTimeout: cfg.EngineTimeout})

	api := httpapi.New(httpapi.Deps{
		Auth: authSvc, Fleet: fleet, Audit: auditLog, Store: st, Metrics: reg,
		Instance: cfg.InstanceID, Version: version.Version, Commit: version.Commit, SessionTTL: cfg.SessionTTL,
	})
	app := httpx.New(httpx.Options{Instance: cfg.InstanceID, TrustedProxies: cfg.TrustedProxies, Log: log})
	app.Use(httpx.Metrics(reg))
	api.Register(app)

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
	log.Info().Str("listen", ln.Addr().String()).Str("store", st.Kind()).Msg("serving")

	bootCtx, stopBoot := context.WithCancel(ctx)
	defer stopBoot()
	go bootstrap(bootCtx, cfg, authSvc, fleet, log)

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Graceful stop: fail readiness at once so balancers move away, keep
	// serving during the drain, then let in-flight requests finish.
	api.Drain()
	log.Info().Dur("drain", cfg.ShutdownDrain).Msg("shutting down: /readyz answers 503, still serving during the drain")
	time.Sleep(cfg.ShutdownDrain)
	stopBoot()
	if err := app.ShutdownWithTimeout(30 * time.Second); err != nil {
		log.Warn().Err(err).Msg("some connections did not finish in 30s")
	}
	log.Info().Msg("stopped")
	return nil
}

// bootstrap creates the first admin and registers the local engine, trying
// again until the store answers (Redis may come up after SwarmOps).
func bootstrap(ctx context.Context, cfg config.Config, a *auth.Service, f *swarm.Fleet, log zerolog.Logger) {
	ctx = log.WithContext(audit.WithActor(ctx, audit.Actor{User: "system"}))
	for delay := time.Second; ; delay = min(2*delay, 30*time.Second) {
		err := ensureAdmin(ctx, cfg, a, log)
		if err == nil {
			break
		}
		log.Warn().Err(err).Dur("retry_in", delay).Msg("cannot create the first admin yet")
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
	if cfg.Autoregister {
		autoregister(ctx, cfg, f, log)
	}
}

func ensureAdmin(ctx context.Context, cfg config.Config, a *auth.Service, log zerolog.Logger) error {
	pw, err := a.EnsureAdmin(ctx, cfg.AdminPassword)
	switch {
	case err != nil:
		return err
	case pw == "":
	case cfg.AdminPassword != "":
		log.Warn().Msg("created user admin with the password from SWARMOPS_ADMIN_PASSWORD")
	default:
		// Shown once, on purpose: there is no other way to learn it.
		log.Warn().Str("username", "admin").Str("password", pw).
			Msg("created user admin with this random password; it is not shown again (reset it with: swarmops user passwd admin)")
	}
	return nil
}

// autoregister registers the local engine as cluster "local" when the
// registry is empty and that engine is a swarm manager.
func autoregister(ctx context.Context, cfg config.Config, f *swarm.Fleet, log zerolog.Logger) {
	ep := cfg.LocalEndpoint
	if path, ok := strings.CutPrefix(ep, "unix://"); ok {
		if _, err := os.Stat(path); err != nil {
			log.Info().Str("endpoint", ep).Msg("autoregister: no local engine socket; nothing registered")
			return
		}
	}
	all, _, err := f.ListClusters(ctx)
	if err != nil {
		log.Warn().Err(err).Msg("autoregister: cannot read the cluster registry")
		return
	}
	if len(all) > 0 {
		return
	}
	_, err = f.AddCluster(ctx, swarm.NewCluster{Name: "local", Endpoint: ep})
	switch {
	case err == nil:
		log.Info().Str("endpoint", ep).Msg("autoregister: registered the local swarm manager as cluster local")
	case errors.Is(err, errs.ErrConflict):
		// Another instance registered it first.
	default:
		log.Info().Str("endpoint", ep).Str("reason", err.Error()).Msg("autoregister: local engine not registered")
	}
}

package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"golang.org/x/term"

	"github.com/swarmops/swarmops/internal/audit"
	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/config"
	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/httpapi"
	"github.com/swarmops/swarmops/internal/httpx"
	"github.com/swarmops/swarmops/internal/idempotency"
	"github.com/swarmops/swarmops/internal/lock"
	locallock "github.com/swarmops/swarmops/internal/lock/local"
	redislock "github.com/swarmops/swarmops/internal/lock/redis"
	"github.com/swarmops/swarmops/internal/registry"
	"github.com/swarmops/swarmops/internal/seal"
	"github.com/swarmops/swarmops/internal/signon"
	"github.com/swarmops/swarmops/internal/state"
	"github.com/swarmops/swarmops/internal/store"
	localstore "github.com/swarmops/swarmops/internal/store/local"
	redisstore "github.com/swarmops/swarmops/internal/store/redis"
	"github.com/swarmops/swarmops/internal/swarm"
	"github.com/swarmops/swarmops/internal/version"
	"github.com/swarmops/swarmops/internal/webui"
)

// NewLogger makes the process logger. The console format is coloured only
// on a terminal: colour codes in a file or a pipe are noise to its reader.
func NewLogger(cfg config.Config, out io.Writer) zerolog.Logger {
	level, _ := zerolog.ParseLevel(cfg.LogLevel)
	if cfg.LogFormat == "console" {
		out = zerolog.ConsoleWriter{Out: out, TimeFormat: time.RFC3339, NoColor: !isTerminal(out)}
	}
	return zerolog.New(out).Level(level).With().Timestamp().Str("instance", cfg.InstanceID).Logger()
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// OpenStore opens the configured store and the matching locker. In
// Sentinel mode the Redis store waits for a replica after each write and
// warns through ctx's logger (zerolog.Ctx) when none had it in time.
func OpenStore(ctx context.Context, cfg config.Config) (store.Store, lock.Locker, error) {
	switch cfg.Store {
	case "redis":
		client, err := redisstore.Connect(redisstore.ConnOptions{
			URL: cfg.RedisURL, Password: cfg.RedisPassword, Sentinels: cfg.RedisSentinels, Master: cfg.RedisMaster,
		})
		if err != nil {
			return nil, nil, err
		}
		log := zerolog.Ctx(ctx)
		// go-redis prints its own plain lines to stderr (a failed dial of
		// each pool connection, during an outage several a second): into
		// the log instead, at most one per redisLogEvery, with how many
		// were left out. Readiness and the store's errors say the rest.
		redisstore.SetLibraryLog(redisLogEvery, func(line string, dropped int) {
			log.Warn().Str("source", "go-redis").Int("lines_left_out", dropped).Msg(line)
		})
		opts := redisstore.Options{Prefix: cfg.RedisPrefix, AuditCap: int64(cfg.AuditCap)}
		if len(cfg.RedisSentinels) > 0 {
			// Only with Sentinel is there a replica that may be promoted
			// with what it has: acknowledge a write once one has it.
			opts.WaitReplicas, opts.WaitTimeout = 1, time.Second
			opts.Unreplicated = func(op string, got int, writes uint64) {
				log.Warn().Str("op", op).Int("replicas", got).Uint64("writes", writes).
					Msg("redis acknowledged writes no replica had after 1s: a failover now would lose them (is the replica down or lagging?)")
			}
		}
		st := redisstore.New(client, opts)
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

// readyCheck bounds the store's answer to a readiness check.
const readyCheck = time.Second

// redisLogEvery bounds how often go-redis's own log lines reach the log.
const redisLogEvery = 10 * time.Second

// dialTimeout leaves room to try a few managers within one engine timeout.
func dialTimeout(engine time.Duration) time.Duration {
	return min(3*time.Second, engine/3)
}

// openSealBox loads SWARMOPS_SECRET_KEY (in local mode, the key file of
// the data directory, made on first start). Without a key (redis mode)
// the box is nil and storing a secret is refused per request.
func openSealBox(cfg config.Config, log zerolog.Logger) (*seal.Box, error) {
	keys, created, err := seal.LoadKey(cfg.SecretKey, cfg.Store, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if created {
		log.Warn().Str("file", filepath.Join(cfg.DataDir, seal.KeyFileName)).
			Msg("made a new secret key for secrets at rest; back it up with the data directory: without it they cannot be read")
	}
	if keys == nil {
		log.Warn().Msg("SWARMOPS_SECRET_KEY is not set: storing a secret (engine TLS key, registry password, stack secret file) is refused")
		return nil, nil
	}
	box, err := seal.New(keys...)
	if err == nil {
		log.Info().Str("key_id", box.KeyID()).Strs("accepted_key_ids", box.KeyIDs()).
			Msg("secrets at rest are sealed with this key (the same on every instance)")
	}
	return box, err
}

// Server is one SwarmOps instance, wired: store, locks, domain, API, UI.
type Server struct {
	Config config.Config
	Log    zerolog.Logger
	Store  store.Store
	Auth   *auth.Service
	Fleet  *swarm.Fleet
	API    *httpapi.API
	UI     *webui.UI
	App    *fiber.App
	pool   *swarm.Pool
	// stopStreams ends open log and event streams at shutdown.
	stopStreams context.CancelFunc
	// raw is the store under Store's sealing, for state.Prepare.
	raw    store.Store
	locker lock.Locker
	box    *seal.Box
	// gate keeps readiness failed until the store's schema is checked.
	gate *stateGate
	// metrics serves /metrics on SWARMOPS_METRICS_LISTEN (nil: on the
	// main listener); metricsLn is its listener.
	metrics   *http.Server
	metricsLn net.Listener
	// notices: see WithNotices (nil: the log only).
	notices io.Writer
	// logs batches the log's lines while serving (nil: written at once).
	logs *logBuffer
}

// Option changes how New wires an instance (tests use them to observe).
type Option func(*options)

type options struct {
	pool []swarm.PoolOption
	// heartbeat is the streams' heartbeat (httpx.StreamLimits.Heartbeat).
	heartbeat time.Duration
	// bcryptCost is auth.Options.BcryptCost.
	bcryptCost int
	// notices, when set, also gets what the operator must see whatever
	// the log level (the first admin's random password).
	notices io.Writer
}

// WithNotices writes what the operator must see whatever the log level
// (the first admin's random password: logged too, but a log filtered to
// errors would hide it) to w, one plain line each. Run passes stderr.
func WithNotices(w io.Writer) Option {
	return func(opts *options) { opts.notices = w }
}

// WithStreamHeartbeat sets how often idle server-sent event streams of
// this instance write a comment (15 s when not set). Tests set it per
// instance: an hour when only the connection may tell that a client left.
func WithStreamHeartbeat(d time.Duration) Option {
	return func(opts *options) { opts.heartbeat = d }
}

// WithBcryptCost sets the cost of password hashes made and checked by this
// instance (bcrypt.DefaultCost when not set). Tests lower it: the race
// detector makes each hash of the default cost take most of a second.
func WithBcryptCost(cost int) Option {
	return func(opts *options) { opts.bcryptCost = cost }
}

// WithPoolOptions passes options to the engine client pool.
func WithPoolOptions(o ...swarm.PoolOption) Option {
	return func(opts *options) { opts.pool = append(opts.pool, o...) }
}

// New wires an instance from cfg. Nothing is served until Serve.
func New(ctx context.Context, cfg config.Config, logOut io.Writer, opts ...Option) (*Server, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	var logs *logBuffer
	if f, ok := logOut.(*os.File); ok && cfg.LogFormat != "console" {
		// The process's own output (not a test's buffer, not a person's
		// console): batched while serving, see logBuffer.
		logs = newLogBuffer(f)
		logOut = logs
	}
	log := NewLogger(cfg, logOut)
	for _, w := range cfg.Warnings {
		log.Warn().Msg(w)
	}
	raw, locker, err := OpenStore(log.WithContext(ctx), cfg)
	if err != nil {
		return nil, err
	}
	box, err := openSealBox(cfg, log)
	if err != nil {
		_ = raw.Close()
		return nil, err
	}
	// The domain sees secrets in the clear; the backend only sealed.
	st := state.Sealing(raw, box)
	gate := newStateGate()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if rs, ok := raw.(*redisstore.Store); ok {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "swarmops_redis_unreplicated_writes_total",
			Help: "Writes Redis acknowledged without a replica having them within the WAIT timeout (Sentinel mode).",
		}, func() float64 { return float64(rs.UnreplicatedWrites()) }))
	}
	auditLog := audit.New(st, cfg.InstanceID)
	authSvc := auth.NewService(st, auditLog, auth.Options{SessionTTL: cfg.SessionTTL, PasswordOff: !cfg.LocalLogin, BcryptCost: o.bcryptCost})
	methods := signOnMethods(cfg, authSvc, st)
	pool := swarm.NewPool(dialTimeout(cfg.EngineTimeout), append([]swarm.PoolOption{swarm.EngineMetrics(reg)}, o.pool...)...)
	registries := registry.NewService(st, auditLog, box)
	fleet := swarm.NewFleet(st, pool, locker, auditLog, swarm.Options{EngineTimeout: cfg.EngineTimeout, StackRevisions: st, Seal: box,
		OperatorBindPaths: cfg.OperatorBindPaths, RegistryAuth: registries.AuthFor})
	ui, err := webui.New(webui.Deps{Auth: authSvc, Fleet: fleet, Registries: registries, Audit: auditLog, Log: log, SignOn: methods})
	if err != nil {
		pool.Close()
		_ = st.Close()
		return nil, err
	}

	stopping, stopStreams := context.WithCancel(context.Background())
	api := httpapi.New(httpapi.Deps{
		Stopping: stopping,
		Auth:     authSvc, Fleet: fleet, Registries: registries, Audit: auditLog, Metrics: reg,
		Replays: idempotency.New(st, box), StoreKind: st.Kind(),
		Ready: func(parent context.Context) error {
			// Bounded, so that readiness says why within a second (a
			// balancer's check gives up soon after) even when Redis
			// accepts connections and never answers.
			ctx, cancel := context.WithTimeout(parent, readyCheck)
			defer cancel()
			if err := st.Ping(ctx); err != nil {
				if ctx.Err() != nil && parent.Err() == nil {
					return errs.Unavailable(nil, "store unavailable: %s did not answer within %s", st.Kind(), readyCheck)
				}
				return err
			}
			return gate.check()
		},
		Instance: cfg.InstanceID, Version: version.Version, Commit: version.Commit, SessionTTL: cfg.SessionTTL,
		SignOn: methods,
	})
	app := httpx.New(httpx.Options{Instance: cfg.InstanceID, TrustedProxies: cfg.TrustedProxies, Log: log,
		Streams: httpx.StreamLimits{PerUser: cfg.StreamsPerUser, PerInstance: cfg.StreamsPerInstance, LogTailMax: cfg.LogTailMax,
			Heartbeat: o.heartbeat}})
	app.Use(httpx.Metrics(reg))
	s := &Server{Config: cfg, Log: log, Store: st, Auth: authSvc, Fleet: fleet, API: api, UI: ui, App: app, pool: pool,
		stopStreams: stopStreams, raw: raw, locker: locker, box: box, gate: gate, notices: o.notices, logs: logs}
	if cfg.MetricsListen != "" {
		// Metrics on their own address only: the main listener answers
		// /metrics as the page that does not exist it then is.
		app.Get("/metrics", func(*fiber.Ctx) error { return fiber.ErrNotFound })
		if err := s.listenMetrics(reg); err != nil {
			s.Close()
			return nil, err
		}
	}
	api.Register(app)
	ui.Register(app) // after the API: its catch-all answers pages that do not exist
	return s, nil
}

// signOnMethods builds the sign-in methods cfg turns on. The OIDC
// provider is not contacted here: an unreachable one must not stop the
// start (its sign-ins answer why until it answers).
func signOnMethods(cfg config.Config, a *auth.Service, st store.LoginStates) signon.Methods {
	m := signon.Methods{Password: cfg.LocalLogin}
	if cfg.OIDCIssuer != "" {
		postLogout := ""
		if cfg.PublicURL != "" {
			postLogout = cfg.PublicURL + "/login"
		}
		m.OIDC = signon.NewOIDC(signon.OIDCConfig{
			Issuer: cfg.OIDCIssuer, ClientID: cfg.OIDCClientID, ClientSecret: cfg.OIDCClientSecret,
			RedirectURL: cfg.OIDCRedirectURL, Scopes: cfg.OIDCScopes, Name: cfg.OIDCName,
			UsernameClaim: cfg.OIDCUsernameClaim, GroupsClaim: cfg.OIDCGroupsClaim,
			PostLogoutURL: postLogout, Policy: cfg.SSOPolicy(),
		}, a, st)
	}
	if cfg.AuthHeader != "" {
		m.Header = &signon.Header{UserHeader: cfg.AuthHeader, GroupsHeader: cfg.AuthGroupsHeader, Policy: cfg.SSOPolicy(), Auth: a}
	}
	return m
}

// listenMetrics opens SWARMOPS_METRICS_LISTEN, served from Serve: exactly
// GET /metrics, nothing else.
func (s *Server) listenMetrics(reg *prometheus.Registry) error {
	ln, err := net.Listen("tcp", s.Config.MetricsListen)
	if err != nil {
		return fmt.Errorf("listen for metrics on %s (SWARMOPS_METRICS_LISTEN): %w", s.Config.MetricsListen, err)
	}
	mux := http.NewServeMux()
	prom := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	mux.Handle("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		prom.ServeHTTP(w, r)
	}))
	s.metricsLn = ln
	s.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second}
	return nil
}

// MetricsAddr answers the address serving /metrics on its own ("" when
// metrics are served on the main listener).
func (s *Server) MetricsAddr() string {
	if s.metricsLn == nil {
		return ""
	}
	return s.metricsLn.Addr().String()
}

// Run listens on the configured address and serves until ctx ends. The
// log goes to logOut, notices (see WithNotices) to notices.
func Run(ctx context.Context, cfg config.Config, logOut, notices io.Writer) error {
	s, err := New(ctx, cfg, logOut, WithNotices(notices))
	if err != nil {
		return err
	}
	s.Log.Info().Str("version", version.Version).Str("commit", version.Commit).Str("config", cfg.String()).Msg("starting")
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		s.Close()
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Close releases the engine clients, the store and the metrics listener,
// and writes out the log's last lines.
func (s *Server) Close() {
	if s.logs != nil {
		defer s.logs.stop()
	}
	if s.metrics != nil {
		_ = s.metrics.Close()
		_ = s.metricsLn.Close()
	}
	s.pool.Close()
	_ = s.Store.Close()
}

// Serve serves on ln until ctx ends, then drains and stops, and closes s.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	defer s.Close()
	if s.logs != nil {
		s.logs.start()
	}
	cfg, log, app, api := s.Config, s.Log, s.App, s.API
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
	log.Info().Str("listen", ln.Addr().String()).Str("store", s.Store.Kind()).Msg("serving")
	if s.metrics != nil {
		go func() {
			if err := s.metrics.Serve(s.metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error().Err(err).Msg("metrics listener stopped")
			}
		}()
		log.Info().Str("metrics_listen", s.MetricsAddr()).Msg("serving /metrics on its own address only")
	}

	bootCtx, stopBoot := context.WithCancel(ctx)
	defer stopBoot()
	prepared := make(chan error, 1)
	go func() {
		// The first admin and the local cluster wait for a store this
		// build may use.
		prepared <- prepareState(bootCtx, s.raw, s.locker, s.box, cfg.InstanceID, s.gate, log, func() {
			go bootstrap(bootCtx, cfg, s.Auth, s.Fleet, log, s.notices)
		})
	}()

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case err := <-prepared:
		if err == nil { // ctx ended
			break
		}
		// This build must not serve this store: stop at once, saying why.
		log.Error().Err(err).Msg("cannot use the store")
		stopBoot()
		s.stopStreams()
		_ = app.ShutdownWithTimeout(5 * time.Second)
		return err
	case <-ctx.Done():
	}
	// Graceful stop: fail readiness at once so balancers move away, keep
	// serving during the drain, then let in-flight requests finish.
	api.Drain()
	log.Info().Dur("drain", cfg.ShutdownDrain).Msg("shutting down: /readyz answers 503, still serving during the drain")
	time.Sleep(cfg.ShutdownDrain)
	stopBoot()
	s.stopStreams()
	if err := app.ShutdownWithTimeout(30 * time.Second); err != nil {
		log.Warn().Err(err).Msg("some connections did not finish in 30s")
	}
	log.Info().Msg("stopped")
	return nil
}

// bootstrapRetryMax bounds the wait between bootstrap attempts: an instance
// must be usable within seconds of Redis answering, however long Redis took
// to come up (one failed attempt costs a refused connection).
const bootstrapRetryMax = 2 * time.Second

// bootstrap creates the first admin and registers the local engine, trying
// again until the store answers (Redis may come up after SwarmOps).
func bootstrap(ctx context.Context, cfg config.Config, a *auth.Service, f *swarm.Fleet, log zerolog.Logger, notices io.Writer) {
	ctx = log.WithContext(audit.WithActor(ctx, audit.Actor{User: "system"}))
	for delay := time.Second; ; delay = min(2*delay, bootstrapRetryMax) {
		err := ensureAdmin(ctx, cfg, a, log, notices)
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

func ensureAdmin(ctx context.Context, cfg config.Config, a *auth.Service, log zerolog.Logger, notices io.Writer) error {
	pw, err := a.EnsureAdmin(ctx, cfg.AdminPassword)
	switch {
	case err != nil:
		return err
	case pw == "":
	case cfg.AdminPassword != "":
		log.Warn().Msg("created user admin with the password from SWARMOPS_ADMIN_PASSWORD")
	default:
		// Shown once, on purpose: there is no other way to learn it. On
		// stderr as well, since SWARMOPS_LOG_LEVEL=error filters the log
		// line out while the admin is created all the same.
		if notices != nil {
			fmt.Fprintf(notices, "swarmops: created user admin with the random password %s (shown once; reset it with: swarmops user passwd admin)\n", pw)
		}
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
	all, err := f.ListClusters(ctx, swarm.Filter{}, false)
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

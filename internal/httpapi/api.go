package httpapi

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swarmops/swarmops/internal/audit"
	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/httpauth"
	"github.com/swarmops/swarmops/internal/idempotency"
	"github.com/swarmops/swarmops/internal/registry"
	"github.com/swarmops/swarmops/internal/signon"
	"github.com/swarmops/swarmops/internal/swarm"
)

// Deps are what the API calls.
type Deps struct {
	Auth  *auth.Service
	Fleet *swarm.Fleet
	// Registries are the private registries.
	Registries *registry.Service
	Audit      *audit.Log
	// Replays keeps answers to Idempotency-Key requests.
	Replays *idempotency.Keeper
	// Ready answers nil while the store serves requests; StoreKind names
	// the store ("local" or "redis").
	Ready     func(ctx context.Context) error
	StoreKind string
	Metrics   prometheus.Gatherer
	Instance  string
	// Version and Commit of the build.
	Version, Commit string
	SessionTTL      time.Duration
	// Stopping ends when the server shuts down; open streams then close.
	Stopping context.Context
	// SignOn are the sign-in methods on offer.
	SignOn signon.Methods
}

// API is the REST API.
type API struct {
	Deps
	guard    *httpauth.Guard
	replays  *idempotency.Keeper
	draining atomic.Bool
}

// New makes the API.
func New(d Deps) *API {
	return &API{Deps: d, guard: httpauth.New(d.Auth, d.Audit, d.SignOn.Header), replays: d.Replays}
}

// Drain makes /readyz answer 503 from now on, so load balancers stop
// sending new requests while in-flight ones finish.
func (a *API) Drain() { a.draining.Store(true) }

// ready reports whether this instance should receive traffic.
func (a *API) ready(ctx context.Context) error {
	if a.draining.Load() {
		return errDraining
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return a.Ready(ctx)
}

func (a *API) stopping() context.Context {
	if a.Stopping == nil {
		return context.Background()
	}
	return a.Stopping
}

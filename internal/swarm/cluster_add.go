package swarm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/lock"
	"github.com/swarmops/swarmops/internal/store"
)

var clusterNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// ValidClusterName checks a cluster name against the API contract.
func ValidClusterName(name string) error {
	if !clusterNameRE.MatchString(name) {
		return errs.Invalid("name", "expected 1-63 lowercase letters, digits or _ . -, starting with a letter or digit")
	}
	return nil
}

var labelKeyRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,127}$`)

// validLabels checks the keys of labels given in field.
func validLabels(field string, labels map[string]string) error {
	for k := range labels {
		if !labelKeyRE.MatchString(k) {
			return errs.Invalid(field, "label key %q: expected letters, digits or _ . - /, up to 128 characters", k)
		}
	}
	return nil
}

// NewCluster is a registration request.
type NewCluster struct {
	Name     string
	Endpoint string
	TLS      *TLS
	Labels   map[string]string
}

func (n NewCluster) validate() error {
	if err := ValidClusterName(n.Name); err != nil {
		return err
	}
	if _, err := validEngine(n.Endpoint, n.TLS, "a manager's engine API, tcp://host:2375, tcp://host:2376 with tls, or unix:///var/run/docker.sock"); err != nil {
		return err
	}
	return validLabels("labels", n.Labels)
}

// validEngine checks the "endpoint" and "tls" fields of a request that
// names an engine; what says what the endpoint should be when it is missing.
func validEngine(endpoint string, t *TLS, what string) (*url.URL, error) {
	if endpoint == "" {
		return nil, errs.Invalid("endpoint", "required: %s", what)
	}
	u, err := ParseEndpoint(endpoint)
	if err != nil {
		return nil, errs.Invalid("endpoint", "%v", err)
	}
	if t != nil {
		if _, err := TLSConfig(t); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// probeEngine asks one engine for /info through a fresh call, translating
// failures into errors that name the input at fault.
func (f *Fleet) probeEngine(ctx context.Context, endpoint string, t *TLS) (system.Info, error) {
	api, release, err := f.pool.Temporary(endpoint, t)
	if err != nil {
		return system.Info{}, err
	}
	defer release()
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	err = f.pool.ready(ctx, api)
	var info system.Info
	if err == nil {
		info, err = api.Info(ctx)
	}
	if err == nil {
		return info, nil
	}
	if ctx.Err() != nil {
		return system.Info{}, errs.Invalid("endpoint", "the engine at %s did not answer within %s", endpoint, f.timeout)
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "x509:") || strings.Contains(msg, "tls:") || strings.Contains(msg, "certificate"):
		return system.Info{}, errs.Invalid("tls", "TLS with %s failed: %s (check the CA, client certificate and key)", endpoint, tlsCause(msg))
	case strings.Contains(msg, "malformed HTTP response") || strings.Contains(msg, "server gave HTTP response to HTTPS client") ||
		strings.Contains(msg, "HTTP request to an HTTPS server"):
		return system.Info{}, errs.Invalid("tls", "the engine at %s and this request disagree on TLS: give tls for a --tlsverify engine (usually port 2376), none for a plain one (2375)", endpoint)
	}
	var ns *notSentError
	if errors.As(err, &ns) || classify(err, false, read) != answered {
		return system.Info{}, errs.Invalid("endpoint", "cannot reach the engine at %s: %s", endpoint, shortCause(err, false))
	}
	return system.Info{}, errs.Invalid("endpoint", "the engine at %s answered an error: %s", endpoint, engineMessage(err))
}

// swarmCall runs call (swarm init, join or leave) against the engine at
// endpoint itself, rather than through a registered cluster's managers.
// These answer only once the raft group has changed, which takes longer
// than an ordinary call: call gets three engine timeouts. failed
// translates call's error; timedOut says that the time ran out.
func (f *Fleet) swarmCall(ctx context.Context, endpoint string, t *TLS, call func(ctx context.Context, api Engine) error,
	failed func(err error, timedOut bool) error) error {
	api, release, err := f.pool.Temporary(endpoint, t)
	if err != nil {
		return err
	}
	defer release()
	cctx, cancel := context.WithTimeout(ctx, swarmCallTimeouts*f.timeout)
	defer cancel()
	err = f.pool.ready(cctx, api)
	if err == nil {
		err = call(cctx, api)
	}
	if err != nil {
		return failed(err, cctx.Err() != nil && ctx.Err() == nil)
	}
	return nil
}

// swarmCallTimeouts is how many engine timeouts a swarmCall gets.
const swarmCallTimeouts = 3

// unanswered is the error of a swarm join or leave (verb, and its -ing
// form) that got no answer from the engine at endpoint: its time ran out
// (advice says what to do then) or the engine stopped answering. It is
// nil when the engine answered, if with an error.
func (f *Fleet) unanswered(err error, timedOut bool, endpoint, verb, verbing, advice string) error {
	switch {
	case timedOut: // sent: it may be done, or be under way
		return errs.MaybeApplied(err, "the engine at %s did not finish %s within %s; %s", endpoint, verbing, swarmCallTimeouts*f.timeout, advice)
	case classify(err, false, write) == notSent:
		return errs.Unavailable(err, "cannot reach the engine at %s: %s", endpoint, shortCause(err, false))
	case !engineAnswered(err):
		return errs.MaybeApplied(err, "the engine at %s stopped answering during the %s, which may have happened: %s", endpoint, verb, shortCause(err, false))
	}
	return nil
}

func tlsCause(msg string) string {
	for _, k := range []string{"x509: ", "tls: "} {
		if i := strings.Index(msg, k); i >= 0 {
			return msg[i:]
		}
	}
	return msg
}

// swarmID answers the swarm's ID; only managers know it (a worker's info
// has no cluster part).
func swarmID(info system.Info) string {
	if info.Swarm.Cluster == nil {
		return ""
	}
	return info.Swarm.Cluster.ID
}

// requireManager checks that info is of a swarm manager.
func requireManager(endpoint string, info system.Info) error {
	if info.Swarm.LocalNodeState != swarm.LocalNodeStateActive {
		return errs.Invalid("endpoint", "the engine at %s is not part of a swarm (state %q); "+
			"use POST /api/v1/clusters/init to make it one", endpoint, info.Swarm.LocalNodeState)
	}
	if !info.Swarm.ControlAvailable {
		return errs.Invalid("endpoint", "the engine at %s is a swarm worker, not a manager; register a manager's endpoint", endpoint)
	}
	return nil
}

// managerEndpoints maps the swarm's managers (info.Swarm.RemoteManagers,
// addresses of the swarm port) to engine endpoints with the scheme and port
// of the one given: tcp://10.0.0.5:2376 and a manager 10.0.0.6:2377 give
// tcp://10.0.0.6:2376. A unix socket reaches only its own engine.
func managerEndpoints(given string, info system.Info) []string {
	out := []string{given}
	u, err := ParseEndpoint(given)
	if err != nil || u.Scheme != "tcp" {
		return out
	}
	givenHost, port, _ := net.SplitHostPort(u.Host)
	peers := slices.Clone(info.Swarm.RemoteManagers)
	slices.SortFunc(peers, func(a, b swarm.Peer) int { return strings.Compare(a.Addr, b.Addr) })
	for _, p := range peers {
		host, _, err := net.SplitHostPort(p.Addr)
		// The answering engine is the one given, whatever name it was
		// given by (a host name, or an address its peers do not use).
		if err != nil || host == givenHost || p.NodeID == info.Swarm.NodeID {
			continue
		}
		ep := "tcp://" + net.JoinHostPort(host, port)
		if !slices.Contains(out, ep) {
			out = append(out, ep)
		}
	}
	return out
}

// AddCluster registers an existing swarm by one manager's endpoint and
// stores its other managers' endpoints too.
func (f *Fleet) AddCluster(ctx context.Context, n NewCluster) (v ClusterView, err error) {
	defer func() { f.audit.Record(ctx, "", "cluster.create", n.Name, n.Endpoint, err) }()
	if err := n.validate(); err != nil {
		return ClusterView{}, err
	}
	if err := f.canStoreTLS(n.TLS); err != nil {
		return ClusterView{}, err
	}
	if _, err := f.store.GetCluster(ctx, n.Name); err == nil {
		return ClusterView{}, errs.Conflict("cluster %q already exists", n.Name)
	} else if !errors.Is(err, errs.ErrNotFound) {
		return ClusterView{}, fmt.Errorf("add cluster %q: %w", n.Name, err)
	}
	info, err := f.probeEngine(ctx, n.Endpoint, n.TLS)
	if err != nil {
		return ClusterView{}, err
	}
	if err := requireManager(n.Endpoint, info); err != nil {
		return ClusterView{}, err
	}
	c, err := f.register(ctx, n, info)
	if err != nil {
		return ClusterView{}, err
	}
	return viewOf(c, false), nil
}

// register stores the swarm that info describes as cluster n. The new
// cluster is not the default: only UpdateCluster sets the mark, on a
// registered cluster, and DeleteCluster takes it away.
func (f *Fleet) register(ctx context.Context, n NewCluster, info system.Info) (store.Cluster, error) {
	id := swarmID(info)
	if id == "" {
		return store.Cluster{}, errs.Engine(nil, "the engine at %s did not tell its swarm's ID", n.Endpoint)
	}
	now := f.now().UTC()
	c := store.Cluster{
		Name: n.Name, Endpoints: managerEndpoints(n.Endpoint, info), TLS: n.TLS.stored(),
		Labels: n.Labels, SwarmID: id, CreatedAt: now, UpdatedAt: now,
	}
	// One registration at a time, through any instance: two names for one
	// swarm are found, not made.
	err := f.withLock(ctx, lock.RegistrationKey, func(ctx context.Context) error {
		if other, err := f.bySwarmID(ctx, id); err != nil {
			return err
		} else if other != "" {
			return errs.Conflict("this swarm is already registered as cluster %q", other)
		}
		if err := f.store.CreateCluster(ctx, c); err != nil {
			return fmt.Errorf("add cluster %q: %w", n.Name, err)
		}
		return nil
	})
	return c, err
}

// bySwarmID answers the name of the cluster registered with swarm ID id,
// "" when there is none.
func (f *Fleet) bySwarmID(ctx context.Context, id string) (string, error) {
	all, err := f.store.ListClusters(ctx)
	if err != nil {
		return "", fmt.Errorf("list clusters: %w", err)
	}
	for _, c := range all {
		if c.SwarmID == id {
			return c.Name, nil
		}
	}
	return "", nil
}

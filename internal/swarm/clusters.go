package swarm

import (
	"context"
	"errors"
	"fmt"
	"maps"
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
	TLS      *store.TLS
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
func validEngine(endpoint string, t *store.TLS, what string) (*url.URL, error) {
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
func (f *Fleet) probeEngine(ctx context.Context, endpoint string, t *store.TLS) (system.Info, error) {
	api, release, err := f.pool.Temporary(endpoint, t)
	if err != nil {
		return system.Info{}, err
	}
	defer release()
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	info, err := api.Info(ctx)
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
func (f *Fleet) AddCluster(ctx context.Context, n NewCluster) (c store.Cluster, err error) {
	defer func() { f.audit.Record(ctx, "", "cluster.create", n.Name, n.Endpoint, err) }()
	if err := n.validate(); err != nil {
		return store.Cluster{}, err
	}
	if _, err := f.store.GetCluster(ctx, n.Name); err == nil {
		return store.Cluster{}, errs.Conflict("cluster %q already exists", n.Name)
	} else if !errors.Is(err, errs.ErrNotFound) {
		return store.Cluster{}, fmt.Errorf("add cluster %q: %w", n.Name, err)
	}
	info, err := f.probeEngine(ctx, n.Endpoint, n.TLS)
	if err != nil {
		return store.Cluster{}, err
	}
	if err := requireManager(n.Endpoint, info); err != nil {
		return store.Cluster{}, err
	}
	return f.register(ctx, n, info)
}

func (f *Fleet) register(ctx context.Context, n NewCluster, info system.Info) (store.Cluster, error) {
	id := swarmID(info)
	if id == "" {
		return store.Cluster{}, errs.Engine(nil, "the engine at %s did not tell its swarm's ID", n.Endpoint)
	}
	if other, err := f.bySwarmID(ctx, id); err != nil {
		return store.Cluster{}, err
	} else if other != "" {
		return store.Cluster{}, errs.Conflict("this swarm is already registered as cluster %q", other)
	}
	now := f.now().UTC()
	c := store.Cluster{
		Name: n.Name, Endpoints: managerEndpoints(n.Endpoint, info), TLS: n.TLS,
		Labels: n.Labels, SwarmID: id, CreatedAt: now, UpdatedAt: now,
	}
	if err := f.store.CreateCluster(ctx, c); err != nil {
		return store.Cluster{}, fmt.Errorf("add cluster %q: %w", n.Name, err)
	}
	return c, nil
}

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

// InitCluster is a request to create a new swarm on an engine.
type InitCluster struct {
	NewCluster
	AdvertiseAddr   string
	ListenAddr      string
	ForceNewCluster bool
}

// InitCluster runs swarm init on an engine that is in no swarm and
// registers the new swarm.
func (f *Fleet) InitCluster(ctx context.Context, in InitCluster) (c store.Cluster, err error) {
	defer func() { f.audit.Record(ctx, "", "cluster.init", in.Name, in.Endpoint, err) }()
	if err := in.validate(); err != nil {
		return store.Cluster{}, err
	}
	if in.AdvertiseAddr == "" {
		return store.Cluster{}, errs.Invalid("advertise_addr", "required: the address other nodes reach this manager at, e.g. 10.0.0.5 or 10.0.0.5:2377")
	}
	if in.ListenAddr == "" {
		in.ListenAddr = "0.0.0.0:2377"
	}
	err = f.withLock(ctx, lock.ClusterKey(in.Name), func(ctx context.Context) error {
		if _, err := f.store.GetCluster(ctx, in.Name); err == nil {
			return errs.Conflict("cluster %q already exists", in.Name)
		} else if !errors.Is(err, errs.ErrNotFound) {
			return fmt.Errorf("init cluster %q: %w", in.Name, err)
		}
		info, err := f.probeEngine(ctx, in.Endpoint, in.TLS)
		if err != nil {
			return err
		}
		if info.Swarm.LocalNodeState != swarm.LocalNodeStateInactive && !in.ForceNewCluster {
			return errs.Conflict("the engine at %s is already part of a swarm (state %q); register it with POST /api/v1/clusters instead", in.Endpoint, info.Swarm.LocalNodeState)
		}
		// force_new_cluster rebuilds the engine's swarm: refuse before,
		// not after, when that swarm is registered already.
		if id := swarmID(info); id != "" {
			if other, err := f.bySwarmID(ctx, id); err != nil {
				return err
			} else if other != "" {
				return errs.Conflict("the engine at %s is a manager of cluster %q, registered already", in.Endpoint, other)
			}
		}
		api, release, err := f.pool.Temporary(in.Endpoint, in.TLS)
		if err != nil {
			return err
		}
		defer release()
		ictx, cancel := context.WithTimeout(ctx, 3*f.timeout)
		defer cancel()
		if _, err := api.SwarmInit(ictx, swarm.InitRequest{
			ListenAddr: in.ListenAddr, AdvertiseAddr: in.AdvertiseAddr, ForceNewCluster: in.ForceNewCluster,
		}); err != nil {
			if ictx.Err() != nil || classify(err, false, write) == noAnswer {
				return maybeApplied(err, "the engine at %s did not answer swarm init in time; it may have made the swarm: "+
					"register it with POST /api/v1/clusters if it did", in.Endpoint)
			}
			return engineError(err)
		}
		if info, err = f.probeEngine(ctx, in.Endpoint, in.TLS); err != nil {
			return err
		}
		c, err = f.register(ctx, in.NewCluster, info)
		return err
	})
	return c, err
}

// ClusterView is a registered cluster as answers show it.
type ClusterView struct {
	store.Cluster
	Default bool
	// Health is set when it was asked for.
	Health *Health
}

// ListClusters answers the registered clusters that f selects, with their
// health probed concurrently when withHealth (the whole costs about one
// probe).
func (f *Fleet) ListClusters(ctx context.Context, flt Filter, withHealth bool) ([]ClusterView, error) {
	all, err := f.store.ListClusters(ctx)
	if err != nil {
		return nil, fmt.Errorf("list clusters: %w", err)
	}
	def, err := f.store.DefaultCluster(ctx)
	if err != nil {
		return nil, fmt.Errorf("list clusters: %w", err)
	}
	var kept []store.Cluster
	for _, c := range all {
		if flt.Match(c.Name, c.Labels) {
			kept = append(kept, c)
		}
	}
	var health map[string]Health
	if withHealth {
		health = f.HealthOfAll(ctx, kept)
	}
	out := make([]ClusterView, len(kept))
	for i, c := range kept {
		out[i] = ClusterView{Cluster: c, Default: c.Name == def}
		if h, ok := health[c.Name]; ok {
			out[i].Health = &h
		}
	}
	return out, nil
}

// GetCluster answers one cluster with its health.
func (f *Fleet) GetCluster(ctx context.Context, name string) (ClusterView, error) {
	c, err := f.cluster(ctx, name)
	if err != nil {
		return ClusterView{}, err
	}
	isDefault, err := f.isDefault(ctx, name)
	if err != nil {
		return ClusterView{}, err
	}
	h := f.health(ctx, c)
	return ClusterView{Cluster: c, Default: isDefault, Health: &h}, nil
}

func (f *Fleet) isDefault(ctx context.Context, name string) (bool, error) {
	def, err := f.store.DefaultCluster(ctx)
	if err != nil {
		return false, fmt.Errorf("cluster %q: default mark: %w", name, err)
	}
	return def == name, nil
}

// ClusterChange is a partial update of a registration.
type ClusterChange struct {
	Endpoints []string
	TLS       *store.TLS
	// ClearTLS removes TLS material (tls: null in the request).
	ClearTLS bool
	Labels   map[string]string
	Default  *bool
}

// UpdateCluster changes a registration and answers it with its default
// mark. New endpoints must reach managers of the same swarm.
func (f *Fleet) UpdateCluster(ctx context.Context, name string, ch ClusterChange) (c store.Cluster, isDefault bool, err error) {
	defer func() { f.audit.Record(ctx, "", "cluster.update", name, "", err) }()
	if ch.Labels != nil {
		if err := validLabels("labels", ch.Labels); err != nil {
			return store.Cluster{}, false, err
		}
	}
	if ch.TLS != nil {
		if _, err := TLSConfig(ch.TLS); err != nil {
			return store.Cluster{}, false, err
		}
	}
	if ch.Endpoints != nil && len(ch.Endpoints) == 0 {
		return store.Cluster{}, false, errs.Invalid("endpoints", "give at least one manager endpoint")
	}
	for i, e := range ch.Endpoints {
		if _, err := ParseEndpoint(e); err != nil {
			return store.Cluster{}, false, errs.Invalid(fmt.Sprintf("endpoints[%d]", i), "%v", err)
		}
	}
	err = f.withLock(ctx, lock.ClusterKey(name), func(ctx context.Context) error {
		old, err := f.cluster(ctx, name)
		if err != nil {
			return err
		}
		c = old
		c.Labels = maps.Clone(old.Labels)
		if ch.Endpoints != nil {
			c.Endpoints = slices.Compact(slices.Clone(ch.Endpoints))
		}
		if ch.ClearTLS {
			c.TLS = nil
		}
		if ch.TLS != nil {
			c.TLS = ch.TLS
		}
		if ch.Labels != nil {
			c.Labels = ch.Labels
		}
		if ch.Endpoints != nil || ch.TLS != nil || ch.ClearTLS {
			if err := f.checkEndpoints(ctx, c); err != nil {
				return err
			}
		}
		c.UpdatedAt = f.now().UTC()
		if err := f.store.UpdateCluster(ctx, c); err != nil {
			return fmt.Errorf("update cluster %q: %w", name, err)
		}
		if ch.Default != nil {
			if err := f.setDefault(ctx, name, *ch.Default); err != nil {
				return err
			}
		}
		f.pool.Forget(old)
		isDefault, err = f.isDefault(ctx, name)
		return err
	})
	return c, isDefault, err
}

func (f *Fleet) setDefault(ctx context.Context, name string, on bool) error {
	cur, err := f.store.DefaultCluster(ctx)
	if err != nil {
		return fmt.Errorf("default cluster: %w", err)
	}
	switch {
	case on:
		err = f.store.SetDefaultCluster(ctx, name)
	case cur == name:
		err = f.store.SetDefaultCluster(ctx, "")
	}
	if err != nil {
		return fmt.Errorf("default cluster: %w", err)
	}
	return nil
}

// checkEndpoints requires at least one endpoint to answer as a manager of
// the registered swarm and none to belong to another swarm.
func (f *Fleet) checkEndpoints(ctx context.Context, c store.Cluster) error {
	var reached bool
	var last error
	for i, e := range c.Endpoints {
		info, err := f.probeEngine(ctx, e, c.TLS)
		if err != nil {
			last = err
			continue
		}
		if id := swarmID(info); id != "" && c.SwarmID != "" && id != c.SwarmID {
			return errs.Invalid(fmt.Sprintf("endpoints[%d]", i), "the engine at %s belongs to another swarm (%s, not %s)", e, id, c.SwarmID)
		}
		if requireManager(e, info) == nil {
			reached = true
		}
	}
	if !reached {
		if last != nil {
			return last
		}
		return errs.Invalid("endpoints", "none of the endpoints is a manager of this swarm")
	}
	return nil
}

// RefreshCluster re-discovers the swarm's managers through any manager
// that answers, keeping known endpoints first, and answers the cluster
// with its default mark.
func (f *Fleet) RefreshCluster(ctx context.Context, name string) (c store.Cluster, isDefault bool, err error) {
	defer func() { f.audit.Record(ctx, "", "cluster.refresh", name, "", err) }()
	err = f.withLock(ctx, lock.ClusterKey(name), func(ctx context.Context) error {
		old, err := f.cluster(ctx, name)
		if err != nil {
			return err
		}
		var info system.Info
		used, err := f.do(ctx, old, read, func(ctx context.Context, api Engine) (err error) {
			if info, err = api.Info(ctx); err != nil {
				return err
			}
			if !info.Swarm.ControlAvailable { // demoted: ask another
				return errNotManager
			}
			return nil
		})
		if err != nil {
			return err
		}
		if id := swarmID(info); old.SwarmID != "" && id != old.SwarmID {
			return errs.Conflict("the engine at %s now belongs to another swarm (%s, registered %s); fix the endpoints", used, id, old.SwarmID)
		}
		found := managerEndpoints(used, info)
		c = old
		c.Endpoints = nil
		for _, e := range old.Endpoints { // keep the known order
			if slices.Contains(found, e) {
				c.Endpoints = append(c.Endpoints, e)
			}
		}
		for _, e := range found {
			if !slices.Contains(c.Endpoints, e) {
				c.Endpoints = append(c.Endpoints, e)
			}
		}
		c.UpdatedAt = f.now().UTC()
		if err := f.store.UpdateCluster(ctx, c); err != nil {
			return fmt.Errorf("refresh cluster %q: %w", name, err)
		}
		isDefault, err = f.isDefault(ctx, name)
		return err
	})
	return c, isDefault, err
}

// DeleteCluster forgets a cluster; the swarm itself is untouched.
func (f *Fleet) DeleteCluster(ctx context.Context, name string) (err error) {
	defer func() { f.audit.Record(ctx, "", "cluster.delete", name, "", err) }()
	return f.withLock(ctx, lock.ClusterKey(name), func(ctx context.Context) error {
		c, err := f.cluster(ctx, name)
		if err != nil {
			return err
		}
		if err := f.store.DeleteCluster(ctx, name); err != nil {
			return fmt.Errorf("delete cluster %q: %w", name, err)
		}
		f.pool.Forget(c)
		return nil
	})
}

// JoinTokens are the secrets a node joins the swarm with.
type JoinTokens struct {
	Worker      string `json:"worker"`
	Manager     string `json:"manager"`
	ManagerAddr string `json:"manager_addr"`
}

// JoinTokens answers the swarm's join tokens and a manager address to
// join at.
func (f *Fleet) JoinTokens(ctx context.Context, name string) (JoinTokens, error) {
	c, err := f.cluster(ctx, name)
	if err != nil {
		return JoinTokens{}, err
	}
	var jt JoinTokens
	_, err = f.do(ctx, c, read, func(ctx context.Context, api Engine) error {
		var err error
		jt, err = joinTokens(ctx, api)
		return err
	})
	return jt, err
}

func joinTokens(ctx context.Context, api Engine) (JoinTokens, error) {
	sw, err := api.SwarmInspect(ctx)
	if err != nil {
		return JoinTokens{}, err
	}
	info, err := api.Info(ctx)
	if err != nil {
		return JoinTokens{}, err
	}
	jt := JoinTokens{Worker: sw.JoinTokens.Worker, Manager: sw.JoinTokens.Manager}
	for _, p := range info.Swarm.RemoteManagers {
		if p.NodeID == info.Swarm.NodeID {
			jt.ManagerAddr = p.Addr
		}
	}
	if jt.ManagerAddr == "" && len(info.Swarm.RemoteManagers) > 0 {
		jt.ManagerAddr = info.Swarm.RemoteManagers[0].Addr
	}
	return jt, nil
}

// RotateJoinToken replaces the worker or manager join token.
func (f *Fleet) RotateJoinToken(ctx context.Context, name, role string) (jt JoinTokens, err error) {
	defer func() { f.audit.Record(ctx, "", "cluster.rotate_join_token", name, role, err) }()
	if role != "worker" && role != "manager" {
		return JoinTokens{}, errs.Invalid("role", "expected worker or manager")
	}
	err = f.withLock(ctx, lock.ClusterKey(name), func(ctx context.Context) error {
		c, err := f.cluster(ctx, name)
		if err != nil {
			return err
		}
		if _, err := f.do(ctx, c, write, func(ctx context.Context, api Engine) error {
			sw, err := api.SwarmInspect(ctx)
			if err != nil {
				return err
			}
			flags := swarm.UpdateFlags{RotateWorkerToken: role == "worker", RotateManagerToken: role == "manager"}
			return api.SwarmUpdate(ctx, sw.Version, sw.Spec, flags)
		}); err != nil {
			return err
		}
		// A separate read: retrying it never rotates twice.
		_, err = f.do(ctx, c, read, func(ctx context.Context, api Engine) (err error) {
			jt, err = joinTokens(ctx, api)
			return err
		})
		return err
	})
	return jt, err
}

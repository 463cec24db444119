package swarm

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"regexp"
	"slices"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// NodeJoin asks an engine that is in no swarm to join the cluster.
type NodeJoin struct {
	// Endpoint is the joining engine's own API, tcp://host:port or unix://.
	Endpoint string
	// TLS for Endpoint; nil: the cluster's TLS material.
	TLS  *TLS
	Role string // worker (default) or manager
	// AdvertiseAddr is the address other nodes reach it at; default: the
	// endpoint's host when that is an IP address.
	AdvertiseAddr string
}

func (j *NodeJoin) validate() error {
	u, err := validEngine(j.Endpoint, j.TLS, "the joining engine's API, e.g. tcp://10.0.0.7:2375")
	if err != nil {
		return err
	}
	switch j.Role {
	case "":
		j.Role = string(swarm.NodeRoleWorker)
	case string(swarm.NodeRoleWorker), string(swarm.NodeRoleManager):
	default:
		return errs.Invalid("role", "expected worker or manager")
	}
	if j.AdvertiseAddr == "" && u.Scheme == "tcp" {
		if host, _, _ := net.SplitHostPort(u.Host); net.ParseIP(host) != nil {
			j.AdvertiseAddr = host
		}
	}
	return validAdvertiseAddr(j.AdvertiseAddr)
}

// validAdvertiseAddr accepts what swarm join does: an IP address or a
// network interface name, with an optional port.
func validAdvertiseAddr(s string) error {
	if s == "" {
		return nil
	}
	host := s
	if h, port, err := net.SplitHostPort(s); err == nil {
		if port == "" {
			return errs.Invalid("advertise_addr", "expected an IP address or interface name, with an optional :port")
		}
		host = h
	}
	if net.ParseIP(host) == nil && !ifaceNameRE.MatchString(host) {
		return errs.Invalid("advertise_addr", "expected an IP address or interface name, with an optional :port, e.g. 10.0.0.7 or eth0")
	}
	return nil
}

var ifaceNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,14}$`)

// joinSettle bounds the wait for a joined node to show in the node list.
const joinSettle = 30 * time.Second

// JoinNode tells the engine at j.Endpoint to join the cluster with the
// swarm's join token, waits until the node is listed with the asked role,
// and, for a manager, stores its endpoint with the cluster's.
func (f *Fleet) JoinNode(ctx context.Context, cluster string, j NodeJoin) (NodeSummary, error) {
	m := mutation{action: "node.join", cluster: cluster, target: j.Endpoint, check: j.validate}
	return mutateLocked(ctx, f, m, func(ctx context.Context, c store.Cluster) (NodeSummary, error) {
		return f.join(ctx, c, j)
	})
}

// join is JoinNode under the cluster's lock.
func (f *Fleet) join(ctx context.Context, c store.Cluster, j NodeJoin) (NodeSummary, error) {
	j.TLS = cmp.Or(j.TLS, tlsOf(c.TLS))
	st, nodes, err := f.engineAndNodes(ctx, c, j.Endpoint, j.TLS)
	if err != nil {
		return NodeSummary{}, err
	}
	if err := checkJoinable(c, j.Endpoint, st, nodes); err != nil {
		return NodeSummary{}, err
	}
	var jt JoinTokens
	if _, err := f.do(ctx, c, read, func(ctx context.Context, api Engine) (err error) {
		jt, err = joinTokens(ctx, api)
		return err
	}); err != nil {
		return NodeSummary{}, err
	}
	if err := f.swarmJoin(ctx, j, jt); err != nil {
		return NodeSummary{}, err
	}
	after, err := f.probeEngine(ctx, j.Endpoint, j.TLS)
	if err != nil {
		return NodeSummary{}, err
	}
	d, err := f.awaitNode(ctx, c, after.Swarm.NodeID, j.Role)
	if err != nil {
		return NodeSummary{}, err
	}
	if j.Role == string(swarm.NodeRoleManager) {
		return d.Summary, f.addManagerEndpoint(ctx, c, j.Endpoint, d.Node)
	}
	return d.Summary, nil
}

// engineAndNodes answers the swarm state of the engine at endpoint and the
// cluster's node list, for a join or a leave to hold the one against the
// other.
func (f *Fleet) engineAndNodes(ctx context.Context, c store.Cluster, endpoint string, t *TLS) (swarm.Info, []swarm.Node, error) {
	info, err := f.probeEngine(ctx, endpoint, t)
	if err != nil {
		return swarm.Info{}, nil, err
	}
	var nodes []swarm.Node
	_, err = f.do(ctx, c, read, func(ctx context.Context, api Engine) (err error) {
		nodes, err = api.NodeList(ctx, swarm.NodeListOptions{})
		return err
	})
	return info.Swarm, nodes, err
}

// checkJoinable refuses an engine that is already in a swarm.
func checkJoinable(c store.Cluster, endpoint string, st swarm.Info, nodes []swarm.Node) error {
	if st.LocalNodeState == swarm.LocalNodeStateInactive {
		return nil
	}
	for _, n := range nodes {
		if n.ID == st.NodeID && st.NodeID != "" {
			return errs.Conflict("the engine at %s is already node %q of cluster %q", endpoint, n.Description.Hostname, c.Name)
		}
	}
	if st.LocalNodeState == swarm.LocalNodeStateActive {
		return errs.Conflict("the engine at %s is part of another swarm; make it leave that swarm first", endpoint)
	}
	return errs.Conflict("the engine at %s is in swarm state %q; make it leave (docker swarm leave --force) before joining it", endpoint, st.LocalNodeState)
}

func (f *Fleet) swarmJoin(ctx context.Context, j NodeJoin, jt JoinTokens) error {
	token := jt.Worker
	if j.Role == string(swarm.NodeRoleManager) {
		token = jt.Manager
	}
	// The engine answers a join only once it has its certificate from a
	// manager.
	return f.swarmCall(ctx, j.Endpoint, j.TLS, func(ctx context.Context, api Engine) error {
		return api.SwarmJoin(ctx, swarm.JoinRequest{
			ListenAddr: "0.0.0.0:2377", AdvertiseAddr: j.AdvertiseAddr,
			RemoteAddrs: []string{jt.ManagerAddr}, JoinToken: token,
		})
	}, func(err error, timedOut bool) error {
		if err := f.unanswered(err, timedOut, j.Endpoint, "join", "joining", "it may still join: check the node list before retrying"); err != nil {
			return err
		}
		return errs.Engine(err, "the engine at %s could not join: %s", j.Endpoint, engineMessage(err))
	})
}

// awaitNode polls the node list until node id has role (and, within the
// same bound, is ready); a node listed with the role but not yet ready is
// answered as it is once the bound passes.
func (f *Fleet) awaitNode(ctx context.Context, c store.Cluster, id, role string) (NodeDetail, error) {
	deadline := time.Now().Add(joinSettle)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		var d NodeDetail
		_, err := f.do(ctx, c, read, func(ctx context.Context, api Engine) (err error) {
			d, err = nodeSummary(ctx, api, c.Name, id)
			return err
		})
		hasRole := err == nil && string(d.Node.Spec.Role) == role &&
			(role != string(swarm.NodeRoleManager) || d.Node.ManagerStatus != nil)
		if hasRole && d.Node.Status.State == swarm.NodeStateReady {
			return d, nil
		}
		if time.Now().After(deadline) {
			if hasRole {
				return d, nil
			}
			if err == nil {
				err = fmt.Errorf("listed as %s, %s", d.Node.Spec.Role, d.Node.Status.State)
			}
			return NodeDetail{}, errs.Unavailable(err, "node %s joined but is not listed as a %s of cluster %q after %s; check the node list", id, role, c.Name, joinSettle)
		}
		select {
		case <-ctx.Done():
			return NodeDetail{}, ctx.Err()
		case <-tick.C:
		}
	}
}

// managerEndpoint answers the engine endpoint of manager n, with the
// scheme and port of the cluster's stored tcp endpoints, as registration
// derives them (managerEndpoints); joined is the fallback.
func managerEndpoint(stored []string, joined string, n swarm.Node) string {
	addr := ""
	if n.ManagerStatus != nil {
		addr, _, _ = net.SplitHostPort(n.ManagerStatus.Addr)
	}
	if addr == "" {
		return joined
	}
	for _, e := range stored {
		if u, err := ParseEndpoint(e); err == nil && u.Scheme == "tcp" {
			_, port, _ := net.SplitHostPort(u.Host)
			return "tcp://" + net.JoinHostPort(addr, port)
		}
	}
	return joined
}

func (f *Fleet) addManagerEndpoint(ctx context.Context, c store.Cluster, joined string, n swarm.Node) error {
	ep := managerEndpoint(c.Endpoints, joined, n)
	if slices.Contains(c.Endpoints, ep) {
		return nil
	}
	c.Endpoints = append(slices.Clone(c.Endpoints), ep)
	c.UpdatedAt = f.now().UTC()
	if err := f.store.UpdateCluster(ctx, c); err != nil {
		return fmt.Errorf("store the new manager's endpoint of cluster %q: %w", c.Name, err)
	}
	return nil
}

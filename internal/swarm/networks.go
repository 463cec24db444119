package swarm

import (
	"cmp"
	"context"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/errs"
)

// NetworkSummary is a swarm-scoped network as lists show it.
type NetworkSummary struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Driver     string            `json:"driver"`
	Scope      string            `json:"scope"`
	Attachable bool              `json:"attachable"`
	Internal   bool              `json:"internal"`
	Ingress    bool              `json:"ingress"`
	Labels     map[string]string `json:"labels"`
	Subnets    []string          `json:"subnets"`
	Gateways   []string          `json:"gateways"`
	CreatedAt  time.Time         `json:"created_at"`
	Stack      string            `json:"stack"`
}

// NetworkDetail is a network with the engine's own object.
type NetworkDetail struct {
	Summary NetworkSummary  `json:"summary"`
	Network network.Inspect `json:"network"`
}

func summarizeNetwork(n network.Inspect) NetworkSummary {
	s := NetworkSummary{
		ID: n.ID, Name: n.Name, Driver: n.Driver, Scope: n.Scope, Attachable: n.Attachable,
		Internal: n.Internal, Ingress: n.Ingress, Labels: n.Labels, Subnets: []string{}, Gateways: []string{},
		CreatedAt: n.Created.UTC(), Stack: n.Labels[StackLabel],
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	for _, c := range n.IPAM.Config {
		if c.Subnet != "" {
			s.Subnets = append(s.Subnets, c.Subnet)
		}
		if c.Gateway != "" {
			s.Gateways = append(s.Gateways, c.Gateway)
		}
	}
	return s
}

// swarmScope lists and inspects only the swarm's own networks: a manager
// also knows its local ones (bridge, host, docker_gwbridge), which differ
// from one manager to the next.
const swarmScope = "swarm"

// ListNetworks answers the cluster's swarm-scoped networks matching flt,
// sorted by name (then ID).
func (f *Fleet) ListNetworks(ctx context.Context, cluster string, flt Filter) ([]NetworkSummary, error) {
	c, err := f.cluster(ctx, cluster)
	if err != nil {
		return nil, err
	}
	list, err := readSnapshot(ctx, f, c, "networks", func(ctx context.Context, api Engine) ([]NetworkSummary, error) {
		out, err := readList(ctx, "/networks", func(ctx context.Context) ([]network.Summary, error) {
			return api.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("scope", swarmScope))})
		}, readNetworkSummary, summarizeNetwork)
		if err != nil {
			return nil, err
		}
		slices.SortFunc(out, CompareNetworks)
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]NetworkSummary, 0, len(list))
	for _, n := range list {
		if flt.Match(n.Name, n.Labels) {
			out = append(out, n)
		}
	}
	return out, nil
}

type networkInspector interface {
	NetworkInspect(ctx context.Context, id string, o network.InspectOptions) (network.Inspect, error)
}

// inspectNetwork finds a swarm network by ID, unique ID prefix or name.
func inspectNetwork(ctx context.Context, api networkInspector, cluster, id string) (network.Inspect, error) {
	n, err := api.NetworkInspect(ctx, id, network.InspectOptions{Scope: swarmScope})
	return n, lookupError(err, "network", id, cluster)
}

// GetNetwork answers one network.
func (f *Fleet) GetNetwork(ctx context.Context, cluster, id string) (NetworkDetail, error) {
	c, err := f.cluster(ctx, cluster)
	if err != nil {
		return NetworkDetail{}, err
	}
	n, err := readSnapshot(ctx, f, c, "network/"+id, func(ctx context.Context, api Engine) (network.Inspect, error) {
		return inspectNetwork(ctx, api, cluster, id)
	})
	return NetworkDetail{Summary: summarizeNetwork(n), Network: n}, err
}

// NewNetwork is a request to create an overlay network.
type NewNetwork struct {
	Name       string
	Driver     string // overlay, the default, is the only driver spanning the swarm
	Attachable bool   // standalone containers may attach too
	Internal   bool   // no traffic leaves the network
	Labels     map[string]string
	Subnet     string // CIDR; empty: the engine picks one
	Gateway    string // an address inside Subnet; empty: the engine picks one
}

// networkNameRE is swarmkit's rule: a DNS name component.
var networkNameRE = regexp.MustCompile(`^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$`)

func (n *NewNetwork) validate() error {
	if !networkNameRE.MatchString(n.Name) || len(n.Name) > 63 {
		return errs.Invalid("name", "expected 1-63 letters and digits, with - or _ between them (a DNS name component)")
	}
	switch n.Driver {
	case "":
		n.Driver = "overlay"
	case "overlay":
	default:
		return errs.Invalid("driver", "expected overlay: the only driver whose networks span the swarm's nodes")
	}
	if err := validLabels("labels", n.Labels); err != nil {
		return err
	}
	return validIPAM(n.Subnet, n.Gateway)
}

// validIPAM checks a subnet in CIDR notation and a gateway inside it.
func validIPAM(subnet, gateway string) error {
	if subnet == "" {
		if gateway != "" {
			return errs.Invalid("gateway", "a gateway needs a subnet: give subnet too")
		}
		return nil
	}
	p, err := netip.ParsePrefix(subnet)
	if err != nil {
		return errs.Invalid("subnet", "expected a network in CIDR notation, e.g. 10.20.0.0/24")
	}
	if p != p.Masked() {
		return errs.Invalid("subnet", "%s has host bits set; the network is %s", subnet, p.Masked())
	}
	if gateway == "" {
		return nil
	}
	gw, err := netip.ParseAddr(gateway)
	if err != nil || gw.Zone() != "" {
		return errs.Invalid("gateway", "expected an IP address, e.g. 10.20.0.1")
	}
	if !p.Contains(gw) {
		return errs.Invalid("gateway", "%s is not inside the subnet %s", gateway, subnet)
	}
	if gw == p.Addr() {
		return errs.Invalid("gateway", "%s is the subnet's network address; pick a host address such as %s", gateway, p.Addr().Next())
	}
	return nil
}

// CreateNetwork creates a swarm-scoped overlay network; a name taken by
// any network the manager knows, local ones included, is a conflict.
func (f *Fleet) CreateNetwork(ctx context.Context, cluster string, n NewNetwork) (s NetworkSummary, err error) {
	err = f.mutate(ctx, mutation{
		action: "network.create", cluster: cluster, kind: "network", target: n.Name,
		check: n.validate,
		write: func(ctx context.Context, api Engine, o *ref) error {
			taken, err := api.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("name", n.Name))})
			if err != nil {
				return err
			}
			for _, t := range taken { // the name filter matches substrings
				if t.Name == n.Name {
					return errs.Conflict("a network named %q already exists in cluster %q (%s, scope %s)", n.Name, cluster, t.ID, t.Scope)
				}
			}
			resp, err := api.NetworkCreate(ctx, n.Name, n.options())
			o.ID = resp.ID
			return err
		},
		reread: func(ctx context.Context, api Engine, o *ref) error {
			created, err := awaitAllocation(ctx, api, cluster, o.ID)
			s = summarizeNetwork(created)
			return err
		},
	})
	return s, err
}

// options are the engine's options for a valid n.
func (n NewNetwork) options() network.CreateOptions {
	opts := network.CreateOptions{
		Driver: n.Driver, Scope: swarmScope, Attachable: n.Attachable, Internal: n.Internal, Labels: n.Labels,
	}
	if n.Subnet != "" {
		opts.IPAM = &network.IPAM{Driver: "default", Config: []network.IPAMConfig{{Subnet: n.Subnet, Gateway: n.Gateway}}}
		if p := netip.MustParsePrefix(n.Subnet); p.Addr().Is6() {
			v6 := true
			opts.EnableIPv6 = &v6
		}
	}
	return opts
}

// awaitAllocation inspects a new network until swarm's allocator has given
// it its driver and subnets (milliseconds, usually), for at most a second;
// before that the engine shows neither.
func awaitAllocation(ctx context.Context, api networkInspector, cluster, id string) (network.Inspect, error) {
	deadline := time.Now().Add(time.Second)
	for {
		n, err := inspectNetwork(ctx, api, cluster, id)
		if err != nil || n.Driver != "" || time.Now().After(deadline) {
			return n, err
		}
		select {
		case <-ctx.Done():
			return n, nil
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// predefinedLabel marks the networks swarm makes itself (host, bridge).
const predefinedLabel = "com.docker.swarm.predefined"

// RemoveNetwork removes a network no service uses; swarm's predefined
// networks stay.
func (f *Fleet) RemoveNetwork(ctx context.Context, cluster, id string) error {
	var n network.Inspect
	return f.mutate(ctx, mutation{
		action: "network.remove", cluster: cluster, kind: "network", target: id,
		resolve: func(ctx context.Context, api Engine) (_ ref, err error) {
			if n, err = inspectNetwork(ctx, api, cluster, id); err == nil && n.Labels[predefinedLabel] == "true" {
				// The engine answers "not found" when asked to remove these.
				err = errs.Conflict("network %q is predefined by swarm and cannot be removed", n.Name)
			}
			return ref{ID: n.ID, Name: n.Name}, err
		},
		write: func(ctx context.Context, api Engine, o *ref) error {
			services, err := api.ServiceList(ctx, swarm.ServiceListOptions{})
			if err != nil {
				return err
			}
			// The engine names one service by ID; name them all.
			if users := servicesOnNetwork(services, n); len(users) > 0 {
				return errs.Conflict("network %q is used by service(s) %s; remove them or take the network out of their specs first",
					n.Name, strings.Join(users, ", "))
			}
			return api.NetworkRemove(ctx, o.ID)
		},
		// Tasks of services just removed may still hold the network.
		refused: refusedAsConflict,
	})
}

// servicesOnNetwork answers the sorted names of the services attached to n.
func servicesOnNetwork(services []swarm.Service, n network.Inspect) []string {
	var users []string
	for _, s := range services {
		nets := s.Spec.TaskTemplate.Networks
		if len(nets) == 0 {
			nets = s.Spec.Networks //nolint:staticcheck // services created by old clients still carry it
		}
		if slices.ContainsFunc(nets, func(a swarm.NetworkAttachmentConfig) bool { return a.Target == n.ID || a.Target == n.Name }) {
			users = append(users, s.Spec.Name)
		}
	}
	slices.Sort(users)
	return users
}

// CompareNetworks is the order of network lists: by name, then ID.
func CompareNetworks(a, b NetworkSummary) int {
	return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID))
}

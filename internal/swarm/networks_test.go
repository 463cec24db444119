package swarm

import (
	"testing"
	"time"

	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/google/go-cmp/cmp"

	"github.com/swarmops/swarmops/internal/errs"
)

func TestNewNetwork_Validate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n     NewNetwork
		field string
	}{
		{"minimal", NewNetwork{Name: "backend"}, ""},
		{"everything", NewNetwork{Name: "b_e-1", Driver: "overlay", Subnet: "10.20.0.0/24", Gateway: "10.20.0.254", Labels: map[string]string{"team": "a"}}, ""},
		{"ipv6", NewNetwork{Name: "v6", Subnet: "fd00:20::/64", Gateway: "fd00:20::1"}, ""},
		{"no name", NewNetwork{}, "name"},
		{"dot", NewNetwork{Name: "a.b"}, "name"},
		{"leading dash", NewNetwork{Name: "-a"}, "name"},
		{"trailing underscore", NewNetwork{Name: "a_"}, "name"},
		{"64 characters", NewNetwork{Name: "a123456789012345678901234567890123456789012345678901234567890123"}, "name"},
		{"bridge", NewNetwork{Name: "a", Driver: "bridge"}, "driver"},
		{"bad label", NewNetwork{Name: "a", Labels: map[string]string{"": "x"}}, "labels"},
		{"not CIDR", NewNetwork{Name: "a", Subnet: "10.20.0.0"}, "subnet"},
		{"prefix too long", NewNetwork{Name: "a", Subnet: "10.20.0.0/33"}, "subnet"},
		{"host bits", NewNetwork{Name: "a", Subnet: "10.20.0.1/24"}, "subnet"},
		{"gateway alone", NewNetwork{Name: "a", Gateway: "10.20.0.1"}, "gateway"},
		{"gateway outside", NewNetwork{Name: "a", Subnet: "10.20.0.0/24", Gateway: "10.21.0.1"}, "gateway"},
		{"gateway of the other family", NewNetwork{Name: "a", Subnet: "10.20.0.0/24", Gateway: "fd00::1"}, "gateway"},
		{"gateway is the network", NewNetwork{Name: "a", Subnet: "10.20.0.0/24", Gateway: "10.20.0.0"}, "gateway"},
		{"gateway not an address", NewNetwork{Name: "a", Subnet: "10.20.0.0/24", Gateway: "router"}, "gateway"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.n.validate()
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tc.n.Driver != "overlay" {
					t.Errorf("driver %q after validation, want overlay", tc.n.Driver)
				}
				return
			}
			if pe, ok := errs.Public(err); !ok || pe.Kind != errs.ErrInvalid || pe.Field != tc.field {
				t.Fatalf("error %v, want invalid %s", err, tc.field)
			}
		})
	}
}

func TestSummarizeNetwork(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	n := network.Inspect{
		ID: "n1", Name: "web_default", Driver: "overlay", Scope: "swarm", Attachable: true, Created: created,
		Labels: map[string]string{StackLabel: "web"},
		IPAM:   network.IPAM{Config: []network.IPAMConfig{{Subnet: "10.0.1.0/24", Gateway: "10.0.1.1"}, {Subnet: "fd00::/64"}}},
	}
	want := NetworkSummary{
		ID: "n1", Name: "web_default", Driver: "overlay", Scope: "swarm", Attachable: true,
		Labels: map[string]string{StackLabel: "web"}, Subnets: []string{"10.0.1.0/24", "fd00::/64"}, Gateways: []string{"10.0.1.1"},
		CreatedAt: created.UTC(), Stack: "web",
	}
	if diff := cmp.Diff(summarizeNetwork(n), want); diff != "" {
		t.Errorf("summary (-got +want):\n%s", diff)
	}
	empty := summarizeNetwork(network.Inspect{ID: "n2"})
	if empty.Labels == nil || empty.Subnets == nil || empty.Gateways == nil {
		t.Errorf("nil maps or slices answer null: %+v", empty)
	}
}

func TestServicesOnNetwork(t *testing.T) {
	attached := func(name string, targets ...string) swarm.Service {
		s := service("id-"+name, name)
		for _, tg := range targets {
			s.Spec.TaskTemplate.Networks = append(s.Spec.TaskTemplate.Networks, swarm.NetworkAttachmentConfig{Target: tg})
		}
		return s
	}
	old := service("id-old", "old")
	old.Spec.Networks = []swarm.NetworkAttachmentConfig{{Target: "net1"}} //nolint:staticcheck // what old clients sent
	services := []swarm.Service{attached("web", "net1"), attached("db", "other"), attached("api", "other", "backend"), old}
	got := servicesOnNetwork(services, network.Inspect{ID: "net1", Name: "backend"})
	if diff := cmp.Diff(got, []string{"api", "old", "web"}); diff != "" {
		t.Errorf("users (-got +want):\n%s", diff)
	}
}

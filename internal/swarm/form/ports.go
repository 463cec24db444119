package form

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/docker/cli/opts/swarmopts"
	"github.com/docker/docker/api/types/swarm"
)

const portSyntax = `expected "[published:]target[/protocol]" like "8080:80" or "53:53/udp", ` +
	`or "mode=host,target=80,published=8081,protocol=tcp"`

// parsePort reads one ports item with the CLI's --publish parser. A range
// ("8000-8001:80-81") gives several configs; they are sorted because the
// parser returns them in map order.
func parsePort(s string) ([]swarm.PortConfig, error) {
	if err := checkItem(s); err != nil {
		return nil, err
	}
	var opt swarmopts.PortOpt
	if err := opt.Set(s); err != nil {
		return nil, err
	}
	ports := opt.Value()
	if len(ports) == 0 {
		return nil, errors.New("no port given")
	}
	for _, p := range ports {
		if p.TargetPort == 0 {
			return nil, errors.New("the target port must be 1-65535")
		}
	}
	slices.SortFunc(ports, func(a, b swarm.PortConfig) int {
		return cmp.Or(
			cmp.Compare(a.TargetPort, b.TargetPort),
			cmp.Compare(a.PublishedPort, b.PublishedPort),
			strings.Compare(string(a.Protocol), string(b.Protocol)),
		)
	})
	return ports, nil
}

// formatPort renders p so that parsePort reads it back: the short form for
// the routing mesh, the long one for host mode (the short form can't say
// mode=host).
func formatPort(p swarm.PortConfig) string {
	proto := cmp.Or(string(p.Protocol), string(swarm.PortConfigProtocolTCP))
	if p.PublishMode == swarm.PortConfigPublishModeHost {
		s := fmt.Sprintf("mode=host,target=%d", p.TargetPort)
		if p.PublishedPort != 0 {
			s += fmt.Sprintf(",published=%d", p.PublishedPort)
		}
		return s + ",protocol=" + proto
	}
	if p.PublishedPort == 0 {
		return fmt.Sprintf("%d/%s", p.TargetPort, proto)
	}
	return fmt.Sprintf("%d:%d/%s", p.PublishedPort, p.TargetPort, proto)
}

// PortStrings summarizes ports for lists, one "published:target/protocol
// (mode)" string each, like "18081:8080/tcp (host)"; a port swarm hasn't
// published yet reads "8080/tcp (ingress)".
func PortStrings(ports []swarm.PortConfig) []string {
	out := make([]string, 0, len(ports))
	for _, p := range ports {
		proto := cmp.Or(string(p.Protocol), string(swarm.PortConfigProtocolTCP))
		mode := cmp.Or(string(p.PublishMode), string(swarm.PortConfigPublishModeIngress))
		s := fmt.Sprintf("%d/%s (%s)", p.TargetPort, proto, mode)
		if p.PublishedPort != 0 {
			s = fmt.Sprintf("%d:%s", p.PublishedPort, s)
		}
		out = append(out, s)
	}
	return out
}

// applyPorts sets the published ports. Swarm refuses the same published
// port twice per protocol, and ingress ports on a dnsrr service; saying so
// here names the item at fault.
func (a *applier) applyPorts(items *[]string) {
	if items == nil {
		return
	}
	type published struct {
		port  uint32
		proto swarm.PortConfigProtocol
	}
	seen := map[published]int{}
	dnsrr := a.spec.EndpointSpec != nil && a.spec.EndpointSpec.Mode == swarm.ResolutionModeDNSRR
	var ports []swarm.PortConfig
	total := 0
	for i, item := range *items {
		field := fmt.Sprintf("ports[%d]", i)
		// The numbers are checked and the ports counted before the CLI's
		// parser expands a range (MaxPortRange, MaxPorts); an invalid
		// item counts too, so that many of them can't cost more.
		err := checkItem(item)
		n := 1
		if err == nil {
			n, err = portCount(item)
		}
		total += max(n, 1)
		if err == nil && total > MaxPorts {
			a.invalid(field, "the ports add up to more than %d; publish fewer or narrower ranges", MaxPorts)
			break
		}
		if err != nil {
			a.invalid(field, "%v; %s", err, portSyntax)
			continue
		}
		got, err := parsePort(item)
		if err != nil {
			a.invalid(field, "%v; %s", err, portSyntax)
			continue
		}
		for _, p := range got {
			if dnsrr && p.PublishMode == swarm.PortConfigPublishModeIngress {
				a.invalid(field, "the service resolves by dnsrr, which can't publish through the routing mesh; publish with mode=host,target=%d", p.TargetPort)
				break
			}
			if p.PublishedPort == 0 {
				continue
			}
			key := published{p.PublishedPort, p.Protocol}
			if j, dup := seen[key]; dup && j != i {
				a.invalid(field, "published port %d/%s is also given by ports[%d]", p.PublishedPort, p.Protocol, j)
				break
			}
			seen[key] = i
		}
		ports = append(ports, got...)
	}
	if a.spec.EndpointSpec == nil {
		if len(ports) == 0 {
			return
		}
		a.spec.EndpointSpec = &swarm.EndpointSpec{}
	}
	a.spec.EndpointSpec.Ports = ports
}

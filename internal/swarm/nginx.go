package swarm

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/errs"
)

// NginxOptions shape the generated configuration.
type NginxOptions struct {
	ServerName string // server_name; "_" when empty
	Listen     int    // listen port; 80 when 0
}

var serverNameRE = regexp.MustCompile(`^[A-Za-z0-9*_.~-]{1,253}$`)

// ServiceNginx answers an nginx upstream and server block that reaches the
// service's running tasks through their published ports, ready to paste.
// A host-mode port is reached on the node of each task; an ingress-mode
// port on every ready node (the routing mesh forwards it). A service that
// publishes no port gets a block for an nginx attached to its overlay
// network instead, with the reason in comments.
func (f *Fleet) ServiceNginx(ctx context.Context, cluster, id string, o NginxOptions) (string, error) {
	if o.ServerName == "" {
		o.ServerName = "_"
	}
	if !serverNameRE.MatchString(o.ServerName) {
		return "", errs.Invalid("server_name", "expected a host name such as app.example.com")
	}
	if o.Listen == 0 {
		o.Listen = 80
	}
	if o.Listen < 1 || o.Listen > 65535 {
		return "", errs.Invalid("listen", "expected a port from 1 to 65535")
	}
	c, err := f.cluster(ctx, cluster)
	if err != nil {
		return "", err
	}
	var (
		s     swarm.Service
		tasks []swarm.Task
		nodes []swarm.Node
	)
	_, err = f.do(ctx, c, read, func(ctx context.Context, api Engine) (err error) {
		if s, err = inspectService(ctx, api, cluster, id); err != nil {
			return err
		}
		tf := filters.NewArgs(filters.Arg("service", s.ID), filters.Arg("desired-state", "running"))
		if tasks, err = api.TaskList(ctx, swarm.TaskListOptions{Filters: tf}); err != nil {
			return err
		}
		nodes, err = api.NodeList(ctx, swarm.NodeListOptions{})
		return err
	})
	if err != nil {
		return "", err
	}
	return nginxConfig(cluster, s, tasks, nodes, o), nil
}

type upstreamPort struct {
	target  uint32
	servers []string
	mode    swarm.PortConfigPublishMode
}

func nginxConfig(cluster string, s swarm.Service, tasks []swarm.Task, nodes []swarm.Node, o NginxOptions) string {
	addr := map[string]string{}
	var ready []string
	for _, n := range nodes {
		addr[n.ID] = nodeAddr(n)
		if n.Status.State == swarm.NodeStateReady && n.Spec.Availability == swarm.NodeAvailabilityActive {
			ready = append(ready, addr[n.ID])
		}
	}
	sort.Strings(ready)
	ports := map[uint32]*upstreamPort{}
	running := 0
	for _, t := range tasks {
		if t.Status.State != swarm.TaskStateRunning {
			continue
		}
		running++
		for _, p := range t.Status.PortStatus.Ports {
			if p.Protocol != swarm.PortConfigProtocolTCP || p.PublishMode != swarm.PortConfigPublishModeHost {
				continue
			}
			up := portEntry(ports, p)
			up.servers = append(up.servers, fmt.Sprintf("%s:%d", addr[t.NodeID], p.PublishedPort))
		}
	}
	for _, p := range s.Endpoint.Ports {
		if p.Protocol == swarm.PortConfigProtocolTCP && p.PublishMode == swarm.PortConfigPublishModeIngress && p.PublishedPort != 0 {
			up := portEntry(ports, p)
			for _, a := range ready {
				up.servers = append(up.servers, fmt.Sprintf("%s:%d", a, p.PublishedPort))
			}
		}
	}
	name := upstreamName(cluster, s.Spec.Name)
	var b strings.Builder
	fmt.Fprintf(&b, "# nginx configuration for service %s of cluster %s (%d running tasks).\n", s.Spec.Name, cluster, running)
	if len(ports) == 0 {
		target := "80"
		fmt.Fprintf(&b, `# The service publishes no TCP port, so nginx cannot reach it from outside the swarm.
# Either publish one (PATCH the service with "ports": ["mode=host,target=%[1]s,published=8080"]),
# or run nginx as a service attached to one of this service's overlay networks
# and let swarm's DNS find the tasks, as below (replace %[1]s with the port the
# service listens on).
server {
    listen %[2]d;
    server_name %[3]s;
    resolver 127.0.0.11 valid=10s ipv6=off;
    set $upstream_%[4]s tasks.%[5]s;
    location / {
        proxy_pass http://$upstream_%[4]s:%[1]s;
%[6]s    }
}
`, target, o.Listen, o.ServerName, name, s.Spec.Name, proxyHeaders)
		return b.String()
	}
	targets := make([]uint32, 0, len(ports))
	for t := range ports {
		targets = append(targets, t)
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i] < targets[j] })
	first := ""
	for _, t := range targets {
		up := ports[t]
		sort.Strings(up.servers)
		up.servers = compactStrings(up.servers)
		uname := fmt.Sprintf("%s_%d", name, t)
		if first == "" {
			first = uname
		}
		fmt.Fprintf(&b, "# Port %d/tcp, published in %s mode.\nupstream %s {\n    least_conn;\n", t, up.mode, uname)
		if len(up.servers) == 0 {
			fmt.Fprintf(&b, "    # no running task publishes this port now; nginx needs at least one server:\n    server 127.0.0.1:9 down;\n")
		}
		for _, srv := range up.servers {
			fmt.Fprintf(&b, "    server %s max_fails=3 fail_timeout=10s;\n", srv)
		}
		b.WriteString("}\n")
	}
	if len(targets) > 1 {
		b.WriteString("# The server block proxies the first port; copy it for the others.\n")
	}
	fmt.Fprintf(&b, `server {
    listen %d;
    server_name %s;
    location / {
        proxy_pass http://%s;
        proxy_next_upstream error timeout http_502 http_503;
%s    }
}
`, o.Listen, o.ServerName, first, proxyHeaders)
	return b.String()
}

const proxyHeaders = `        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
`

func portEntry(ports map[uint32]*upstreamPort, p swarm.PortConfig) *upstreamPort {
	up, ok := ports[p.TargetPort]
	if !ok {
		up = &upstreamPort{target: p.TargetPort, mode: p.PublishMode}
		ports[p.TargetPort] = up
	}
	return up
}

var nonWord = regexp.MustCompile(`[^A-Za-z0-9_]+`)

func upstreamName(cluster, service string) string {
	return nonWord.ReplaceAllString(cluster+"_"+service, "_")
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

package swarm

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/errs"
)

// Host access is an admin privilege (API.md): a service that reaches the
// node's host — a bind mount of a host path, a local volume whose driver
// options bind or mount a host path or device, the host network, added
// capabilities, weakened confinement, a plugin task — runs as root on
// every node it is placed on, with the engine's socket a mount away. An
// operator's create or change whose final spec has such access is refused
// (403, naming the field), except binds under the admin's
// SWARMOPS_OPERATOR_BIND_PATHS.
//
// The check reads the final swarm.ServiceSpec, right before it is sent,
// in the writes of CreateService, UpdateService, SetServiceImage and
// stack deploys and rollbacks: whatever the input was (form, compose
// file), no spec with host access reaches the engine on an operator's
// behalf. Scale, redeploy and rollback are not checked: they keep what
// runs (the same image, command and mounts), and a rollback returns to the
// spec the service had before, which passed this check when it was made
// or was an admin's. Changing anything else of a service with host access
// (its image, env, command, ...) is the admin's: it decides what runs
// with the host.
//
// Namespaced sysctls and ulimits are not host access (the engine takes
// only sysctls of the container's own namespaces), nor are named volumes
// of third-party drivers, whose options only the driver knows: installing
// a volume plugin is the admin's decision of what it may do.

// hostAccess is one part of a spec that reaches the host.
type hostAccess struct {
	field   string // the service form's field ("mounts[0]"), or the spec's
	compose string // the compose file's key ("volumes", "cap_add")
	what    string // what it is, in words
	path    string // a host path SWARMOPS_OPERATOR_BIND_PATHS may allow; "" if none may
}

// defaultCapabilities are the engine's default set: adding one of them
// changes nothing.
var defaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// hostAccesses lists what of spec reaches the host. isHostNetwork answers
// whether a network attachment's target (an ID, a name or an ID prefix, as
// the engine takes them) is the host network.
func hostAccesses(ctx context.Context, spec swarm.ServiceSpec, isHostNetwork func(ctx context.Context, target string) (bool, error)) ([]hostAccess, error) {
	var out []hostAccess
	t := spec.TaskTemplate
	if t.PluginSpec != nil || (t.Runtime != "" && t.Runtime != swarm.RuntimeContainer) {
		out = append(out, hostAccess{field: "task_template.runtime", compose: "runtime",
			what: fmt.Sprintf("a %s task (plugins run with the host's privileges)", cmpOr(string(t.Runtime), "plugin"))})
	}
	if cs := t.ContainerSpec; cs != nil {
		for i, m := range cs.Mounts {
			if a, ok := mountAccess(m); ok {
				a.field, a.compose = fmt.Sprintf("mounts[%d]", i), "volumes"
				out = append(out, a)
			}
		}
		for _, c := range cs.CapabilityAdd {
			name := strings.ToUpper(strings.TrimSpace(c))
			if !strings.HasPrefix(name, "CAP_") {
				name = "CAP_" + name
			}
			if !slices.Contains(defaultCapabilities, name) {
				out = append(out, hostAccess{field: "capability_add", compose: "cap_add", what: fmt.Sprintf("capability %s", c)})
			}
		}
		if p := cs.Privileges; p != nil {
			if p.CredentialSpec != nil {
				out = append(out, hostAccess{field: "privileges.credential_spec", compose: "credential_spec", what: "a credential spec (the node's domain identity)"})
			}
			if s := p.SELinuxContext; s != nil && (s.Disable || s.User != "" || s.Role != "" || s.Type != "" || s.Level != "") {
				out = append(out, hostAccess{field: "privileges.selinux_context", compose: "security_opt", what: "an SELinux context other than the engine's"})
			}
			if s := p.Seccomp; s != nil && s.Mode != "" && s.Mode != swarm.SeccompModeDefault {
				out = append(out, hostAccess{field: "privileges.seccomp", compose: "security_opt", what: fmt.Sprintf("seccomp mode %s", s.Mode)})
			}
			if a := p.AppArmor; a != nil && a.Mode == swarm.AppArmorModeDisabled {
				out = append(out, hostAccess{field: "privileges.apparmor", compose: "security_opt", what: "AppArmor disabled"})
			}
		}
		if cs.OomScoreAdj < 0 {
			out = append(out, hostAccess{field: "oom_score_adj", compose: "oom_score_adj",
				what: fmt.Sprintf("oom_score_adj %d (the node's kernel would kill its other processes first)", cs.OomScoreAdj)})
		}
	}
	nets := t.Networks
	if len(nets) == 0 {
		nets = spec.Networks //nolint:staticcheck // older specs still carry the deprecated list
	}
	for i, n := range nets {
		host, err := isHostNetwork(ctx, n.Target)
		if err != nil {
			return nil, err
		}
		if host {
			out = append(out, hostAccess{field: fmt.Sprintf("networks[%d]", i), compose: "networks", what: "the host network (the node's own interfaces and ports)"})
		}
	}
	return out, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// mountAccess says whether m reaches the host: a bind (of its source), a
// named pipe of the host, or a volume of the local driver whose options
// make it a bind of a host path or a mount of a host device.
func mountAccess(m mount.Mount) (hostAccess, bool) {
	switch m.Type {
	case mount.TypeBind:
		return hostAccess{what: fmt.Sprintf("a bind mount of host path %s", m.Source), path: m.Source}, true
	case mount.TypeNamedPipe:
		return hostAccess{what: fmt.Sprintf("the host's named pipe %s", m.Source)}, true
	case mount.TypeVolume:
		v := m.VolumeOptions
		if v == nil || v.DriverConfig == nil || (v.DriverConfig.Name != "" && v.DriverConfig.Name != "local") {
			return hostAccess{}, false
		}
		opts := v.DriverConfig.Options
		device, typ := opts["device"], opts["type"]
		binds := typ == "none" || typ == "bind" || typ == "rbind"
		for _, o := range strings.Split(opts["o"], ",") {
			if o = strings.TrimSpace(o); o == "bind" || o == "rbind" {
				binds = true
			}
		}
		if binds {
			return hostAccess{what: fmt.Sprintf("a volume binding host path %s (volume-opt device, o=bind or type=none)", cmpOr(device, `""`)), path: device}, true
		}
		// A remote file system names its server ("//server/share",
		// "host:/export", "addr=..."); a device path is the node's own.
		if strings.HasPrefix(device, "/") && !strings.HasPrefix(device, "//") {
			return hostAccess{what: fmt.Sprintf("a volume mounting host device %s", device)}, true
		}
	}
	return hostAccess{}, false
}

// bindAllowed reports whether host path p is under one of the allowed
// prefixes, compared by whole path elements on the clean path, so that
// /srv/data-evil is not under /srv/data and /srv/data/../../etc is /etc.
func bindAllowed(p string, allowed []string) bool {
	if p == "" || !path.IsAbs(p) || strings.Contains(p, `\`) {
		return false
	}
	clean := path.Clean(p)
	for _, prefix := range allowed {
		if clean == prefix || strings.HasPrefix(clean, prefix+"/") {
			return true
		}
	}
	return false
}

// MayReachHost reports whether role may create or change services that
// reach the host: admins only.
func MayReachHost(role auth.Role) bool { return role == auth.Admin }

// hostAccessError answers the refusal of a's use by role, or nil when
// role may use it.
func hostAccessError(role auth.Role, a hostAccess, allowed []string) *errs.Error {
	if MayReachHost(role) || (a.path != "" && bindAllowed(a.path, allowed)) {
		return nil
	}
	hint := ""
	if a.path != "" {
		if len(allowed) == 0 {
			hint = "; SWARMOPS_OPERATOR_BIND_PATHS allows operators no host paths"
		} else {
			hint = fmt.Sprintf("; SWARMOPS_OPERATOR_BIND_PATHS allows operators paths under %s", strings.Join(allowed, ", "))
		}
	}
	role = auth.Role(cmpOr(string(role), "unknown"))
	return &errs.Error{Kind: errs.ErrForbidden, Field: a.field,
		Message: fmt.Sprintf("%s is host access, which only an admin may give a service (this caller is %s)%s", a.what, role, hint)}
}

// hostNetworks answers whether a network target is the host network,
// through the engine, remembering its answers.
func hostNetworks(api Engine) func(ctx context.Context, target string) (bool, error) {
	known := map[string]bool{}
	return func(ctx context.Context, target string) (bool, error) {
		if host, ok := known[target]; ok {
			return host, nil
		}
		n, err := api.NetworkInspect(ctx, target, network.InspectOptions{})
		if cerrdefs.IsNotFound(err) {
			return false, nil // the engine refuses the spec itself
		}
		if err != nil {
			return false, err
		}
		known[target] = n.Driver == "host"
		return known[target], nil
	}
}

// checkHostAccess refuses spec when role may not give a service what of
// it reaches the host; the error names the first such field.
func (f *Fleet) checkHostAccess(ctx context.Context, api Engine, role auth.Role, spec swarm.ServiceSpec) error {
	if MayReachHost(role) {
		return nil
	}
	found, err := hostAccesses(ctx, spec, hostNetworks(api))
	if err != nil {
		return err
	}
	for _, a := range found {
		if e := hostAccessError(role, a, f.bindPaths); e != nil {
			return e
		}
	}
	return nil
}

// stackHostAccessCheck answers the check a stack deploy makes of each
// service spec before it writes anything and again before each write: the
// refusal names the compose file's service and key.
func (f *Fleet) stackHostAccessCheck(api Engine, role auth.Role) func(ctx context.Context, spec swarm.ServiceSpec) error {
	if MayReachHost(role) {
		return nil
	}
	isHost := hostNetworks(api)
	return func(ctx context.Context, spec swarm.ServiceSpec) error {
		found, err := hostAccesses(ctx, spec, isHost)
		if err != nil {
			return err
		}
		for _, a := range found {
			if e := hostAccessError(role, a, f.bindPaths); e != nil {
				e.Field = "compose"
				e.Message = fmt.Sprintf("service %s: %s: %s", spec.Name, a.compose, e.Message)
				return e
			}
		}
		return nil
	}
}

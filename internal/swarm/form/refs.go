package form

import (
	"encoding/csv"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/docker/cli/opts/swarmopts"
	"github.com/docker/docker/api/types/swarm"
	"github.com/swarmops/swarmops/internal/errs"
)

const (
	networkSyntax = `expected a network name like "backend" or "name=backend,alias=web,driver-opt=key=value"`
	secretSyntax  = `expected a secret name like "db_pw" or "source=db_pw,target=/run/secrets/db_pw,uid=0,gid=0,mode=0400"`
	configSyntax  = `expected a config name like "app_cfg" or "source=app_cfg,target=/etc/app.conf,uid=0,gid=0,mode=0444"`
)

// parseNetwork reads one networks item in --network's syntax. The CLI's
// parser lowercases names and aliases and takes container-only fields
// (ip, mac-address) it then drops for services, so this one is our own.
// Target holds the name until Apply resolves it.
func parseNetwork(s string) (swarm.NetworkAttachmentConfig, error) {
	var n swarm.NetworkAttachmentConfig
	if err := checkItem(s); err != nil {
		return n, err
	}
	if !strings.Contains(s, "=") {
		n.Target = s
		return n, nil
	}
	fields, err := csv.NewReader(strings.NewReader(s)).Read()
	if err != nil {
		return n, err
	}
	for _, f := range fields {
		key, val, ok := strings.Cut(f, "=")
		if !ok {
			return n, fmt.Errorf("field %s is not key=value", quoteInput(f))
		}
		switch key := strings.ToLower(strings.TrimSpace(key)); key {
		case "name":
			n.Target = val
		case "alias":
			if val == "" {
				return n, errors.New("alias is empty")
			}
			n.Aliases = append(n.Aliases, val)
		case "driver-opt":
			k, v, ok := strings.Cut(val, "=")
			if !ok || k == "" {
				return n, fmt.Errorf("driver-opt %s is not key=value", quoteInput(val))
			}
			if n.DriverOpts == nil {
				n.DriverOpts = map[string]string{}
			}
			n.DriverOpts[k] = v
		case "ip", "ip6", "link-local-ip", "mac-address", "gw-priority":
			return n, fmt.Errorf("%s can't be set for a service (swarm assigns it per task)", key)
		default:
			return n, fmt.Errorf("unknown field %s (name, alias and driver-opt are)", quoteInput(key))
		}
	}
	if n.Target == "" {
		return n, errors.New("name is required")
	}
	return n, nil
}

// formatNetwork renders an attachment whose Target is the network's name.
func formatNetwork(n swarm.NetworkAttachmentConfig) string {
	if len(n.Aliases) == 0 && len(n.DriverOpts) == 0 {
		return n.Target
	}
	f := []string{"name=" + n.Target}
	for _, a := range n.Aliases {
		f = append(f, "alias="+a)
	}
	for _, k := range slices.Sorted(maps.Keys(n.DriverOpts)) {
		f = append(f, "driver-opt="+k+"="+n.DriverOpts[k])
	}
	return joinCSV(f)
}

func parseSecret(s string) (*swarm.SecretReference, error) {
	if err := checkItem(s); err != nil {
		return nil, err
	}
	var opt swarmopts.SecretOpt
	if err := opt.Set(s); err != nil {
		return nil, err
	}
	return opt.Value()[0], nil
}

func parseConfig(s string) (*swarm.ConfigReference, error) {
	if err := checkItem(s); err != nil {
		return nil, err
	}
	var opt swarmopts.ConfigOpt
	if err := opt.Set(s); err != nil {
		return nil, err
	}
	return opt.Value()[0], nil
}

// formatFileRef renders a secret or config reference in --secret/--config
// syntax, leaving out what the parser defaults (target = source, uid and
// gid 0, mode 0444).
func formatFileRef(source, target, uid, gid string, mode os.FileMode) string {
	if target == source && uid == "0" && gid == "0" && mode == 0o444 {
		return source
	}
	f := []string{"source=" + source}
	if target != source {
		f = append(f, "target="+target)
	}
	if uid != "0" {
		f = append(f, "uid="+uid)
	}
	if gid != "0" {
		f = append(f, "gid="+gid)
	}
	if mode != 0o444 {
		f = append(f, fmt.Sprintf("mode=%#o", uint32(mode)))
	}
	return joinCSV(f)
}

// parseReferences checks the syntax of networks, secrets and configs; the
// names are resolved by resolve once everything else is valid, so a bad
// form costs no engine lookups.
func (a *applier) parseReferences(f *Service) {
	if f.Networks != nil {
		names := map[string]int{}
		nets := []swarm.NetworkAttachmentConfig{}
		for i, item := range *f.Networks {
			field := fmt.Sprintf("networks[%d]", i)
			n, err := parseNetwork(item)
			if err != nil {
				a.invalid(field, "%v; %s", err, networkSyntax)
				continue
			}
			if j, dup := names[n.Target]; dup {
				a.invalid(field, "network %s is also given by networks[%d]", quoteInput(n.Target), j)
				continue
			}
			names[n.Target] = i
			nets = append(nets, n)
		}
		a.networks = &nets
	}
	if f.Secrets != nil {
		targets := map[string]int{}
		refs := []*swarm.SecretReference{}
		for i, item := range *f.Secrets {
			field := fmt.Sprintf("secrets[%d]", i)
			r, err := parseSecret(item)
			if err != nil {
				a.invalid(field, "%v; %s", err, secretSyntax)
				continue
			}
			if j, dup := targets[r.File.Name]; dup {
				a.invalid(field, "target %s is also used by secrets[%d]", quoteInput(r.File.Name), j)
				continue
			}
			targets[r.File.Name] = i
			refs = append(refs, r)
		}
		a.secrets = &refs
	}
	if f.Configs != nil {
		targets := map[string]int{}
		refs := []*swarm.ConfigReference{}
		for i, item := range *f.Configs {
			field := fmt.Sprintf("configs[%d]", i)
			r, err := parseConfig(item)
			if err != nil {
				a.invalid(field, "%v; %s", err, configSyntax)
				continue
			}
			if j, dup := targets[r.File.Name]; dup {
				a.invalid(field, "target %s is also used by configs[%d]", quoteInput(r.File.Name), j)
				continue
			}
			targets[r.File.Name] = i
			refs = append(refs, r)
		}
		a.configs = &refs
	}
}

// resolve looks up the referenced names and writes the references into the
// spec. A name that doesn't exist is a problem on its field; a failed
// lookup is returned.
func (a *applier) resolve(refs Refs) error {
	if a.networks == nil && a.secrets == nil && a.configs == nil {
		return nil
	}
	if refs == nil {
		return errors.New("form: networks, secrets or configs given without a Refs to resolve them")
	}
	if a.networks != nil {
		nets := *a.networks
		ids := map[string]int{}
		for i := range nets {
			field := fmt.Sprintf("networks[%d]", i)
			id, err := a.lookup(field, "network", nets[i].Target, refs.NetworkID)
			if err != nil {
				return err
			}
			if j, dup := ids[id]; dup && id != "" {
				a.invalid(field, "network %s is networks[%d] again (by name and by ID)", quoteInput(nets[i].Target), j)
			}
			ids[id] = i
			nets[i].Target = id
		}
		a.spec.TaskTemplate.Networks = nilIfEmpty(nets)
		// The deprecated per-service list would otherwise be merged back in
		// by older engines.
		a.spec.Networks = nil //nolint:staticcheck // clearing the deprecated field is the point
	}
	if a.secrets != nil {
		secrets := *a.secrets
		for i, r := range secrets {
			id, err := a.lookup(fmt.Sprintf("secrets[%d]", i), "secret", r.SecretName, refs.SecretID)
			if err != nil {
				return err
			}
			r.SecretID = id
		}
		a.container().Secrets = nilIfEmpty(secrets)
	}
	if a.configs != nil {
		configs := *a.configs
		for i, r := range configs {
			id, err := a.lookup(fmt.Sprintf("configs[%d]", i), "config", r.ConfigName, refs.ConfigID)
			if err != nil {
				return err
			}
			r.ConfigID = id
		}
		// A config used as a credential spec (a runtime target) belongs to
		// the privileges, which the form doesn't cover: keep it.
		if cs := a.spec.TaskTemplate.ContainerSpec; cs != nil {
			for _, r := range cs.Configs {
				if r != nil && r.Runtime != nil {
					configs = append(configs, r)
				}
			}
		}
		a.container().Configs = nilIfEmpty(configs)
	}
	return nil
}

// lookup resolves one name. A missing object, or a name the resolver calls
// invalid, becomes a problem on field (and an empty id, never sent since
// Apply then fails).
func (a *applier) lookup(field, kind, name string, find func(string) (string, error)) (string, error) {
	id, err := find(name)
	switch {
	case err == nil && id != "":
		return id, nil
	case err == nil || errors.Is(err, errs.ErrNotFound):
		a.invalid(field, "%s %s not found", kind, quoteInput(name))
		return "", nil
	case errors.Is(err, errs.ErrInvalid): // an ambiguous ID prefix, say
		msg := err.Error()
		if pe, ok := errs.Public(err); ok {
			msg = pe.Message
		}
		a.invalid(field, "%s %s: %s", kind, quoteInput(name), msg)
		return "", nil
	default:
		return "", fmt.Errorf("look up %s %q: %w", kind, name, err)
	}
}

func nilIfEmpty[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return s
}

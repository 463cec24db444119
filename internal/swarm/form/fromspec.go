package form

import (
	"maps"
	"slices"

	"github.com/docker/docker/api/types/swarm"
)

// FromSpec returns the form that reproduces spec, for a UI's "edit" and
// the service's GET: Apply of the result onto an empty spec gives spec back.
// A nested object is given whole when the spec has it, so that Apply
// doesn't fill in defaults instead. What the form can't express (endpoint
// mode, log driver, privileges, a port's name, runtime-target configs, ...)
// is left out; Apply keeps it on an update. names may be nil: networks are
// then shown by ID.
func FromSpec(spec swarm.ServiceSpec, names Names) Service {
	var f Service
	if spec.Name != "" {
		f.Name = new(spec.Name)
	}
	if mode := modeOf(spec.Mode); mode != "" {
		f.Mode = &mode
	}
	if r := spec.Mode.Replicated; r != nil && r.Replicas != nil {
		f.Replicas = new(*r.Replicas)
	}
	f.Labels = mapOrNil(spec.Labels)
	if e := spec.EndpointSpec; e != nil && len(e.Ports) > 0 {
		ports := make([]string, len(e.Ports))
		for i, p := range e.Ports {
			ports[i] = formatPort(p)
		}
		f.Ports = &ports
	}

	t := spec.TaskTemplate
	if cs := t.ContainerSpec; cs != nil {
		fromContainerSpec(&f, cs)
	}
	nets := t.Networks
	if len(nets) == 0 {
		nets = spec.Networks //nolint:staticcheck // services created by old clients still carry it
	}
	if len(nets) > 0 {
		items := make([]string, len(nets))
		for i, n := range nets {
			if names != nil {
				n.Target = names.NetworkName(n.Target)
			}
			items[i] = formatNetwork(n)
		}
		f.Networks = &items
	}
	if p := t.Placement; p != nil {
		f.Constraints = sliceOrNil(p.Constraints)
		var prefs []string
		for _, pref := range p.Preferences {
			if pref.Spread != nil {
				prefs = append(prefs, "spread="+pref.Spread.SpreadDescriptor)
			}
		}
		f.PlacementPrefs = sliceOrNil(prefs)
	}
	if r := t.Resources; r != nil && (r.Limits != nil || r.Reservations != nil) {
		f.Resources = &Resources{}
		if l := r.Limits; l != nil {
			f.Resources.LimitCPUs = new(formatCPUs(l.NanoCPUs))
			f.Resources.LimitMemory = new(formatMemory(l.MemoryBytes))
		}
		if rv := r.Reservations; rv != nil {
			f.Resources.ReserveCPUs = new(formatCPUs(rv.NanoCPUs))
			f.Resources.ReserveMemory = new(formatMemory(rv.MemoryBytes))
		}
	}
	f.UpdateConfig = fromUpdateConfig(spec.UpdateConfig)
	f.RollbackConfig = fromUpdateConfig(spec.RollbackConfig)
	if r := t.RestartPolicy; r != nil {
		f.RestartPolicy = &RestartPolicy{Condition: new(string(r.Condition))}
		if r.Delay != nil {
			f.RestartPolicy.Delay = new(formatDuration(*r.Delay))
		}
		if r.Window != nil {
			f.RestartPolicy.Window = new(formatDuration(*r.Window))
		}
		if r.MaxAttempts != nil {
			f.RestartPolicy.MaxAttempts = new(*r.MaxAttempts)
		}
	}
	return f
}

func fromContainerSpec(f *Service, cs *swarm.ContainerSpec) {
	if cs.Image != "" {
		f.Image = new(cs.Image)
	}
	f.Command = sliceOrNil(cs.Command)
	f.Args = sliceOrNil(cs.Args)
	f.Env = sliceOrNil(cs.Env)
	f.ContainerLabels = mapOrNil(cs.Labels)
	if len(cs.Mounts) > 0 {
		mounts := make([]string, len(cs.Mounts))
		for i, m := range cs.Mounts {
			mounts[i] = formatMount(m)
		}
		f.Mounts = &mounts
	}
	var secrets []string
	for _, s := range cs.Secrets {
		if s != nil && s.File != nil {
			secrets = append(secrets, formatFileRef(s.SecretName, s.File.Name, s.File.UID, s.File.GID, s.File.Mode))
		}
	}
	f.Secrets = sliceOrNil(secrets)
	var configs []string
	for _, c := range cs.Configs {
		if c != nil && c.File != nil {
			configs = append(configs, formatFileRef(c.ConfigName, c.File.Name, c.File.UID, c.File.GID, c.File.Mode))
		}
	}
	f.Configs = sliceOrNil(configs)
	if h := cs.Healthcheck; h != nil {
		f.Healthcheck = &Healthcheck{
			Test:        sliceOrNil(h.Test),
			Interval:    new(formatDuration(h.Interval)),
			Timeout:     new(formatDuration(h.Timeout)),
			Retries:     new(h.Retries),
			StartPeriod: new(formatDuration(h.StartPeriod)),
		}
	}
	if cs.Hostname != "" {
		f.Hostname = new(cs.Hostname)
	}
	if cs.User != "" {
		f.User = new(cs.User)
	}
	if cs.Dir != "" {
		f.Workdir = new(cs.Dir)
	}
	if cs.StopGracePeriod != nil {
		f.StopGracePeriod = new(formatDuration(*cs.StopGracePeriod))
	}
	if cs.ReadOnly {
		f.ReadOnly = new(true)
	}
}

func fromUpdateConfig(u *swarm.UpdateConfig) *UpdateConfig {
	if u == nil {
		return nil
	}
	return &UpdateConfig{
		Parallelism:     new(u.Parallelism),
		Delay:           new(formatDuration(u.Delay)),
		FailureAction:   new(u.FailureAction),
		Order:           new(u.Order),
		Monitor:         new(formatDuration(u.Monitor)),
		MaxFailureRatio: new(u.MaxFailureRatio),
	}
}

// sliceOrNil returns a copy of s, or nil (not given) when s is empty.
func sliceOrNil(s []string) *[]string {
	if len(s) == 0 {
		return nil
	}
	c := slices.Clone(s)
	return &c
}

func mapOrNil(m map[string]string) *map[string]string {
	if len(m) == 0 {
		return nil
	}
	c := maps.Clone(m)
	return &c
}

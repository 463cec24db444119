package form

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/swarm"
	"github.com/swarmops/swarmops/internal/errs"
)

// Modes of a service, as the form spells them. The job modes are only ever
// reported by FromSpec: the form creates replicated and global services.
const (
	ModeReplicated    = "replicated"
	ModeGlobal        = "global"
	ModeReplicatedJob = "replicated-job"
	ModeGlobalJob     = "global-job"
)

// StackLabelPrefix starts the labels docker stack deploy sets; Apply keeps
// them when it replaces a label map that doesn't mention them.
const StackLabelPrefix = "com.docker.stack."

// Apply validates every field given in f and writes it onto spec. The spec
// is the current one of the service for an update and an empty one for a
// create; fields f doesn't give are left as they are, including what the
// form can't express.
//
// A list longer than its limit (limits.go) is refused before any item of
// the form is parsed. When a field is invalid, Apply returns an *errs.Error of kind
// errs.ErrInvalid naming the first such field (its Details["fields"] maps
// every invalid field to its message) and spec is left untouched. refs
// resolves network, secret and config names; it is only called when the
// rest of the form is valid, and an error it returns other than not found
// is returned as it is.
func (f *Service) Apply(spec *swarm.ServiceSpec, refs Refs) error {
	if err := f.checkSizes(); err != nil {
		return err
	}
	a := &applier{spec: editable(*spec)}
	a.applyIdentity(f)
	a.applyForm(f)
	if err := a.err(); err != nil {
		return err
	}
	if err := a.resolve(refs); err != nil {
		return err
	}
	if err := a.err(); err != nil {
		return err
	}
	*spec = a.spec
	return nil
}

// applyForm parses every field of f but the identity into a.spec,
// collecting errors; references are parsed, not resolved.
func (a *applier) applyForm(f *Service) {
	a.applyContainer(f)
	a.applyPorts(f.Ports)
	a.applyMounts(f.Mounts)
	a.applyPlacement(f.Constraints, f.PlacementPrefs)
	a.applyResources(f.Resources)
	a.applyUpdateConfig("update_config", f.UpdateConfig, &a.spec.UpdateConfig)
	a.applyUpdateConfig("rollback_config", f.RollbackConfig, &a.spec.RollbackConfig)
	a.applyRestartPolicy(f.RestartPolicy)
	a.applyHealthcheck(f.Healthcheck)
	a.parseReferences(f)
}

// ValidateCreate reports what a create needs beyond a valid form: an image.
// A missing name is fine; the engine then picks one, as for docker service
// create.
func (f *Service) ValidateCreate() error {
	if f.Image == nil || *f.Image == "" {
		return errs.Invalid("image", "image is required")
	}
	return nil
}

// Spec returns the spec of a new service made from f: ValidateCreate, then
// Apply onto an empty spec.
func (f *Service) Spec(refs Refs) (swarm.ServiceSpec, error) {
	var spec swarm.ServiceSpec
	if err := f.ValidateCreate(); err != nil {
		return spec, err
	}
	if err := f.Apply(&spec, refs); err != nil {
		return spec, err
	}
	return spec, nil
}

// applier holds a private copy of the spec being changed and the problems
// found so far.
type applier struct {
	spec     swarm.ServiceSpec
	problems []*errs.Error

	// References parsed but not yet resolved; Target, SecretName and
	// ConfigName hold the names. nil when not given.
	networks *[]swarm.NetworkAttachmentConfig
	secrets  *[]*swarm.SecretReference
	configs  *[]*swarm.ConfigReference
}

func (a *applier) invalid(field, format string, args ...any) {
	a.problems = append(a.problems, errs.Invalid(field, format, args...))
}

// err returns the first problem, with every problem in its details so a UI
// can mark all the fields at once.
func (a *applier) err() error {
	if len(a.problems) == 0 {
		return nil
	}
	fields := make(map[string]string, len(a.problems))
	for _, p := range a.problems {
		if _, seen := fields[p.Field]; !seen {
			fields[p.Field] = p.Message
		}
	}
	first := *a.problems[0]
	first.Details = map[string]any{"fields": fields}
	return &first
}

// editable returns a copy of s whose nested structs that Apply writes
// through are copies too, so the caller's spec is never changed in place.
// Slices and maps are shared: Apply replaces them, never edits them.
func editable(s swarm.ServiceSpec) swarm.ServiceSpec {
	t := &s.TaskTemplate
	t.ContainerSpec = clone(t.ContainerSpec)
	if t.ContainerSpec != nil {
		t.ContainerSpec.Healthcheck = clone(t.ContainerSpec.Healthcheck)
	}
	t.Resources = clone(t.Resources)
	if t.Resources != nil {
		t.Resources.Limits = clone(t.Resources.Limits)
		t.Resources.Reservations = clone(t.Resources.Reservations)
	}
	t.RestartPolicy = clone(t.RestartPolicy)
	t.Placement = clone(t.Placement)
	s.Mode.Replicated = clone(s.Mode.Replicated)
	s.UpdateConfig = clone(s.UpdateConfig)
	s.RollbackConfig = clone(s.RollbackConfig)
	s.EndpointSpec = clone(s.EndpointSpec)
	return s
}

func clone[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

func (a *applier) container() *swarm.ContainerSpec {
	if a.spec.TaskTemplate.ContainerSpec == nil {
		a.spec.TaskTemplate.ContainerSpec = &swarm.ContainerSpec{}
	}
	return a.spec.TaskTemplate.ContainerSpec
}

// modeOf names the mode of a spec; "" means no mode yet, a new service.
func modeOf(m swarm.ServiceMode) string {
	switch {
	case m.Replicated != nil:
		return ModeReplicated
	case m.Global != nil:
		return ModeGlobal
	case m.ReplicatedJob != nil:
		return ModeReplicatedJob
	case m.GlobalJob != nil:
		return ModeGlobalJob
	}
	return ""
}

func (a *applier) applyIdentity(f *Service) {
	if f.Name != nil && *f.Name != "" {
		if current := a.spec.Name; current != "" && current != *f.Name {
			a.invalid("name", "swarm can't rename a service (it is %s); create a new one instead", quoteInput(current))
		} else if err := checkServiceName(*f.Name); err != nil {
			a.invalid("name", "%v", err)
		} else {
			a.spec.Name = *f.Name
		}
	}

	if f.Image != nil {
		if _, err := reference.ParseNormalizedNamed(*f.Image); err != nil {
			a.invalid("image", `expected an image reference like "nginx:1.27" or "registry.example.com/team/app@sha256:<digest>", got %s: %v`,
				quoteInput(*f.Image), err)
		} else {
			a.container().Image = *f.Image
		}
	}

	current := modeOf(a.spec.Mode)
	mode := current
	if f.Mode != nil && *f.Mode != "" {
		switch {
		case current == "" && (*f.Mode == ModeReplicated || *f.Mode == ModeGlobal):
			mode = *f.Mode
		case current == "":
			a.invalid("mode", `expected "replicated" or "global", got %s`, quoteInput(*f.Mode))
		case *f.Mode != current:
			a.invalid("mode", "swarm can't change a service's mode (it is %s); remove and re-create the service", current)
		}
	}
	if current == "" {
		// A new service is a container service; even a form that sets
		// nothing of the container gets one, as docker service create's do.
		a.container()
		switch mode {
		case ModeGlobal:
			a.spec.Mode = swarm.ServiceMode{Global: &swarm.GlobalService{}}
		default:
			mode = ModeReplicated
			a.spec.Mode = swarm.ServiceMode{Replicated: &swarm.ReplicatedService{}}
		}
	}
	if f.Replicas != nil {
		if mode != ModeReplicated {
			a.invalid("replicas", "replicas only applies to replicated services; this one is %s", mode)
		} else if a.spec.Mode.Replicated != nil {
			a.spec.Mode.Replicated.Replicas = new(*f.Replicas)
		}
	}
}

func (a *applier) applyContainer(f *Service) {
	if f.Command != nil {
		a.container().Command = nilIfEmpty(slices.Clone(*f.Command))
	}
	if f.Args != nil {
		a.container().Args = nilIfEmpty(slices.Clone(*f.Args))
	}
	if f.Env != nil {
		var env []string
		for i, e := range *f.Env {
			if err := checkEnv(e); err != nil {
				a.invalid(fmt.Sprintf("env[%d]", i), "%v", err)
				continue
			}
			env = append(env, e)
		}
		a.container().Env = env
	}
	if f.Labels != nil {
		a.spec.Labels = a.labels("labels", *f.Labels, a.spec.Labels)
	}
	if f.ContainerLabels != nil {
		a.container().Labels = a.labels("container_labels", *f.ContainerLabels, a.container().Labels)
	}
	if f.Hostname != nil {
		a.container().Hostname = *f.Hostname
	}
	if f.User != nil {
		a.container().User = *f.User
	}
	if f.Workdir != nil {
		if *f.Workdir != "" && !isAbsPath(*f.Workdir) {
			a.invalid("workdir", "%s, got %s", pathSyntax, quoteInput(*f.Workdir))
		} else {
			a.container().Dir = *f.Workdir
		}
	}
	if f.StopGracePeriod != nil {
		a.optionalDuration("stop_grace_period", *f.StopGracePeriod, &a.container().StopGracePeriod)
	}
	if f.ReadOnly != nil {
		a.container().ReadOnly = *f.ReadOnly
	}
}

// labels returns given checked, plus the stack labels of current that given
// doesn't set.
func (a *applier) labels(field string, given, current map[string]string) map[string]string {
	out := make(map[string]string, len(given))
	for _, k := range slices.Sorted(maps.Keys(given)) {
		if err := checkLabelKey(k); err != nil {
			a.invalid(field, "%v", err)
			continue
		}
		out[k] = given[k]
	}
	for k, v := range current {
		if _, set := given[k]; !set && strings.HasPrefix(k, StackLabelPrefix) {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

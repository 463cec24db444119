package swarm

import (
	"cmp"
	"context"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"

	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/swarm/form"
)

// StackLabel is the label that makes a service part of a stack, as
// docker stack deploy sets it.
const StackLabel = "com.docker.stack.namespace"

// ServiceSummary is a service as lists show it.
type ServiceSummary struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Image    string `json:"image"`
	Mode     string `json:"mode"`
	Replicas struct {
		Desired uint64 `json:"desired"`
		Running uint64 `json:"running"`
	} `json:"replicas"`
	Ports        []string          `json:"ports"`
	Stack        string            `json:"stack"`
	Labels       map[string]string `json:"labels"`
	UpdateStatus *UpdateStatus     `json:"update_status"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
	Version      uint64            `json:"version"`
}

// UpdateStatus is the state of a service's last rolling update.
type UpdateStatus struct {
	State       string     `json:"state"`
	Message     string     `json:"message,omitempty"`
	StartedAt   *time.Time `json:"started_at,omitempty"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
}

// ServiceFilter selects services of a list.
type ServiceFilter struct {
	Filter
	Stack string
}

// imageName drops the digest the engine pins images to, for display.
func imageName(image string) string {
	if i := strings.Index(image, "@sha256:"); i >= 0 {
		return image[:i]
	}
	return image
}

func serviceMode(m swarm.ServiceMode) string {
	switch {
	case m.Global != nil:
		return "global"
	case m.ReplicatedJob != nil:
		return "replicated-job"
	case m.GlobalJob != nil:
		return "global-job"
	}
	return "replicated"
}

// summarize makes the summary of s; running counts come from the engine's
// ServiceStatus (ServiceList with Status, API 1.41+).
func summarize(s swarm.Service) ServiceSummary {
	sum := ServiceSummary{
		ID: s.ID, Name: s.Spec.Name, Mode: serviceMode(s.Spec.Mode), Labels: s.Spec.Labels,
		Stack: s.Spec.Labels[StackLabel], CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, Version: s.Version.Index,
	}
	if sum.Labels == nil {
		sum.Labels = map[string]string{}
	}
	if cs := s.Spec.TaskTemplate.ContainerSpec; cs != nil {
		sum.Image = imageName(cs.Image)
	}
	if r := s.Spec.Mode.Replicated; r != nil && r.Replicas != nil {
		sum.Replicas.Desired = *r.Replicas
	}
	if st := s.ServiceStatus; st != nil {
		sum.Replicas.Running = st.RunningTasks
		if s.Spec.Mode.Replicated == nil {
			sum.Replicas.Desired = st.DesiredTasks
		}
	}
	ports := s.Endpoint.Ports
	if len(ports) == 0 && s.Spec.EndpointSpec != nil {
		ports = s.Spec.EndpointSpec.Ports
	}
	sum.Ports = form.PortStrings(ports)
	if sum.Ports == nil {
		sum.Ports = []string{}
	}
	if u := s.UpdateStatus; u != nil {
		sum.UpdateStatus = &UpdateStatus{State: string(u.State), Message: u.Message, StartedAt: u.StartedAt, CompletedAt: u.CompletedAt}
	}
	return sum
}

// ListServices answers the cluster's services with their task counts, in
// one engine call whatever their number, sorted by name (then ID).
func (f *Fleet) ListServices(ctx context.Context, cluster string, sf ServiceFilter) ([]ServiceSummary, error) {
	c, err := f.cluster(ctx, cluster)
	if err != nil {
		return nil, err
	}
	opts := swarm.ServiceListOptions{Status: true}
	if sf.Stack != "" {
		opts.Filters = filters.NewArgs(filters.Arg("label", StackLabel+"="+sf.Stack))
	}
	list, err := readSnapshot(ctx, f, c, "services?stack="+sf.Stack, func(ctx context.Context, api Engine) ([]ServiceSummary, error) {
		return serviceSummaries(ctx, api, opts)
	})
	if err != nil {
		return nil, err
	}
	out := make([]ServiceSummary, 0, len(list))
	for _, s := range list {
		if sf.Match(s.Name, s.Labels) {
			out = append(out, s)
		}
	}
	return out, nil
}

// serviceSummaries lists the services opts selects and summarizes them,
// sorted by name (then ID), reading of the engine's answer only what the
// summaries show.
func serviceSummaries(ctx context.Context, api client.ServiceAPIClient, opts swarm.ServiceListOptions) ([]ServiceSummary, error) {
	out, err := readList(ctx, "/services", func(ctx context.Context) ([]swarm.Service, error) {
		return api.ServiceList(ctx, opts)
	}, readServiceSummary, summarize)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, CompareServices)
	return out, nil
}

// CompareServices is the order of service lists: by name, then ID.
func CompareServices(a, b ServiceSummary) int {
	return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID))
}

// ServiceDetail is a service as its page shows it.
type ServiceDetail struct {
	Summary ServiceSummary `json:"summary"`
	// Form is the service form that reproduces the service, for editing.
	Form form.Service `json:"form"`
	// Service is the engine's own object.
	Service swarm.Service `json:"service"`
	// Convergence says how far the service has come to run its spec.
	Convergence Convergence `json:"convergence"`
}

// inspectService finds a service by ID, unique ID prefix or name.
func inspectService(ctx context.Context, api Engine, cluster, id string) (swarm.Service, error) {
	s, _, err := api.ServiceInspectWithRaw(ctx, id, swarm.ServiceInspectOptions{})
	return s, lookupError(err, "service", id, cluster)
}

// GetService answers one service with its summary and form.
func (f *Fleet) GetService(ctx context.Context, cluster, id string) (ServiceDetail, error) {
	c, err := f.cluster(ctx, cluster)
	if err != nil {
		return ServiceDetail{}, err
	}
	return readSnapshot(ctx, f, c, "service/"+id, func(ctx context.Context, api Engine) (d ServiceDetail, err error) {
		s, err := inspectService(ctx, api, cluster, id)
		if err != nil {
			return d, err
		}
		// Task counts as the list shows them: one filtered list call.
		list, err := api.ServiceList(ctx, swarm.ServiceListOptions{Status: true, Filters: filters.NewArgs(filters.Arg("id", s.ID))})
		if err != nil {
			return d, err
		}
		for _, l := range list {
			if l.ID == s.ID {
				s.ServiceStatus = l.ServiceStatus
			}
		}
		names, err := networkNames(ctx, api)
		if err != nil {
			return d, err
		}
		conv, err := convergenceOfServices(ctx, api, []swarm.Service{s})
		if err != nil {
			return d, err
		}
		return ServiceDetail{Summary: summarize(s), Form: form.FromSpec(s.Spec, names), Service: s, Convergence: conv}, nil
	})
}

// networkNames maps network IDs to names for FromSpec.
type netNames map[string]string

func (n netNames) NetworkName(id string) string {
	if name, ok := n[id]; ok {
		return name
	}
	return id
}

func networkNames(ctx context.Context, api Engine) (netNames, error) {
	nets, err := api.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := make(netNames, len(nets))
	for _, n := range nets {
		out[n.ID] = n.Name
	}
	return out, nil
}

// engineRefs resolves the names of a form through the engine, within one
// request; an unknown or ambiguous name is an error the form turns into a
// 400 on its field.
type engineRefs struct {
	ctx     context.Context
	api     Engine
	cluster string
}

func (r engineRefs) NetworkID(name string) (string, error) {
	n, err := inspectNetwork(r.ctx, r.api, r.cluster, name)
	return n.ID, err
}

func (r engineRefs) SecretID(name string) (string, error) {
	s, err := inspectSecret(r.ctx, r.api, r.cluster, name)
	return s.ID, err
}

func (r engineRefs) ConfigID(name string) (string, error) {
	c, err := inspectConfig(r.ctx, r.api, r.cluster, name)
	return c.ID, err
}

// Changed is the answer to a create or an update.
type Changed struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Version  uint64   `json:"version,omitempty"`
	Warnings []string `json:"warnings"`
	// Convergence is there when the change was made with a wait (Await).
	Convergence *Convergence `json:"convergence,omitempty"`
}

func warnings(w []string) []string {
	if w == nil {
		return []string{}
	}
	return w
}

// CreateService creates a service from the form. The registry is asked for
// the image's digest only when the form says resolve_image. The form is
// checked whole before the lock is taken; a spec with host access is
// refused unless caller may give it (hostaccess.go). The image's registry
// credentials, if registered, go with it (registry_auth.go), as with
// every change of a service.
func (f *Fleet) CreateService(ctx context.Context, cluster string, caller auth.Role, fm form.Service) (out Changed, err error) {
	name := ""
	if fm.Name != nil {
		name = *fm.Name
	}
	err = f.mutate(ctx, mutation{
		action: "service.create", cluster: cluster, kind: "service-name", target: name,
		check: func() error {
			if err := fm.ValidateCreate(); err != nil {
				return err
			}
			return fm.Validate()
		},
		write: func(ctx context.Context, api Engine, o *ref) error {
			spec, err := fm.Spec(engineRefs{ctx, api, cluster})
			if err != nil {
				return err
			}
			if err := f.checkHostAccess(ctx, api, caller, spec); err != nil {
				return err
			}
			regAuth, err := f.registryAuth(ctx, specImage(&spec))
			if err != nil {
				return err
			}
			resp, err := api.ServiceCreate(ctx, spec, swarm.ServiceCreateOptions{QueryRegistry: flag(fm.ResolveImage), EncodedRegistryAuth: regAuth})
			if err != nil {
				return err
			}
			out = Changed{ID: resp.ID, Name: spec.Name, Warnings: warnings(resp.Warnings)}
			if out.Name == "" { // the engine named it
				if s, _, err := api.ServiceInspectWithRaw(ctx, resp.ID, swarm.ServiceInspectOptions{}); err == nil {
					out.Name = s.Spec.Name
				}
			}
			*o = ref{ID: out.ID, Name: out.Name}
			return nil
		},
	})
	return out, err
}

func flag(b *bool) bool { return b != nil && *b }

// serviceChange is one change of a service's spec.
type serviceChange struct {
	action string
	// version, when set, must be the service's current version.
	version *uint64
	resolve bool
	// rollback asks the engine for the previous spec instead of apply.
	rollback bool
	apply    func(s swarm.Service, spec *swarm.ServiceSpec, refs form.Refs) error
	// check validates the input before the lock is taken.
	check func() error
	// caller, when set, is the role the changed spec's host access is
	// checked against (hostaccess.go); changes that keep what runs
	// (scale, redeploy, rollback) leave it nil.
	caller *auth.Role
}

// changeService applies ch to the service under its lock, against a fresh
// read of its spec and version: concurrent changes through any instance
// are applied in turn, never lost.
func (f *Fleet) changeService(ctx context.Context, cluster, id string, ch serviceChange) (out Changed, err error) {
	err = f.mutate(ctx, mutation{
		action: ch.action, cluster: cluster, kind: "service", target: id,
		check:   ch.check,
		resolve: resolveService(cluster, id),
		write: func(ctx context.Context, api Engine, o *ref) error {
			cur, err := inspectService(ctx, api, cluster, o.ID)
			if err != nil {
				return err
			}
			if ch.version != nil && *ch.version != cur.Version.Index {
				return errs.Conflict("service %q is at version %d, not %d: it changed since it was read; read it again and retry",
					cur.Spec.Name, cur.Version.Index, *ch.version)
			}
			spec := cur.Spec
			opts := swarm.ServiceUpdateOptions{QueryRegistry: ch.resolve}
			if ch.rollback {
				if cur.PreviousSpec == nil {
					return errs.Conflict("service %q has no previous spec to roll back to", cur.Spec.Name)
				}
				opts.Rollback = "previous"
			} else if err := ch.apply(cur, &spec, engineRefs{ctx, api, cluster}); err != nil {
				return err
			}
			if ch.caller != nil {
				if err := f.checkHostAccess(ctx, api, *ch.caller, spec); err != nil {
					return err
				}
			}
			// The credentials of the image the engine will run: after a
			// rollback, the previous spec's.
			image := specImage(&spec)
			if ch.rollback {
				image = specImage(cur.PreviousSpec)
			}
			if opts.EncodedRegistryAuth, err = f.registryAuth(ctx, image); err != nil {
				return err
			}
			resp, err := api.ServiceUpdate(ctx, cur.ID, cur.Version, spec, opts)
			if err != nil {
				return err
			}
			out = Changed{ID: cur.ID, Name: spec.Name, Warnings: warnings(resp.Warnings)}
			return nil
		},
		// The new version is the raft index of the write, which only a read
		// tells; a failed read leaves it out rather than failing a change
		// that was made.
		reread: func(ctx context.Context, api Engine, _ *ref) error {
			now, err := inspectService(ctx, api, cluster, out.ID)
			out.Version = now.Version.Index
			return err
		},
		rereadFailed: func(error) error { return nil },
	})
	return out, err
}

// resolveService finds the service a change names by id (an ID, a unique
// ID prefix or a name).
func resolveService(cluster, id string) func(context.Context, Engine) (ref, error) {
	return func(ctx context.Context, api Engine) (ref, error) {
		s, err := inspectService(ctx, api, cluster, id)
		return ref{ID: s.ID, Name: s.Spec.Name}, err
	}
}

// UpdateService applies the fields given in the form; everything else of
// the spec is kept. version, when given, must be current (else 409). The
// form is checked on its own before the lock is taken, and the changed
// spec's host access against caller (hostaccess.go).
func (f *Fleet) UpdateService(ctx context.Context, cluster, id string, caller auth.Role, fm form.Service, version *uint64) (Changed, error) {
	return f.changeService(ctx, cluster, id, serviceChange{
		action: "service.update", version: version, resolve: flag(fm.ResolveImage),
		check: fm.Validate, caller: &caller,
		apply: func(_ swarm.Service, spec *swarm.ServiceSpec, refs form.Refs) error {
			if fm.Name != nil && *fm.Name != spec.Name {
				return errs.Invalid("name", "a service cannot be renamed; create a new one")
			}
			return fm.Apply(spec, refs)
		},
	})
}

// ScaleService sets a replicated service's replica count.
func (f *Fleet) ScaleService(ctx context.Context, cluster, id string, replicas uint64) (Changed, error) {
	return f.changeService(ctx, cluster, id, serviceChange{
		action: "service.scale",
		apply: func(s swarm.Service, spec *swarm.ServiceSpec, _ form.Refs) error {
			if spec.Mode.Replicated == nil {
				return errs.Invalid("replicas", "service %q is %s; only replicated services scale", s.Spec.Name, serviceMode(spec.Mode))
			}
			spec.Mode.Replicated.Replicas = &replicas
			return nil
		},
	})
}

// SetServiceImage starts a rolling upgrade to image, or to the same
// repository with tag when image is empty, by the service's update config.
// A new image of a service with host access is the admin's to choose, as
// any change of what runs with it is (hostaccess.go).
func (f *Fleet) SetServiceImage(ctx context.Context, cluster, id string, caller auth.Role, image, tag string, resolve bool) (Changed, error) {
	if (image == "") == (tag == "") {
		return Changed{}, errs.Invalid("image", `give exactly one of "image" (repo:tag) and "tag"`)
	}
	if image != "" {
		if _, err := reference.ParseNormalizedNamed(image); err != nil {
			return Changed{}, errs.Invalid("image", "expected an image reference such as nginx:1.27 or registry.example.com/team/app:v2")
		}
	}
	if tag != "" && !tagRE.MatchString(tag) {
		return Changed{}, errs.Invalid("tag", "expected a tag: up to 128 letters, digits, _ . -, not starting with . or -")
	}
	return f.changeService(ctx, cluster, id, serviceChange{
		action: "service.image", resolve: resolve, caller: &caller,
		apply: func(s swarm.Service, spec *swarm.ServiceSpec, _ form.Refs) error {
			cs := spec.TaskTemplate.ContainerSpec
			if cs == nil {
				return errs.Invalid("image", "service %q runs no container", s.Spec.Name)
			}
			next := image
			if tag != "" {
				named, err := reference.ParseNormalizedNamed(cs.Image)
				if err != nil {
					return errs.Invalid("tag", "the service's image %q cannot take a new tag: %v", cs.Image, err)
				}
				tagged, err := reference.WithTag(reference.TrimNamed(named), tag)
				if err != nil {
					return errs.Invalid("tag", "%v", err)
				}
				next = reference.FamiliarString(tagged)
			}
			cs.Image = next
			return nil
		},
	})
}

// RollbackService returns the service to its previous spec.
func (f *Fleet) RollbackService(ctx context.Context, cluster, id string) (Changed, error) {
	return f.changeService(ctx, cluster, id, serviceChange{action: "service.rollback", rollback: true})
}

// RedeployService replaces every task with the same spec (docker service
// update --force).
func (f *Fleet) RedeployService(ctx context.Context, cluster, id string) (Changed, error) {
	return f.changeService(ctx, cluster, id, serviceChange{
		action: "service.redeploy",
		apply: func(_ swarm.Service, spec *swarm.ServiceSpec, _ form.Refs) error {
			spec.TaskTemplate.ForceUpdate++
			return nil
		},
	})
}

// RemoveService removes a service and its tasks.
func (f *Fleet) RemoveService(ctx context.Context, cluster, id string) error {
	return f.mutate(ctx, mutation{
		action: "service.remove", cluster: cluster, kind: "service", target: id,
		resolve: resolveService(cluster, id),
		write: func(ctx context.Context, api Engine, o *ref) error {
			return api.ServiceRemove(ctx, o.ID)
		},
	})
}

// tagRE is an image tag, as the distribution reference grammar has it.
var tagRE = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)

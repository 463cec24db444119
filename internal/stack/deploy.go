package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/docker/cli/cli/compose/convert"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"

	"github.com/swarmops/swarmops/internal/errs"
)

// The values of Options.ResolveImage, the CLI's --resolve-image.
const (
	ResolveImageAlways  = "always"
	ResolveImageChanged = "changed"
	ResolveImageNever   = "never"
)

// defaultNetworkDriver is the driver of a stack network that names none,
// as in the CLI.
const defaultNetworkDriver = "overlay"

// Options are the flags of `docker stack deploy` a deploy takes.
type Options struct {
	Prune        bool
	ResolveImage string // "always" (default, like the CLI), "changed", "never"
	// RegistryAuth answers the encoded registry auth (X-Registry-Auth) to
	// send with an image, "" for none; nil sends none. It is asked once per
	// image, before anything is written, so that a lookup that fails
	// stops the deploy whole; its error is returned as it is.
	RegistryAuth func(ctx context.Context, image string) (string, error)
	// CheckService, when set, may refuse a service spec of the stack: it
	// is called for every service before anything is written, and again
	// with the final spec right before each service is created or updated.
	// The caller's policy (package swarm's host-access rule) lives there.
	CheckService func(ctx context.Context, spec swarm.ServiceSpec) error
}

// Result says what a deploy did to the stack's services.
type Result struct {
	Services struct {
		Created   []string `json:"created"`
		Updated   []string `json:"updated"`
		Unchanged []string `json:"unchanged"`
		Removed   []string `json:"removed"`
	} `json:"services"` // service names (scoped: "stack_web"), sorted, never nil
	Warnings []string `json:"warnings"` // the file's (Loaded.Warnings), then the engine's; never nil
	Changed  []string `json:"-"`        // IDs of created and updated services (for convergence)
}

func newResult(l *Loaded) Result {
	var r Result
	r.Services.Created, r.Services.Updated = []string{}, []string{}
	r.Services.Unchanged, r.Services.Removed = []string{}, []string{}
	r.Warnings = append([]string{}, l.Warnings...)
	r.Changed = []string{}
	return r
}

func (r *Result) sort() {
	slices.Sort(r.Services.Created)
	slices.Sort(r.Services.Updated)
	slices.Sort(r.Services.Unchanged)
	slices.Sort(r.Services.Removed)
}

// Deploy makes the stack l on the swarm api talks to, as the CLI's
// deployCompose does: secrets, configs and networks the file declares,
// then its services, all labelled with the stack's namespace. It is a
// reconcile: running it again after a failure finishes the job.
//
// It differs from the CLI on purpose:
//   - Everything that can be checked is checked before anything is
//     written (external networks, secrets and configs, config contents, a
//     dry run of the service conversion, the registry credentials of each
//     image), so a bad file creates nothing.
//   - A service whose spec would not change is not updated at all, so its
//     version index does not move and nothing rolls out.
//   - Services no longer in the file are pruned last, after the new ones
//     are in place, not first.
//   - A secret whose content changed is a conflict that says what to do;
//     existing secrets are updated first and before networks are created
//     (the CLI: networks, then secrets), so that conflict creates nothing.
//   - Under resolve_image "always" (or "changed" with a new image) the
//     registry digest is resolved here, as the client would, so that an
//     unchanged image compares equal; when the image is unchanged the
//     platforms found with its pinned digest are kept with it.
//   - A config already holding the file's data and labels is not updated.
//
// On a failure after a write, the error says what was done already, and
// the Result what was done to services. Engine errors are wrapped, not
// translated into kinds of package errs.
func Deploy(ctx context.Context, api client.APIClient, l *Loaded, o Options) (Result, error) {
	res := newResult(l)
	resolve := o.ResolveImage
	switch resolve {
	case "":
		resolve = ResolveImageAlways
	case ResolveImageAlways, ResolveImageChanged, ResolveImageNever:
	default:
		return res, errs.Invalid("resolve_image", "invalid option %s: use %s, %s or %s", resolve, ResolveImageAlways, ResolveImageChanged, ResolveImageNever)
	}
	d := &deployment{api: api, l: l, o: o, resolve: resolve, res: &res}
	if err := d.check(ctx); err != nil {
		return res, fmt.Errorf("stack %s: %w", l.Name, err)
	}
	for _, step := range []func(context.Context) error{d.createSecrets, d.createConfigs, d.createNetworks, d.deployServices, d.prune} {
		if err := step(ctx); err != nil {
			res.sort()
			return res, d.failed(err)
		}
	}
	res.sort()
	return res, nil
}

// deployment is one run of Deploy.
type deployment struct {
	api     client.APIClient
	l       *Loaded
	o       Options
	resolve string
	res     *Result
	done    progress
	stack   []swarm.Service // the stack's services before the deploy

	networkNames map[string]string // network ID -> name, for specEqual
	auths        map[string]string // image -> Options.RegistryAuth's answer
}

// progress lists the writes done, by verb, for an error message.
type progress struct {
	verbs []string
	items map[string][]string
}

func (p *progress) add(verb, kind, name string) {
	if p.items == nil {
		p.items = map[string][]string{}
	}
	if _, ok := p.items[verb]; !ok {
		p.verbs = append(p.verbs, verb)
	}
	p.items[verb] = append(p.items[verb], kind+" "+name)
}

func (p *progress) String() string {
	parts := make([]string, 0, len(p.verbs))
	for _, v := range p.verbs {
		parts = append(parts, v+" "+strings.Join(p.items[v], ", "))
	}
	return strings.Join(parts, "; ")
}

// failed is err saying what the deploy had done before it: "stack app:
// created network app_default, secret app_key; then: <err>". A public
// error keeps its kind, with the story in its message.
func (d *deployment) failed(err error) error {
	if len(d.done.verbs) == 0 {
		return fmt.Errorf("stack %s: %w", d.l.Name, err)
	}
	prefix := fmt.Sprintf("stack %s: %s; then: ", d.l.Name, d.done.String())
	if pe, ok := errs.Public(err); ok {
		e := *pe
		e.Message = prefix + pe.Message
		if e.Field != "" {
			e.Message = prefix + pe.Field + ": " + pe.Message
			e.Field = ""
		}
		return &e
	}
	return fmt.Errorf("%s%w", prefix, err)
}

// check runs before any write (the CLI checks external networks only, and
// finds a missing secret or a bad service after creating networks,
// secrets and configs).
func (d *deployment) check(ctx context.Context) error {
	if err := validateExternalNetworks(ctx, d.api, d.l.externalNetworks); err != nil {
		return err
	}
	secrets, configs := externalRefs(d.l)
	if err := checkExternalSecrets(ctx, d.api, secrets); err != nil {
		return err
	}
	if err := checkExternalConfigs(ctx, d.api, configs); err != nil {
		return err
	}
	if err := d.checkConfigContents(ctx); err != nil {
		return err
	}
	// A dry run of the conversion: the secrets and configs about to be
	// created are answered with placeholder IDs.
	dry := dryRunAPI{APIClient: d.api, secrets: specNames(d.l.secrets, func(s swarm.SecretSpec) string { return s.Name }),
		configs: specNames(d.l.configs, func(c swarm.ConfigSpec) string { return c.Name })}
	specs, err := convert.Services(ctx, d.l.namespace, d.l.config, dry)
	if err != nil {
		return d.conversionError(err)
	}
	for _, name := range slices.Sorted(maps.Keys(specs)) {
		if err := d.checkService(ctx, specs[name]); err != nil {
			return err
		}
		if _, err := d.registryAuth(ctx, specs[name].TaskTemplate.ContainerSpec.Image); err != nil {
			return err
		}
	}
	return nil
}

// registryAuth answers Options.RegistryAuth for image, asking once per
// image of the deploy (check asks for every service's first).
func (d *deployment) registryAuth(ctx context.Context, image string) (string, error) {
	if d.o.RegistryAuth == nil {
		return "", nil
	}
	if auth, ok := d.auths[image]; ok {
		return auth, nil
	}
	auth, err := d.o.RegistryAuth(ctx, image)
	if err != nil {
		return "", err
	}
	if d.auths == nil {
		d.auths = map[string]string{}
	}
	d.auths[image] = auth
	return auth, nil
}

// checkService runs Options.CheckService, if any, on spec.
func (d *deployment) checkService(ctx context.Context, spec swarm.ServiceSpec) error {
	if d.o.CheckService == nil {
		return nil
	}
	return d.o.CheckService(ctx, spec)
}

// conversionError keeps engine failures (a list that did not answer) as
// they are and makes the rest a fault of the file.
func (d *deployment) conversionError(err error) error {
	if engineFailure(err) {
		return err
	}
	return errs.Invalid("compose", "%s", err)
}

// engineFailure reports an error that comes from the engine or the
// connection to it rather than from the compose file.
func engineFailure(err error) bool {
	return client.IsErrConnectionFailed(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		cerrdefs.IsUnavailable(err) || cerrdefs.IsInternal(err) || cerrdefs.IsUnknown(err) || cerrdefs.IsPermissionDenied(err) ||
		cerrdefs.IsNotImplemented(err) || cerrdefs.IsDeadlineExceeded(err) || cerrdefs.IsCanceled(err)
}

func specNames[T any](specs []T, name func(T) string) []string {
	out := make([]string, 0, len(specs))
	for _, s := range specs {
		out = append(out, name(s))
	}
	return out
}

// validateExternalNetworks is the CLI's, with its messages.
func validateExternalNetworks(ctx context.Context, api client.NetworkAPIClient, names []string) error {
	for _, name := range names {
		if !container.NetworkMode(name).IsUserDefined() {
			// Networks that are not user defined always exist on all nodes
			// as local-scoped networks.
			continue
		}
		nw, err := api.NetworkInspect(ctx, name, network.InspectOptions{})
		switch {
		case cerrdefs.IsNotFound(err):
			return errs.Invalid("compose", "network %q is declared as external, but could not be found. You need to create a swarm-scoped network before the stack is deployed", name)
		case err != nil:
			return fmt.Errorf("inspect network %s: %w", name, err)
		case nw.Scope != "swarm":
			return errs.Invalid("compose", "network %q is declared as external, but it is not in the right scope: %q instead of \"swarm\"", name, nw.Scope)
		}
	}
	return nil
}

// externalRefs answers the names of the external secrets and configs the
// services use (the CLI looks only those up too).
func externalRefs(l *Loaded) (secrets, configs []string) {
	s, c := map[string]bool{}, map[string]bool{}
	for _, svc := range l.config.Services {
		for _, ref := range svc.Secrets {
			if obj, ok := l.config.Secrets[ref.Source]; ok && obj.External.External {
				s[obj.Name] = true
			}
		}
		refs := []string{}
		for _, ref := range svc.Configs {
			refs = append(refs, ref.Source)
		}
		if svc.CredentialSpec.Config != "" {
			refs = append(refs, svc.CredentialSpec.Config)
		}
		for _, ref := range refs {
			if obj, ok := l.config.Configs[ref]; ok && obj.External.External {
				c[obj.Name] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(s)), slices.Sorted(maps.Keys(c))
}

// nameFilter selects objects by names (the engine matches more loosely:
// callers compare names exactly).
func nameFilter(names []string) filters.Args {
	args := filters.NewArgs()
	for _, n := range names {
		args.Add("name", n)
	}
	return args
}

// checkExternalSecrets answers the CLI's "secret not found" for an
// external secret missing, before the dry run would.
func checkExternalSecrets(ctx context.Context, api client.SecretAPIClient, names []string) error {
	if len(names) == 0 {
		return nil
	}
	list, err := api.SecretList(ctx, swarm.SecretListOptions{Filters: nameFilter(names)})
	if err != nil {
		return fmt.Errorf("list secrets: %w", err)
	}
	found := map[string]bool{}
	for _, s := range list {
		found[s.Spec.Name] = true
	}
	for _, n := range names {
		if !found[n] {
			return errs.Invalid("compose", "secret not found: %s", n)
		}
	}
	return nil
}

// checkExternalConfigs is checkExternalSecrets for configs.
func checkExternalConfigs(ctx context.Context, api client.ConfigAPIClient, names []string) error {
	if len(names) == 0 {
		return nil
	}
	list, err := api.ConfigList(ctx, swarm.ConfigListOptions{Filters: nameFilter(names)})
	if err != nil {
		return fmt.Errorf("list configs: %w", err)
	}
	found := map[string]bool{}
	for _, c := range list {
		found[c.Spec.Name] = true
	}
	for _, n := range names {
		if !found[n] {
			return errs.Invalid("compose", "config not found: %s", n)
		}
	}
	return nil
}

// checkConfigContents refuses, before any write, a config whose content
// changed: the engine cannot change a config's data (nor a secret's, but
// a secret's data cannot be read back to compare).
func (d *deployment) checkConfigContents(ctx context.Context) error {
	existing, err := d.existingConfigs(ctx)
	if err != nil {
		return err
	}
	for _, spec := range d.l.configs {
		if c, ok := existing[spec.Name]; ok && !bytes.Equal(c.Spec.Data, spec.Data) {
			return changedObject("config", spec.Name, nil)
		}
	}
	return nil
}

// existingConfigs answers the stack's configs that exist, by name, with
// their data.
func (d *deployment) existingConfigs(ctx context.Context) (map[string]swarm.Config, error) {
	out := map[string]swarm.Config{}
	if len(d.l.configs) == 0 {
		return out, nil
	}
	names := specNames(d.l.configs, func(c swarm.ConfigSpec) string { return c.Name })
	list, err := d.api.ConfigList(ctx, swarm.ConfigListOptions{Filters: nameFilter(names)})
	if err != nil {
		return nil, fmt.Errorf("list configs: %w", err)
	}
	for _, c := range list {
		if !slices.Contains(names, c.Spec.Name) {
			continue
		}
		// A list may leave the data out; inspect answers it.
		full, _, err := d.api.ConfigInspectWithRaw(ctx, c.ID)
		if err != nil {
			return nil, fmt.Errorf("inspect config %s: %w", c.Spec.Name, err)
		}
		out[c.Spec.Name] = full
	}
	return out, nil
}

// changedObject is the conflict of a secret or config whose content is not
// what the stack has: swarm never changes one's data.
func changedObject(kind, name string, cause error) error {
	e := errs.Conflict("%s %q already exists with other content; a swarm %s cannot change: give the new content a new name (name: ...) and deploy again", kind, name, kind)
	if cause != nil {
		e = e.With(cause)
	}
	return e
}

// onlyLabels reports the engine's refusal to change a secret's or config's
// data.
func onlyLabels(err error) bool {
	return cerrdefs.IsInvalidArgument(err) && strings.Contains(err.Error(), "only updates to Labels are allowed")
}

// createSecrets is the CLI's createSecrets: missing secrets are created,
// existing ones updated with the spec (only their labels can change; a
// changed content is refused by the engine). Updates go first, so a
// changed secret stops the deploy before anything is created.
func (d *deployment) createSecrets(ctx context.Context) error {
	if len(d.l.secrets) == 0 {
		return nil
	}
	names := specNames(d.l.secrets, func(s swarm.SecretSpec) string { return s.Name })
	list, err := d.api.SecretList(ctx, swarm.SecretListOptions{Filters: nameFilter(names)})
	if err != nil {
		return fmt.Errorf("list secrets: %w", err)
	}
	existing := map[string]swarm.Secret{}
	for _, s := range list {
		existing[s.Spec.Name] = s
	}
	for _, spec := range d.l.secrets {
		s, ok := existing[spec.Name]
		if !ok {
			continue
		}
		if err := d.api.SecretUpdate(ctx, s.ID, s.Meta.Version, spec); err != nil {
			if onlyLabels(err) {
				return changedObject("secret", spec.Name, err)
			}
			return fmt.Errorf("failed to update secret %s: %w", spec.Name, err)
		}
	}
	for _, spec := range d.l.secrets {
		if _, ok := existing[spec.Name]; ok {
			continue
		}
		if _, err := d.api.SecretCreate(ctx, spec); err != nil {
			return fmt.Errorf("failed to create secret %s: %w", spec.Name, err)
		}
		d.done.add("created", "secret", spec.Name)
	}
	return nil
}

// createConfigs is the CLI's createConfigs, except that a config whose
// data, labels and templating are already those of the file is left
// alone.
func (d *deployment) createConfigs(ctx context.Context) error {
	existing, err := d.existingConfigs(ctx)
	if err != nil {
		return err
	}
	for _, spec := range d.l.configs {
		c, ok := existing[spec.Name]
		switch {
		case !ok:
			if _, err := d.api.ConfigCreate(ctx, spec); err != nil {
				return fmt.Errorf("failed to create config %s: %w", spec.Name, err)
			}
			d.done.add("created", "config", spec.Name)
		case bytes.Equal(c.Spec.Data, spec.Data) && maps.Equal(c.Spec.Labels, spec.Labels) && reflect.DeepEqual(c.Spec.Templating, spec.Templating):
			// nothing to change
		default:
			if err := d.api.ConfigUpdate(ctx, c.ID, c.Meta.Version, spec); err != nil {
				if onlyLabels(err) {
					return changedObject("config", spec.Name, err)
				}
				return fmt.Errorf("failed to update config %s: %w", spec.Name, err)
			}
		}
	}
	return nil
}

// stackFilter selects the objects of stack name, by the CLI's label.
func stackFilter(name string) filters.Args {
	return filters.NewArgs(filters.Arg("label", convert.LabelNamespace+"="+name))
}

// createNetworks is the CLI's: the stack's networks that do not exist yet
// are created, overlay unless the file says otherwise.
func (d *deployment) createNetworks(ctx context.Context) error {
	existing, err := d.api.NetworkList(ctx, network.ListOptions{Filters: stackFilter(d.l.namespace.Name())})
	if err != nil {
		return fmt.Errorf("list networks: %w", err)
	}
	have := map[string]bool{}
	for _, nw := range existing {
		have[nw.Name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(d.l.networks)) {
		if have[name] {
			continue
		}
		opts := d.l.networks[name]
		if opts.Driver == "" {
			opts.Driver = defaultNetworkDriver
		}
		if _, err := d.api.NetworkCreate(ctx, name, opts); err != nil {
			return fmt.Errorf("failed to create network %s: %w", name, err)
		}
		d.done.add("created", "network", name)
	}
	return nil
}

// deployServices is the CLI's deployServices, with the comparison that
// leaves unchanged services alone.
func (d *deployment) deployServices(ctx context.Context) error {
	specs, err := convert.Services(ctx, d.l.namespace, d.l.config, d.api)
	if err != nil {
		return d.conversionError(err)
	}
	d.stack, err = d.api.ServiceList(ctx, swarm.ServiceListOptions{Filters: stackFilter(d.l.namespace.Name())})
	if err != nil {
		return fmt.Errorf("list services: %w", err)
	}
	existing := map[string]swarm.Service{}
	for _, s := range d.stack {
		existing[s.Spec.Name] = s
	}
	if len(existing) > 0 {
		// The engine stores network attachments by network ID.
		nets, err := d.api.NetworkList(ctx, network.ListOptions{})
		if err != nil {
			return fmt.Errorf("list networks: %w", err)
		}
		d.networkNames = map[string]string{}
		for _, nw := range nets {
			d.networkNames[nw.ID] = nw.Name
		}
	}
	for _, internal := range slices.Sorted(maps.Keys(specs)) {
		spec, name := specs[internal], d.l.namespace.Scope(internal)
		auth, err := d.registryAuth(ctx, spec.TaskTemplate.ContainerSpec.Image)
		if err != nil {
			return err
		}
		if svc, ok := existing[name]; ok {
			err = d.updateService(ctx, svc, spec, auth)
		} else {
			err = d.createService(ctx, spec, auth)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *deployment) createService(ctx context.Context, spec swarm.ServiceSpec, auth string) error {
	if err := d.checkService(ctx, spec); err != nil {
		return err
	}
	resp, err := d.api.ServiceCreate(ctx, spec, swarm.ServiceCreateOptions{
		EncodedRegistryAuth: auth,
		QueryRegistry:       d.resolve == ResolveImageAlways || d.resolve == ResolveImageChanged,
	})
	if err != nil {
		return fmt.Errorf("failed to create service %s: %w", spec.Name, err)
	}
	d.done.add("created", "service", spec.Name)
	d.res.Services.Created = append(d.res.Services.Created, spec.Name)
	d.res.Changed = append(d.res.Changed, resp.ID)
	d.res.Warnings = append(d.res.Warnings, resp.Warnings...)
	return nil
}

// updateService applies the CLI's image rules to spec, then does what the
// client's ServiceUpdate would do to it before sending (tag, registry
// digest), so that spec can be compared with the service's: equal, the
// service is not touched.
func (d *deployment) updateService(ctx context.Context, svc swarm.Service, spec swarm.ServiceSpec, auth string) error {
	cs := spec.TaskTemplate.ContainerSpec
	image := cs.Image
	query := false
	switch {
	case d.resolve == ResolveImageAlways:
		query = true
	case d.resolve == ResolveImageChanged && image != svc.Spec.Labels[convert.LabelImage]:
		query = true
	case image == svc.Spec.Labels[convert.LabelImage] && svc.Spec.TaskTemplate.ContainerSpec != nil:
		// The image has not changed: keep what the registry query of an
		// earlier deploy pinned (the CLI does too), and the platforms that
		// query found with it (the CLI drops them, which reschedules the
		// tasks for nothing).
		cs.Image = svc.Spec.TaskTemplate.ContainerSpec.Image
		if p := svc.Spec.TaskTemplate.Placement; p != nil && len(p.Platforms) > 0 {
			if spec.TaskTemplate.Placement == nil {
				spec.TaskTemplate.Placement = &swarm.Placement{}
			}
			if len(spec.TaskTemplate.Placement.Platforms) == 0 {
				spec.TaskTemplate.Placement.Platforms = p.Platforms
			}
		}
	}
	// Stack deploy has no --force: keep the service's ForceUpdate so that
	// tasks are not redeployed for it.
	spec.TaskTemplate.ForceUpdate = svc.Spec.TaskTemplate.ForceUpdate
	if tagged := imageWithTag(cs.Image); tagged != "" {
		cs.Image = tagged
	}
	var warnings []string
	if query {
		// Resolved here rather than by the client (QueryRegistry), so that
		// the comparison sees the digest the update would send.
		if w := resolveImage(ctx, d.api, &spec.TaskTemplate, auth); w != "" {
			warnings = append(warnings, w)
		}
	}
	if specEqual(spec, svc.Spec, d.networkNames) {
		d.res.Services.Unchanged = append(d.res.Services.Unchanged, spec.Name)
		d.res.Warnings = append(d.res.Warnings, warnings...)
		return nil
	}
	if err := d.checkService(ctx, spec); err != nil {
		return err
	}
	resp, err := d.api.ServiceUpdate(ctx, svc.ID, svc.Version, spec, swarm.ServiceUpdateOptions{EncodedRegistryAuth: auth})
	if err != nil {
		return fmt.Errorf("failed to update service %s: %w", spec.Name, err)
	}
	d.done.add("updated", "service", spec.Name)
	d.res.Services.Updated = append(d.res.Services.Updated, spec.Name)
	d.res.Changed = append(d.res.Changed, svc.ID)
	d.res.Warnings = append(d.res.Warnings, warnings...)
	d.res.Warnings = append(d.res.Warnings, resp.Warnings...)
	return nil
}

// imageWithTag is the Go client's imageWithTagString: an image without tag
// or digest gets ":latest", as every service create and update sends it.
func imageWithTag(image string) string {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return ""
	}
	return reference.FamiliarString(reference.TagNameOnly(named))
}

// resolveImage is the Go client's resolveContainerSpecImage: the image's
// digest and platforms from the registry (through the engine), or the
// client's warning when the registry cannot be asked.
func resolveImage(ctx context.Context, api client.DistributionAPIClient, task *swarm.TaskSpec, auth string) string {
	image := task.ContainerSpec.Image
	inspect, err := api.DistributionInspect(ctx, image, auth)
	if err != nil {
		return fmt.Sprintf("image %s could not be accessed on a registry to record\nits digest. Each node will access %s independently,\npossibly leading to different nodes running different\nversions of the image.\n", image, image)
	}
	task.ContainerSpec.Image = imageWithDigest(image, inspect)
	if len(inspect.Platforms) > 0 {
		platforms := make([]swarm.Platform, 0, len(inspect.Platforms))
		for _, p := range inspect.Platforms {
			arch := p.Architecture
			if strings.ToLower(arch) == "arm" {
				arch = "" // as the client: arm variants are not told apart
			}
			platforms = append(platforms, swarm.Platform{Architecture: arch, OS: p.OS})
		}
		if task.Placement == nil {
			task.Placement = &swarm.Placement{}
		}
		task.Placement.Platforms = platforms
	}
	return ""
}

// imageWithDigest is the Go client's imageWithDigestString.
func imageWithDigest(image string, inspect registry.DistributionInspect) string {
	named, err := reference.ParseNormalizedNamed(image)
	if err == nil {
		if _, canonical := named.(reference.Canonical); !canonical {
			if img, err := reference.WithDigest(named, inspect.Descriptor.Digest); err == nil {
				return reference.FamiliarString(img)
			}
		}
	}
	return image
}

// prune removes the stack's services the file no longer has. The CLI
// prunes before it deploys; here it comes after the new services are in
// place, so a failed deploy never leaves a stack with fewer services.
func (d *deployment) prune(ctx context.Context) error {
	if !d.o.Prune {
		return nil
	}
	keep := map[string]bool{}
	for _, s := range d.l.config.Services {
		keep[s.Name] = true
	}
	old := slices.Clone(d.stack)
	slices.SortFunc(old, func(a, b swarm.Service) int { return strings.Compare(a.Spec.Name, b.Spec.Name) })
	for _, svc := range old {
		if keep[d.l.namespace.Descope(svc.Spec.Name)] {
			continue
		}
		if err := d.api.ServiceRemove(ctx, svc.ID); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("failed to remove service %s: %w", svc.Spec.Name, err)
		}
		d.done.add("removed", "service", svc.Spec.Name)
		d.res.Services.Removed = append(d.res.Services.Removed, svc.Spec.Name)
	}
	return nil
}

// dryRunAPI answers the conversion's lookups of secrets and configs as if
// the stack's own were created already (with placeholder IDs), so that a
// dry run of convert.Services finds every error before anything is made.
type dryRunAPI struct {
	client.APIClient
	secrets, configs []string // names of the stack's secrets and configs
}

func (a dryRunAPI) SecretList(ctx context.Context, opts swarm.SecretListOptions) ([]swarm.Secret, error) {
	list, err := a.APIClient.SecretList(ctx, opts)
	if err != nil {
		return nil, err
	}
	for _, n := range a.secrets {
		if !slices.ContainsFunc(list, func(s swarm.Secret) bool { return s.Spec.Name == n }) {
			list = append(list, swarm.Secret{ID: "dry-run-" + n, Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: n}}})
		}
	}
	return list, nil
}

func (a dryRunAPI) ConfigList(ctx context.Context, opts swarm.ConfigListOptions) ([]swarm.Config, error) {
	list, err := a.APIClient.ConfigList(ctx, opts)
	if err != nil {
		return nil, err
	}
	for _, n := range a.configs {
		if !slices.ContainsFunc(list, func(c swarm.Config) bool { return c.Spec.Name == n }) {
			list = append(list, swarm.Config{ID: "dry-run-" + n, Spec: swarm.ConfigSpec{Annotations: swarm.Annotations{Name: n}}})
		}
	}
	return list, nil
}

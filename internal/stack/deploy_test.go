package stack

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/cli/cli/compose/convert"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	"github.com/google/go-cmp/cmp"

	"github.com/swarmops/swarmops/internal/errs"
)

// fakeAPI is an engine of function fields; a call whose field is nil
// panics, so a test states every call it expects. calls records them in
// order ("ServiceUpdate app_web").
type fakeAPI struct {
	client.APIClient // nil: any other method panics
	calls            []string

	networkInspect      func(name string) (network.Inspect, error)
	networkList         func(network.ListOptions) ([]network.Summary, error)
	networkCreate       func(name string, o network.CreateOptions) (network.CreateResponse, error)
	secretList          func(swarm.SecretListOptions) ([]swarm.Secret, error)
	secretCreate        func(swarm.SecretSpec) (swarm.SecretCreateResponse, error)
	secretUpdate        func(id string, v swarm.Version, s swarm.SecretSpec) error
	configList          func(swarm.ConfigListOptions) ([]swarm.Config, error)
	configInspect       func(id string) (swarm.Config, error)
	configCreate        func(swarm.ConfigSpec) (swarm.ConfigCreateResponse, error)
	configUpdate        func(id string, v swarm.Version, s swarm.ConfigSpec) error
	serviceList         func(swarm.ServiceListOptions) ([]swarm.Service, error)
	serviceCreate       func(swarm.ServiceSpec, swarm.ServiceCreateOptions) (swarm.ServiceCreateResponse, error)
	serviceUpdate       func(id string, v swarm.Version, s swarm.ServiceSpec, o swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error)
	serviceRemove       func(id string) error
	distributionInspect func(image string) (registry.DistributionInspect, error)
}

func (f *fakeAPI) call(name string, fn any, arg string) {
	f.calls = append(f.calls, strings.TrimSpace(name+" "+arg))
	if v := reflect.ValueOf(fn); !v.IsValid() || v.IsNil() {
		panic("fakeAPI: unexpected call " + name + " " + arg)
	}
}

func (f *fakeAPI) ClientVersion() string { return "1.41" }

func (f *fakeAPI) NetworkInspect(_ context.Context, name string, _ network.InspectOptions) (network.Inspect, error) {
	f.call("NetworkInspect", f.networkInspect, name)
	return f.networkInspect(name)
}

func (f *fakeAPI) NetworkList(_ context.Context, o network.ListOptions) ([]network.Summary, error) {
	f.call("NetworkList", f.networkList, "")
	return f.networkList(o)
}

func (f *fakeAPI) NetworkCreate(_ context.Context, name string, o network.CreateOptions) (network.CreateResponse, error) {
	f.call("NetworkCreate", f.networkCreate, name)
	return f.networkCreate(name, o)
}

func (f *fakeAPI) SecretList(_ context.Context, o swarm.SecretListOptions) ([]swarm.Secret, error) {
	f.call("SecretList", f.secretList, "")
	return f.secretList(o)
}

func (f *fakeAPI) SecretCreate(_ context.Context, s swarm.SecretSpec) (swarm.SecretCreateResponse, error) {
	f.call("SecretCreate", f.secretCreate, s.Name)
	return f.secretCreate(s)
}

func (f *fakeAPI) SecretUpdate(_ context.Context, id string, v swarm.Version, s swarm.SecretSpec) error {
	f.call("SecretUpdate", f.secretUpdate, s.Name)
	return f.secretUpdate(id, v, s)
}

func (f *fakeAPI) ConfigList(_ context.Context, o swarm.ConfigListOptions) ([]swarm.Config, error) {
	f.call("ConfigList", f.configList, "")
	return f.configList(o)
}

func (f *fakeAPI) ConfigInspectWithRaw(_ context.Context, id string) (swarm.Config, []byte, error) {
	f.call("ConfigInspectWithRaw", f.configInspect, id)
	c, err := f.configInspect(id)
	return c, nil, err
}

func (f *fakeAPI) ConfigCreate(_ context.Context, s swarm.ConfigSpec) (swarm.ConfigCreateResponse, error) {
	f.call("ConfigCreate", f.configCreate, s.Name)
	return f.configCreate(s)
}

func (f *fakeAPI) ConfigUpdate(_ context.Context, id string, v swarm.Version, s swarm.ConfigSpec) error {
	f.call("ConfigUpdate", f.configUpdate, s.Name)
	return f.configUpdate(id, v, s)
}

func (f *fakeAPI) ServiceList(_ context.Context, o swarm.ServiceListOptions) ([]swarm.Service, error) {
	f.call("ServiceList", f.serviceList, "")
	return f.serviceList(o)
}

func (f *fakeAPI) ServiceCreate(_ context.Context, s swarm.ServiceSpec, o swarm.ServiceCreateOptions) (swarm.ServiceCreateResponse, error) {
	f.call("ServiceCreate", f.serviceCreate, s.Name)
	return f.serviceCreate(s, o)
}

func (f *fakeAPI) ServiceUpdate(_ context.Context, id string, v swarm.Version, s swarm.ServiceSpec, o swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error) {
	f.call("ServiceUpdate", f.serviceUpdate, s.Name)
	return f.serviceUpdate(id, v, s, o)
}

func (f *fakeAPI) ServiceRemove(_ context.Context, id string) error {
	f.call("ServiceRemove", f.serviceRemove, id)
	return f.serviceRemove(id)
}

func (f *fakeAPI) DistributionInspect(_ context.Context, image, _ string) (registry.DistributionInspect, error) {
	f.call("DistributionInspect", f.distributionInspect, image)
	return f.distributionInspect(image)
}

// stored is spec as a 20.10 engine answers it back: networks by ID and
// defaults filled (see specEqual).
func stored(spec swarm.ServiceSpec, netIDs map[string]string) swarm.ServiceSpec {
	spec = engineForm(spec, nil)
	nets := slices.Clone(spec.TaskTemplate.Networks)
	for i := range nets {
		nets[i].Target = netIDs[nets[i].Target]
	}
	spec.TaskTemplate.Networks = nets
	return spec
}

// stackEngine answers a fake engine on which the stack l runs as its
// compose file says (its services made of specs converted from it), plus
// the extra services.
func stackEngine(t *testing.T, l *Loaded, extra ...swarm.Service) *fakeAPI {
	t.Helper()
	nets := []network.Summary{{ID: "net1", Name: l.namespace.Scope("default"), Labels: map[string]string{convert.LabelNamespace: l.Name}}}
	f := &fakeAPI{
		networkList: func(network.ListOptions) ([]network.Summary, error) { return nets, nil },
		secretList:  func(swarm.SecretListOptions) ([]swarm.Secret, error) { return nil, nil },
		configList:  func(swarm.ConfigListOptions) ([]swarm.Config, error) { return nil, nil },
	}
	specs, err := convert.Services(context.Background(), l.namespace, l.config, f)
	if err != nil {
		t.Fatal(err)
	}
	var services []swarm.Service
	for internal, spec := range specs {
		spec.TaskTemplate.ContainerSpec.Image = imageWithTag(spec.TaskTemplate.ContainerSpec.Image)
		services = append(services, swarm.Service{
			ID: "id_" + internal, Meta: swarm.Meta{Version: swarm.Version{Index: 7}},
			Spec: stored(spec, map[string]string{l.namespace.Scope("default"): "net1"}),
		})
	}
	services = append(services, extra...)
	f.serviceList = func(swarm.ServiceListOptions) ([]swarm.Service, error) { return services, nil }
	f.calls = nil
	return f
}

const twoServices = `
version: "3.8"
services:
  web:
    image: hello:1
    environment: {A: "${A:-1}"}
    ports: ["8080:8080"]
    deploy:
      update_config: {parallelism: 1}
      restart_policy: {delay: 1s}
  db:
    image: hello
`

func TestDeploy_UnchangedIsNotUpdated(t *testing.T) {
	for _, resolve := range []string{ResolveImageNever, ResolveImageChanged, ResolveImageAlways} {
		t.Run(resolve, func(t *testing.T) {
			l := mustLoad(t, "app", Source{Compose: twoServices})
			f := stackEngine(t, l)
			f.distributionInspect = func(string) (registry.DistributionInspect, error) {
				return registry.DistributionInspect{}, errors.New("no registry")
			}
			// serviceUpdate, serviceCreate and every create are nil: a call panics.
			res, err := Deploy(context.Background(), f, l, Options{ResolveImage: resolve})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(res.Services.Unchanged, []string{"app_db", "app_web"}); d != "" {
				t.Errorf("Unchanged (-got +want):\n%s", d)
			}
			if len(res.Services.Updated)+len(res.Services.Created)+len(res.Services.Removed)+len(res.Changed) != 0 {
				t.Errorf("result %+v", res)
			}
			if resolve == ResolveImageAlways && len(res.Warnings) != 2 {
				t.Errorf("warnings %q, want the client's digest warning for each image", res.Warnings)
			}
		})
	}
}

// registryDigest is what the fake registry answers for every image.
const registryDigest = "sha256:cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"

func TestDeploy_PinnedImageKept(t *testing.T) {
	l := mustLoad(t, "app", Source{Compose: twoServices})
	f := stackEngine(t, l)
	list, _ := f.serviceList(swarm.ServiceListOptions{})
	for i := range list {
		cs := *list[i].Spec.TaskTemplate.ContainerSpec
		cs.Image += "@sha256:" + strings.Repeat("ab", 32)
		list[i].Spec.TaskTemplate.ContainerSpec = &cs
	}
	f.serviceList = func(swarm.ServiceListOptions) ([]swarm.Service, error) { return list, nil }
	for _, resolve := range []string{ResolveImageNever, ResolveImageChanged} {
		res, err := Deploy(context.Background(), f, l, Options{ResolveImage: resolve})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Services.Unchanged) != 2 {
			t.Errorf("%s: result %+v, want both unchanged", resolve, res.Services)
		}
	}
	// With "always", the registry's digest decides.
	f.distributionInspect = func(image string) (registry.DistributionInspect, error) {
		var d registry.DistributionInspect
		d.Descriptor.Digest = registryDigest
		return d, nil
	}
	var updated []string
	f.serviceUpdate = func(id string, v swarm.Version, s swarm.ServiceSpec, o swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error) {
		if v.Index != 7 || o.QueryRegistry {
			t.Errorf("update %s: version %d, QueryRegistry %v", id, v.Index, o.QueryRegistry)
		}
		updated = append(updated, s.TaskTemplate.ContainerSpec.Image)
		return swarm.ServiceUpdateResponse{}, nil
	}
	res, err := Deploy(context.Background(), f, l, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"hello:latest@" + registryDigest, "hello:1@" + registryDigest}
	if d := cmp.Diff(updated, want); d != "" {
		t.Errorf("images sent (-got +want):\n%s", d)
	}
	if d := cmp.Diff(res.Changed, []string{"id_db", "id_web"}); d != "" {
		t.Errorf("Changed (-got +want):\n%s", d)
	}
}

func TestDeploy_PruneComesLast(t *testing.T) {
	l := mustLoad(t, "app", Source{Compose: twoServices, Env: map[string]string{"A": "2"}})
	old := swarm.Service{ID: "id_old", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "app_old"}}}
	base := mustLoad(t, "app", Source{Compose: "version: \"3.8\"\nservices:\n  web:\n    image: hello:1\n    ports: [\"8080:8080\"]\n    environment: {A: \"1\"}\n    deploy:\n      update_config: {parallelism: 1}\n      restart_policy: {delay: 1s}\n"})
	f := stackEngine(t, base, old) // web (A=1) and old; no db
	f.serviceUpdate = func(id string, _ swarm.Version, _ swarm.ServiceSpec, _ swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error) {
		return swarm.ServiceUpdateResponse{Warnings: []string{"engine says hi"}}, nil
	}
	var createOpts []swarm.ServiceCreateOptions
	f.serviceCreate = func(s swarm.ServiceSpec, o swarm.ServiceCreateOptions) (swarm.ServiceCreateResponse, error) {
		createOpts = append(createOpts, o)
		return swarm.ServiceCreateResponse{ID: "id_new_" + s.Name}, nil
	}
	f.serviceRemove = func(string) error { return nil }
	res, err := Deploy(context.Background(), f, l, Options{Prune: true, ResolveImage: ResolveImageNever,
		RegistryAuth: func(_ context.Context, image string) (string, error) { return "auth-for-" + imageWithTag(image), nil }})
	if err != nil {
		t.Fatal(err)
	}
	writes := slices.DeleteFunc(slices.Clone(f.calls), func(c string) bool {
		return !strings.Contains(c, "Create") && !strings.Contains(c, "Update") && !strings.Contains(c, "Remove")
	})
	if d := cmp.Diff(writes, []string{"ServiceCreate app_db", "ServiceUpdate app_web", "ServiceRemove id_old"}); d != "" {
		t.Errorf("writes (-got +want):\n%s", d)
	}
	if d := cmp.Diff(createOpts, []swarm.ServiceCreateOptions{{EncodedRegistryAuth: "auth-for-hello:latest"}}); d != "" {
		t.Errorf("create options (-got +want):\n%s", d)
	}
	if d := cmp.Diff(res.Services.Removed, []string{"app_old"}); d != "" {
		t.Errorf("Removed (-got +want):\n%s", d)
	}
	if d := cmp.Diff(res.Warnings, []string{"engine says hi"}); d != "" {
		t.Errorf("Warnings (-got +want):\n%s", d)
	}
	if d := cmp.Diff(res.Changed, []string{"id_new_app_db", "id_web"}); d != "" {
		t.Errorf("Changed (-got +want):\n%s", d)
	}

	// Without prune, old stays.
	f.calls = nil
	res, err = Deploy(context.Background(), f, l, Options{ResolveImage: ResolveImageNever})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(f.calls, "ServiceRemove id_old") || len(res.Services.Removed) != 0 {
		t.Errorf("without prune: calls %q, result %+v", f.calls, res.Services)
	}
}

const withSecret = `
version: "3.8"
services:
  web:
    image: hello:1
    secrets: [key]
secrets:
  key:
    file: ./key.txt
`

func TestDeploy_SecretContentChanged(t *testing.T) {
	l := mustLoad(t, "app", Source{Compose: withSecret, Files: map[string]string{"./key.txt": "new"}})
	f := &fakeAPI{
		secretList: func(swarm.SecretListOptions) ([]swarm.Secret, error) {
			return []swarm.Secret{{ID: "sec1", Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: "app_key"}}}}, nil
		},
		configList: func(swarm.ConfigListOptions) ([]swarm.Config, error) { return nil, nil },
		secretUpdate: func(string, swarm.Version, swarm.SecretSpec) error {
			// What the client answers for the engine's 400.
			return fmt.Errorf("Error response from daemon: rpc error: code = InvalidArgument desc = only updates to Labels are allowed: %w", cerrdefs.ErrInvalidArgument)
		},
	}
	_, err := Deploy(context.Background(), f, l, Options{ResolveImage: ResolveImageNever})
	if !errors.Is(err, errs.ErrConflict) {
		t.Fatalf("Deploy: %v, want a conflict", err)
	}
	pe, _ := errs.Public(err)
	if !strings.Contains(pe.Message, `secret "app_key" already exists with other content`) || !strings.Contains(pe.Message, "new name") {
		t.Errorf("message %q", pe.Message)
	}
	if d := cmp.Diff(f.calls, []string{"SecretList", "SecretList", "SecretUpdate app_key"}); d != "" {
		t.Errorf("calls (-got +want):\n%s", d)
	}
}

func TestDeploy_ConfigContentChanged(t *testing.T) {
	l := mustLoad(t, "app", Source{
		Compose: "version: \"3.8\"\nservices:\n  web:\n    image: hello:1\n    configs: [conf]\nconfigs:\n  conf:\n    file: ./c\n",
		Files:   map[string]string{"./c": "new"},
	})
	old := swarm.Config{ID: "c1", Spec: swarm.ConfigSpec{Annotations: swarm.Annotations{Name: "app_conf"}, Data: []byte("old")}}
	f := &fakeAPI{
		configList:    func(swarm.ConfigListOptions) ([]swarm.Config, error) { return []swarm.Config{old}, nil },
		configInspect: func(string) (swarm.Config, error) { return old, nil },
	}
	_, err := Deploy(context.Background(), f, l, Options{ResolveImage: ResolveImageNever})
	if !errors.Is(err, errs.ErrConflict) || !strings.Contains(err.Error(), `config "app_conf" already exists with other content`) {
		t.Fatalf("Deploy: %v, want a conflict", err)
	}
}

func TestDeploy_ChecksBeforeWriting(t *testing.T) {
	tests := []struct {
		name    string
		compose string
		engine  func(*fakeAPI)
		words   string
	}{
		{
			"missing external secret",
			"version: \"3.8\"\nservices:\n  web:\n    image: hello:1\n    secrets: [ext, key]\nsecrets:\n  ext: {external: true}\n  key: {file: ./k}\n",
			func(f *fakeAPI) {},
			"secret not found: ext",
		},
		{
			"missing external config",
			"version: \"3.8\"\nservices:\n  web:\n    image: hello:1\n    configs: [ext]\nconfigs:\n  ext: {external: true, name: shared}\n",
			func(f *fakeAPI) {},
			"config not found: shared",
		},
		{
			"missing external network",
			"version: \"3.8\"\nservices:\n  web:\n    image: hello:1\n    networks: [ext]\nnetworks:\n  ext: {external: true}\n",
			func(f *fakeAPI) {
				f.networkInspect = func(string) (network.Inspect, error) { return network.Inspect{}, cerrdefs.ErrNotFound }
			},
			`network "ext" is declared as external, but could not be found`,
		},
		{
			"local external network",
			"version: \"3.8\"\nservices:\n  web:\n    image: hello:1\n    networks: [ext]\nnetworks:\n  ext: {external: true}\n",
			func(f *fakeAPI) {
				f.networkInspect = func(string) (network.Inspect, error) { return network.Inspect{Scope: "local"}, nil }
			},
			`not in the right scope: "local" instead of "swarm"`,
		},
		{
			"undefined network",
			"version: \"3.8\"\nservices:\n  web:\n    image: hello:1\n    networks: [nowhere]\n",
			func(f *fakeAPI) {},
			`service web: undefined network "nowhere"`,
		},
		{
			"undefined secret",
			"version: \"3.8\"\nservices:\n  web:\n    image: hello:1\n    secrets: [nothing]\n",
			func(f *fakeAPI) {},
			`service web: undefined secret "nothing"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := mustLoad(t, "app", Source{Compose: tt.compose, Files: map[string]string{"./k": "k"}})
			f := &fakeAPI{
				secretList: func(swarm.SecretListOptions) ([]swarm.Secret, error) { return nil, nil },
				configList: func(swarm.ConfigListOptions) ([]swarm.Config, error) { return nil, nil },
			}
			tt.engine(f)
			_, err := Deploy(context.Background(), f, l, Options{ResolveImage: ResolveImageNever})
			if !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), tt.words) {
				t.Fatalf("Deploy: %v, want an errs.ErrInvalid saying %q", err, tt.words)
			}
			if pe, _ := errs.Public(err); pe.Field != "compose" {
				t.Errorf("field %q, want compose", pe.Field)
			}
			for _, c := range f.calls {
				if strings.Contains(c, "Create") || strings.Contains(c, "Update") {
					t.Errorf("wrote %s", c)
				}
			}
		})
	}
}

func TestDeploy_FailureSaysWhatWasDone(t *testing.T) {
	l := mustLoad(t, "app", Source{Compose: withSecret, Files: map[string]string{"./key.txt": "k"}})
	f := &fakeAPI{
		secretList: func(swarm.SecretListOptions) ([]swarm.Secret, error) { return nil, nil },
		configList: func(swarm.ConfigListOptions) ([]swarm.Config, error) { return nil, nil },
		secretCreate: func(swarm.SecretSpec) (swarm.SecretCreateResponse, error) {
			return swarm.SecretCreateResponse{ID: "s1"}, nil
		},
		networkList: func(network.ListOptions) ([]network.Summary, error) { return nil, nil },
		networkCreate: func(string, network.CreateOptions) (network.CreateResponse, error) {
			return network.CreateResponse{}, errs.Conflict("network is taken")
		},
	}
	_, err := Deploy(context.Background(), f, l, Options{ResolveImage: ResolveImageNever})
	want := "stack app: created secret app_key; then: failed to create network app_default: network is taken"
	if pe, ok := errs.Public(err); !ok || pe.Kind != errs.ErrConflict || !strings.HasPrefix(pe.Message, "stack app: created secret app_key; then: ") {
		t.Fatalf("Deploy: %v, want a conflict like %q", err, want)
	}

	f.networkCreate = func(string, network.CreateOptions) (network.CreateResponse, error) {
		return network.CreateResponse{}, errors.New("engine went away")
	}
	f.calls = nil
	_, err = Deploy(context.Background(), f, l, Options{ResolveImage: ResolveImageNever})
	if err == nil || err.Error() != "stack app: created secret app_key; then: failed to create network app_default: engine went away" {
		t.Fatalf("Deploy: %v", err)
	}
}

func TestDeploy_BadResolveImage(t *testing.T) {
	l := mustLoad(t, "app", Source{Compose: twoServices})
	_, err := Deploy(context.Background(), &fakeAPI{}, l, Options{ResolveImage: "sometimes"})
	if pe, ok := errs.Public(err); !ok || pe.Field != "resolve_image" {
		t.Fatalf("Deploy: %v, want invalid resolve_image", err)
	}
}

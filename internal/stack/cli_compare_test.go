package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	"github.com/google/go-cmp/cmp"

	"github.com/swarmops/swarmops/internal/testenv"
)

// snapshot is what the engine holds of a stack, with the stack's name
// replaced by STACK wherever it appears (object names, namespace labels,
// volume names) and references by ID replaced by names, so that two
// stacks deployed from one file compare equal.
type snapshot struct {
	Services map[string]swarm.ServiceSpec
	Networks map[string]networkSpec
	Secrets  map[string]swarm.SecretSpec
	Configs  map[string]swarm.ConfigSpec
}

// networkSpec is what a deploy decides of a network; the engine's own
// allocations (subnets, VXLAN IDs) are left out.
type networkSpec struct {
	Name       string
	Driver     string
	Scope      string
	EnableIPv6 bool
	IPAMDriver string
	IPAMOpts   map[string]string
	Internal   bool
	Attachable bool
	Ingress    bool
	Options    map[string]string
	Labels     map[string]string
}

// allocatedOptions are network options the engine sets itself.
var allocatedOptions = []string{"com.docker.network.driver.overlay.vxlanid_list"}

// descope replaces the stack's name in v by STACK: v goes through JSON,
// where a name is either a whole string or the "<stack>_" prefix of one.
func descope[T any](t *testing.T, stack string, v T) T {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), `"`+stack+`"`, `"STACK"`)
	s = strings.ReplaceAll(s, stack+"_", "STACK_")
	var out T
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// serviceSpecs answers the specs of a stack's services by descoped name,
// with networks, secrets and configs referred to by name instead of ID.
func serviceSpecs(t *testing.T, api client.APIClient, stack string) map[string]swarm.ServiceSpec {
	t.Helper()
	ctx := context.Background()
	nets, err := api.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	netName := map[string]string{}
	for _, n := range nets {
		netName[n.ID] = n.Name
	}
	svcs, err := api.ServiceList(ctx, swarm.ServiceListOptions{Filters: stackFilter(stack)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]swarm.ServiceSpec{}
	for _, s := range svcs {
		spec := s.Spec
		for i, n := range spec.TaskTemplate.Networks {
			name, ok := netName[n.Target]
			if !ok {
				t.Fatalf("service %s: network %s not found", spec.Name, n.Target)
			}
			spec.TaskTemplate.Networks[i].Target = name
		}
		if cs := spec.TaskTemplate.ContainerSpec; cs != nil {
			for _, r := range cs.Secrets {
				r.SecretID = "(id of " + r.SecretName + ")"
			}
			for _, r := range cs.Configs {
				r.ConfigID = "(id of " + r.ConfigName + ")"
			}
		}
		spec = descope(t, stack, spec)
		out[spec.Name] = spec
	}
	return out
}

// snapshotOf reads a stack's objects from the engine.
func snapshotOf(t *testing.T, api client.APIClient, stack string) snapshot {
	t.Helper()
	ctx := context.Background()
	snap := snapshot{Services: serviceSpecs(t, api, stack), Networks: map[string]networkSpec{},
		Secrets: map[string]swarm.SecretSpec{}, Configs: map[string]swarm.ConfigSpec{}}
	nets, err := api.NetworkList(ctx, network.ListOptions{Filters: stackFilter(stack)})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		opts := map[string]string{}
		for k, v := range n.Options {
			opts[k] = v
		}
		for _, k := range allocatedOptions {
			delete(opts, k)
		}
		spec := descope(t, stack, networkSpec{Name: n.Name, Driver: n.Driver, Scope: n.Scope, EnableIPv6: n.EnableIPv6,
			IPAMDriver: n.IPAM.Driver, IPAMOpts: n.IPAM.Options, Internal: n.Internal, Attachable: n.Attachable,
			Ingress: n.Ingress, Options: opts, Labels: n.Labels})
		snap.Networks[spec.Name] = spec
	}
	secrets, err := api.SecretList(ctx, swarm.SecretListOptions{Filters: stackFilter(stack)})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		spec := descope(t, stack, s.Spec)
		snap.Secrets[spec.Name] = spec
	}
	configs, err := api.ConfigList(ctx, swarm.ConfigListOptions{Filters: stackFilter(stack)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range configs {
		spec := descope(t, stack, c.Spec)
		snap.Configs[spec.Name] = spec
	}
	return snap
}

// deprecatedLine is a line of the CLI's deprecated options: "name: why".
var deprecatedLine = regexp.MustCompile(`^[a-z_]+: `)

// ignoredOptions answers the options the CLI's stderr says it ignores:
// "Ignoring unsupported options: a, b" and, after "Ignoring deprecated
// options:", lines "name: why".
func ignoredOptions(stderr string) []string {
	var out []string
	deprecated := false
	for _, line := range strings.Split(stderr, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "Ignoring unsupported options:"):
			for _, o := range strings.Split(strings.TrimPrefix(line, "Ignoring unsupported options:"), ",") {
				out = append(out, strings.TrimSpace(o))
			}
			deprecated = false
		case strings.HasPrefix(line, "Ignoring deprecated options:"):
			deprecated = true
		case deprecated && deprecatedLine.MatchString(line):
			out = append(out, line[:strings.Index(line, ":")])
		case deprecated && line != "":
			deprecated = false
		}
	}
	return out
}

var spaces = regexp.MustCompile(`\s+`)

// TestStacks_LikeTheCLI deploys each compose file of testdata/features
// through SwarmOps and with `docker stack deploy` on the same swarm, and
// compares every field of what the engine then holds: service specs,
// networks, secrets and configs, names and namespace labels aside; and
// the warnings of ignored options with what the CLI prints.
func TestStacks_LikeTheCLI(t *testing.T) {
	t.Parallel()
	sw, in, _ := sharedCluster(t, "eq")
	m := sw.Managers[0]
	api := m.Client()
	ext := stackName(t, "ext")
	hostname := filepath.Join(t.TempDir(), "content")
	if err := os.WriteFile(hostname, []byte("external content\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m.Docker(t, "network", "create", "--driver", "overlay", "--attachable", ext+"-net")
	t.Cleanup(func() { _ = api.NetworkRemove(context.Background(), ext+"-net") })
	m.Docker(t, "secret", "create", ext+"-secret", hostname)
	t.Cleanup(func() { _ = api.SecretRemove(context.Background(), ext+"-secret") })
	m.Docker(t, "config", "create", ext+"-config", hostname)
	t.Cleanup(func() { _ = api.ConfigRemove(context.Background(), ext+"-config") })
	env := map[string]string{
		"EXT_NET": ext + "-net", "EXT_SECRET": ext + "-secret", "EXT_CONFIG": ext + "-config",
		"GREETING": "hello from the env",
	}

	files, err := filepath.Glob("testdata/features/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no compose files in testdata/features: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yml"), func(t *testing.T) {
			t.Parallel()
			admin := in.Admin(t)
			src := readSource(t, file)
			a, b := stackName(t, "a"), stackName(t, "b")
			removeStackAfter(t, sw, a)
			removeStackAfter(t, sw, b)

			got := deploy(t, admin, "eq", deployReq{Name: a, Compose: src.Compose, Env: env, Files: src.Files})
			stderr := mustCLIDeploy(t, m, src, env, b)

			// A manager lists a network it has just created without its
			// driver for a moment (until the allocator has seen it).
			var viaCLI, viaAPI snapshot
			testenv.Poll(t, 30*time.Second, "both stacks' networks listed with their drivers", func() error {
				viaCLI, viaAPI = snapshotOf(t, api, b), snapshotOf(t, api, a)
				for _, snap := range []snapshot{viaCLI, viaAPI} {
					for name, n := range snap.Networks {
						if n.Driver == "" || n.IPAMDriver == "" {
							return fmt.Errorf("network %s has driver %q, IPAM driver %q", name, n.Driver, n.IPAMDriver)
						}
					}
				}
				return nil
			})
			if len(viaCLI.Services) == 0 {
				t.Fatalf("the CLI deployed no services of %s", file)
			}
			if diff := cmp.Diff(viaCLI, viaAPI); diff != "" {
				t.Errorf("%s: the engine's objects differ (-docker stack deploy +SwarmOps):\n%s", file, diff)
			}

			var created []string
			for name := range viaCLI.Services {
				created = append(created, strings.Replace(name, "STACK_", a+"_", 1))
			}
			checkLists(t, "deploy", got, created, nil, nil, nil)

			// Warnings: each is what the CLI prints, and together they
			// name every option the CLI says it ignores.
			printed := spaces.ReplaceAllString(stderr, " ")
			for _, w := range got.Warnings {
				if !strings.Contains(printed, strings.TrimSpace(spaces.ReplaceAllString(w, " "))) {
					t.Errorf("warning %q is not what the CLI printed:\n%s", w, stderr)
				}
			}
			all := strings.Join(got.Warnings, "\n")
			ignored := ignoredOptions(stderr)
			if strings.HasSuffix(file, "ignored.yml") && len(ignored) == 0 {
				t.Fatalf("the CLI ignored nothing of %s:\n%s", file, stderr)
			}
			for _, o := range ignored {
				if !strings.Contains(all, o) {
					t.Errorf("the CLI ignores %s, the warnings do not say so: %q", o, got.Warnings)
				}
			}
			if len(ignored) == 0 && len(got.Warnings) > 0 {
				t.Errorf("warnings %q where the CLI printed none:\n%s", got.Warnings, stderr)
			}
		})
	}
}

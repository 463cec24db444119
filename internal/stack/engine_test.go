package stack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/google/go-cmp/cmp"
	goredis "github.com/redis/go-redis/v9"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/lock"
	redislock "github.com/swarmops/swarmops/internal/lock/redis"
	"github.com/swarmops/swarmops/internal/testenv"
)

// These tests deploy compose files through the HTTP API onto the shared
// test swarm and check what the engine holds, next to what `docker stack
// deploy` makes of the same files.

// namespaceLabel is the label docker stack deploy puts on a stack's objects.
const namespaceLabel = "com.docker.stack.namespace"

// sharedCluster registers the shared swarm as a cluster of a fresh
// instance and answers an admin client of it.
func sharedCluster(t *testing.T, name string, opts ...apitest.Option) (*testenv.Swarm, *apitest.Instance, *apitest.Client) {
	t.Helper()
	sw := testenv.SharedSwarm(t)
	in := apitest.Start(t, apitest.Config(t, opts...))
	admin := in.Admin(t)
	register(t, admin, name, sw.Managers[0].Endpoint)
	return sw, in, admin
}

// register registers a swarm by one of its managers' endpoints and
// unregisters it when the test ends.
func register(t *testing.T, admin *apitest.Client, name, endpoint string) {
	t.Helper()
	admin.MustDo(http.MethodPost, "/api/v1/clusters", map[string]any{"name": name, "endpoint": endpoint}, nil, 201)
	t.Cleanup(func() { admin.Do(http.MethodDelete, "/api/v1/clusters/"+name, nil, nil) })
}

// patient makes a client wait for answers that come after a convergence
// wait of up to five minutes.
func patient(c *apitest.Client) *apitest.Client {
	c.HTTP.Timeout = 6 * time.Minute
	return c
}

// stackName answers a stack name unique to the test and tag: at most 20
// lowercase characters, readable from the test's name.
func stackName(t *testing.T, tag string) string {
	t.Helper()
	h := fnv.New32a()
	h.Write([]byte(t.Name() + "\x00" + tag))
	last := t.Name()[strings.LastIndex(t.Name(), "/")+1:]
	last = strings.TrimPrefix(strings.TrimPrefix(last, "TestStacks_"), "Test")
	var b strings.Builder
	for _, r := range strings.ToLower(last) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	base := b.String()
	if len(tag) > 4 {
		tag = tag[:4]
	}
	if max := 20 - 5 - len(tag); len(base) > max {
		base = base[:max]
	}
	if base == "" {
		base = "s"
	}
	return fmt.Sprintf("%s%s-%04x", base, tag, h.Sum32()&0xffff)
}

// deployReq is the body of POST .../stacks.
type deployReq struct {
	Name         string            `json:"name"`
	Compose      string            `json:"compose"`
	Env          map[string]string `json:"env,omitempty"`
	Files        map[string]string `json:"files,omitempty"`
	Prune        bool              `json:"prune,omitempty"`
	ResolveImage string            `json:"resolve_image"`
	Wait         string            `json:"wait,omitempty"`
}

// deployed is the answer of a deploy or a rollback.
type deployed struct {
	Revision int `json:"revision"`
	Services struct {
		Created   []string `json:"created"`
		Updated   []string `json:"updated"`
		Unchanged []string `json:"unchanged"`
		Removed   []string `json:"removed"`
	} `json:"services"`
	Warnings    []string     `json:"warnings"`
	Convergence *convergence `json:"convergence"`
}

type convergence struct {
	State    string               `json:"state"`
	Services []serviceConvergence `json:"services"`
}

type serviceConvergence struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	State        string `json:"state"`
	Desired      uint64 `json:"desired"`
	Running      uint64 `json:"running"`
	UpdateStatus *struct {
		State   string `json:"state"`
		Message string `json:"message"`
	} `json:"update_status"`
	Errors []struct {
		Task  string `json:"task"`
		Node  string `json:"node"`
		Error string `json:"error"`
	} `json:"errors"`
}

// source is a compose file of testdata with the files it names.
type source struct {
	Compose string
	Files   map[string]string // "./files/x" -> content
}

// readSource reads a compose file and the files of the "files" directory
// next to it that it names, keyed as it names them ("./files/x").
func readSource(t *testing.T, path string) source {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	src := source{Compose: string(b), Files: map[string]string{}}
	dir := filepath.Join(filepath.Dir(path), "files")
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.Contains(src.Compose, "./files/"+e.Name()) {
			continue // another compose file's
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		src.Files["./files/"+e.Name()] = string(data)
	}
	return src
}

// deploy deploys through the API and answers the 200 answer.
func deploy(t *testing.T, c *apitest.Client, cluster string, req deployReq) deployed {
	t.Helper()
	if req.ResolveImage == "" {
		req.ResolveImage = "never"
	}
	var out deployed
	c.MustDo(http.MethodPost, "/api/v1/clusters/"+cluster+"/stacks", req, &out, 200)
	return out
}

// cliDeploy runs `docker stack deploy --resolve-image never` of src as
// stack name against node n, with the compose file and its files written
// into a fresh directory (the CLI reads files relative to the compose
// file), and answers the CLI's stderr and error. The CLI's environment is
// env and PATH only, so that its interpolation sees exactly what the
// SwarmOps deploy is given, whatever the test process's environment holds.
func cliDeploy(t *testing.T, n *testenv.Node, src source, env map[string]string, name string) (string, error) {
	t.Helper()
	bin := testenv.Require(t, "docker", "docker.io")
	dir := t.TempDir()
	for rel, content := range src.Files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	compose := filepath.Join(dir, "docker-compose.yml")
	if err := os.WriteFile(compose, []byte(src.Compose), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-H", n.Socket, "stack", "deploy", "--resolve-image", "never", "-c", compose, name)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
		"DOCKER_CONFIG=" + filepath.Join(n.Dir, "cli"), "DOCKER_CLI_HINTS=false"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	return stderr.String(), err
}

// mustCLIDeploy is cliDeploy failing the test when the CLI fails.
func mustCLIDeploy(t *testing.T, n *testenv.Node, src source, env map[string]string, name string) string {
	t.Helper()
	stderr, err := cliDeploy(t, n, src, env, name)
	if err != nil {
		t.Fatalf("docker stack deploy %s: %v\n%s", name, err, stderr)
	}
	return stderr
}

// stackFilter selects the objects of a stack.
func stackFilter(name string) filters.Args {
	return filters.NewArgs(filters.Arg("label", namespaceLabel+"="+name))
}

// removeStackAfter removes a stack from the shared swarm when the test
// ends, whoever deployed it and whatever is left of it: services, then
// networks, secrets and configs, then (once its containers are gone) the
// named volumes its tasks made on every node.
func removeStackAfter(t *testing.T, sw *testenv.Swarm, name string) {
	t.Cleanup(func() {
		ctx := context.Background()
		api := sw.Managers[0].Client()
		deadline := time.Now().Add(90 * time.Second)
		var left map[string][]string
		for {
			var err error
			left, err = testenv.StackObjects(ctx, api, name)
			if err == nil && len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("cleanup: stack %s left on the shared swarm: %v (%v)", name, left, err)
				return
			}
			testenv.RemoveStackObjects(ctx, api, left)
			time.Sleep(200 * time.Millisecond)
		}
		for _, n := range sw.Nodes() {
			if vols, err := n.Client().VolumeList(ctx, volume.ListOptions{Filters: stackFilter(name)}); err == nil && len(vols.Volumes) == 0 {
				continue // the containers going away take nothing else along
			}
			for {
				cs, err := n.Client().ContainerList(ctx, container.ListOptions{All: true, Filters: stackFilter(name)})
				if err == nil && len(cs) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("cleanup: containers of stack %s left on %s: %d (%v)", name, n.Name, len(cs), err)
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
			vols, err := n.Client().VolumeList(ctx, volume.ListOptions{Filters: stackFilter(name)})
			if err != nil {
				t.Errorf("cleanup: volumes of stack %s on %s: %v", name, n.Name, err)
				continue
			}
			for _, v := range vols.Volumes {
				if err := n.Client().VolumeRemove(ctx, v.Name, true); err != nil {
					t.Errorf("cleanup: volume %s on %s: %v", v.Name, n.Name, err)
				}
			}
		}
	})
}

// versions answers the engine's version index of each service of a stack.
func versions(t *testing.T, api client.APIClient, name string) map[string]uint64 {
	t.Helper()
	svcs, err := api.ServiceList(context.Background(), swarm.ServiceListOptions{Filters: stackFilter(name)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, s := range svcs {
		out[s.Spec.Name] = s.Version.Index
	}
	return out
}

// settle waits until the engine has stopped writing the stack's services
// by itself, since a test that compares versions must not see those
// writes: an update writes its progress until it ends. updated
// names the services just updated: right after the update their status
// is not set yet, so for them the update must be seen to end, not only
// to be absent.
func settle(t *testing.T, api client.APIClient, name string, updated ...string) {
	t.Helper()
	testenv.Poll(t, 60*time.Second, "the services of stack "+name+" to settle", func() error {
		svcs, err := api.ServiceList(context.Background(), swarm.ServiceListOptions{Filters: stackFilter(name)})
		if err != nil {
			return err
		}
		for _, s := range svcs {
			u := s.UpdateStatus
			if u != nil && (u.State == swarm.UpdateStateUpdating || u.State == swarm.UpdateStateRollbackStarted) {
				return fmt.Errorf("%s: %s", s.Spec.Name, u.State)
			}
			if slices.Contains(updated, s.Spec.Name) && (u == nil || u.State != swarm.UpdateStateCompleted) {
				return fmt.Errorf("%s: update status %+v, want completed", s.Spec.Name, u)
			}
		}
		return nil
	})
}

// scoped answers the stack's names of services.
func scoped(name string, services ...string) []string {
	out := []string{}
	for _, s := range services {
		out = append(out, name+"_"+s)
	}
	slices.Sort(out)
	return out
}

// orEmpty makes nil lists compare equal to empty ones, sorted.
func orEmpty(s []string) []string {
	out := append([]string{}, s...)
	slices.Sort(out)
	return out
}

// checkLists compares a deploy's service lists with the wanted ones.
func checkLists(t *testing.T, what string, got deployed, created, updated, unchanged, removed []string) {
	t.Helper()
	type lists struct{ Created, Updated, Unchanged, Removed []string }
	g := lists{orEmpty(got.Services.Created), orEmpty(got.Services.Updated), orEmpty(got.Services.Unchanged), orEmpty(got.Services.Removed)}
	w := lists{orEmpty(created), orEmpty(updated), orEmpty(unchanged), orEmpty(removed)}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("%s: service lists (-want +got):\n%s", what, diff)
	}
}

// TestStacks_Redeploy: an unchanged file moves no version index; a changed
// env moves only the service that uses it; a service gone from the file
// stays without prune and goes with it.
func TestStacks_Redeploy(t *testing.T) {
	t.Parallel()
	sw, _, admin := sharedCluster(t, "rd")
	api := sw.Managers[0].Client()
	name := stackName(t, "")
	removeStackAfter(t, sw, name)
	full := readSource(t, "testdata/redeploy.yml")
	less := readSource(t, "testdata/redeploy-without-worker.yml")

	first := deploy(t, admin, "rd", deployReq{Name: name, Compose: full.Compose})
	checkLists(t, "first deploy", first, scoped(name, "web", "api", "worker"), nil, nil, nil)
	if first.Revision != 1 {
		t.Errorf("first deploy: revision %d, want 1", first.Revision)
	}
	settle(t, api, name)
	v1 := versions(t, api, name)

	again := deploy(t, admin, "rd", deployReq{Name: name, Compose: full.Compose})
	checkLists(t, "unchanged redeploy", again, nil, nil, scoped(name, "web", "api", "worker"), nil)
	if diff := cmp.Diff(v1, versions(t, api, name)); diff != "" {
		t.Errorf("an unchanged redeploy moved version indexes (-before +after):\n%s", diff)
	}

	debug := map[string]string{"API_LEVEL": "debug"}
	env := deploy(t, admin, "rd", deployReq{Name: name, Compose: full.Compose, Env: debug})
	checkLists(t, "env of api changed", env, nil, scoped(name, "api"), scoped(name, "web", "worker"), nil)
	settle(t, api, name, name+"_api")
	v3 := versions(t, api, name)
	for svc, v := range v3 {
		if moved := v != v1[svc]; moved != (svc == name+"_api") {
			t.Errorf("after changing api's env, %s went from version %d to %d", svc, v1[svc], v)
		}
	}
	if got := inspect(t, api, name+"_api").Spec.TaskTemplate.ContainerSpec.Env; !slices.Contains(got, "LEVEL=debug") {
		t.Errorf("api's env after the change: %v", got)
	}

	kept := deploy(t, admin, "rd", deployReq{Name: name, Compose: less.Compose, Env: debug})
	checkLists(t, "worker gone from the file, no prune", kept, nil, nil, scoped(name, "web", "api"), nil)
	if diff := cmp.Diff(v3, versions(t, api, name)); diff != "" {
		t.Errorf("a deploy without prune touched services (-before +after):\n%s", diff)
	}

	pruned := deploy(t, admin, "rd", deployReq{Name: name, Compose: less.Compose, Env: debug, Prune: true})
	checkLists(t, "worker gone from the file, prune", pruned, nil, nil, scoped(name, "web", "api"), scoped(name, "worker"))
	want := map[string]uint64{name + "_web": v3[name+"_web"], name + "_api": v3[name+"_api"]}
	if diff := cmp.Diff(want, versions(t, api, name)); diff != "" {
		t.Errorf("after prune (-want +got):\n%s", diff)
	}
	if got := []int{first.Revision, again.Revision, env.Revision, kept.Revision, pruned.Revision}; !slices.Equal(got, []int{1, 2, 3, 4, 5}) {
		t.Errorf("revisions %v, want 1 to 5", got)
	}
}

// inspect reads a service straight from the engine.
func inspect(t *testing.T, api client.APIClient, name string) swarm.Service {
	t.Helper()
	s, _, err := api.ServiceInspectWithRaw(context.Background(), name, swarm.ServiceInspectOptions{})
	if err != nil {
		t.Fatalf("inspect service %s: %v", name, err)
	}
	return s
}

// TestStacks_Convergence: with wait, a deploy whose image exists nowhere
// answers "failed" with the engine's reason within the wait, and a good
// deploy after it "converged" (the old failed tasks don't count); an
// update the engine rolls back by its failure_action says so.
func TestStacks_Convergence(t *testing.T) {
	t.Parallel()
	sw, in, _ := sharedCluster(t, "cv")
	api := sw.Managers[0].Client()

	t.Run("missing image, then a good one", func(t *testing.T) {
		t.Parallel()
		admin := patient(in.Admin(t))
		name := stackName(t, "")
		removeStackAfter(t, sw, name)
		src := readSource(t, "testdata/converge.yml")

		start := time.Now()
		bad := deploy(t, admin, "cv", deployReq{Name: name, Compose: src.Compose, Env: map[string]string{"IMAGE": "swarmops-test/nope:1"}, Wait: "60s"})
		if bad.Convergence == nil {
			t.Fatalf("a deploy with wait has no convergence: %+v", bad)
		}
		if bad.Convergence.State != "failed" || len(bad.Convergence.Services) != 1 {
			t.Fatalf("missing image: convergence %+v after %s, want failed", *bad.Convergence, time.Since(start))
		}
		svc := bad.Convergence.Services[0]
		if svc.Name != name+"_app" || svc.State != "failed" || len(svc.Errors) == 0 || !strings.Contains(svc.Errors[0].Error, "No such image") {
			t.Errorf("missing image: service convergence %+v, want failed with \"No such image\"", svc)
		}
		if time.Since(start) > 60*time.Second+10*time.Second {
			t.Errorf("missing image: the answer came after %s, beyond the wait", time.Since(start))
		}

		good := deploy(t, admin, "cv", deployReq{Name: name, Compose: src.Compose, Env: map[string]string{"IMAGE": testenv.HelloImage1}, Wait: "60s"})
		checkLists(t, "good image", good, nil, scoped(name, "app"), nil, nil)
		if good.Convergence == nil || good.Convergence.State != "converged" {
			t.Fatalf("good image after a missing one: convergence %+v, want converged", good.Convergence)
		}
		if s := good.Convergence.Services; len(s) != 1 || s[0].State != "converged" || s[0].Desired != 1 || s[0].Running != 1 || len(s[0].Errors) != 0 {
			t.Errorf("good image: service convergence %+v", s)
		}
	})

	t.Run("update rolled back", func(t *testing.T) {
		t.Parallel()
		admin := patient(in.Admin(t))
		name := stackName(t, "")
		removeStackAfter(t, sw, name)
		src := readSource(t, "testdata/rollback.yml")

		good := deploy(t, admin, "cv", deployReq{Name: name, Compose: src.Compose, Env: map[string]string{"IMAGE": testenv.HelloImage1}, Wait: "60s"})
		if good.Convergence == nil || good.Convergence.State != "converged" {
			t.Fatalf("first deploy: convergence %+v, want converged", good.Convergence)
		}
		bad := deploy(t, admin, "cv", deployReq{Name: name, Compose: src.Compose, Env: map[string]string{"IMAGE": "swarmops-test/nope:1"}, Wait: "90s"})
		checkLists(t, "update to a missing image", bad, nil, scoped(name, "app"), nil, nil)
		if bad.Convergence == nil || len(bad.Convergence.Services) != 1 {
			t.Fatalf("update to a missing image: convergence %+v", bad.Convergence)
		}
		svc := bad.Convergence.Services[0]
		if bad.Convergence.State != "failed" || svc.State != "failed" || svc.UpdateStatus == nil || svc.UpdateStatus.State != "rollback_completed" {
			t.Errorf("update to a missing image: convergence %+v, service %+v, want failed with update status rollback_completed",
				*bad.Convergence, svc)
		}
		if svc.UpdateStatus != nil && svc.UpdateStatus.Message == "" {
			t.Errorf("rolled back without the engine's message: %+v", svc.UpdateStatus)
		}
		if img := inspect(t, api, name+"_app").Spec.TaskTemplate.ContainerSpec.Image; img != testenv.HelloImage1 {
			t.Errorf("after the rollback the engine runs %s, want %s", img, testenv.HelloImage1)
		}
	})
}

// stackDetail is the part of GET .../stacks/{name} the tests read.
type stackDetail struct {
	Name     string `json:"name"`
	Services []struct {
		Name  string `json:"name"`
		Stack string `json:"stack"`
	} `json:"services"`
	Networks []struct {
		Name string `json:"name"`
	} `json:"networks"`
	Secrets []struct {
		Name string `json:"name"`
	} `json:"secrets"`
	Configs []struct {
		Name string `json:"name"`
	} `json:"configs"`
}

type stackList struct {
	Items []struct {
		Name     string `json:"name"`
		Services int    `json:"services"`
	} `json:"items"`
}

// TestStacks_DeployedByCLI: a stack deployed by `docker stack deploy` is
// listed, shown and removed through SwarmOps, and its first SwarmOps deploy
// of the unchanged file is revision 1 and changes nothing on the engine.
func TestStacks_DeployedByCLI(t *testing.T) {
	t.Parallel()
	sw, _, admin := sharedCluster(t, "cl")
	m := sw.Managers[0]
	api := m.Client()
	name := stackName(t, "")
	removeStackAfter(t, sw, name)
	src := readSource(t, "testdata/cli-stack.yml")
	mustCLIDeploy(t, m, src, nil, name)
	base := "/api/v1/clusters/cl/stacks"

	var list stackList
	admin.MustDo(http.MethodGet, base, nil, &list, 200)
	found := false
	for _, s := range list.Items {
		if s.Name == name {
			found = true
			if s.Services != 2 {
				t.Errorf("listed with %d services, want 2", s.Services)
			}
		}
	}
	if !found {
		t.Errorf("a stack deployed by the CLI is not listed: %+v", list)
	}

	var detail stackDetail
	admin.MustDo(http.MethodGet, base+"/"+name, nil, &detail, 200)
	names := func(n int, name func(i int) string) []string {
		out := []string{}
		for i := 0; i < n; i++ {
			out = append(out, name(i))
		}
		slices.Sort(out)
		return out
	}
	got := map[string][]string{
		"services": names(len(detail.Services), func(i int) string { return detail.Services[i].Name }),
		"networks": names(len(detail.Networks), func(i int) string { return detail.Networks[i].Name }),
		"secrets":  names(len(detail.Secrets), func(i int) string { return detail.Secrets[i].Name }),
		"configs":  names(len(detail.Configs), func(i int) string { return detail.Configs[i].Name }),
	}
	want := map[string][]string{
		"services": scoped(name, "front", "back"),
		"networks": scoped(name, "default", "inner"),
		"secrets":  scoped(name, "token"),
		"configs":  scoped(name, "settings"),
	}
	if diff := cmp.Diff(want, got); diff != "" || detail.Name != name {
		t.Errorf("detail of %s (-want +got):\n%s", detail.Name, diff)
	}

	var revs struct {
		Items []json.RawMessage `json:"items"`
	}
	admin.MustDo(http.MethodGet, base+"/"+name+"/revisions", nil, &revs, 200)
	if len(revs.Items) != 0 {
		t.Errorf("a stack only the CLI deployed has revisions: %s", revs.Items)
	}

	settle(t, api, name)
	before, beforeSnap := versions(t, api, name), snapshotOf(t, api, name)
	first := deploy(t, admin, "cl", deployReq{Name: name, Compose: src.Compose, Files: src.Files})
	if diff := cmp.Diff(beforeSnap, snapshotOf(t, api, name)); diff != "" {
		t.Errorf("the first SwarmOps deploy of the CLI's unchanged file changed the engine's objects (-CLI's +SwarmOps's):\n%s", diff)
	}
	if first.Revision != 1 {
		t.Errorf("first SwarmOps deploy: revision %d, want 1", first.Revision)
	}
	checkLists(t, "first SwarmOps deploy of the CLI's file", first, nil, nil, scoped(name, "front", "back"), nil)
	if diff := cmp.Diff(before, versions(t, api, name)); diff != "" {
		t.Errorf("the first SwarmOps deploy of the CLI's unchanged file moved version indexes (-before +after):\n%s", diff)
	}
	admin.MustDo(http.MethodGet, base+"/"+name+"/revisions", nil, &revs, 200)
	if len(revs.Items) != 1 {
		t.Errorf("after one SwarmOps deploy: %d revisions, want 1", len(revs.Items))
	}

	var removed struct {
		Services, Networks, Secrets, Configs []string
	}
	admin.MustDo(http.MethodDelete, base+"/"+name, nil, &removed, 200)
	gotRemoved := map[string][]string{"services": orEmpty(removed.Services), "networks": orEmpty(removed.Networks),
		"secrets": orEmpty(removed.Secrets), "configs": orEmpty(removed.Configs)}
	if diff := cmp.Diff(want, gotRemoved); diff != "" {
		t.Errorf("DELETE answered (-want +got):\n%s", diff)
	}
	testenv.Poll(t, 30*time.Second, "stack "+name+" gone from the engine", func() error {
		left, err := testenv.StackObjects(context.Background(), api, name)
		if err == nil && len(left) > 0 {
			err = fmt.Errorf("left: %v", left)
		}
		return err
	})
	admin.MustDo(http.MethodGet, base, nil, &list, 200)
	for _, s := range list.Items {
		if s.Name == name {
			t.Errorf("a removed stack is still listed: %+v", s)
		}
	}
}

// TestStacks_BadFiles: what the docker CLI refuses is a 400 with its
// message, and nothing of the stack is created.
func TestStacks_BadFiles(t *testing.T) {
	t.Parallel()
	sw, in, _ := sharedCluster(t, "bf")
	m := sw.Managers[0]
	tests := []struct {
		file string
		// sameAsCLI: the loader's own message, word for word as the CLI
		// prints it; else words the message must have.
		sameAsCLI bool
		words     []string
	}{
		{"yaml", true, []string{"yaml", "line 5"}},
		{"unknown-key", true, []string{"services.web", "replicas"}},
		{"duration", true, []string{"stop_grace_period", "duration"}},
		{"external-network", false, []string{"swarmops-no-such-network", "external"}},
		{"external-secret", false, []string{"swarmops-no-such-secret", "secret"}},
		{"required-var", true, []string{"X is required"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			src := readSource(t, "testdata/bad/"+tt.file+".yml")
			name := stackName(t, "")
			removeStackAfter(t, sw, name)

			status, text := in.Admin(t).Do(http.MethodPost, "/api/v1/clusters/bf/stacks",
				deployReq{Name: name, Compose: src.Compose, Files: src.Files, ResolveImage: "never"}, nil)
			if status != 400 {
				t.Fatalf("POST: %d %s, want 400", status, text)
			}
			e := apitest.ParseError(t, text)
			if e.Error.Code != "bad_request" {
				t.Errorf("error code %q, want bad_request", e.Error.Code)
			}
			for _, w := range tt.words {
				if !strings.Contains(e.Error.Message, w) {
					t.Errorf("message %q lacks %q", e.Error.Message, w)
				}
			}
			if tt.sameAsCLI {
				cliName := stackName(t, "cli")
				removeStackAfter(t, sw, cliName)
				stderr, err := cliDeploy(t, m, src, nil, cliName)
				if err == nil {
					t.Fatalf("the CLI deployed %s", tt.file)
				}
				lines := strings.Split(strings.TrimSpace(stderr), "\n")
				if cliMsg := strings.TrimSpace(lines[len(lines)-1]); !strings.Contains(e.Error.Message, cliMsg) {
					t.Errorf("message %q is not the CLI's %q", e.Error.Message, cliMsg)
				}
			}
			left, err := testenv.StackObjects(context.Background(), m.Client(), name)
			if err != nil {
				t.Fatal(err)
			}
			if len(left) > 0 {
				t.Errorf("a refused deploy created %v", left)
			}
		})
	}
}

// TestStacks_Lock: deploys of one stack through two instances sharing a
// Redis take turns; one that finds the stack busy waits up to its own
// wait, or SWARMOPS_LOCK_WAIT (2 s in tests) without one, then answers 423
// with Retry-After and changes nothing.
func TestStacks_Lock(t *testing.T) {
	t.Parallel()
	sw := testenv.SharedSwarm(t)
	api := sw.Managers[0].Client()
	r := testenv.Redis(t)
	prefix := fmt.Sprintf("stk-%d:", time.Now().UnixNano())
	in1 := apitest.Start(t, apitest.Config(t, apitest.WithRedis(r.URL(0), prefix)))
	in2 := apitest.Start(t, apitest.Config(t, apitest.WithRedis(r.URL(0), prefix)))
	register(t, in1.Admin(t), "lk", sw.Managers[0].Endpoint)
	// admins answers an admin client of each instance for t.
	admins := func(t *testing.T) (*apitest.Client, *apitest.Client) {
		return patient(in1.Admin(t)), patient(in2.Admin(t))
	}
	src := readSource(t, "testdata/lock.yml")
	slow := readSource(t, "testdata/lock-slow.yml")
	path := "/api/v1/clusters/lk/stacks"
	body := func(name, run string, s source, wait string) string {
		b, _ := json.Marshal(deployReq{Name: name, Compose: s.Compose, Env: map[string]string{"RUN": run}, ResolveImage: "never", Wait: wait})
		return string(b)
	}
	runOf := func(name string) string {
		for _, kv := range inspect(t, api, name+"_app").Spec.TaskTemplate.ContainerSpec.Env {
			if v, ok := strings.CutPrefix(kv, "RUN="); ok {
				return v
			}
		}
		return ""
	}
	locked := func(t *testing.T, resp *http.Response, text string) {
		t.Helper()
		if e := apitest.ParseError(t, text); resp.StatusCode != 423 || e.Error.Code != "locked" || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("while the stack is busy: %d Retry-After %q %s, want 423 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), text)
		}
	}

	t.Run("held by another instance", func(t *testing.T) {
		t.Parallel()
		_, admin2 := admins(t)
		name := stackName(t, "")
		removeStackAfter(t, sw, name)
		client := goredis.NewClient(&goredis.Options{Addr: r.Addr})
		defer client.Close()
		other := redislock.New(client, redislock.Options{Prefix: prefix + "lock:", Wait: time.Second})
		lease, err := other.Acquire(context.Background(), lock.StackKey("lk", name))
		if err != nil {
			t.Fatal(err)
		}
		defer lease.Release(context.Background())

		resp, text, err := admin2.Raw(http.MethodPost, path, strings.NewReader(body(name, "refused", src, "")), nil)
		if err != nil {
			t.Fatal(err)
		}
		locked(t, resp, text)
		if left, _ := testenv.StackObjects(context.Background(), api, name); len(left) > 0 {
			t.Fatalf("a deploy refused for the lock created %v", left)
		}

		// With a wait longer than the lock's holder keeps it (and longer
		// than SWARMOPS_LOCK_WAIT), the deploy waits for it and is made.
		const hold = 3 * time.Second
		start := time.Now()
		time.AfterFunc(hold, func() { _ = lease.Release(context.Background()) })
		resp, text, err = admin2.Raw(http.MethodPost, path, strings.NewReader(body(name, "waited", src, "30s")), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("deploy with wait while the lock is held for %s: %v %v %s", hold, err, resp, text)
		}
		if took := time.Since(start); took < hold {
			t.Errorf("the deploy answered after %s, before the lock was released (%s)", took, hold)
		}
		if got := runOf(name); got != "waited" {
			t.Errorf("RUN=%q on the engine, want waited", got)
		}
	})

	t.Run("two instances at once", func(t *testing.T) {
		t.Parallel()
		admin1, admin2 := admins(t)
		name := stackName(t, "")
		removeStackAfter(t, sw, name)
		var wg sync.WaitGroup
		answers := make([]deployed, 2)
		texts := make([]string, 2)
		codes := make([]int, 2)
		for i, c := range []*apitest.Client{admin1, admin2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, text, err := c.Raw(http.MethodPost, path, strings.NewReader(body(name, fmt.Sprint("run", i), src, "60s")), nil)
				if err != nil {
					texts[i] = err.Error()
					return
				}
				codes[i], texts[i] = resp.StatusCode, text
				_ = json.Unmarshal([]byte(text), &answers[i])
			}()
		}
		wg.Wait()
		if codes[0] != 200 || codes[1] != 200 {
			t.Fatalf("concurrent deploys: %d %s / %d %s, want both 200", codes[0], texts[0], codes[1], texts[1])
		}
		revs := []int{answers[0].Revision, answers[1].Revision}
		slices.Sort(revs)
		if !slices.Equal(revs, []int{1, 2}) {
			t.Errorf("concurrent deploys stored revisions %v, want 1 and 2", revs)
		}
		last := 0
		if answers[1].Revision > answers[0].Revision {
			last = 1
		}
		if got, want := runOf(name), fmt.Sprint("run", last); got != want {
			t.Errorf("RUN=%q on the engine, want %q of the deploy stored last", got, want)
		}
	})

	t.Run("slow first deploy", func(t *testing.T) {
		t.Parallel()
		admin1, admin2 := admins(t)
		name := stackName(t, "")
		removeStackAfter(t, sw, name)
		// The first deploy waits up to 10 s for a task that stays
		// "starting" for a minute: it holds the stack that long.
		first := make(chan error, 1)
		go func() {
			resp, text, err := admin1.Raw(http.MethodPost, path, strings.NewReader(body(name, "first", slow, "10s")), nil)
			if err == nil && resp.StatusCode != 200 {
				err = fmt.Errorf("%d %s", resp.StatusCode, text)
			}
			first <- err
		}()
		testenv.Poll(t, 15*time.Second, "the first deploy to create its service", func() error {
			_, _, err := api.ServiceInspectWithRaw(context.Background(), name+"_app", swarm.ServiceInspectOptions{})
			return err
		})
		resp, text, err := admin2.Raw(http.MethodPost, path, strings.NewReader(body(name, "second", slow, "")), nil)
		if err != nil {
			t.Fatal(err)
		}
		locked(t, resp, text)
		if err := <-first; err != nil {
			t.Fatalf("first deploy: %v", err)
		}
		if got := runOf(name); got != "first" {
			t.Errorf("RUN=%q on the engine, want first (the refused deploy changed it)", got)
		}
	})
}

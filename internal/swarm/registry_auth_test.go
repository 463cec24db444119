package swarm

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/api/types/swarm"
	"github.com/rs/zerolog"

	"github.com/swarmops/swarmops/internal/audit"
	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/lock/local"
	"github.com/swarmops/swarmops/internal/stack"
	"github.com/swarmops/swarmops/internal/store"
	localstore "github.com/swarmops/swarmops/internal/store/local"
	"github.com/swarmops/swarmops/internal/swarm/form"
	"github.com/swarmops/swarmops/internal/testenv"
)

// authWait bounds each wait for convergence: a pull from the bridge's
// registry and a start take a few seconds.
const authWait = 60 * time.Second

// authEnv is a 2-node swarm (a manager and a worker), a registry with
// basic auth on the swarm's bridge, and what the fleets of the tests
// share: store, pool, locks, audit and a log that must never hold the
// registry's password or the encoded credentials.
type authEnv struct {
	sw      *testenv.Swarm
	reg     *testenv.Registry
	st      *localstore.Store
	pool    *Pool
	locks   *local.Locker
	audit   *audit.Log
	cluster string
	enc     string // the registry's encoded X-Registry-Auth
	logs    testenv.SyncBuffer
	log     zerolog.Logger
	u       string // unique part of the test's names
}

// lookups is a RegistryAuth func that records the images it was asked for.
type lookups struct {
	mu     sync.Mutex
	images []string
	answer func(image string) (string, error)
}

func (l *lookups) auth(_ context.Context, image string) (string, error) {
	l.mu.Lock()
	l.images = append(l.images, image)
	l.mu.Unlock()
	return l.answer(image)
}

func (l *lookups) asked() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.images)
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func newAuthEnv(t *testing.T) *authEnv {
	t.Helper()
	e := &authEnv{u: randomHex(t, 3), cluster: "regauth"}
	e.sw = testenv.StartSwarm(t, testenv.SwarmOptions{Managers: 1, Workers: 1, Name: "ra"})
	e.reg = testenv.StartRegistryWith(t, testenv.RegistryOptions{User: "deployer", Password: "pw-" + randomHex(t, 12), Bridge: true})
	enc, err := registry.EncodeAuthConfig(registry.AuthConfig{Username: e.reg.User, Password: e.reg.Password, ServerAddress: e.reg.Addr})
	if err != nil {
		t.Fatal(err)
	}
	e.enc = enc
	e.st, err = localstore.Open(t.TempDir(), localstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.st.Close() })
	if err := e.st.CreateCluster(context.Background(), store.Cluster{Name: e.cluster, Endpoints: []string{e.sw.Managers[0].Endpoint}}); err != nil {
		t.Fatal(err)
	}
	// Each node is labelled with its name, for spreading replicas.
	api := e.sw.Managers[0].Client()
	for _, n := range e.sw.Nodes() {
		node, _, err := api.NodeInspectWithRaw(context.Background(), n.ID)
		if err != nil {
			t.Fatal(err)
		}
		node.Spec.Labels = map[string]string{"host": n.Name}
		if err := api.NodeUpdate(context.Background(), n.ID, node.Version, node.Spec); err != nil {
			t.Fatalf("label node %s: %v", n.Name, err)
		}
	}
	e.pool = NewPool(3 * time.Second)
	t.Cleanup(e.pool.Close)
	e.locks = local.New(30 * time.Second)
	e.audit = audit.New(e.st, "test")
	e.log = zerolog.New(&e.logs).Level(zerolog.DebugLevel)
	return e
}

// fleet answers a Fleet over the shared parts with lookup as its
// RegistryAuth.
func (e *authEnv) fleet(lookup func(context.Context, string) (string, error)) *Fleet {
	return NewFleet(e.st, e.pool, e.locks, e.audit, Options{EngineTimeout: 20 * time.Second, RegistryAuth: lookup})
}

// withCredentials answers the registry's credentials for its own images.
func (e *authEnv) withCredentials() *lookups {
	return &lookups{answer: func(image string) (string, error) {
		if strings.HasPrefix(image, e.reg.Addr+"/") {
			return e.enc, nil
		}
		return "", nil
	}}
}

func (e *authEnv) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(e.log.WithContext(context.Background()), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// ref is the name of repository repo:tag on the test's registry.
func (e *authEnv) ref(repo, tag string) string {
	return fmt.Sprintf("%s/hello-%s-%s:%s", e.reg.Addr, e.u, repo, tag)
}

// forget removes every reference (tags and digests) to the test
// registry's images whose name starts with prefix from every node;
// running containers keep their image, but a new task must pull it again.
// Parallel tests forget only their own repositories.
func (e *authEnv) forget(t *testing.T, prefix string) {
	t.Helper()
	ctx := context.Background()
	for _, n := range e.sw.Nodes() {
		list, err := n.Client().ImageList(ctx, image.ListOptions{All: true})
		if err != nil {
			t.Fatalf("list images on %s: %v", n.Name, err)
		}
		for _, img := range list {
			for _, r := range append(slices.Clone(img.RepoTags), img.RepoDigests...) {
				if !strings.HasPrefix(r, prefix) {
					continue
				}
				// Untagging a repository's last tag may take its digest too.
				if _, err := n.Client().ImageRemove(ctx, r, image.RemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
					t.Fatalf("untag %s on %s: %v", r, n.Name, err)
				}
			}
		}
	}
	for _, n := range e.sw.Nodes() {
		list, err := n.Client().ImageList(ctx, image.ListOptions{All: true})
		if err != nil {
			t.Fatalf("list images on %s: %v", n.Name, err)
		}
		for _, img := range list {
			for _, r := range append(slices.Clone(img.RepoTags), img.RepoDigests...) {
				if strings.HasPrefix(r, prefix) {
					t.Fatalf("%s still has %s after removing it", n.Name, r)
				}
			}
		}
	}
}

// runningOn answers the hostnames of the nodes running a task of
// service id with image (a prefix of the task's image; "" for any).
func (e *authEnv) runningOn(t *testing.T, id, imagePrefix string) []string {
	t.Helper()
	ctx := context.Background()
	api := e.sw.Managers[0].Client()
	tasks, err := api.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", id), filters.Arg("desired-state", "running"))})
	if err != nil {
		t.Fatal(err)
	}
	hosts := map[string]string{}
	for _, n := range e.sw.Nodes() {
		hosts[n.ID] = n.Name
	}
	var out []string
	for _, tk := range tasks {
		if tk.Status.State == swarm.TaskStateRunning && strings.HasPrefix(tk.Spec.ContainerSpec.Image, imagePrefix) {
			out = append(out, hosts[tk.NodeID])
		}
	}
	slices.Sort(out)
	return out
}

func (e *authEnv) nodeNames() []string {
	var out []string
	for _, n := range e.sw.Nodes() {
		out = append(out, n.Name)
	}
	slices.Sort(out)
	return out
}

// noSecrets fails the test if what holds the password or the encoded
// credentials.
func (e *authEnv) noSecrets(t *testing.T, what string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := v.(string); ok {
		b = []byte(s)
	}
	for _, secret := range []string{e.reg.Password, e.enc} {
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the registry's credentials: %s", what, b)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }

// spreadForm is a service of image, resolved to its digest, with two
// replicas spread over the nodes (by their label "host"): one on each.
// (Not a global service: a
// global service read right after its create has no tasks yet, which the
// convergence report takes for converged.)
func spreadForm(name, image string) form.Service {
	return form.Service{Name: &name, Image: &image, Replicas: ptrTo[uint64](2), PlacementPrefs: &[]string{"spread=node.labels.host"}, ResolveImage: ptrTo(true),
		UpdateConfig:   &form.UpdateConfig{Parallelism: ptrTo[uint64](1), Monitor: ptrTo("1s")},
		RollbackConfig: &form.UpdateConfig{Parallelism: ptrTo[uint64](1), Monitor: ptrTo("1s")}}
}

// TestRegistryAuth deploys from a registry with basic auth onto a swarm of
// two nodes, where no node has the images: a task runs only when the
// deploy sent the registry's credentials.
func TestRegistryAuth(t *testing.T) {
	e := newAuthEnv(t)
	images := map[string]string{
		e.ref("create", "1"): testenv.HelloImage1,
		e.ref("anon", "1"):   testenv.HelloImage1,
		e.ref("up", "1"):     testenv.HelloImage1,
		e.ref("up", "2"):     testenv.HelloImage2,
		e.ref("stack", "1"):  testenv.HelloImage1,
	}
	pushImages(t, e, images)
	e.forget(t, e.reg.Addr+"/")

	t.Run("deploys", func(t *testing.T) {
		t.Run("create with resolve_image runs on every node", func(t *testing.T) {
			t.Parallel()
			testAuthCreate(t, e)
		})
		t.Run("create without credentials reports the engine's pull error", func(t *testing.T) {
			t.Parallel()
			testAuthMissing(t, e)
		})
		t.Run("upgrade, rollback and redeploy pull with the credentials", func(t *testing.T) {
			t.Parallel()
			testAuthUpdates(t, e)
		})
		t.Run("stack deploy runs on every node", func(t *testing.T) {
			t.Parallel()
			testAuthStack(t, e)
		})
		t.Run("a failed lookup changes nothing", func(t *testing.T) {
			t.Parallel()
			testAuthLookupFails(t, e)
		})
	})

	e.noSecrets(t, "the log", e.logs.String())
	recs, err := e.st.ListAudit(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 {
		t.Error("no audit records")
	}
	e.noSecrets(t, "the audit records", recs)
}

// pushImages logs in to the registry from the manager, pushes images
// (target -> local source) and logs out.
func pushImages(t *testing.T, e *authEnv, images map[string]string) {
	t.Helper()
	n := e.sw.Managers[0]
	n.Docker(t, "login", "-u", e.reg.User, "-p", e.reg.Password, e.reg.Addr)
	for _, target := range slices.Sorted(maps.Keys(images)) {
		n.Docker(t, "tag", images[target], target)
		n.Docker(t, "push", target)
	}
	n.Docker(t, "logout", e.reg.Addr)
}

// awaitConverged waits for service id and fails unless it converged with
// a task on each node.
func awaitConverged(t *testing.T, e *authEnv, f *Fleet, id, what string) {
	t.Helper()
	conv, err := f.AwaitConvergence(e.ctx(t), e.cluster, []string{id}, authWait)
	if err != nil {
		t.Fatalf("%s: convergence: %v", what, err)
	}
	e.noSecrets(t, what+": the convergence report", conv)
	if conv.State != stateConverged || len(conv.Services) != 1 || conv.Services[0].Running != 2 {
		t.Fatalf("%s: waited up to %s for 2 running tasks, saw %+v", what, authWait, conv)
	}
}

func testAuthCreate(t *testing.T, e *authEnv) {
	l := e.withCredentials()
	f := e.fleet(l.auth)
	ctx := e.ctx(t)
	img := e.ref("create", "1")
	out, err := f.CreateService(ctx, e.cluster, auth.Admin, spreadForm("ra-create-"+e.u, img))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() { _ = f.RemoveService(context.Background(), e.cluster, out.ID) })
	e.noSecrets(t, "the create's answer", out)
	if len(out.Warnings) > 0 {
		t.Errorf("create warned (the digest should resolve with the credentials): %q", out.Warnings)
	}
	if got := l.asked(); !slices.Equal(got, []string{img}) {
		t.Errorf("credentials asked for %q, want [%s]", got, img)
	}
	awaitConverged(t, e, f, out.ID, "create")
	if got := e.runningOn(t, out.ID, ""); !slices.Equal(got, e.nodeNames()) {
		t.Errorf("tasks run on %v, want one on each of %v", got, e.nodeNames())
	}
	s, _, err := e.sw.Managers[0].Client().ServiceInspectWithRaw(ctx, out.ID, swarm.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Spec.TaskTemplate.ContainerSpec.Image; !strings.HasPrefix(got, img+"@sha256:") {
		t.Errorf("spec image %q, want %s pinned to a digest", got, img)
	}
}

func testAuthMissing(t *testing.T, e *authEnv) {
	l := &lookups{answer: func(string) (string, error) { return "", nil }} // no registered registry
	f := e.fleet(l.auth)
	ctx := e.ctx(t)
	img := e.ref("anon", "1")
	out, err := f.CreateService(ctx, e.cluster, auth.Admin, spreadForm("ra-anon-"+e.u, img))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() {
		if err := f.RemoveService(context.Background(), e.cluster, out.ID); err != nil {
			t.Errorf("remove: %v", err)
		}
	})
	if !slices.ContainsFunc(out.Warnings, func(w string) bool { return strings.Contains(w, "could not be accessed on a registry") }) {
		t.Errorf("create without credentials: want the client's digest warning, got %q", out.Warnings)
	}
	out = f.Await(ctx, e.cluster, out, authWait)
	if out.Convergence == nil {
		t.Fatalf("no convergence report: warnings %q", out.Warnings)
	}
	conv := *out.Convergence
	if conv.State != stateFailed || len(conv.Services) != 1 || len(conv.Services[0].Errors) == 0 {
		t.Fatalf("waited up to %s for the service to fail with task errors, saw %+v", authWait, conv)
	}
	// The engine fails the task with the image it could not find, after
	// logging why the pull failed: the registry asked for credentials.
	for _, te := range conv.Services[0].Errors {
		if !strings.Contains(te.Error, "No such image: "+img) {
			t.Errorf("task %s on %s: error %q, want the engine's pull error naming %s", te.Task, te.Node, te.Error, img)
		}
	}
	manifest := fmt.Sprintf("/v2/hello-%s-anon/manifests/1", e.u)
	for _, n := range e.sw.Nodes() {
		testenv.Poll(t, 10*time.Second, n.Name+"'s engine log of the refused pull of "+img, func() error {
			b, err := os.ReadFile(filepath.Join(n.Dir, "log"))
			if err != nil {
				return err
			}
			for _, line := range strings.Split(string(b), "\n") {
				if strings.Contains(line, "pulling image failed") && strings.Contains(line, manifest) && strings.Contains(line, "no basic auth credentials") {
					return nil
				}
			}
			return fmt.Errorf("no line with \"pulling image failed\", %s and \"no basic auth credentials\"", manifest)
		})
	}
}

func testAuthUpdates(t *testing.T, e *authEnv) {
	l := e.withCredentials()
	f := e.fleet(l.auth)
	ctx := e.ctx(t)
	v1, v2 := e.ref("up", "1"), e.ref("up", "2")
	out, err := f.CreateService(ctx, e.cluster, auth.Admin, spreadForm("ra-up-"+e.u, v1))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() { _ = f.RemoveService(context.Background(), e.cluster, out.ID) })
	awaitConverged(t, e, f, out.ID, "create")

	steps := []struct {
		what   string
		change func() (Changed, error)
		want   string // image now running (prefix), and whose credentials were asked for
	}{
		{"upgrade to tag 2", func() (Changed, error) { return f.SetServiceImage(ctx, e.cluster, out.ID, auth.Admin, "", "2", true) }, v2},
		{"rollback", func() (Changed, error) { return f.RollbackService(ctx, e.cluster, out.ID) }, v1 + "@sha256:"},
		{"redeploy", func() (Changed, error) { return f.RedeployService(ctx, e.cluster, out.ID) }, v1 + "@sha256:"},
	}
	for _, st := range steps {
		// No node has the image any more: the new tasks pull it.
		e.forget(t, e.ref("up", ""))
		before := len(l.asked())
		ch, err := st.change()
		if err != nil {
			t.Fatalf("%s: %v", st.what, err)
		}
		e.noSecrets(t, st.what+": the answer", ch)
		asked := l.asked()[before:]
		if len(asked) != 1 || !strings.HasPrefix(asked[0], st.want) {
			t.Errorf("%s: credentials asked for %q, want one image %s...", st.what, asked, st.want)
		}
		awaitConverged(t, e, f, out.ID, st.what)
		if got := e.runningOn(t, out.ID, st.want); !slices.Equal(got, e.nodeNames()) {
			t.Errorf("%s: tasks of %s run on %v, want one on each of %v", st.what, st.want, got, e.nodeNames())
		}
	}
}

func testAuthStack(t *testing.T, e *authEnv) {
	l := e.withCredentials()
	f := e.fleet(l.auth)
	ctx := e.ctx(t)
	img := e.ref("stack", "1")
	name := "ra-stack-" + e.u
	compose := fmt.Sprintf("version: \"3.8\"\nservices:\n  web:\n    image: %s\n    deploy:\n      replicas: 2\n      placement: {max_replicas_per_node: 1}\n", img)
	out, err := f.DeployStack(ctx, e.cluster, auth.Admin, StackDeploy{Name: name, Source: stack.Source{Compose: compose}, Wait: authWait})
	t.Cleanup(func() {
		if _, err := f.RemoveStack(context.Background(), e.cluster, name); err != nil {
			t.Errorf("remove stack: %v", err)
		}
	})
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	e.noSecrets(t, "the deploy's answer", out)
	if got := l.asked(); !slices.Equal(got, []string{img}) {
		t.Errorf("credentials asked for %q, want [%s] once", got, img)
	}
	if c := out.Convergence; c == nil || c.State != stateConverged || len(c.Services) != 1 || c.Services[0].Running != 2 {
		t.Fatalf("waited up to %s for the stack to converge on 2 nodes; answer %+v, convergence %+v", authWait, out.Result, c)
	}
	if got := e.runningOn(t, out.Changed[0], img+"@sha256:"); !slices.Equal(got, e.nodeNames()) {
		t.Errorf("tasks of %s run on %v, want one on each of %v", img, got, e.nodeNames())
	}
}

func testAuthLookupFails(t *testing.T, e *authEnv) {
	ctx := e.ctx(t)
	down := errs.Unavailable(errors.New("dial tcp: connection refused"), "the registry store is unreachable")
	failing := &lookups{answer: func(string) (string, error) { return "", down }}
	f := e.fleet(failing.auth)
	img := e.ref("create", "1")
	api := e.sw.Managers[0].Client()

	wantRefused := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: made despite the failed lookup", what)
		}
		msg := publicMessage(err)
		if !errors.Is(err, errs.ErrUnavailable) || !strings.Contains(msg, "registry lookup for image "+img) ||
			!strings.Contains(msg, "the registry store is unreachable") || !strings.Contains(msg, "nothing was changed") {
			t.Errorf("%s: %v; want unavailable, naming the registry lookup, the image and the store's message", what, err)
		}
		if errs.IsMaybeApplied(err) {
			t.Errorf("%s: answered as maybe applied, though nothing was sent: %v", what, err)
		}
	}

	name := "ra-fail-" + e.u
	_, err := f.CreateService(ctx, e.cluster, auth.Admin, spreadForm(name, img))
	wantRefused("create", err)
	if list, _ := api.ServiceList(ctx, swarm.ServiceListOptions{Filters: filters.NewArgs(filters.Arg("name", name))}); len(list) > 0 {
		t.Errorf("create: service %s was made: %+v", name, list[0].Spec.Name)
	}

	// An update of an existing service (made without tasks) is refused too.
	plain := e.fleet(e.withCredentials().auth)
	fm := spreadForm(name+"-kept", testenv.HelloImage1)
	fm.Replicas, fm.ResolveImage = ptrTo[uint64](0), nil
	kept, err := plain.CreateService(ctx, e.cluster, auth.Admin, fm)
	if err != nil {
		t.Fatalf("create a service to update: %v", err)
	}
	t.Cleanup(func() { _ = plain.RemoveService(context.Background(), e.cluster, kept.ID) })
	before, _, err := api.ServiceInspectWithRaw(ctx, kept.ID, swarm.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.SetServiceImage(ctx, e.cluster, kept.ID, auth.Admin, img, "", false)
	wantRefused("image upgrade", err)
	after, _, err := api.ServiceInspectWithRaw(ctx, kept.ID, swarm.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.Version != before.Version {
		t.Errorf("image upgrade: the service changed from version %d to %d", before.Version.Index, after.Version.Index)
	}

	// A stack: not even its network is created.
	st := "ra-stackfail-" + e.u
	compose := fmt.Sprintf("version: \"3.8\"\nservices:\n  web:\n    image: %s\n", img)
	_, err = f.DeployStack(ctx, e.cluster, auth.Admin, StackDeploy{Name: st, Source: stack.Source{Compose: compose}})
	wantRefused("stack deploy", err)
	label := filters.NewArgs(filters.Arg("label", StackLabel+"="+st))
	if list, _ := api.ServiceList(ctx, swarm.ServiceListOptions{Filters: label}); len(list) > 0 {
		t.Errorf("stack deploy: services made: %d", len(list))
	}
	if nets, _ := api.NetworkList(ctx, network.ListOptions{Filters: label}); len(nets) > 0 {
		t.Errorf("stack deploy: networks made: %s", nets[0].Name)
	}
	// The public message shows the store's message, never the cause's.
	if msg := publicMessage(err); strings.Contains(msg, "connection refused") {
		t.Errorf("the message shows the lookup's internal cause: %s", msg)
	}
}

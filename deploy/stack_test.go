package deploy_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/volume"

	"github.com/swarmops/swarmops/internal/testenv"
)

// The test's images: SwarmOps from `make image`, Redis and nginx from the
// Debian binaries of this machine (nothing can be pulled here).
const (
	stackName     = "swarmops"
	swarmopsImage = "swarmops-test/swarmops:stack"
	redisImage    = "swarmops-test/redis:stack"
	nginxImage    = "swarmops-test/nginx:stack"
	stackHTTPPort = 18080
)

// TestStackSelfDeploy deploys stack.yaml with `docker stack deploy` on a
// swarm and uses SwarmOps through the nginx it publishes, while SwarmOps
// scales and loses a task.
func TestStackSelfDeploy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts engines and deploys a stack")
	}
	testenv.Require(t, "make", "make")
	testenv.Require(t, "redis-server", "redis-server")
	testenv.Require(t, "nginx", "nginx")
	testenv.Require(t, "dash", "dash")
	sw := testenv.SharedSwarm(t)
	root := repoRoot(t)
	m1 := sw.Managers[0]
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	buildStackImages(t, ctx, sw, root)

	// Secrets, as an operator would write them.
	dir := testenv.SubDir(t, "stack")
	redisPw, adminPwFile, redisPwFile := randomHex(t), filepath.Join(dir, "admin_password"), filepath.Join(dir, "redis_password")
	if err := os.WriteFile(redisPwFile, []byte(redisPw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(adminPwFile, []byte(adminPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secretKey, _ := newSecretKey(t)
	secretKeyFile := filepath.Join(dir, "secret_key")
	if err := os.WriteFile(secretKeyFile, []byte(secretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Every test engine has its socket under its own directory, so the
	// socket-path variable is a swarm template resolved on each node.
	socks := filepath.Join(dir, "socks")
	if err := os.Mkdir(socks, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range sw.Nodes() {
		if err := os.Symlink(strings.TrimPrefix(n.Socket, "unix://"), filepath.Join(socks, n.Name+".sock")); err != nil {
			t.Fatal(err)
		}
	}
	var st syscall.Stat_t
	if err := syscall.Stat(strings.TrimPrefix(m1.Socket, "unix://"), &st); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"SWARMOPS_IMAGE=" + swarmopsImage,
		"REDIS_IMAGE=" + redisImage,
		"NGINX_IMAGE=" + nginxImage,
		"PUBLISH_MODE=host",
		"HTTP_PORT=" + strconv.Itoa(stackHTTPPort),
		"DOCKER_SOCK=" + filepath.Join(socks, "{{.Node.Hostname}}.sock"),
		"DOCKER_GID=" + strconv.Itoa(int(st.Gid)),
		"REDIS_PASSWORD_FILE=" + redisPwFile,
		"ADMIN_PASSWORD_FILE=" + adminPwFile,
		"SECRET_KEY_FILE=" + secretKeyFile,
	}
	out, err := dockerCLI(ctx, m1, root, env, "stack", "deploy", "-c", "stack.yaml", "--resolve-image", "never", "--detach=true", stackName)
	t.Cleanup(func() { removeStack(t, sw) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("docker stack deploy -c stack.yaml %s:\n%s", stackName, out)

	// The published nginx port answers on the nodes that run nginx.
	var base string
	var s session
	testenv.Poll(t, 3*time.Minute, "admin login through the stack's nginx", func() error {
		addrs, err := taskNodeAddrs(ctx, sw, stackName+"_nginx")
		if err != nil {
			return err
		}
		if len(addrs) == 0 {
			return fmt.Errorf("no nginx task running yet; %s", stackState(ctx, sw))
		}
		var errs []string
		for _, a := range addrs {
			u := "http://" + net.JoinHostPort(a, strconv.Itoa(stackHTTPPort))
			if s, err = login(u); err == nil {
				base = u
				return nil
			}
			errs = append(errs, u+": "+err.Error())
		}
		return fmt.Errorf("%s; %s", strings.Join(errs, "; "), stackState(ctx, sw))
	})
	t.Logf("logged in through nginx at %s", base)
	if st, body, _, err := get(base+"/api/v1/version", ""); err != nil || st != 200 ||
		!strings.Contains(string(body), `"store":"redis"`) || !strings.Contains(string(body), `"version":"ha-test"`) {
		t.Errorf("version through nginx: %d %v %s; want the test's build in redis mode", st, err, body)
	}

	// SwarmOps registered the swarm it runs on (through the engine socket
	// of its manager) and lists the stack's own services.
	testenv.Poll(t, time.Minute, "the stack's services listed by SwarmOps through nginx", func() error {
		st, body, _, err := get(base+"/api/v1/clusters/local/services", s.Cookie)
		if err != nil || st != 200 {
			return fmt.Errorf("%d %v %.300s", st, err, body)
		}
		for _, svc := range []string{"swarmops", "redis", "nginx"} {
			if !strings.Contains(string(body), `"name":"`+stackName+"_"+svc+`"`) {
				return fmt.Errorf("no %s_%s in %.500s", stackName, svc, body)
			}
		}
		return nil
	})

	// SwarmOps scales itself, and nginx follows (DNS, not a restart).
	// (nginx exits at start while no SwarmOps task is in DNS yet: wait
	// until both replicas serve, on the same tasks before and after.)
	var nginxTasks []string
	testenv.Poll(t, 2*time.Minute, "both nginx replicas serving", func() error {
		if nginxTasks = runningTaskIDs(t, ctx, sw, stackName+"_nginx"); len(nginxTasks) != 2 {
			return fmt.Errorf("%d running; %s", len(nginxTasks), stackState(ctx, sw))
		}
		addrs, err := taskNodeAddrs(ctx, sw, stackName+"_nginx")
		if err != nil {
			return err
		}
		for _, a := range addrs {
			u := "http://" + net.JoinHostPort(a, strconv.Itoa(stackHTTPPort)) + "/readyz"
			if st, body, _, err := get(u, ""); err != nil || st != 200 {
				return fmt.Errorf("%s: %d %v %s", u, st, err, body)
			}
		}
		if again := runningTaskIDs(t, ctx, sw, stackName+"_nginx"); !slices.Equal(again, nginxTasks) {
			return fmt.Errorf("nginx tasks changed: %v, then %v", nginxTasks, again)
		}
		return nil
	})
	st2, body, _, err := do(httpClient, http.MethodPost, base+"/api/v1/clusters/local/services/"+stackName+"_swarmops/scale", s,
		map[string]any{"replicas": 3}, nil)
	if err != nil || st2 != 200 {
		t.Fatalf("scale SwarmOps to 3 through its own API: %d %v %s", st2, err, body)
	}
	seen := waitInstances(t, ctx, sw, base, s, 3)
	t.Logf("3 instances answer through nginx: %v", seen)

	// Remove one task's container under the engine's feet.
	tasks, err := m1.Client().TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(
		filters.Arg("service", stackName+"_swarmops"), filters.Arg("desired-state", "running"))})
	if err != nil {
		t.Fatal(err)
	}
	var victim *swarm.Task
	for i := range tasks {
		if tasks[i].Status.State == swarm.TaskStateRunning && tasks[i].Status.ContainerStatus != nil {
			victim = &tasks[i]
			break
		}
	}
	if victim == nil {
		t.Fatalf("no running SwarmOps task: %s", stackState(ctx, sw))
	}
	node := nodeByID(sw, victim.NodeID)
	if _, err := dockerCLI(ctx, node, "", nil, "rm", "-f", victim.Status.ContainerStatus.ContainerID); err != nil {
		t.Fatal(err)
	}
	t.Logf("removed the container of task %s.%d on %s", stackName+"_swarmops", victim.Slot, node.Name)

	// Still served: every read answers, whichever instance it reaches.
	by := map[string]int{}
	for i := 0; i < 100; i++ {
		st, body, h, err := get(base+"/api/v1/auth/me", s.Cookie)
		if err != nil || st != 200 {
			t.Fatalf("read %d through nginx after the container was removed: %d %v %s", i, st, err, body)
		}
		by[h.Get("X-SwarmOps-Instance")]++
	}
	t.Logf("100 reads after the removal, answered by %v", by)
	if st, body, _, err := get(base+"/api/v1/clusters/local/services", s.Cookie); err != nil || st != 200 {
		t.Errorf("service list after the removal: %d %v %.300s", st, err, body)
	}
	// Swarm replaces the task, and nginx finds it.
	seen = waitInstances(t, ctx, sw, base, s, 3)
	t.Logf("3 instances answer again: %v", seen)
	// nginx learned of the new tasks by itself: the same nginx tasks ran
	// throughout (no restart, no reload).
	if now := runningTaskIDs(t, ctx, sw, stackName+"_nginx"); !slices.Equal(now, nginxTasks) {
		t.Errorf("nginx tasks changed from %v to %v: it was restarted", nginxTasks, now)
	}
}

// runningTaskIDs answers the sorted IDs of service's running tasks.
func runningTaskIDs(t *testing.T, ctx context.Context, sw *testenv.Swarm, service string) []string {
	t.Helper()
	tasks, err := sw.Managers[0].Client().TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(
		filters.Arg("service", service), filters.Arg("desired-state", "running"))})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, tk := range tasks {
		if tk.Status.State == swarm.TaskStateRunning {
			ids = append(ids, tk.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// buildStackImages builds the stack's three images on every node.
func buildStackImages(t *testing.T, ctx context.Context, sw *testenv.Swarm, root string) {
	t.Helper()
	m1 := sw.Managers[0]
	// SwarmOps: `make image` with the binary the tests built, on one
	// engine, then loaded into the others.
	mk := exec.CommandContext(ctx, "make", "--no-print-directory", "image",
		"IMAGE_BIN="+swarmopsBinary(t), "IMAGE="+swarmopsImage, "DOCKER=docker -H "+m1.Socket)
	mk.Dir = root
	mk.Env = append(cleanEnv("DOCKER_"), "DOCKER_CONFIG="+filepath.Join(m1.Dir, "cli-deploy"), "DOCKER_CLI_HINTS=false")
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
	ii, _, err := m1.Client().ImageInspectWithRaw(ctx, swarmopsImage)
	if err != nil {
		t.Fatal(err)
	}
	if c := ii.Config; c.User != "10130:10130" || c.Healthcheck == nil ||
		!slices.Equal(c.Healthcheck.Test, []string{"CMD", "/swarmops", "healthcheck"}) ||
		!slices.Contains(c.Env, "SWARMOPS_DATA_DIR=/data") || len(ii.RootFS.Layers) > 5 {
		t.Errorf("%s: user %q, healthcheck %+v, env %v, %d layers; want a non-root FROM scratch image with its healthcheck",
			swarmopsImage, c.User, c.Healthcheck, c.Env, len(ii.RootFS.Layers))
	}
	if _, ok := ii.Config.ExposedPorts["10130/tcp"]; !ok {
		t.Errorf("%s exposes %v, want 10130/tcp", swarmopsImage, ii.Config.ExposedPorts)
	}
	img, err := m1.Client().ImageSave(ctx, []string{swarmopsImage})
	if err != nil {
		t.Fatal(err)
	}
	err = sw.LoadImage(img)
	img.Close()
	if err != nil {
		t.Fatalf("load %s on every node: %v", swarmopsImage, err)
	}

	// Redis: Debian's redis-server, and dash as /bin/sh for the stack's
	// entrypoint (which reads the password secret, as the official image's
	// shell would); /data world-writable like the official image's.
	data := testenv.SubDir(t, "redis-image-data")
	if err := os.Chmod(data, 0o777); err != nil {
		t.Fatal(err)
	}
	bc, err := testenv.ScratchImageContext("redis-server", map[string]string{"/bin/sh": "/bin/dash", "/data": data})
	if err == nil {
		err = sw.BuildImage(bc, redisImage)
	}
	if err != nil {
		t.Fatalf("build %s: %v", redisImage, err)
	}

	// nginx: Debian's binary with a main config like the official image's.
	td := filepath.Join(root, "deploy", "testdata", "nginx-image")
	bc, err = testenv.ScratchImageContext("nginx", map[string]string{
		"/etc/nginx/nginx.conf": filepath.Join(td, "nginx.conf"),
		"/etc/nginx/mime.types": "/etc/nginx/mime.types",
		"/etc/passwd":           filepath.Join(td, "passwd"),
		"/etc/group":            filepath.Join(td, "group"),
	})
	if err == nil {
		err = sw.BuildImage(bc, nginxImage)
	}
	if err != nil {
		t.Fatalf("build %s: %v", nginxImage, err)
	}
}

// waitInstances polls batches of reads through nginx until want distinct
// instances answer one batch, and answers how many each served.
func waitInstances(t *testing.T, ctx context.Context, sw *testenv.Swarm, base string, s session, want int) map[string]int {
	t.Helper()
	var seen map[string]int
	testenv.Poll(t, 2*time.Minute, fmt.Sprintf("%d SwarmOps instances answering through nginx", want), func() error {
		seen = map[string]int{}
		for i := 0; i < 30; i++ {
			st, body, h, err := get(base+"/api/v1/auth/me", s.Cookie)
			if err != nil || st != 200 {
				return fmt.Errorf("read through nginx: %d %v %.200s", st, err, body)
			}
			seen[h.Get("X-SwarmOps-Instance")]++
		}
		if len(seen) < want {
			return fmt.Errorf("answered by %v; %s", seen, stackState(ctx, sw))
		}
		return nil
	})
	return seen
}

// taskNodeAddrs answers the addresses of the nodes running a task of
// service.
func taskNodeAddrs(ctx context.Context, sw *testenv.Swarm, service string) ([]string, error) {
	tasks, err := sw.Managers[0].Client().TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(
		filters.Arg("service", service), filters.Arg("desired-state", "running"))})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, tk := range tasks {
		if n := nodeByID(sw, tk.NodeID); tk.Status.State == swarm.TaskStateRunning && n != nil {
			out = append(out, n.Addr)
		}
	}
	return out, nil
}

func nodeByID(sw *testenv.Swarm, id string) *testenv.Node {
	for _, n := range sw.Nodes() {
		if n.ID == id {
			return n
		}
	}
	return nil
}

// stackState describes the stack's tasks, for failure messages.
func stackState(ctx context.Context, sw *testenv.Swarm) string {
	tasks, err := sw.Managers[0].Client().TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(
		filters.Arg("label", "com.docker.stack.namespace="+stackName))})
	if err != nil {
		return "tasks: " + err.Error()
	}
	names := map[string]string{}
	if svcs, err := sw.Managers[0].Client().ServiceList(ctx, swarm.ServiceListOptions{}); err == nil {
		for _, s := range svcs {
			names[s.ID] = s.Spec.Name
		}
	}
	var lines []string
	for _, tk := range tasks {
		if tk.DesiredState != swarm.TaskStateRunning && tk.Status.State != swarm.TaskStateRunning && time.Since(tk.Status.Timestamp) > time.Minute {
			continue
		}
		node := "?"
		if n := nodeByID(sw, tk.NodeID); n != nil {
			node = n.Name
		}
		lines = append(lines, fmt.Sprintf("%s.%d on %s: %s (want %s) %s %s", names[tk.ServiceID], tk.Slot, node,
			tk.Status.State, tk.DesiredState, tk.Status.Message, tk.Status.Err))
	}
	slices.Sort(lines)
	return "stack tasks:\n  " + strings.Join(lines, "\n  ")
}

// removeStack removes the stack and everything it left on the nodes, so
// that the shared swarm is as the test found it.
func removeStack(t *testing.T, sw *testenv.Swarm) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	m1 := sw.Managers[0]
	if t.Failed() {
		t.Log(stackState(ctx, sw))
		for _, svc := range []string{"swarmops", "redis", "nginx"} {
			out, _ := dockerCLI(ctx, m1, "", nil, "service", "logs", "--tail", "30", "--no-task-ids", stackName+"_"+svc)
			t.Logf("docker service logs %s_%s:\n%s", stackName, svc, out)
		}
	}
	if out, err := dockerCLI(ctx, m1, "", nil, "stack", "rm", stackName); err != nil {
		t.Errorf("docker stack rm: %v\n%s", err, out)
	}
	ns := filters.Arg("label", "com.docker.stack.namespace="+stackName)
	testenv.Poll(t, 2*time.Minute, "the stack's containers, network, volume, secrets and configs gone", func() error {
		var left []string
		for _, n := range sw.Nodes() {
			cs, err := n.Client().ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(ns)})
			if err != nil {
				return err
			}
			for _, c := range cs {
				left = append(left, n.Name+": container "+c.ID[:12])
			}
			vs, err := n.Client().VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(ns)})
			if err != nil {
				return err
			}
			for _, v := range vs.Volumes {
				if len(cs) == 0 {
					_ = n.Client().VolumeRemove(ctx, v.Name, true)
				}
				left = append(left, n.Name+": volume "+v.Name)
			}
		}
		nets, err := m1.Client().NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(ns)})
		if err != nil {
			return err
		}
		for _, nw := range nets {
			_ = m1.Client().NetworkRemove(ctx, nw.ID)
			left = append(left, "network "+nw.Name)
		}
		secrets, err := m1.Client().SecretList(ctx, swarm.SecretListOptions{Filters: filters.NewArgs(ns)})
		if err != nil {
			return err
		}
		for _, s := range secrets {
			left = append(left, "secret "+s.Spec.Name)
		}
		configs, err := m1.Client().ConfigList(ctx, swarm.ConfigListOptions{Filters: filters.NewArgs(ns)})
		if err != nil {
			return err
		}
		for _, c := range configs {
			left = append(left, "config "+c.Spec.Name)
		}
		if len(left) > 0 {
			return fmt.Errorf("left: %s", strings.Join(left, ", "))
		}
		return nil
	})
}

func randomHex(t testing.TB) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

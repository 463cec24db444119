package testenv_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/sockets"

	"github.com/swarmops/swarmops/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func TestStartSwarm(t *testing.T) {
	t.Parallel()
	start := time.Now()
	s := testenv.StartSwarm(t, testenv.SwarmOptions{Managers: 2, Workers: 1})
	t.Logf("StartSwarm(2 managers, 1 worker): %s", time.Since(start).Round(time.Millisecond))
	ctx := context.Background()

	t.Run("nodes ready with images", func(t *testing.T) {
		list, err := s.Managers[0].Client().NodeList(ctx, swarm.NodeListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 3 {
			t.Fatalf("node list has %d nodes, want 3", len(list))
		}
		hostnames := map[string]bool{}
		for _, n := range list {
			if n.Status.State != swarm.NodeStateReady {
				t.Errorf("node %s is %s", n.Description.Hostname, n.Status.State)
			}
			hostnames[n.Description.Hostname] = true
		}
		for _, n := range s.Nodes() {
			if !hostnames[n.Name] {
				t.Errorf("no swarm node with hostname %s in %v", n.Name, hostnames)
			}
			for _, ref := range []string{testenv.HelloImage1, testenv.HelloImage2} {
				if _, err := n.Client().ImageInspect(ctx, ref); err != nil {
					t.Errorf("%s on %s: %v", ref, n.Name, err)
				}
			}
		}
		bc, err := testenv.ScratchImageContext("redis-server", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.BuildImage(bc, "swarmops-test/redis:1"); err != nil {
			t.Fatal(err)
		}
		for _, n := range s.Nodes() {
			if _, err := n.Client().ImageInspect(ctx, "swarmops-test/redis:1"); err != nil {
				t.Errorf("redis image on %s: %v", n.Name, err)
			}
		}
		info, err := s.Workers[0].Client().Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(info.Swarm.RemoteManagers); got != 2 {
			t.Errorf("worker knows %d managers, want 2", got)
		}
	})

	t.Run("service answers on host-mode port", func(t *testing.T) {
		cli := s.Managers[0].Client()
		nw, err := cli.NetworkCreate(ctx, "hello-net", network.CreateOptions{Driver: "overlay", Attachable: true})
		if err != nil {
			t.Fatal(err)
		}
		replicas := uint64(1)
		spec := swarm.ServiceSpec{
			Annotations: swarm.Annotations{Name: "hello"},
			TaskTemplate: swarm.TaskSpec{
				ContainerSpec: &swarm.ContainerSpec{
					Image: testenv.HelloImage1,
					// The image has no shell: its binary is its own probe.
					Healthcheck: &container.HealthConfig{Test: []string{"CMD", "/hello", "healthcheck"}, Interval: 500 * time.Millisecond, Retries: 3},
				},
				Networks: []swarm.NetworkAttachmentConfig{{Target: nw.ID}},
			},
			Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
			EndpointSpec: &swarm.EndpointSpec{
				Mode: swarm.ResolutionModeDNSRR, // no IPVS on this kernel: no VIP, no routing mesh
				Ports: []swarm.PortConfig{{
					Protocol: swarm.PortConfigProtocolTCP, TargetPort: testenv.HelloPort, PublishedPort: 18081,
					PublishMode: swarm.PortConfigPublishModeHost,
				}},
			},
		}
		created, err := cli.ServiceCreate(ctx, spec, swarm.ServiceCreateOptions{QueryRegistry: false})
		if err != nil {
			t.Fatal(err)
		}
		hello := waitHello(t, s, cli, created.ID, "1")
		t.Logf("task answered: %+v", hello)

		// A rolling update to :2 is visible in the answer.
		svc, _, err := cli.ServiceInspectWithRaw(ctx, created.ID, swarm.ServiceInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		svc.Spec.TaskTemplate.ContainerSpec.Image = testenv.HelloImage2
		if _, err := cli.ServiceUpdate(ctx, svc.ID, svc.Version, svc.Spec, swarm.ServiceUpdateOptions{QueryRegistry: false}); err != nil {
			t.Fatal(err)
		}
		waitHello(t, s, cli, created.ID, "2")
		if err := cli.ServiceRemove(ctx, created.ID); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("disconnect and reconnect", func(t *testing.T) {
		w := s.Workers[0]
		host := strings.TrimPrefix(w.Endpoint, "tcp://")
		if err := w.Disconnect(); err != nil {
			t.Fatal(err)
		}
		testenv.Poll(t, 10*time.Second, w.Name+" unreachable", func() error {
			if c, err := net.DialTimeout("tcp", host, 300*time.Millisecond); err == nil {
				c.Close()
				return fmt.Errorf("%s still accepts connections", host)
			}
			return nil
		})
		if _, err := w.Client().Ping(ctx); err != nil {
			t.Errorf("socket of a disconnected node: %v", err)
		}
		if err := w.Reconnect(); err != nil {
			t.Fatal(err)
		}
		testenv.Poll(t, 10*time.Second, w.Name+" reachable again", func() error {
			c, err := net.DialTimeout("tcp", host, 300*time.Millisecond)
			if err == nil {
				c.Close()
			}
			return err
		})
	})
}

type helloAnswer struct{ Hostname, Version string }

// waitHello waits until the service's running task of image version answers
// on its node's address.
func waitHello(t *testing.T, s *testenv.Swarm, cli *client.Client, serviceID, version string) helloAnswer {
	t.Helper()
	var got helloAnswer
	hc := &http.Client{Timeout: time.Second}
	testenv.Poll(t, 60*time.Second, "a task of version "+version+" answering", func() error {
		tasks, err := cli.TaskList(context.Background(), swarm.TaskListOptions{Filters: filters.NewArgs(
			filters.Arg("service", serviceID), filters.Arg("desired-state", "running"))})
		if err != nil {
			return err
		}
		for _, task := range tasks {
			if task.Status.State != swarm.TaskStateRunning {
				return fmt.Errorf("task %s is %s %s %s", task.ID, task.Status.State, task.Status.Message, task.Status.Err)
			}
			for _, n := range s.Nodes() {
				if n.ID != task.NodeID {
					continue
				}
				resp, err := hc.Get("http://" + n.Addr + ":18081/")
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
					return err
				}
				if got.Version != version {
					return fmt.Errorf("%s answers version %s", n.Name, got.Version)
				}
				return nil
			}
			return fmt.Errorf("task on unknown node %s", task.NodeID)
		}
		return fmt.Errorf("no task yet")
	})
	return got
}

func TestLeaderFailover(t *testing.T) {
	t.Parallel()
	start := time.Now()
	s := testenv.StartSwarm(t, testenv.SwarmOptions{Managers: 3, Workers: 1})
	t.Logf("StartSwarm(3 managers, 1 worker): %s", time.Since(start).Round(time.Millisecond))
	old, err := s.Leader()
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	leader := s.WaitLeader(t, old)
	t.Logf("leader %s killed; %s leads after %s", old.Name, leader.Name, time.Since(killed).Round(time.Millisecond))

	restart := time.Now()
	if err := old.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitReady(time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s back in the swarm after %s", old.Name, time.Since(restart).Round(time.Millisecond))
}

func TestSharedSwarm(t *testing.T) {
	t.Parallel()
	start := time.Now()
	s := testenv.SharedSwarm(t)
	t.Logf("SharedSwarm (3 managers, 1 worker): %s", time.Since(start).Round(time.Millisecond))
	if s2 := testenv.SharedSwarm(t); s2 != s {
		t.Fatal("SharedSwarm answered another swarm the second time")
	}
	if len(s.Managers) != 3 || len(s.Workers) != 1 {
		t.Fatalf("shared swarm has %d managers and %d workers", len(s.Managers), len(s.Workers))
	}
	if err := s.WaitReady(10 * time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestStartNode(t *testing.T) {
	t.Parallel()
	n := testenv.StartNode(t, testenv.NodeOptions{Name: "plain"})
	ctx := context.Background()
	info, err := n.Client().Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "plain" || info.Swarm.LocalNodeState != swarm.LocalNodeStateInactive {
		t.Errorf("info: name %q swarm state %q", info.Name, info.Swarm.LocalNodeState)
	}
	if out := n.Docker(t, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(out, testenv.HelloImage2) {
		t.Errorf("docker image ls: %q", out)
	}

	t.Run("scratch image from a host binary", func(t *testing.T) {
		testenv.Require(t, "redis-server", "redis-server")
		bc, err := testenv.ScratchImageContext("redis-server", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.BuildImage(bc, "swarmops-test/redis:1"); err != nil {
			t.Fatal(err)
		}
		out := n.Docker(t, "run", "--rm", "--network", "none", "swarmops-test/redis:1", "--version")
		if !strings.Contains(out, "Redis server v=") {
			t.Errorf("redis-server --version in its scratch image: %q", out)
		}
	})

	t.Run("hello logs, healthcheck and SIGTERM", func(t *testing.T) {
		n.Docker(t, "run", "-d", "--network", "none", "--name", "hello-h", "-e", "HELLO_LINES=3", testenv.HelloImage1)
		testenv.Poll(t, 10*time.Second, "hello's startup lines", func() error {
			if out := n.Docker(t, "logs", "hello-h"); !strings.Contains(out, "line 3\nhello: listening on [::]:8080") {
				return fmt.Errorf("logs: %q", out)
			}
			return nil
		})
		n.Docker(t, "exec", "hello-h", "/hello", "healthcheck")
		n.Docker(t, "stop", "hello-h")
		// 0, not 137: it stopped on SIGTERM, not when docker gave up.
		if code := strings.TrimSpace(n.Docker(t, "inspect", "-f", "{{.State.ExitCode}}", "hello-h")); code != "0" {
			t.Errorf("exit code after docker stop: %s", code)
		}
	})

	t.Run("save and load", func(t *testing.T) {
		rc, err := n.Client().ImageSave(ctx, []string{testenv.HelloImage2})
		if err != nil {
			t.Fatal(err)
		}
		saved, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.Client().ImageRemove(ctx, testenv.HelloImage2, image.RemoveOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := n.LoadImage(bytes.NewReader(saved)); err != nil {
			t.Fatal(err)
		}
		if _, err := n.Client().ImageInspect(ctx, testenv.HelloImage2); err != nil {
			t.Errorf("after load: %v", err)
		}
	})

	t.Run("push to a registry on the bridge", func(t *testing.T) {
		r := testenv.StartRegistryWith(t, testenv.RegistryOptions{User: "u", Password: "p", Bridge: true})
		n.Docker(t, "login", "-u", "u", "-p", "p", r.Addr)
		n.Docker(t, "tag", testenv.HelloImage1, r.Addr+"/hello:1")
		n.Docker(t, "push", r.Addr+"/hello:1")
		req, _ := http.NewRequest(http.MethodGet, r.URL+"/v2/_catalog", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("catalog without credentials: %s", resp.Status)
		}
		req.SetBasicAuth("u", "p")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), `"hello"`) {
			t.Errorf("catalog: %s %s", resp.Status, b)
		}
	})
}

// TestSweepAfterCrash runs a copy of this test binary that starts an engine
// with a container, hands its slot's lock over to this test and dies by
// SIGKILL. Holding that lock, the test sees what the crash left, sees
// Sweep leave a held slot alone, then cleans the slot as Sweep does and
// sees nothing left. No other test process can sweep the slot first.
func TestSweepAfterCrash(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts engines; skipped with -short")
	}
	pair, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	mine, theirs := os.NewFile(uintptr(pair[0]), "crash-parent"), os.NewFile(uintptr(pair[1]), "crash-helper")
	defer mine.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.v")
	cmd.Env = append(os.Environ(), "SWARMOPS_TESTENV_CRASH=1")
	cmd.ExtraFiles = []*os.File{theirs} // fd 3 in the helper
	out, _ := cmd.CombinedOutput()
	theirs.Close()
	m := regexp.MustCompile(`crash-helper slot=(\d+) dir=(\S+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("helper did not report its slot:\n%s", out)
	}
	slot, dir := string(m[1]), string(m[2])
	lock := receiveFile(t, pair[0], "slot "+slot+" lock")
	defer lock.Close()

	leftovers := func() []string {
		var left []string
		if ns, _ := filepath.Glob("/run/netns/so" + slot + "-*"); len(ns) > 0 {
			left = append(left, fmt.Sprintf("namespaces %v", ns))
		}
		if _, err := net.InterfaceByName("sobr" + slot); err == nil {
			left = append(left, "bridge sobr"+slot)
		}
		if _, err := os.Stat(dir); err == nil {
			left = append(left, "node dir "+dir)
		}
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), dir) {
				left = append(left, fmt.Sprintf("process %s: %q", p, b))
			}
		}
		return left
	}
	crashed := leftovers()
	if len(crashed) < 3 {
		t.Fatalf("the crash left %v; want at least the namespace, the bridge and the node dir of slot %s", crashed, slot)
	}
	if err := testenv.Sweep(t.Logf); err != nil {
		t.Fatal(err)
	}
	if left := leftovers(); len(left) < len(crashed) {
		t.Errorf("Sweep touched slot %s while its lock was held: %v left of %v", slot, left, crashed)
	}
	n, _ := strconv.Atoi(slot)
	if err := testenv.CleanSlot(n, t.Logf); err != nil {
		t.Fatal(err)
	}
	for _, l := range leftovers() {
		t.Errorf("left after cleaning slot %s: %s", slot, l)
	}
}

// receiveFile answers the open file the crash helper sent over the socket
// fd before it died.
func receiveFile(t *testing.T, fd int, what string) *os.File {
	t.Helper()
	buf, oob := make([]byte, 16), make([]byte, syscall.CmsgSpace(4))
	_, oobn, _, _, err := syscall.Recvmsg(fd, buf, oob, syscall.MSG_DONTWAIT)
	if err != nil {
		t.Fatalf("receive the %s from the helper: %v", what, err)
	}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		t.Fatalf("receive the %s from the helper: %d control messages, %v", what, len(msgs), err)
	}
	fds, err := syscall.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("receive the %s from the helper: %d files, %v", what, len(fds), err)
	}
	return os.NewFile(uintptr(fds[0]), what)
}

func TestCrashHelper(t *testing.T) {
	if os.Getenv("SWARMOPS_TESTENV_CRASH") == "" {
		return // only run by TestSweepAfterCrash
	}
	n := testenv.StartNode(t, testenv.NodeOptions{Name: "crash"})
	n.Docker(t, "run", "-d", "--network", "none", testenv.HelloImage1)
	slot, lock, err := testenv.SlotLock()
	if err != nil {
		t.Fatal(err)
	}
	// The parent holds the slot's lock from now on, through the same open
	// file: the lock outlives this process.
	if err := syscall.Sendmsg(3, []byte("lock"), syscall.UnixRights(int(lock.Fd())), nil, 0); err != nil {
		t.Fatalf("hand the slot lock to the parent: %v", err)
	}
	fmt.Printf("crash-helper slot=%d dir=%s\n", slot, n.Dir)
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
}

func TestTLSNode(t *testing.T) {
	t.Parallel()
	n := testenv.StartTLSNode(t)
	ping := func(m testenv.TLSMaterial) error {
		cfg, err := m.Config()
		if err != nil {
			return err
		}
		tr := &http.Transport{TLSClientConfig: cfg}
		if err := sockets.ConfigureTransport(tr, "tcp", strings.TrimPrefix(n.Endpoint, "tcp://")); err != nil {
			return err
		}
		c, err := client.NewClientWithOpts(client.WithHost(n.Endpoint), client.WithHTTPClient(&http.Client{Transport: tr, Timeout: 5 * time.Second}),
			client.WithScheme("https"), client.WithAPIVersionNegotiation())
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Ping(context.Background())
		return err
	}
	if err := ping(n.ClientTLS); err != nil {
		t.Errorf("with the right certificates: %v", err)
	}
	if err := ping(n.WrongTLS); err == nil {
		t.Error("a client certificate of another CA was accepted")
	}
}

func TestNginx(t *testing.T) {
	t.Parallel()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "backend says hi")
	}))
	t.Cleanup(backend.Close)
	conf := func(header string) string {
		return testenv.NginxConf(fmt.Sprintf(`server {
	listen 127.0.0.1:{{PORT}};
	location / { proxy_pass %s; add_header X-Test %s always; }
}`, backend.URL, header))
	}
	x := testenv.StartNginx(t, conf("one"))
	get := func() (string, string) {
		resp, err := http.Get(x.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), resp.Header.Get("X-Test")
	}
	if body, h := get(); body != "backend says hi" || h != "one" {
		t.Errorf("through nginx: %q, X-Test %q", body, h)
	}
	if err := x.Reload(conf("two")); err != nil {
		t.Fatal(err)
	}
	if _, h := get(); h != "two" {
		t.Errorf("after reload: X-Test %q", h)
	}
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	r := testenv.StartRegistry(t)
	resp, err := http.Get(r.URL + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Distribution-Api-Version") != "registry/2.0" {
		t.Errorf("GET /v2/: %s %v", resp.Status, resp.Header)
	}
}

func TestChromium(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><title>t</title><p id="msg">rendered</p><script>document.getElementById("msg").textContent += " by js"</script>`)
	}))
	t.Cleanup(srv.Close)
	ctx := testenv.StartChromium(t)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var text string
	if err := chromedp.Run(ctx, chromedp.Navigate(srv.URL), chromedp.Text("#msg", &text, chromedp.ByID)); err != nil {
		t.Fatal(err)
	}
	if text != "rendered by js" {
		t.Errorf("text %q", text)
	}
}

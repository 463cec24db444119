package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
)

// Node is a private dockerd in its own network namespace, with its own
// address on this process's bridge: to SwarmOps it looks like a machine.
type Node struct {
	Name     string // hostname of the engine (and of the swarm node)
	Addr     string // 198.18.N.K
	Endpoint string // tcp://Addr:2375 (tcp://Addr:2376 with TLS)
	Socket   string // unix://Dir/sock, reachable whatever the network does
	Dir      string // data, exec root, pid file, log ("log")
	// ID is the swarm node ID, set when StartSwarm joined the node; a test
	// that makes the node leave and join again must not rely on it.
	ID string

	slot  *slot
	netns string // so<N>-<K>
	veth  string // so<N>h<K>, the bridge's end of the node's eth0
	args  []string

	mu      sync.Mutex
	proc    *Process
	cli     *client.Client
	gone    bool
	imgOnce sync.Once
	imgErr  error
}

// NodeOptions configure StartNode.
type NodeOptions struct {
	Name string                                   // hostname; default "n<K>"
	Args []string                                 // extra dockerd flags
	tls  func(addr, dir string) (*nodeTLS, error) // makes the server's files
}

// StartNode starts a plain engine (not in a swarm) with the hello images
// built, and stops it when the test ends.
func StartNode(t testing.TB, opts NodeOptions) *Node {
	t.Helper()
	requireEngine(t)
	n, err := startNode(BaseDir(t), opts)
	if n != nil {
		t.Cleanup(func() { logsOnFailure(t, n); n.destroy() })
	}
	if err == nil {
		err = n.buildHello()
	}
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return n
}

func requireEngine(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("testenv: engines are not started with -short")
	}
	if os.Geteuid() != 0 {
		t.Fatalf("testenv: engines need root (network namespaces, mounts): run the tests as root, e.g. `sudo make test`")
	}
	Require(t, "dockerd", "docker.io")
	Require(t, "containerd", "containerd")
	Require(t, "docker", "docker.io")
	Require(t, "ip", "iproute2")
	Require(t, "iptables", "iptables")
	Require(t, "nsenter", "util-linux")
	Require(t, "unshare", "util-linux")
	Require(t, "hostname", "hostname")
	Require(t, "go", "golang-go") // builds the hello image
}

func logsOnFailure(t testing.TB, nodes ...*Node) {
	if !t.Failed() {
		return
	}
	for _, n := range nodes {
		t.Logf("testenv: %s (%s) dockerd log: %s/log", n.Name, n.Addr, n.Dir)
	}
	if os.Getenv("SWARMOPS_TEST_KEEP") == "" {
		t.Logf("testenv: set SWARMOPS_TEST_KEEP=1 to keep the logs after the run")
	}
}

// startNode makes the node's namespace and starts its engine. On error the
// node answered (if not nil) must still be destroyed.
func startNode(base string, opts NodeOptions) (*Node, error) {
	s, err := getSlot()
	if err != nil {
		return nil, fmt.Errorf("network slot: %w", err)
	}
	n := &Node{slot: s}
	h, err := s.addHost(n)
	if err != nil {
		return nil, err
	}
	n.Name = opts.Name
	if n.Name == "" {
		n.Name = "n" + strconv.Itoa(h)
	}
	n.Addr = fmt.Sprintf("%s.%d", slotPrefix(s.n), h)
	n.netns = fmt.Sprintf("%s%d", slotNetns(s.n), h)
	n.veth = fmt.Sprintf("%s%d", slotVeth(s.n), h)
	// Short names: the socket paths under the exec root must stay under the
	// 108 bytes of a unix socket address.
	n.Dir = filepath.Join(base, "n"+strconv.Itoa(h))
	n.Socket = "unix://" + filepath.Join(n.Dir, "sock")
	n.Endpoint = "tcp://" + net.JoinHostPort(n.Addr, "2375")
	if n.cli, err = client.NewClientWithOpts(client.WithHost(n.Socket), client.WithAPIVersionNegotiation()); err != nil {
		return n, err
	}
	if err := os.MkdirAll(n.Dir, 0o755); err != nil {
		return n, err
	}
	s.recordBase(base)
	s.record("dir", n.Dir)
	if err := n.setupNetns(); err != nil {
		return n, fmt.Errorf("node %s: %w", n.Name, err)
	}
	// The node's own daemon.json, so a machine-wide /etc/docker/daemon.json
	// cannot add conflicting settings.
	if err := os.WriteFile(filepath.Join(n.Dir, "daemon.json"), []byte("{}\n"), 0o644); err != nil {
		return n, err
	}
	n.args = []string{
		"--config-file", filepath.Join(n.Dir, "daemon.json"),
		"--data-root", filepath.Join(n.Dir, "data"),
		"--exec-root", filepath.Join(n.Dir, "x"),
		"--pidfile", filepath.Join(n.Dir, "pid"),
		"-H", n.Socket,
		// No docker0, no NAT: a node reaches the bridge's /24 and nothing
		// else. Host-mode ports and overlay networks work without them.
		"--bridge", "none", "--iptables=false", "--ip-masq=false",
		// A registry testenv starts on the bridge speaks plain HTTP.
		"--insecure-registry", "198.18.0.0/15",
	}
	if opts.tls != nil {
		f, err := opts.tls(n.Addr, n.Dir)
		if err != nil {
			return n, fmt.Errorf("node %s: %w", n.Name, err)
		}
		n.Endpoint = "tcp://" + net.JoinHostPort(n.Addr, "2376")
		n.args = append(n.args, "-H", n.Endpoint, "--tlsverify",
			"--tlscacert", f.ca, "--tlscert", f.cert, "--tlskey", f.key)
	} else {
		// Without an explicit --tls=false this dockerd waits 15 s at start
		// when it listens on a non-loopback address without TLS.
		n.args = append(n.args, "-H", n.Endpoint, "--tls=false")
	}
	n.args = append(n.args, opts.Args...)
	return n, n.Start()
}

func (n *Node) setupNetns() error {
	ns := n.netns
	for _, c := range [][]string{
		{"netns", "add", ns},
		{"link", "add", n.veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"link", "set", n.veth, "master", n.slot.bridge, "up"},
		{"-n", ns, "addr", "add", n.Addr + "/24", "dev", "eth0"},
		{"-n", ns, "link", "set", "eth0", "up"},
		{"-n", ns, "link", "set", "lo", "up"},
		// No default route, on purpose: the engine's pull attempt before
		// each task then fails at once instead of after a DNS timeout, and
		// nothing leaves the machine.
	} {
		if err := run("ip", c...); err != nil {
			return err
		}
	}
	return nil
}

// Start starts the engine (again, on the same data) and waits until its API
// answers and, if it is in a swarm, until the swarm counts it as ready.
func (n *Node) Start() error {
	n.mu.Lock()
	if n.gone {
		n.mu.Unlock()
		return fmt.Errorf("node %s was removed", n.Name)
	}
	if n.proc != nil && n.proc.Running() {
		n.mu.Unlock()
		return nil
	}
	// nsenter rather than `ip netns exec`, which remounts /sys so that
	// dockerd fails with "Devices cgroup isn't mounted". The engine gets a
	// UTS namespace of its own so that each swarm node has its own hostname.
	args := append([]string{"--net=/run/netns/" + n.netns, "unshare", "--uts", "--",
		"sh", "-c", `hostname "$0" && exec "$@"`, n.Name, "dockerd"}, n.args...)
	cmd := exec.Command("nsenter", args...)
	cmd.Env = engineEnv()
	p, err := startProcess("dockerd "+n.Name, filepath.Join(n.Dir, "log"), cmd)
	if err == nil {
		n.proc = p
		n.slot.record("pid", strconv.Itoa(p.Pid()))
	}
	n.mu.Unlock()
	if err != nil {
		return err
	}
	if err := n.waitAPI(p, 60*time.Second); err != nil {
		return err
	}
	return n.waitSwarmBack(60 * time.Second)
}

// engineEnv is the environment without proxies and DOCKER_* settings, so
// that nothing but the flags shapes the engine.
func engineEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch lk := strings.ToLower(k); {
		case strings.HasPrefix(k, "DOCKER_"), strings.HasSuffix(lk, "_proxy"):
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (n *Node) waitAPI(p *Process, timeout time.Duration) error {
	cli := n.cli
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := cli.Ping(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if !p.Running() {
			return fmt.Errorf("dockerd %s exited at start; log %s/log:\n%s", n.Name, n.Dir, tail(p.Log, 3000))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dockerd %s: API not answering after %s: %v; log %s/log:\n%s", n.Name, timeout, err, n.Dir, tail(p.Log, 3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitSwarmBack waits, for a node that is in a swarm, until it is active
// again and a manager lists it as ready. A node that is not in a swarm
// returns at once.
func (n *Node) waitSwarmBack(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last string
	for {
		last = n.swarmReady(ctx)
		if last == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s restarted but not back in its swarm after %s: %s", n.Name, timeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// swarmReady answers "" when n is not in a swarm or is ready in it, else
// what it is waiting for.
func (n *Node) swarmReady(ctx context.Context) string {
	cli := n.cli
	info, err := cli.Info(ctx)
	if err != nil {
		return "info: " + err.Error()
	}
	sw := info.Swarm
	switch sw.LocalNodeState {
	case swarm.LocalNodeStateInactive:
		return ""
	case swarm.LocalNodeStateActive:
	default:
		return fmt.Sprintf("local node state %q %s", sw.LocalNodeState, sw.Error)
	}
	// Ask a manager: this node if it is one, else those it knows.
	mgrs := []*client.Client{}
	if sw.ControlAvailable {
		mgrs = append(mgrs, cli)
	}
	for _, p := range sw.RemoteManagers {
		host, _, _ := net.SplitHostPort(p.Addr)
		if host == n.Addr {
			continue
		}
		if c, err := client.NewClientWithOpts(client.WithHost("tcp://"+net.JoinHostPort(host, "2375")),
			client.WithAPIVersionNegotiation(), client.WithTimeout(3*time.Second)); err == nil {
			defer c.Close()
			mgrs = append(mgrs, c)
		}
	}
	last := "no manager reachable"
	for _, m := range mgrs {
		node, _, err := m.NodeInspectWithRaw(ctx, sw.NodeID)
		if err != nil {
			last = err.Error()
			continue
		}
		if node.Status.State == swarm.NodeStateReady {
			return ""
		}
		return fmt.Sprintf("manager lists it %s %s", node.Status.State, node.Status.Message)
	}
	return last
}

// Running reports whether the engine process is running.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc != nil && n.proc.Running()
}

// Stop stops the engine with SIGTERM and waits for it to exit (SIGKILL
// after 20 s). Start starts it again on the same data.
func (n *Node) Stop() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil {
		return nil
	}
	return n.proc.Stop(20 * time.Second)
}

// Kill kills the engine with SIGKILL, as a crash would, and waits for it to
// exit. Its containers keep running until it is started again.
func (n *Node) Kill() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil {
		return nil
	}
	return n.proc.Kill()
}

// Disconnect takes the node off the network (its link to the bridge goes
// down), as in a partition. Its Socket keeps answering.
func (n *Node) Disconnect() error { return run("ip", "link", "set", n.veth, "down") }

// Reconnect undoes Disconnect.
func (n *Node) Reconnect() error { return run("ip", "link", "set", n.veth, "up") }

// Client answers an engine API client on the node's unix socket (it works
// while the node is disconnected), with API version negotiation. Do not
// close it.
func (n *Node) Client() *client.Client { return n.cli }

// Docker runs the docker CLI against the node and answers its stdout; it
// fails the test with the stderr if the command fails.
func (n *Node) Docker(t testing.TB, args ...string) string {
	t.Helper()
	bin := Require(t, "docker", "docker.io")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-H", n.Socket}, args...)...)
	cmd.Env = append(engineEnv(), "DOCKER_CONFIG="+filepath.Join(n.Dir, "cli"), "DOCKER_CLI_HINTS=false")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("testenv: docker %s on %s: %v\n%s", strings.Join(args, " "), n.Name, err, stderr.String())
	}
	return stdout.String()
}

// destroy stops the engine and removes its mounts and namespace.
func (n *Node) destroy() {
	n.mu.Lock()
	if n.gone {
		n.mu.Unlock()
		return
	}
	n.gone = true
	p := n.proc
	n.mu.Unlock()
	if p != nil {
		if err := p.Stop(20 * time.Second); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: stop %s: %v\n", n.Name, err)
		}
	}
	if n.cli != nil {
		n.cli.Close()
	}
	// A killed engine leaves its containers (and their shims) running.
	if left := findProcs(nil, []string{n.Dir}, nil); len(left) > 0 {
		for _, p := range left {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		waitGone(left, 10*time.Second)
	}
	unmountUnder(n.Dir)
	if _, err := os.Stat("/run/netns/" + n.netns); n.netns != "" && err == nil {
		// Deleting the namespace deletes the veth pair with it.
		if err := run("ip", "netns", "del", n.netns); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		}
	}
}

// recordBase notes the process's base directory once, so that a sweep
// after a crash can remove it.
func (s *slot) recordBase(base string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.base == "" {
		s.base = base
		s.record("base", base)
	}
}

package testenv

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Sentinel failover timings of a topology from NewSentinel. A master that
// has not answered for SentinelDownAfter is subjectively down for a
// sentinel; two sentinels (the quorum) agree within about a second, elect
// a leader and promote the replica, so a failover completes a few seconds
// after the master dies.
const (
	SentinelDownAfter       = 1000 * time.Millisecond
	SentinelFailoverTimeout = 5000 * time.Millisecond
	SentinelQuorum          = 2
)

// Sentinel is a Redis Sentinel topology of real processes on loopback
// ports: a master, one replica and three sentinels watching them under a
// master name of its own.
type Sentinel struct {
	name      string
	dir       string
	mu        sync.Mutex
	servers   []*sentinelNode // [0] the first master, [1] its replica
	sentinels []*sentinelNode
}

// sentinelNode is one redis-server process of the topology.
type sentinelNode struct {
	Addr string
	conf string
	log  string
	args []string
	proc *Process
}

// NewSentinel starts a master, a replica of it and three sentinels
// (quorum SentinelQuorum), waits until every sentinel knows the replica
// and its peers, and stops them all when the test ends.
func NewSentinel(t testing.TB) *Sentinel {
	t.Helper()
	Require(t, "redis-server", "redis-server")
	s := &Sentinel{name: "so-" + strings.ToLower(rand.Text()[:10]), dir: SubDir(t, "sentinel")}
	t.Cleanup(s.stop)
	if err := s.start(); err != nil {
		t.Fatalf("testenv: sentinel topology: %v", err)
	}
	return s
}

// MasterName answers the name the sentinels monitor the master under.
func (s *Sentinel) MasterName() string { return s.name }

// Sentinels answers the sentinels' host:port addresses.
func (s *Sentinel) Sentinels() []string {
	out := make([]string, len(s.sentinels))
	for i, n := range s.sentinels {
		out[i] = n.Addr
	}
	return out
}

// Master answers the current master's address as the first sentinel that
// answers knows it.
func (s *Sentinel) Master() (string, error) {
	var errs []error
	for _, n := range s.sentinels {
		r, err := sentinelCommand(n.Addr, "SENTINEL", "get-master-addr-by-name", s.name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(r) != 2 {
			errs = append(errs, fmt.Errorf("sentinel %s: master %q unknown: %q", n.Addr, s.name, r))
			continue
		}
		return net.JoinHostPort(r[0], r[1]), nil
	}
	return "", fmt.Errorf("no sentinel answered the master's address: %w", errors.Join(errs...))
}

// KillMaster SIGKILLs the data server that is master now and answers its
// address.
func (s *Sentinel) KillMaster() (string, error) {
	addr, err := s.Master()
	if err != nil {
		return "", err
	}
	n := s.server(addr)
	if n == nil {
		return "", fmt.Errorf("master %s is not a server of this topology", addr)
	}
	return addr, n.proc.Kill()
}

// Logs answers the last bytes of every process's log, for failure
// messages.
func (s *Sentinel) Logs() string {
	var b strings.Builder
	for _, n := range append(append([]*sentinelNode{}, s.servers...), s.sentinels...) {
		fmt.Fprintf(&b, "--- %s (%s)\n%s\n", n.Addr, filepath.Base(n.log), tail(n.log, 1500))
	}
	return b.String()
}

func (s *Sentinel) server(addr string) *sentinelNode {
	for _, n := range s.servers {
		if n.Addr == addr {
			return n
		}
	}
	return nil
}

func (s *Sentinel) start() error {
	nodes := make([]*sentinelNode, 5)
	for i := range nodes {
		port, err := freePort()
		if err != nil {
			return err
		}
		nodes[i] = &sentinelNode{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	}
	s.servers, s.sentinels = nodes[:2], nodes[2:]
	master := s.servers[0].Addr
	for i, n := range s.servers {
		name := fmt.Sprintf("redis-%d", i)
		dir := filepath.Join(s.dir, name)
		if err := mkdirAll(dir); err != nil {
			return err
		}
		_, port, _ := net.SplitHostPort(n.Addr)
		n.log = filepath.Join(s.dir, name+".log")
		n.args = []string{"--bind", "127.0.0.1", "--port", port, "--dir", dir,
			"--save", "", "--appendonly", "yes", "--protected-mode", "no", "--daemonize", "no", "--logfile", "",
			// A replica syncs at once, not after 5 s of waiting for others.
			"--repl-diskless-sync-delay", "0"}
		if i > 0 {
			host, mport, _ := net.SplitHostPort(master)
			n.args = append(n.args, "--replicaof", host, mport)
		}
		if err := s.run(n, "redis-server"); err != nil {
			return err
		}
	}
	host, mport, _ := net.SplitHostPort(master)
	for i, n := range s.sentinels {
		_, port, _ := net.SplitHostPort(n.Addr)
		n.conf = filepath.Join(s.dir, fmt.Sprintf("sentinel-%d.conf", i))
		n.log = filepath.Join(s.dir, fmt.Sprintf("sentinel-%d.log", i))
		// A sentinel rewrites its config file with what it learns, so each
		// has its own.
		conf := fmt.Sprintf(`bind 127.0.0.1
port %s
protected-mode no
daemonize no
logfile ""
dir %s
sentinel monitor %s %s %s %d
sentinel down-after-milliseconds %s %d
sentinel failover-timeout %s %d
sentinel parallel-syncs %s 1
`, port, s.dir, s.name, host, mport, SentinelQuorum,
			s.name, SentinelDownAfter.Milliseconds(), s.name, SentinelFailoverTimeout.Milliseconds(), s.name)
		if err := os.WriteFile(n.conf, []byte(conf), 0o644); err != nil {
			return err
		}
		n.args = []string{n.conf, "--sentinel"}
		if err := s.run(n, "redis-sentinel"); err != nil {
			return err
		}
	}
	return s.waitSettled(20 * time.Second)
}

// run starts n's process and waits until it accepts connections.
func (s *Sentinel) run(n *sentinelNode, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n.proc != nil && n.proc.Running() {
		return nil
	}
	p, err := startProcess(name, n.log, exec.Command("redis-server", n.args...))
	if err != nil {
		return err
	}
	n.proc = p
	if err := waitTCP(n.Addr, 10*time.Second, p); err != nil {
		return fmt.Errorf("%s on %s: %w; log: %s", name, n.Addr, err, tail(n.log, 2000))
	}
	return nil
}

// waitSettled waits until the replica is in sync and every sentinel sees
// the replica and the two other sentinels: before that a failover cannot
// happen (no quorum, or no replica to promote).
func (s *Sentinel) waitSettled(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if last = s.settled(); last == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not settled after %s: %v\n%s", timeout, last, s.Logs())
}

func (s *Sentinel) settled() error {
	info, err := sentinelCommand(s.servers[1].Addr, "INFO", "replication")
	if err != nil {
		return err
	}
	if !strings.Contains(strings.Join(info, "\n"), "master_link_status:up") {
		return errors.New("replica not in sync with the master yet")
	}
	for _, n := range s.sentinels {
		r, err := sentinelCommand(n.Addr, "SENTINEL", "master", s.name)
		if err != nil {
			return err
		}
		f := fields(r)
		if f["num-slaves"] != "1" || f["num-other-sentinels"] != "2" {
			return fmt.Errorf("sentinel %s sees %s replicas and %s other sentinels, want 1 and 2",
				n.Addr, f["num-slaves"], f["num-other-sentinels"])
		}
	}
	return nil
}

func fields(kv []string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func (s *Sentinel) stop() {
	for _, n := range append(append([]*sentinelNode{}, s.sentinels...), s.servers...) {
		if n.proc != nil {
			_ = n.proc.Kill()
		}
	}
}

// sentinelCommand sends one command in RESP and answers the reply
// flattened to strings (a bulk string reply is split into lines), so
// testenv needs no Redis client.
func sentinelCommand(addr string, args ...string) ([]string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return nil, err
	}
	var out []string
	if err := readReply(bufio.NewReader(c), &out); err != nil {
		return nil, fmt.Errorf("%s %s: %w", addr, strings.Join(args, " "), err)
	}
	return out, nil
}

func readReply(r *bufio.Reader, out *[]string) error {
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return errors.New("empty reply line")
	}
	switch line[0] {
	case '+', ':':
		*out = append(*out, line[1:])
	case '-':
		return errors.New(line[1:])
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		*out = append(*out, strings.Split(strings.ReplaceAll(string(buf[:n]), "\r\n", "\n"), "\n")...)
	case '*':
		n, _ := strconv.Atoi(line[1:])
		for range n {
			if err := readReply(r, out); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}

package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A slot is this process's share of the machine-wide names engines need: a
// bridge, a netns prefix and a /24. Test binaries of several packages and
// several engineers run at once on one machine, so each process holds the
// flock of its slot for its whole life and nobody else touches that slot.
const (
	slotDir   = "/run/swarmops-test"
	slotCount = 64
)

type slot struct {
	n      int
	lock   *os.File // held (never closed) until the process exits
	bridge string   // sobr<N>
	state  string   // append-only record of dirs and pids, for sweeping after a crash
	base   string   // BaseDir of the process, once recorded

	mu    sync.Mutex
	next  int // next host number in 198.18.N.0/24
	nodes []*Node
	down  bool
}

var (
	slotOnce sync.Once
	theSlot  *slot
	slotErr  error
)

func slotNetns(n int) string  { return fmt.Sprintf("so%d-", n) }
func slotVeth(n int) string   { return fmt.Sprintf("so%dh", n) }
func slotBridge(n int) string { return fmt.Sprintf("sobr%d", n) }
func slotState(n int) string  { return filepath.Join(slotDir, fmt.Sprintf("slot-%d.state", n)) }
func slotLock(n int) string   { return filepath.Join(slotDir, fmt.Sprintf("slot-%d.lock", n)) }

// slotPrefix answers the first three octets of slot n's subnet.
func slotPrefix(n int) string { return fmt.Sprintf("198.18.%d", n) }

// getSlot allocates this process's slot on first use, cleans what a crashed
// earlier holder left in it, and sets up its bridge.
func getSlot() (*slot, error) {
	slotOnce.Do(func() {
		theSlot, slotErr = allocSlot()
		if slotErr == nil {
			atExit(theSlot.teardown)
			stopOnSignal()
		}
	})
	return theSlot, slotErr
}

func allocSlot() (*slot, error) {
	if err := os.MkdirAll(slotDir, 0o755); err != nil {
		return nil, fmt.Errorf("slot dir: %w", err)
	}
	for n := 0; n < slotCount; n++ {
		f, ok, err := tryLock(n)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		s := &slot{n: n, lock: f, bridge: slotBridge(n), state: slotState(n), next: 11}
		if err := cleanSlot(n, func(string, ...any) {}, true); err != nil {
			return nil, fmt.Errorf("clean leftovers of slot %d: %w", n, err)
		}
		if err := os.WriteFile(s.state, fmt.Appendf(nil, "owner %d\n", os.Getpid()), 0o644); err != nil {
			return nil, err
		}
		if err := s.setupBridge(); err != nil {
			_ = cleanSlot(n, func(string, ...any) {}, true)
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("all %d slots under %s are held by running test processes", slotCount, slotDir)
}

// tryLock takes slot n's lock without waiting.
func tryLock(n int) (*os.File, bool, error) {
	f, err := os.OpenFile(slotLock(n), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return f, true, nil
}

func (s *slot) setupBridge() error {
	gw := slotPrefix(s.n) + ".1/24"
	if err := run("ip", "link", "add", s.bridge, "type", "bridge"); err != nil {
		return err
	}
	if err := run("ip", "addr", "add", gw, "dev", s.bridge); err != nil {
		return err
	}
	if err := run("ip", "link", "set", s.bridge, "up"); err != nil {
		return err
	}
	// With br_netfilter loaded, bridged frames pass the FORWARD chain, whose
	// policy may be DROP (a system dockerd sets that).
	return run("iptables", "-w", "-I", "FORWARD", "-i", s.bridge, "-o", s.bridge, "-j", "ACCEPT")
}

// record appends a line to the slot's state file.
func (s *slot) record(kind, value string) {
	f, err := os.OpenFile(s.state, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	fmt.Fprintf(f, "%s %s\n", kind, value)
	f.Close()
}

// addHost reserves the next address of the slot for a node. Addresses are
// never reused within a process, so no stale ARP entry or engine data can
// point at a new node.
func (s *slot) addHost(n *Node) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return 0, errors.New("testenv is shutting down")
	}
	if s.next > 254 {
		return 0, errors.New("no address left in the slot's /24: too many nodes in one test process")
	}
	h := s.next
	s.next++
	s.nodes = append(s.nodes, n)
	return h, nil
}

// teardown stops every node still running, then removes the slot's
// namespaces, bridge and firewall rule. The lock stays held until exit;
// the directories go with BaseDir in StopAll.
func (s *slot) teardown() {
	s.mu.Lock()
	s.down = true
	nodes := s.nodes
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() { defer wg.Done(); n.destroy() }()
	}
	wg.Wait()
	if err := cleanSlot(s.n, func(string, ...any) {}, false); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: clean slot %d: %v (run `go run ./internal/testenv/cmd/testenv-sweep`)\n", s.n, err)
	}
}

// stopOnSignal makes an interrupted run (^C, SIGTERM) stop its engines and
// remove its namespaces instead of leaving them to the next holder of the
// slot or to testenv-sweep.
func stopOnSignal() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-c
		fmt.Fprintf(os.Stderr, "testenv: %v: stopping engines\n", sig)
		StopAll()
		os.Exit(128 + int(sig.(syscall.Signal)))
	}()
}

// Sweep cleans every slot whose lock is free: processes, mounts, network
// namespaces, bridge and firewall rule left by a test process that died
// without cleaning up. Slots held by running processes are not touched.
func Sweep(logf func(format string, args ...any)) error {
	var errs []error
	for n := 0; n < slotCount; n++ {
		if _, err := os.Stat(slotLock(n)); err != nil {
			continue // never used since boot
		}
		f, ok, err := tryLock(n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ok {
			logf("slot %d: held by a running test process, left alone", n)
			continue
		}
		if err := cleanSlot(n, logf, true); err != nil {
			errs = append(errs, fmt.Errorf("slot %d: %w", n, err))
		}
		f.Close()
	}
	return errors.Join(errs...)
}

// cleanSlot removes whatever slot n's previous holder left behind. The
// caller holds the slot's lock. Node directories (and the base directory of
// a crashed holder) are removed only if removeDirs.
func cleanSlot(n int, logf func(string, ...any), removeDirs bool) error {
	var dirs, bases []string
	var pids []int
	if f, err := os.Open(slotState(n)); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			kind, value, _ := strings.Cut(sc.Text(), " ")
			switch kind {
			case "dir":
				dirs = append(dirs, value)
			case "base":
				bases = append(bases, value)
			case "pid":
				if p, err := strconv.Atoi(value); err == nil {
					pids = append(pids, p)
				}
			}
		}
		f.Close()
	}
	netnses, _ := filepath.Glob("/run/netns/" + slotNetns(n) + "*")

	// Processes first: engines, their containerd and shims (found by the
	// directories on their command lines or their network namespace), and
	// every descendant, which includes the containers.
	victims := findProcs(pids, dirs, netnses)
	if len(victims) > 0 {
		logf("slot %d: killing %d leftover processes", n, len(victims))
		for _, p := range victims {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
		waitGone(victims, 10*time.Second)
	}
	var errs []error
	for _, d := range dirs {
		if k := unmountUnder(d); k > 0 {
			logf("slot %d: unmounted %d mounts under %s", n, k, d)
		}
	}
	for _, ns := range netnses {
		logf("slot %d: deleting netns %s", n, filepath.Base(ns))
		if err := run("ip", "netns", "del", filepath.Base(ns)); err != nil {
			errs = append(errs, err)
		}
	}
	if ifs, err := net.Interfaces(); err == nil {
		for _, i := range ifs {
			if i.Name == slotBridge(n) || strings.HasPrefix(i.Name, slotVeth(n)) {
				logf("slot %d: deleting link %s", n, i.Name)
				// A veth goes by itself, a moment after its namespace.
				if err := run("ip", "link", "del", i.Name); err != nil && linkExists(i.Name) {
					errs = append(errs, err)
				}
			}
		}
	}
	for range 16 { // one rule per setup, but be tolerant of duplicates
		if exec.Command("iptables", "-w", "-D", "FORWARD", "-i", slotBridge(n), "-o", slotBridge(n), "-j", "ACCEPT").Run() != nil {
			break
		}
		logf("slot %d: deleted FORWARD rule for %s", n, slotBridge(n))
	}
	for _, d := range append(dirs, bases...) {
		if !strings.Contains(d, "/swarmops-test-") {
			continue // not a directory testenv made: never remove it
		}
		if len(mountsUnder(d)) > 0 {
			errs = append(errs, fmt.Errorf("mounts left under %s; not removing it", d))
		} else if removeDirs {
			_ = os.RemoveAll(d)
		}
	}
	if len(errs) == 0 {
		_ = os.Remove(slotState(n))
	}
	return errors.Join(errs...)
}

func linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

// findProcs answers the processes belonging to a slot's engines, with all
// their descendants.
func findProcs(pids []int, dirs, netnses []string) []int {
	self := os.Getpid()
	nsIno := map[uint64]bool{}
	for _, ns := range netnses {
		var st syscall.Stat_t
		if syscall.Stat(ns, &st) == nil {
			nsIno[st.Ino] = true
		}
	}
	recorded := map[int]bool{}
	for _, p := range pids {
		recorded[p] = true
	}
	children := map[int][]int{}
	match := map[int]bool{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if ppid := procPPid(pid); ppid > 0 {
			children[ppid] = append(children[ppid], pid)
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		cl := string(cmdline)
		for _, d := range dirs {
			if strings.Contains(cl, d+"/") {
				match[pid] = true
			}
		}
		if recorded[pid] && strings.Contains(cl, "dockerd") {
			match[pid] = true
		}
		var st syscall.Stat_t
		if len(nsIno) > 0 && syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st) == nil && nsIno[st.Ino] {
			match[pid] = true
		}
	}
	var out []int
	seen := map[int]bool{}
	var walk func(int)
	walk = func(p int) {
		if seen[p] || p == self {
			return
		}
		seen[p] = true
		out = append(out, p)
		for _, c := range children[p] {
			walk(c)
		}
	}
	for p := range match {
		walk(p)
	}
	return out
}

func procPPid(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may contain spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0
	}
	p, _ := strconv.Atoi(f[1])
	return p
}

func waitGone(pids []int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for _, p := range pids {
		for time.Now().Before(deadline) {
			// A zombie whose parent is gone is reaped by init; ours by Wait.
			if syscall.Kill(p, 0) != nil || procState(p) == 'Z' {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func procState(pid int) byte {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2]
	}
	return 0
}

// mountsUnder answers the mount points at or below dir, deepest first.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	dir = filepath.Clean(dir)
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountUnder lazily unmounts everything under dir (an engine leaves
// overlay and netns mounts behind when it is killed) and answers how many.
func unmountUnder(dir string) int {
	k := 0
	for range 5 { // mounts can be stacked
		mps := mountsUnder(dir)
		if len(mps) == 0 {
			break
		}
		for _, mp := range mps {
			if syscall.Unmount(mp, syscall.MNT_DETACH) == nil {
				k++
			}
		}
	}
	return k
}

// run runs a command and answers an error with its output if it fails.
func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

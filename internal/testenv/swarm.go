package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
)

// SwarmOptions configure StartSwarm.
type SwarmOptions struct {
	Managers int    // at least 1
	Workers  int    //
	Name     string // prefix of the nodes' hostnames ("<name>-m1", "<name>-w1"); default "s<k>"
}

// Swarm is a swarm of private engines.
type Swarm struct {
	Name     string
	Managers []*Node // Managers[0] initialised the swarm
	Workers  []*Node
}

// Nodes answers the managers, then the workers.
func (s *Swarm) Nodes() []*Node { return append(append([]*Node{}, s.Managers...), s.Workers...) }

var swarmSeq atomic.Int64

// StartSwarm starts a swarm of the test's own, with the hello images on
// every node, and stops it when the test ends.
func StartSwarm(t testing.TB, opts SwarmOptions) *Swarm {
	t.Helper()
	requireEngine(t)
	s, err := startSwarm(BaseDir(t), opts)
	if s != nil {
		t.Cleanup(func() { logsOnFailure(t, s.Nodes()...); s.stop() })
	}
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return s
}

var (
	sharedSwarmOnce sync.Once
	sharedSwarm     *Swarm
	sharedSwarmErr  error
)

// SharedSwarm answers a swarm of 3 managers and 1 worker shared by every
// test of this process, started on first use and stopped by Main. Tests
// must leave it as they found it: remove their services, networks,
// secrets, and never stop, disconnect or demote its nodes (use StartSwarm
// for that).
func SharedSwarm(t testing.TB) *Swarm {
	t.Helper()
	requireEngine(t)
	base := BaseDir(t)
	sharedSwarmOnce.Do(func() {
		var s *Swarm
		s, sharedSwarmErr = startSwarm(base, SwarmOptions{Managers: 3, Workers: 1, Name: "shared"})
		if s != nil {
			if sharedSwarmErr != nil {
				s.stop()
			} else {
				sharedSwarm = s
				atExit(s.stop)
			}
		}
	})
	if sharedSwarmErr != nil {
		t.Fatalf("testenv: shared swarm: %v", sharedSwarmErr)
	}
	return sharedSwarm
}

// startSwarm answers the swarm (to be stopped by the caller) even on error
// once nodes exist.
func startSwarm(base string, opts SwarmOptions) (*Swarm, error) {
	if opts.Managers < 1 {
		return nil, errors.New("a swarm needs at least one manager")
	}
	if opts.Name == "" {
		opts.Name = fmt.Sprintf("s%d", swarmSeq.Add(1))
	}
	s := &Swarm{Name: opts.Name}
	names := []string{}
	for i := 1; i <= opts.Managers; i++ {
		names = append(names, fmt.Sprintf("%s-m%d", opts.Name, i))
	}
	for i := 1; i <= opts.Workers; i++ {
		names = append(names, fmt.Sprintf("%s-w%d", opts.Name, i))
	}
	// Nodes start in parallel and build their images while the swarm forms.
	go func() { _, _ = helloBinary(base) }()
	nodes := make([]*Node, len(names))
	errs := make([]error, len(names))
	var started, built sync.WaitGroup
	for i, name := range names {
		started.Add(1)
		built.Add(1)
		go func() {
			defer built.Done()
			n, err := startNode(base, NodeOptions{Name: name})
			nodes[i], errs[i] = n, err
			started.Done()
			if err == nil {
				errs[i] = n.buildHello()
			}
		}()
	}
	started.Wait()
	for i, n := range nodes {
		if n == nil {
			continue
		}
		if i < opts.Managers {
			s.Managers = append(s.Managers, n)
		} else {
			s.Workers = append(s.Workers, n)
		}
	}
	if err := errors.Join(errs...); err != nil {
		built.Wait()
		return s, err
	}
	err := s.form()
	built.Wait()
	if err == nil {
		err = errors.Join(errs...)
	}
	return s, err
}

// form inits the swarm on the first manager and joins the others.
func (s *Swarm) form() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	first := s.Managers[0]
	if _, err := first.Client().SwarmInit(ctx, swarm.InitRequest{
		ListenAddr:    "0.0.0.0:2377",
		AdvertiseAddr: first.Addr,
	}); err != nil {
		return fmt.Errorf("swarm init on %s: %w", first.Name, err)
	}
	sw, err := first.Client().SwarmInspect(ctx)
	if err != nil {
		return fmt.Errorf("swarm inspect on %s: %w", first.Name, err)
	}
	join := func(n *Node, token string) error {
		err := n.Client().SwarmJoin(ctx, swarm.JoinRequest{
			ListenAddr:    "0.0.0.0:2377",
			AdvertiseAddr: n.Addr,
			RemoteAddrs:   []string{net.JoinHostPort(first.Addr, "2377")},
			JoinToken:     token,
		})
		if err != nil {
			return fmt.Errorf("swarm join of %s: %w", n.Name, err)
		}
		return nil
	}
	// Managers one at a time: each join changes the raft membership, and
	// concurrent changes can leave the cluster without quorum for a while.
	for _, m := range s.Managers[1:] {
		if err := join(m, sw.JoinTokens.Manager); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(s.Workers))
	for i, w := range s.Workers {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = join(w, sw.JoinTokens.Worker) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := s.WaitReady(90 * time.Second); err != nil {
		return err
	}
	return s.setIDs(ctx)
}

// setIDs notes each node's swarm node ID, found by its address.
func (s *Swarm) setIDs(ctx context.Context) error {
	list, err := s.Managers[0].Client().NodeList(ctx, swarm.NodeListOptions{})
	if err != nil {
		return fmt.Errorf("node list: %w", err)
	}
	for _, n := range s.Nodes() {
		for _, sn := range list {
			if sn.Status.Addr == n.Addr {
				n.ID = sn.ID
			}
		}
		if n.ID == "" {
			return fmt.Errorf("%s (%s) not in the node list", n.Name, n.Addr)
		}
	}
	return nil
}

// WaitReady polls the leader's node list until every node of s is ready
// and every manager reachable.
func (s *Swarm) WaitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		problem := s.notReady()
		if problem == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("swarm %s not ready after %s: %s", s.Name, timeout, problem)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *Swarm) notReady() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var list []swarm.Node
	var err error
	for _, m := range s.Managers {
		if list, err = m.Client().NodeList(ctx, swarm.NodeListOptions{}); err == nil {
			break
		}
	}
	if err != nil {
		return "node list: " + err.Error()
	}
	byAddr := map[string]swarm.Node{}
	for _, n := range list {
		byAddr[n.Status.Addr] = n
	}
	var problems []string
	for _, n := range s.Nodes() {
		sn, ok := byAddr[n.Addr]
		switch {
		case !ok:
			problems = append(problems, n.Name+" not listed")
		case sn.Status.State != swarm.NodeStateReady:
			problems = append(problems, fmt.Sprintf("%s is %s %s", n.Name, sn.Status.State, sn.Status.Message))
		case sn.ManagerStatus != nil && sn.ManagerStatus.Reachability != swarm.ReachabilityReachable:
			problems = append(problems, fmt.Sprintf("manager %s is %s", n.Name, sn.ManagerStatus.Reachability))
		}
	}
	return strings.Join(problems, "; ")
}

// Leader answers the manager that the running managers name as raft leader.
func (s *Swarm) Leader() (*Node, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for _, m := range s.Managers {
		if !m.Running() {
			continue
		}
		list, err := m.Client().NodeList(ctx, swarm.NodeListOptions{})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.Name, err))
			continue
		}
		for _, sn := range list {
			if sn.ManagerStatus == nil || !sn.ManagerStatus.Leader {
				continue
			}
			host, _, _ := net.SplitHostPort(sn.ManagerStatus.Addr)
			for _, c := range s.Managers {
				if c.Addr == host {
					return c, nil
				}
			}
			return nil, fmt.Errorf("leader %s (%s) is not a manager of swarm %s", sn.Description.Hostname, host, s.Name)
		}
		errs = append(errs, fmt.Errorf("%s: no leader in node list", m.Name))
	}
	if len(errs) == 0 {
		return nil, errors.New("no manager is running")
	}
	return nil, errors.Join(errs...)
}

// WaitLeader polls until the managers name a leader other than not (which
// may be nil) and answers it, or fails the test after a minute.
func (s *Swarm) WaitLeader(t testing.TB, not *Node) *Node {
	t.Helper()
	var got *Node
	Poll(t, time.Minute, "a new swarm leader", func() error {
		l, err := s.Leader()
		if err != nil {
			return err
		}
		if l == not {
			return fmt.Errorf("%s is still the leader", l.Name)
		}
		got = l
		return nil
	})
	return got
}

// BuildImage builds a build context on every node of the swarm (images are
// per engine), in parallel.
func (s *Swarm) BuildImage(buildContext io.Reader, tags ...string) error {
	b, err := io.ReadAll(buildContext)
	if err != nil {
		return err
	}
	return s.each(func(n *Node) error { return n.BuildImage(bytes.NewReader(b), tags...) })
}

// LoadImage loads a `docker save` stream on every node, in parallel.
func (s *Swarm) LoadImage(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return s.each(func(n *Node) error { return n.LoadImage(bytes.NewReader(b)) })
}

func (s *Swarm) each(f func(*Node) error) error {
	nodes := s.Nodes()
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(n); err != nil {
				errs[i] = fmt.Errorf("%s: %w", n.Name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// stop stops every node at once and removes their namespaces.
func (s *Swarm) stop() {
	_ = s.each(func(n *Node) error { n.destroy(); return nil })
}

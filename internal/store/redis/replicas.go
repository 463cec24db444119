package redis

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Redis replicates asynchronously: a master acknowledges a write before
// any replica has it, and a replica promoted by Sentinel after the master
// died has lost whatever had not reached it. WAIT, sent after a write on
// the same connection, blocks until that many replicas acknowledge the
// replication stream up to that write (so every earlier write of any
// client too) or the timeout passes, and answers how many did. A Store
// with WaitReplicas > 0 sends it after every write whose loss a client
// would notice: records, tokens, meta documents, the audit log, session
// creation and revocation, idempotent results. It does not after writes
// on the hot path whose loss is harmless or heals: a session's idle
// deadline, login failure counters, idempotency claims (the next waited
// write covers them anyway).
//
// When WAIT answers fewer replicas than wanted, the write still succeeds:
// the master applied it and answers it to every reader, so failing the
// request would make clients retry a write that happened (a create would
// then conflict with itself), and a Sentinel pair that lost its replica
// (or just failed over to it) would refuse every write until an operator
// brings one back. The write is counted (UnreplicatedWrites) and reported
// through Options.Unreplicated, at most once per unreplicatedEvery. A
// Redis that must refuse writes instead says so itself, before applying
// them: min-replicas-to-write on the master makes it answer NOREPLICAS,
// which the store reports as unavailable.

const (
	// defaultWaitTimeout bounds a WAIT when Options.WaitTimeout is 0.
	defaultWaitTimeout = time.Second
	// unreplicatedEvery is the least time between two Unreplicated calls.
	unreplicatedEvery = 10 * time.Second
)

// replicas is a Store's WAIT policy and its count of writes acknowledged
// short of it.
type replicas struct {
	want    int
	timeout time.Duration
	notify  func(op string, got int, writes uint64)

	// short is set while the last WAIT came back short: a healthy replica
	// answers within milliseconds, so the next writes wait a tenth of the
	// timeout, not the whole of it each, until one is replicated again.
	short        atomic.Bool
	unreplicated atomic.Uint64
	mu           sync.Mutex
	lastNotify   time.Time
	pending      uint64
}

// pinner is a client that can lend one of its connections: WAIT only
// counts the writes of the connection it is sent on.
type pinner interface {
	Conn() *goredis.Conn
}

// write runs f, a write that must survive a failover, on one connection
// and, when the store waits for replicas, sends WAIT on that same
// connection once f succeeded. f's error is answered as is; an error of
// WAIT itself (the master went away before answering it) means the
// write's fate is unknown, and is answered as that.
func (s *Store) write(ctx context.Context, op string, f func(c goredis.Cmdable) error) error {
	if s.rep.want <= 0 {
		return f(s.c)
	}
	conn := s.c.(pinner).Conn()
	defer conn.Close()
	if err := f(conn); err != nil {
		return err
	}
	return s.waitOn(ctx, op, conn)
}

// runWrite runs script as a write (see write) and answers its result; an
// error of the WAIT after it is answered as the command's error.
func (s *Store) runWrite(ctx context.Context, op string, script *goredis.Script, keys []string, args ...any) *goredis.Cmd {
	var cmd *goredis.Cmd
	err := s.write(ctx, op, func(c goredis.Cmdable) error {
		cmd = script.Run(ctx, c, keys, args...)
		return cmd.Err()
	})
	if err != nil && cmd.Err() == nil {
		cmd.SetErr(err)
	}
	return cmd
}

// waiter is a connection WAIT can be sent on (a pinned Conn, a Tx).
type waiter interface {
	Wait(ctx context.Context, numReplicas int, timeout time.Duration) *goredis.IntCmd
}

// waitOn sends WAIT on c, which has just written, and counts a short
// answer.
func (s *Store) waitOn(ctx context.Context, op string, c waiter) error {
	r := &s.rep
	timeout := r.timeout
	if r.short.Load() {
		timeout = max(timeout/10, 10*time.Millisecond)
	}
	got, err := c.Wait(ctx, r.want, timeout).Result()
	if err != nil {
		return fmt.Errorf("wait for %d replica(s) after the write: %w", r.want, err)
	}
	if int(got) >= r.want {
		r.short.Store(false)
		return nil
	}
	r.short.Store(true)
	r.unreplicated.Add(1)
	r.report(op, int(got))
	return nil
}

// report calls notify at most once per unreplicatedEvery, with the number
// of short writes since the last call.
func (r *replicas) report(op string, got int) {
	r.mu.Lock()
	r.pending++
	now := time.Now()
	if r.notify == nil || now.Sub(r.lastNotify) < unreplicatedEvery {
		r.mu.Unlock()
		return
	}
	n := r.pending
	r.pending, r.lastNotify = 0, now
	r.mu.Unlock()
	r.notify(op, got, n)
}

// UnreplicatedWrites answers how many writes Redis acknowledged without
// WaitReplicas replicas having them within WaitTimeout since the store
// was made: the writes a failover at that moment would have lost.
func (s *Store) UnreplicatedWrites() uint64 { return s.rep.unreplicated.Load() }

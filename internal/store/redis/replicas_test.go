package redis_test

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
	"github.com/swarmops/swarmops/internal/store/redis"
	"github.com/swarmops/swarmops/internal/store/storetest"
	"github.com/swarmops/swarmops/internal/testenv"
)

// replicate makes replica a replica of master and waits until it is in
// sync.
func replicate(t *testing.T, master, replica *testenv.RedisServer) {
	t.Helper()
	rc := goredis.NewClient(&goredis.Options{Addr: replica.Addr})
	defer rc.Close()
	mc := goredis.NewClient(&goredis.Options{Addr: master.Addr})
	defer mc.Close()
	// Sync at once, not after the default 5 s wait for more replicas.
	must(t, mc.ConfigSet(t.Context(), "repl-diskless-sync-delay", "0").Err())
	host, port, _ := net.SplitHostPort(master.Addr)
	must(t, rc.Do(t.Context(), "REPLICAOF", host, port).Err())
	testenv.Poll(t, 15*time.Second, "replica "+replica.Addr+" in sync with "+master.Addr, func() error {
		info, err := rc.Info(t.Context(), "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "master_link_status:up") {
			return errors.New("master link not up")
		}
		return nil
	})
	// The replica's side of the link is up before the master counts it
	// for WAIT: write and wait on one connection until the master does.
	conn := mc.Conn()
	defer conn.Close()
	testenv.Poll(t, 15*time.Second, "master "+master.Addr+" counting replica "+replica.Addr+" for WAIT", func() error {
		if err := conn.Set(t.Context(), "replicate-probe", time.Now().String(), 0).Err(); err != nil {
			return err
		}
		n, err := conn.Do(t.Context(), "WAIT", 1, 2000).Int()
		if err != nil {
			return err
		}
		if n < 1 {
			return fmt.Errorf("WAIT 1 answered %d replicas", n)
		}
		return nil
	})
}

// unreplicatedLog records the store's Unreplicated calls.
type unreplicatedLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *unreplicatedLog) add(op string, got int, writes uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, fmt.Sprintf("%s replicas=%d writes=%d", op, got, writes))
}

func (l *unreplicatedLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.calls...)
}

// TestStore_WaitsForReplica checks that a store with WaitReplicas answers
// a write once the replica has it, and, with the replica gone, still
// answers it after WaitTimeout but counts and reports it; a master set to
// refuse writes without replicas (min-replicas-to-write) makes writes
// unavailable.
func TestStore_WaitsForReplica(t *testing.T) {
	skipShort(t)
	master, replica := testenv.NewRedis(t, ""), testenv.NewRedis(t, "")
	replicate(t, master, replica)
	ctx := t.Context()
	const timeout = 700 * time.Millisecond
	var log unreplicatedLog
	p := prefix()
	s := redis.New(connect(t, master.Addr),
		redis.Options{Prefix: p, WaitReplicas: 1, WaitTimeout: timeout, Unreplicated: log.add})
	defer s.Close()
	rc := goredis.NewClient(&goredis.Options{Addr: replica.Addr})
	defer rc.Close()

	// Every kind of waited write, each read on the replica the moment it
	// returns: WAIT on another connection than the write's would answer
	// at once and leave some of them behind.
	writes := []struct {
		name string
		key  string
		do   func() error
	}{
		{"CreateUser", "user:alice", func() error { return s.CreateUser(ctx, store.User{Username: "alice"}) }},
		{"CreateCluster", "cluster:prod", func() error { return s.CreateCluster(ctx, store.Cluster{Name: "prod"}) }},
		{"UpdateCluster", "cluster:prod", func() error {
			return s.UpdateCluster(ctx, store.Cluster{Name: "prod", Endpoints: []string{"tcp://e:2375"}})
		}},
		{"SetDefaultCluster", "default-cluster", func() error { return s.SetDefaultCluster(ctx, "prod") }},
		{"PutMeta", "meta:schema", func() error { return s.PutMeta(ctx, "schema", []byte(`{"version":2}`)) }},
		{"CreateToken", "user-tokens:alice", func() error {
			return s.CreateToken(ctx, store.Token{Hash: "h1", Name: "ci", Username: "alice"})
		}},
		{"CreateSession", "session:s1", func() error {
			return s.CreateSession(ctx, store.Session{ID: "s1", Username: "alice", ExpiresAt: time.Now().Add(time.Hour)})
		}},
		{"AppendAudit", "audit", func() error { return s.AppendAudit(ctx, store.AuditRecord{User: "alice", Action: "x"}) }},
	}
	for _, w := range writes {
		must(t, w.do())
		if n, err := rc.Exists(ctx, p+w.key).Result(); err != nil || n != 1 {
			t.Errorf("%s returned before the replica had %s (exists=%d, %v)", w.name, p+w.key, n, err)
		}
	}
	got, err := rc.Get(ctx, p+"cluster:prod").Result()
	if err != nil || !strings.Contains(got, "tcp://e:2375") {
		t.Errorf("UpdateCluster returned before the replica had the update: %q, %v", got, err)
	}
	for name, err := range map[string]error{
		"DeleteToken":   s.DeleteToken(ctx, "alice", "ci"),
		"DeleteSession": s.DeleteSession(ctx, "s1"),
		"DeleteUser":    s.DeleteUser(ctx, "alice"),
	} {
		must(t, err)
		_ = name
	}
	for _, k := range []string{"token:h1", "session:s1", "user:alice"} {
		if n, _ := rc.Exists(ctx, p+k).Result(); n != 0 {
			t.Errorf("a delete returned before the replica lost %s", p+k)
		}
	}
	if n := s.UnreplicatedWrites(); n != 0 || len(log.get()) != 0 {
		t.Fatalf("with the replica in sync: %d unreplicated writes, reports %q; want none", n, log.get())
	}

	// The replica is gone: writes succeed after the timeout, counted.
	must(t, replica.Kill())
	t0 := time.Now()
	must(t, s.CreateUser(ctx, store.User{Username: "bob"}))
	if d := time.Since(t0); d < timeout {
		t.Errorf("CreateUser without a replica returned in %s, before the %s WAIT timeout", d, timeout)
	}
	must(t, s.UpdateUser(ctx, store.User{Username: "bob", Role: "admin"}))
	if n := s.UnreplicatedWrites(); n != 2 {
		t.Errorf("without a replica: %d unreplicated writes counted, want 2", n)
	}
	if calls := log.get(); len(calls) != 1 || calls[0] != "create user replicas=0 writes=1" {
		t.Errorf("Unreplicated calls %q, want one for the first write (the second within 10s is only counted)", calls)
	}
	if u, err := s.GetUser(ctx, "bob"); err != nil || u.Role != "admin" {
		t.Errorf("GetUser after unreplicated writes = %+v, %v", u, err)
	}

	// A master told to refuse writes without a replica: unavailable.
	mc := goredis.NewClient(&goredis.Options{Addr: master.Addr})
	defer mc.Close()
	must(t, mc.ConfigSet(ctx, "min-replicas-to-write", "1").Err())
	err = s.CreateUser(ctx, store.User{Username: "carol"})
	wantUnavailable(t, "CreateUser with min-replicas-to-write 1 and no replica", err, "")
	if pub, _ := errs.Public(err); !strings.Contains(pub.Message, "too few replicas") {
		t.Errorf("public message %q, want it to say too few replicas", pub.Message)
	}
	must(t, mc.ConfigSet(ctx, "min-replicas-to-write", "0").Err())

	// The replica is back: writes are replicated again, and no longer
	// counted.
	must(t, replica.Start())
	replicate(t, master, replica)
	// Until one write is replicated again the store waits a tenth of its
	// timeout, which a loaded machine may miss: write until one is.
	n := 0
	testenv.Poll(t, 15*time.Second, "a write replicated again after the replica came back", func() error {
		n++
		before := s.UnreplicatedWrites()
		must(t, s.CreateUser(ctx, store.User{Username: fmt.Sprintf("dave-%d", n)}))
		if got := s.UnreplicatedWrites(); got != before {
			return fmt.Errorf("write %d was not replicated within the short wait", n)
		}
		return nil
	})
	before := s.UnreplicatedWrites()
	must(t, s.CreateUser(ctx, store.User{Username: "erin"}))
	if n := s.UnreplicatedWrites(); n != before {
		t.Errorf("with the replica back and in step: %d more unreplicated writes, want none", n-before)
	}
	if n, _ := rc.Exists(ctx, p+"user:erin").Result(); n != 1 {
		t.Error("CreateUser returned before the returned replica had the user")
	}
}

// TestStore_WaitingContract runs the store contract on a store that waits
// for a replica: pinned connections and WAIT change no semantics.
func TestStore_WaitingContract(t *testing.T) {
	skipShort(t)
	master, replica := testenv.NewRedis(t, ""), testenv.NewRedis(t, "")
	replicate(t, master, replica)
	storetest.Run(t, func(t *testing.T) store.Store {
		s := redis.New(connect(t, master.Addr),
			redis.Options{Prefix: prefix(), AuditCap: storetest.AuditCap, WaitReplicas: 1})
		t.Cleanup(func() {
			if n := s.UnreplicatedWrites(); n != 0 {
				t.Errorf("%d writes were not replicated within 1s", n)
			}
			must(t, s.Close())
		})
		return s
	})
}

// connect answers a client of addr made as SwarmOps makes its own
// (redis.Connect): a store that waits for replicas pins connections, and
// go-redis options that Connect sets matter there.
func connect(t *testing.T, addr string) goredis.UniversalClient {
	t.Helper()
	c, err := redis.Connect(redis.ConnOptions{URL: "redis://" + addr + "/0"})
	must(t, err)
	return c
}

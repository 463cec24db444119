package local

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
	"github.com/swarmops/swarmops/internal/store/storetest"
)

// childDirEnv makes the test binary, run again by TestOpen_InUse, open the
// store in that directory as a second process and report.
const childDirEnv = "SWARMOPS_LOCAL_STORE_CHILD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		s, err := Open(dir, Options{})
		if err != nil {
			fmt.Println(err)
			os.Exit(3)
		}
		s.Close()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func open(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, t.TempDir(), Options{AuditCap: storetest.AuditCap})
	})
}

func TestOpen_InUse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := open(t, dir, Options{})
	if err := s.CreateUser(t.Context(), store.User{Username: "alice"}); err != nil {
		t.Fatal(err)
	}

	_, err := Open(dir, Options{})
	wantInUse(t, "second Open", err)

	child := exec.Command(os.Args[0])
	child.Env = append(os.Environ(), childDirEnv+"="+dir)
	out, err := child.CombinedOutput()
	wantInUse(t, "Open in another process", fmt.Errorf("%s(%w)", out, err))

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); !errors.Is(err, errs.ErrUnavailable) {
		t.Errorf("Ping after Close: %v, want unavailable", err)
	}
	s = open(t, dir, Options{})
	if _, err := s.GetUser(t.Context(), "alice"); err != nil {
		t.Fatalf("after reopening: %v", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("data dir mode %v, want 0700", perm)
	}
}

func wantInUse(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), "is in use by another SwarmOps process") ||
		!strings.Contains(err.Error(), "SWARMOPS_STORE=redis") {
		t.Fatalf("%s: %v, want a message that the file is in use", what, err)
	}
}

// clock is a time the test moves.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestSweep(t *testing.T) {
	clk := &clock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := open(t, t.TempDir(), Options{Now: clk.Now})
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateSession(ctx, store.Session{ID: "short", Username: "a", ExpiresAt: clk.Now().Add(time.Minute)}))
	must(s.CreateSession(ctx, store.Session{ID: "long", Username: "a", ExpiresAt: clk.Now().Add(time.Hour)}))
	_, err := s.AddFailure(ctx, "k", time.Minute)
	must(err)
	_, _, err = s.ClaimIdempotent(ctx, "", "k", "fp", time.Minute, 0)
	must(err)
	must(s.PutLoginState(ctx, "st", []byte("v"), time.Minute))

	clk.Add(2 * time.Minute)
	must(s.sweep())
	counts := map[string]int{}
	err = s.db.View(func(tx *bolt.Tx) error {
		for _, b := range expiringBuckets {
			counts[string(b)] = tx.Bucket(b).Stats().KeyN
		}
		return nil
	})
	must(err)
	if d := cmp.Diff(counts, map[string]int{"sessions": 1, "throttle": 0, "idempotency": 0, "login_states": 0}); d != "" {
		t.Errorf("entries after sweep (-got +want)\n%s", d)
	}
	if _, err := s.GetSession(ctx, "long"); err != nil {
		t.Errorf("unexpired session: %v", err)
	}
}

// rawBolt reads and writes records in the bbolt file directly.
type rawBolt struct{ s *Store }

func (r rawBolt) bucket(t *testing.T, kind string) []byte {
	t.Helper()
	switch kind {
	case "cluster":
		return bucketClusters
	case "user":
		return bucketUsers
	case "registry":
		return bucketRegistries
	case "session":
		return bucketSessions
	}
	t.Fatalf("raw: unknown kind %q", kind)
	return nil
}

func (r rawBolt) Record(t *testing.T, kind, name string) []byte {
	t.Helper()
	var out []byte
	err := r.s.db.View(func(tx *bolt.Tx) error {
		out = append([]byte(nil), tx.Bucket(r.bucket(t, kind)).Get([]byte(name))...)
		return nil
	})
	if err != nil || out == nil {
		t.Fatalf("raw %s %s: %v (present: %v)", kind, name, err, out != nil)
	}
	return out
}

func (r rawBolt) SetRecord(t *testing.T, kind, name string, data []byte) {
	t.Helper()
	err := r.s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(r.bucket(t, kind)).Put([]byte(name), data)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestStore_Compat(t *testing.T) {
	storetest.RunCompat(t, func(t *testing.T) (store.Store, storetest.Raw) {
		s := open(t, t.TempDir(), Options{AuditCap: storetest.AuditCap})
		return s, rawBolt{s}
	})
}

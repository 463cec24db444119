package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// FileName is the name of the bbolt file inside the data directory.
const FileName = "swarmops.db"

// sweepEvery is how often expired sessions, counters and idempotency keys
// are removed from the file.
const sweepEvery = time.Minute

var (
	bucketClusters    = []byte("clusters")        // name -> Cluster
	bucketMeta        = []byte("meta")            // keyDefault -> cluster name
	bucketUsers       = []byte("users")           // username -> User
	bucketSessions    = []byte("sessions")        // id -> Session
	bucketTokens      = []byte("tokens")          // hash -> Token
	bucketTokenNames  = []byte("token_names")     // username -> {name -> hash}
	bucketRegistries  = []byte("registries")      // name -> Registry
	bucketAudit       = []byte("audit")           // big-endian sequence -> AuditRecord
	bucketThrottle    = []byte("throttle")        // key -> counter
	bucketIdem        = []byte("idempotency")     // key -> idemEntry
	bucketStackRevs   = []byte("stack_revisions") // cluster -> stack -> big-endian number -> StackRevision
	bucketLoginStates = []byte("login_states")    // id -> loginState

	keyDefault = []byte("default_cluster")

	allBuckets = [][]byte{
		bucketClusters, bucketMeta, bucketUsers, bucketSessions, bucketTokens,
		bucketTokenNames, bucketRegistries, bucketAudit, bucketThrottle, bucketIdem,
		bucketStackRevs, bucketLoginStates,
	}
	// expiringBuckets hold JSON values with an "expires_at" field.
	expiringBuckets = [][]byte{bucketSessions, bucketThrottle, bucketIdem, bucketLoginStates}
)

// Options tunes a Store; zero values take the defaults.
type Options struct {
	// AuditCap is the number of audit records kept (default 10000).
	AuditCap int
	// Now answers the current time (default time.Now); tests move it.
	Now func() time.Time
}

// Store is the bbolt-backed store.Store.
type Store struct {
	db       *bolt.DB
	auditCap int
	now      func() time.Time
	stop     chan struct{}
	swept    sync.WaitGroup
	close    sync.Once
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) dir/swarmops.db. It fails within about a
// second when another process holds the file.
func Open(dir string, opts Options) (*Store, error) {
	if opts.AuditCap <= 0 {
		opts.AuditCap = 10000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("local store: %w", err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("local store %s is in use by another SwarmOps process "+
			"(local mode is single-instance; use SWARMOPS_STORE=redis for several instances)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("local store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("local store %s: %w", path, err)
	}
	s := &Store{db: db, auditCap: opts.AuditCap, now: opts.Now, stop: make(chan struct{})}
	s.swept.Add(1)
	go s.sweepLoop()
	return s, nil
}

// Kind answers "local".
func (s *Store) Kind() string { return "local" }

// Ping answers nil while the file is open.
func (s *Store) Ping(context.Context) error {
	if err := s.db.View(func(*bolt.Tx) error { return nil }); err != nil {
		return errs.Unavailable(err, "store unavailable: local store is closed")
	}
	return nil
}

// Close stops the sweeper and closes the file. Closing twice is harmless.
func (s *Store) Close() error {
	var err error
	s.close.Do(func() {
		close(s.stop)
		s.swept.Wait()
		err = s.db.Close()
	})
	return err
}

func (s *Store) sweepLoop() {
	defer s.swept.Done()
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			_ = s.sweep() // a failed sweep is retried on the next tick
		}
	}
}

// sweep removes the expired entries of every expiring bucket.
func (s *Store) sweep() error {
	now := s.now()
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range expiringBuckets {
			b := tx.Bucket(name)
			var dead [][]byte
			err := b.ForEach(func(k, v []byte) error {
				var e struct {
					ExpiresAt time.Time `json:"expires_at"`
				}
				if json.Unmarshal(v, &e) != nil || !now.Before(e.ExpiresAt) {
					dead = append(dead, k)
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range dead {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// view and update run fn in a transaction. Errors of a kind (not found,
// conflict) pass as they are; others get the operation as prefix.
func (s *Store) view(op string, fn func(tx *bolt.Tx) error) error {
	return wrap(op, s.db.View(fn))
}

func (s *Store) update(op string, fn func(tx *bolt.Tx) error) error {
	return wrap(op, s.db.Update(fn))
}

func wrap(op string, err error) error {
	if err == nil || errs.KindOf(err) != nil {
		return err
	}
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("%s: %w", op, errs.Unavailable(err, "store unavailable: local store is closed"))
	}
	return fmt.Errorf("%s: %w", op, err)
}

// getJSON decodes the value at key into v and reports whether it exists.
func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	data := b.Get(key)
	if data == nil {
		return false, nil
	}
	return true, json.Unmarshal(data, v)
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

// putKeeping writes v at key over prev, the value stored there, keeping
// the fields of prev this build does not know (store.KeepUnknown).
func putKeeping(b *bolt.Bucket, key, prev []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if data, err = store.KeepUnknown(prev, data, v); err != nil {
		return err
	}
	return b.Put(key, data)
}

package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// Options tunes a Store; zero values take the defaults.
type Options struct {
	// Prefix is put before every key (default "swarmops:").
	Prefix string
	// AuditCap is the number of audit records kept (default 10000).
	AuditCap int64
	// WaitReplicas, when above 0, makes every write a client would miss
	// after a failover wait (Redis WAIT) until that many replicas have it,
	// at most WaitTimeout (default 1s); see write. It needs a client that
	// can lend a connection (Connect's, goredis.NewClient's).
	WaitReplicas int
	WaitTimeout  time.Duration
	// Unreplicated, when set, hears of writes acknowledged with fewer than
	// WaitReplicas replicas (got) after WaitTimeout: at most once per 10s,
	// with the operation of the latest and how many there were since the
	// previous call.
	Unreplicated func(op string, got int, writes uint64)
}

// Store is the Redis-backed store.Store.
type Store struct {
	c        goredis.UniversalClient
	prefix   string
	auditCap int64
	rep      replicas
	// memo spares decoding records read before.
	memo memos
	// noSort is set once Redis refused SORT's GET to this user (see
	// records).
	noSort atomic.Bool
}

var _ store.Store = (*Store)(nil)

// New answers a Store over client, which it owns from then on: Close
// closes it, so a locker sharing the client must be done by then. It
// panics when opts.WaitReplicas is set and client cannot lend a
// connection (a cluster or ring client): WAIT would count nothing.
func New(client goredis.UniversalClient, opts Options) *Store {
	if opts.Prefix == "" {
		opts.Prefix = "swarmops:"
	}
	if opts.AuditCap <= 0 {
		opts.AuditCap = 10000
	}
	if opts.WaitTimeout <= 0 {
		opts.WaitTimeout = defaultWaitTimeout
	}
	if _, ok := client.(pinner); opts.WaitReplicas > 0 && !ok {
		panic(fmt.Sprintf("redis store: WaitReplicas needs a client with Conn(), not %T", client))
	}
	s := &Store{c: client, prefix: opts.Prefix, auditCap: opts.AuditCap, memo: newMemos()}
	s.rep.want, s.rep.timeout, s.rep.notify = opts.WaitReplicas, opts.WaitTimeout, opts.Unreplicated
	return s
}

// Kind answers "redis".
func (s *Store) Kind() string { return "redis" }

// Ping answers nil when Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.fail("ping", s.c.Ping(ctx).Err())
}

// Close closes the client. Closing twice is harmless.
func (s *Store) Close() error {
	if err := s.c.Close(); err != nil && !errors.Is(err, goredis.ErrClosed) {
		return fmt.Errorf("close redis store: %w", err)
	}
	return nil
}

// key answers the full key of name under the prefix.
func (s *Store) key(parts ...string) string {
	return s.prefix + strings.Join(parts, ":")
}

// fail translates a go-redis error: nil stays nil, a cancelled context
// stays itself, Redis refusing or not answering becomes errs.ErrUnavailable,
// anything else (a bug: wrong type, script error) an internal error.
func (s *Store) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", op, err)
	}
	if u := unavailable(err); u != nil {
		return fmt.Errorf("%s: %w", op, u)
	}
	return fmt.Errorf("%s: redis: %w", op, err)
}

// unavailable answers an errs.ErrUnavailable error when err means Redis is
// unreachable, not ready or refusing us, else nil.
func unavailable(err error) error {
	var reply goredis.Error
	switch {
	case goredis.IsAuthError(err) || goredis.IsPermissionError(err):
		return errs.Unavailable(err, "store unavailable: redis refused the credentials")
	case !errors.As(err, &reply),
		goredis.IsLoadingError(err), goredis.IsReadOnlyError(err), goredis.IsMasterDownError(err),
		goredis.IsClusterDownError(err), goredis.IsTryAgainError(err), goredis.IsMaxClientsError(err),
		goredis.IsOOMError(err), goredis.HasErrorPrefix(err, "BUSY"):
		return errs.Unavailable(err, "store unavailable: redis is not reachable or not ready")
	case goredis.HasErrorPrefix(err, "NOREPLICAS"):
		// min-replicas-to-write refused the write before applying it.
		return errs.Unavailable(err, "store unavailable: redis has too few replicas to accept writes")
	}
	return nil
}

func decode[T any](data string) (T, error) {
	var v T
	err := json.Unmarshal([]byte(data), &v)
	return v, err
}

func encode(v any) (string, error) {
	data, err := json.Marshal(v)
	return string(data), err
}

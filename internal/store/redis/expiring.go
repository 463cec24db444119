package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// putSessionScript writes a session (KEYS[1]) with a TTL, NX or XX as
// ARGV[6] says, and keeps its user's index (KEYS[2], a sorted set of ids
// scored by expiry) pruned of expired ids and alive as long as its last
// session.
var putSessionScript = goredis.NewScript(`
if not redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], ARGV[6]) then return 0 end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[5])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIREAT', KEYS[2], last[2]) end
return 1`)

// addFailureScript counts a failure; the first one of a window starts the
// window's TTL.
var addFailureScript = goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`)

func (s *Store) sessionKey(id string) string         { return s.key("session", id) }
func (s *Store) userSessions(username string) string { return s.key("user-sessions", username) }

// putSessionData writes sess, encoded as data, if mode ("NX" or "XX")
// allows, and reports whether it did. A session already expired lives a
// millisecond (GetSession never answers it anyway), so NX and XX keep their
// meaning. A new session is waited for (see write): a login acknowledged
// must not vanish with a failover; a touch is not, being on every
// request's path and only moving an idle deadline.
func (s *Store) putSessionData(ctx context.Context, sess store.Session, data, mode string) (bool, error) {
	now := time.Now()
	ttl := max(sess.ExpiresAt.Sub(now).Milliseconds(), 1)
	keys := []string{s.sessionKey(sess.ID), s.userSessions(sess.Username)}
	args := []any{data, ttl, sess.ID, sess.ExpiresAt.UnixMilli(), now.UnixMilli(), mode}
	if mode == "NX" {
		return s.runWrite(ctx, "create session", putSessionScript, keys, args...).Bool()
	}
	return putSessionScript.Run(ctx, s.c, keys, args...).Bool()
}

// CreateSession stores sess until its ExpiresAt; errs.ErrConflict when the
// id is taken.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	data, err := encode(sess)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	ok, err := s.putSessionData(ctx, sess, data, "NX")
	if err != nil {
		return s.fail("create session", err)
	}
	if !ok {
		return errs.Conflict("session already exists")
	}
	return nil
}

// GetSession answers the unexpired session id.
func (s *Store) GetSession(ctx context.Context, id string) (store.Session, error) {
	data, err := s.c.Get(ctx, s.sessionKey(id)).Result()
	if errors.Is(err, goredis.Nil) {
		return store.Session{}, errs.NotFound("session not found")
	}
	if err != nil {
		return store.Session{}, s.fail("get session", err)
	}
	sess, err := decode[store.Session](data)
	if err != nil {
		return sess, fmt.Errorf("get session: %w", err)
	}
	if !time.Now().Before(sess.ExpiresAt) {
		return store.Session{}, errs.NotFound("session not found")
	}
	return sess, nil
}

// getSessionUserScript answers the session of KEYS[1] and the user it
// names (the record under ARGV[1] .. its username): {} without the
// session, {session} when no username is found in its text, {session,
// username, user or false} otherwise. The name is found as encoding/json
// writes it (every username is plain text, see auth): cheaper than
// decoding the whole session, and the caller checks that it is the
// session's. A read only, so it runs (without the no-writes flag, which
// Redis before 7 would not take) wherever a GET would.
var getSessionUserScript = goredis.NewScript(`
local s = redis.call('GET', KEYS[1])
if not s then return {} end
local name = string.match(s, '"username":"([^"\\]+)"')
if not name then return {s} end
return {s, name, redis.call('GET', ARGV[1] .. name)}`)

// GetSessionUser answers the unexpired session id and its user, both read
// by one script: one round trip.
func (s *Store) GetSessionUser(ctx context.Context, id string) (store.Session, store.User, error) {
	const op = "get session"
	vals, err := s.sessionUser(ctx, id)
	if err != nil {
		return store.Session{}, store.User{}, s.fail(op, err)
	}
	if len(vals) == 0 {
		return store.Session{}, store.User{}, errs.NotFound("session not found")
	}
	data, _ := vals[0].(string)
	sess, err := s.memo.sessions.decode(data)
	if err != nil {
		return store.Session{}, store.User{}, fmt.Errorf("%s: %w", op, err)
	}
	if !time.Now().Before(sess.ExpiresAt) {
		return store.Session{}, store.User{}, errs.NotFound("session not found")
	}
	if len(vals) == 3 && vals[1] == any(sess.Username) {
		raw, ok := vals[2].(string)
		if !ok {
			return sess, store.User{}, errs.NotFound("user %q not found", sess.Username)
		}
		u, err := s.memo.users.decode(raw)
		if err != nil {
			return sess, store.User{}, fmt.Errorf("get user %q: %w", sess.Username, err)
		}
		if u.Username == sess.Username {
			return sess, u, nil
		}
	}
	// The script found no name, or another than decoding finds (the
	// session's text is not as this build writes it): ask for the user
	// the session names, never answering another.
	u, err := s.GetUser(ctx, sess.Username)
	return sess, u, err
}

// clustersRead is the cluster registry read ahead with a session
// (records).
type clustersRead struct {
	records []string
	def     string
}

// sessionUser runs getSessionUserScript for session id. When ctx asks to
// read the registry ahead (store.ReadAhead), the registry's SORT_RO and
// the default mark's GET go in the same round trip, and what they read is
// kept for the listing that follows; a read ahead that fails is left to
// that listing to make again, with its fallbacks.
func (s *Store) sessionUser(ctx context.Context, id string) ([]any, error) {
	keys, args := []string{s.sessionKey(id)}, []any{s.key(users.noun, "")}
	ra := store.ReadAheadOf(ctx)
	if ra == nil || !ra.Clusters || !s.sorting() {
		return getSessionUserScript.Run(ctx, s.c, keys, args...).Slice()
	}
	p := s.c.Pipeline()
	script := getSessionUserScript.EvalSha(ctx, p, keys, args...)
	listed := s.queueSorted(ctx, p, clusters, s.key(defaultKey))
	_, _ = p.Exec(ctx) // each command's error is its own, below
	records, def, err := listed.result()
	var reply goredis.Error
	switch {
	case err == nil:
		ra.Put(clustersRead{records, def})
	case errors.As(err, &reply) && sortRefused(err):
		s.noSort.Store(true) // as records would: not asked again
	}
	vals, err := script.Slice()
	if err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
		// Not loaded (a new or flushed Redis): EVAL loads it.
		return getSessionUserScript.Eval(ctx, s.c, keys, args...).Slice()
	}
	return vals, err
}

// TouchSession moves the idle deadline of the unexpired session id,
// keeping the fields of the stored session this build does not know.
func (s *Store) TouchSession(ctx context.Context, id string, expiresAt time.Time) error {
	const op = "touch session"
	prev, err := s.c.Get(ctx, s.sessionKey(id)).Result()
	if errors.Is(err, goredis.Nil) {
		return errs.NotFound("session not found")
	}
	if err != nil {
		return s.fail(op, err)
	}
	sess, err := decode[store.Session](prev)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if !time.Now().Before(sess.ExpiresAt) {
		return errs.NotFound("session not found")
	}
	sess.ExpiresAt = expiresAt
	data, err := encode(sess)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	merged, err := store.KeepUnknown([]byte(prev), []byte(data), sess)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	ok, err := s.putSessionData(ctx, sess, string(merged), "XX")
	if err != nil {
		return s.fail(op, err)
	}
	if !ok {
		return errs.NotFound("session not found")
	}
	return nil
}

// DeleteSession ends session id; an unknown id is not an error. Its id
// stays in the user's index until it would have expired.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	const op = "delete session"
	return s.fail(op, s.write(ctx, op, func(c goredis.Cmdable) error { return c.Del(ctx, s.sessionKey(id)).Err() }))
}

// DeleteUserSessions ends every session of username.
func (s *Store) DeleteUserSessions(ctx context.Context, username string) error {
	const op = "delete user sessions"
	index := s.userSessions(username)
	ids, err := s.c.ZRange(ctx, index, 0, -1).Result()
	if err != nil {
		return s.fail(op, err)
	}
	keys := []string{index}
	for _, id := range ids {
		keys = append(keys, s.sessionKey(id))
	}
	return s.fail(op, s.write(ctx, op, func(c goredis.Cmdable) error { return c.Del(ctx, keys...).Err() }))
}

// AddFailure counts a failure for key and answers the count within the
// window that began with the first one.
func (s *Store) AddFailure(ctx context.Context, key string, window time.Duration) (int, error) {
	n, err := addFailureScript.Run(ctx, s.c, []string{s.key("throttle", key)}, window.Milliseconds()).Int()
	return n, s.fail("add failure", err)
}

// Failures answers key's count in its current window, 0 when none.
func (s *Store) Failures(ctx context.Context, key string) (int, error) {
	n, err := s.c.Get(ctx, s.key("throttle", key)).Int()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	return n, s.fail("get failures", err)
}

// ResetFailures forgets key's failures.
func (s *Store) ResetFailures(ctx context.Context, key string) error {
	return s.fail("reset failures", s.c.Del(ctx, s.key("throttle", key)).Err())
}

// undoFailureScript takes back one count, never below zero, keeping the
// window's TTL.
var undoFailureScript = goredis.NewScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then return redis.call('DECR', KEYS[1]) end
return 0`)

// UndoFailure takes back one failure of key in its current window.
func (s *Store) UndoFailure(ctx context.Context, key string) error {
	return s.fail("undo failure", undoFailureScript.Run(ctx, s.c, []string{s.key("throttle", key)}).Err())
}

// claimIdemScript claims KEYS[1] (claim ARGV[1], TTL ARGV[2] ms) unless
// it exists ({0, what it holds}) or the owner's index KEYS[2] (a sorted
// set of the owner's keys scored by expiry, pruned as of ARGV[3]) holds
// ARGV[4] live keys already ({2}); claimed, the key joins the index as
// ARGV[5] ({1}), and the index lives as long as its last key.
var claimIdemScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then return {0, cur} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
local limit = tonumber(ARGV[4])
if limit > 0 and redis.call('ZCARD', KEYS[2]) >= limit then return {2} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], tonumber(ARGV[3]) + tonumber(ARGV[2]), ARGV[5])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIREAT', KEYS[2], last[2]) end
return {1}`)

// finishIdemScript stores the answer ARGV[1] at KEYS[1] for ARGV[2] ms and
// moves its expiry in the owner's index KEYS[2] (member ARGV[4]) to match.
var finishIdemScript = goredis.NewScript(`
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], tonumber(ARGV[3]) + tonumber(ARGV[2]), ARGV[4])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIREAT', KEYS[2], last[2]) end
return 1`)

func (s *Store) idemOwner(owner string) string { return s.key("idempotency-owner", owner) }

// ClaimIdempotent claims owner's key for ttl, or answers what the key
// holds; ErrTooManyKeys when owner holds limit live keys. The count and
// the claim are one step, on every instance.
func (s *Store) ClaimIdempotent(ctx context.Context, owner, key, fingerprint string, ttl time.Duration, limit int) (store.IdempotentResult, bool, error) {
	const op = "begin idempotent request"
	claim, err := encode(store.IdempotentResult{Fingerprint: fingerprint})
	if err != nil {
		return store.IdempotentResult{}, false, fmt.Errorf("%s: %w", op, err)
	}
	k := s.key("idempotency", key)
	res, err := claimIdemScript.Run(ctx, s.c, []string{k, s.idemOwner(owner)},
		claim, ttl.Milliseconds(), time.Now().UnixMilli(), limit, key).Slice()
	if err != nil {
		return store.IdempotentResult{}, false, s.fail(op, err)
	}
	switch code, _ := res[0].(int64); code {
	case 1:
		return store.IdempotentResult{}, true, nil
	case 2:
		return store.IdempotentResult{}, false, store.ErrTooManyKeys
	}
	data, _ := res[1].(string)
	r, err := decode[store.IdempotentResult](data)
	if err != nil {
		return r, false, fmt.Errorf("%s: %w", op, err)
	}
	return r, false, nil
}

// FinishIdempotent stores r, marked done, as owner's key's answer for ttl.
func (s *Store) FinishIdempotent(ctx context.Context, owner, key string, r store.IdempotentResult, ttl time.Duration) error {
	r.Done = true
	data, err := encode(r)
	if err != nil {
		return fmt.Errorf("finish idempotent request: %w", err)
	}
	const op = "finish idempotent request"
	return s.fail(op, s.runWrite(ctx, op, finishIdemScript, []string{s.key("idempotency", key), s.idemOwner(owner)},
		data, ttl.Milliseconds(), time.Now().UnixMilli(), key).Err())
}

// AbortIdempotent forgets owner's key.
func (s *Store) AbortIdempotent(ctx context.Context, owner, key string) error {
	const op = "abort idempotent request"
	return s.fail(op, s.write(ctx, op, func(c goredis.Cmdable) error {
		_, err := c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Del(ctx, s.key("idempotency", key))
			p.ZRem(ctx, s.idemOwner(owner), key)
			return nil
		})
		return err
	}))
}

func (s *Store) loginStateKey(id string) string { return s.key("login-state", id) }

// PutLoginState stores value under id until ttl has passed;
// errs.ErrConflict when id is taken.
func (s *Store) PutLoginState(ctx context.Context, id string, value []byte, ttl time.Duration) error {
	const op = "put login state"
	var ok bool
	err := s.write(ctx, op, func(c goredis.Cmdable) error {
		var err error
		ok, err = c.SetNX(ctx, s.loginStateKey(id), value, max(ttl, time.Millisecond)).Result()
		return err
	})
	if err != nil {
		return s.fail(op, err)
	}
	if !ok {
		return errs.Conflict("login state already exists")
	}
	return nil
}

// TakeLoginState answers the value stored under id and removes it (GETDEL:
// one step, so a state is used once whichever instance takes it).
func (s *Store) TakeLoginState(ctx context.Context, id string) ([]byte, error) {
	const op = "take login state"
	var v []byte
	err := s.write(ctx, op, func(c goredis.Cmdable) error {
		var err error
		v, err = c.GetDel(ctx, s.loginStateKey(id)).Bytes()
		return err
	})
	if errors.Is(err, goredis.Nil) {
		return nil, errs.NotFound("login state not found")
	}
	if err != nil {
		return nil, s.fail(op, err)
	}
	return v, nil
}

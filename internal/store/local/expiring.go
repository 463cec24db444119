package local

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// counter is a throttle entry: failures since the window began.
type counter struct {
	Count     int       `json:"count"`
	ExpiresAt time.Time `json:"expires_at"`
}

// idemEntry is an idempotency key's claim or answer.
type idemEntry struct {
	Result    store.IdempotentResult `json:"result"`
	ExpiresAt time.Time              `json:"expires_at"`
}

// CreateSession stores sess until its ExpiresAt; errs.ErrConflict when the
// id is taken.
func (s *Store) CreateSession(_ context.Context, sess store.Session) error {
	return s.update("create session", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		var old store.Session
		ok, err := getJSON(b, []byte(sess.ID), &old)
		if err != nil {
			return err
		}
		if ok && s.now().Before(old.ExpiresAt) {
			return errs.Conflict("session already exists")
		}
		return putJSON(b, []byte(sess.ID), sess)
	})
}

// GetSession answers the unexpired session id.
func (s *Store) GetSession(_ context.Context, id string) (store.Session, error) {
	var sess store.Session
	err := s.view("get session", func(tx *bolt.Tx) error {
		ok, err := getJSON(tx.Bucket(bucketSessions), []byte(id), &sess)
		if err == nil && (!ok || !s.now().Before(sess.ExpiresAt)) {
			err = errs.NotFound("session not found")
		}
		return err
	})
	return sess, err
}

// GetSessionUser answers the unexpired session id and its user, read in
// one transaction.
func (s *Store) GetSessionUser(_ context.Context, id string) (store.Session, store.User, error) {
	var sess store.Session
	var u store.User
	err := s.view("get session", func(tx *bolt.Tx) error {
		ok, err := getJSON(tx.Bucket(bucketSessions), []byte(id), &sess)
		if err == nil && (!ok || !s.now().Before(sess.ExpiresAt)) {
			sess = store.Session{}
			return errs.NotFound("session not found")
		}
		if err != nil {
			return err
		}
		ok, err = getJSON(tx.Bucket(bucketUsers), []byte(sess.Username), &u)
		if err == nil && !ok {
			err = errs.NotFound("user %q not found", sess.Username)
		}
		return err
	})
	return sess, u, err
}

// TouchSession moves the idle deadline of the unexpired session id.
func (s *Store) TouchSession(_ context.Context, id string, expiresAt time.Time) error {
	return s.update("touch session", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		var sess store.Session
		ok, err := getJSON(b, []byte(id), &sess)
		if err != nil {
			return err
		}
		if !ok || !s.now().Before(sess.ExpiresAt) {
			return errs.NotFound("session not found")
		}
		sess.ExpiresAt = expiresAt
		return putKeeping(b, []byte(id), b.Get([]byte(id)), sess)
	})
}

// DeleteSession ends session id; an unknown id is not an error.
func (s *Store) DeleteSession(_ context.Context, id string) error {
	return s.update("delete session", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSessions).Delete([]byte(id))
	})
}

// DeleteUserSessions ends every session of username.
func (s *Store) DeleteUserSessions(_ context.Context, username string) error {
	return s.update("delete user sessions", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		var ids [][]byte
		err := b.ForEach(func(id, data []byte) error {
			var sess store.Session
			if err := json.Unmarshal(data, &sess); err != nil {
				return err
			}
			if sess.Username == username {
				ids = append(ids, id)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := b.Delete(id); err != nil {
				return err
			}
		}
		return nil
	})
}

// AddFailure counts a failure for key and answers the count within the
// window that began with the first one.
func (s *Store) AddFailure(_ context.Context, key string, window time.Duration) (int, error) {
	var c counter
	err := s.update("add failure", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketThrottle)
		now := s.now()
		if _, err := getJSON(b, []byte(key), &c); err != nil {
			return err
		}
		if !now.Before(c.ExpiresAt) {
			c = counter{ExpiresAt: now.Add(window)}
		}
		c.Count++
		return putJSON(b, []byte(key), c)
	})
	return c.Count, err
}

// Failures answers key's count in its current window, 0 when none.
func (s *Store) Failures(_ context.Context, key string) (int, error) {
	var c counter
	err := s.view("get failures", func(tx *bolt.Tx) error {
		_, err := getJSON(tx.Bucket(bucketThrottle), []byte(key), &c)
		return err
	})
	if err != nil || !s.now().Before(c.ExpiresAt) {
		return 0, err
	}
	return c.Count, nil
}

// ResetFailures forgets key's failures.
func (s *Store) ResetFailures(_ context.Context, key string) error {
	return s.update("reset failures", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketThrottle).Delete([]byte(key))
	})
}

// UndoFailure takes back one failure of key in its current window.
func (s *Store) UndoFailure(_ context.Context, key string) error {
	return s.update("undo failure", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketThrottle)
		var c counter
		ok, err := getJSON(b, []byte(key), &c)
		if err != nil || !ok || !s.now().Before(c.ExpiresAt) || c.Count <= 0 {
			return err
		}
		c.Count--
		return putJSON(b, []byte(key), c)
	})
}

// bucketIdemOwners indexes idempotency keys by owner: owner NUL key ->
// expiry (RFC 3339). Expired entries go when their owner claims a key.
var bucketIdemOwners = []byte("idempotency-owners")

// ClaimIdempotent claims owner's key for ttl, or answers what the key
// holds; ErrTooManyKeys when owner holds limit live keys.
func (s *Store) ClaimIdempotent(_ context.Context, owner, key, fingerprint string, ttl time.Duration, limit int) (store.IdempotentResult, bool, error) {
	var (
		e     idemEntry
		first bool
	)
	err := s.update("begin idempotent request", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIdem)
		now := s.now()
		ok, err := getJSON(b, []byte(key), &e)
		if err != nil || (ok && now.Before(e.ExpiresAt)) {
			return err
		}
		if owner != "" {
			live, err := s.ownerKeys(tx, owner, now)
			if err != nil {
				return err
			}
			if limit > 0 && live >= limit {
				return store.ErrTooManyKeys
			}
			if err := s.indexOwnerKey(tx, owner, key, now.Add(ttl)); err != nil {
				return err
			}
		}
		first = true
		return putJSON(b, []byte(key), idemEntry{
			Result:    store.IdempotentResult{Fingerprint: fingerprint},
			ExpiresAt: now.Add(ttl),
		})
	})
	if err != nil || first {
		return store.IdempotentResult{}, first, err
	}
	return e.Result, false, nil
}

// ownerKeys counts owner's live keys, dropping expired ones from the index.
func (s *Store) ownerKeys(tx *bolt.Tx, owner string, now time.Time) (int, error) {
	idx, err := tx.CreateBucketIfNotExists(bucketIdemOwners)
	if err != nil {
		return 0, err
	}
	prefix := []byte(owner + "\x00")
	var live int
	var expired [][]byte
	c := idx.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var exp time.Time
		if exp.UnmarshalText(v) == nil && now.Before(exp) {
			live++
		} else {
			expired = append(expired, bytes.Clone(k))
		}
	}
	for _, k := range expired {
		if err := idx.Delete(k); err != nil {
			return 0, err
		}
	}
	return live, nil
}

// indexOwnerKey records that owner's key lives until exp; no owner, no entry.
func (s *Store) indexOwnerKey(tx *bolt.Tx, owner, key string, exp time.Time) error {
	if owner == "" {
		return nil
	}
	idx, err := tx.CreateBucketIfNotExists(bucketIdemOwners)
	if err != nil {
		return err
	}
	v, _ := exp.UTC().MarshalText()
	return idx.Put([]byte(owner+"\x00"+key), v)
}

// FinishIdempotent stores r, marked done, as owner's key's answer for ttl.
func (s *Store) FinishIdempotent(_ context.Context, owner, key string, r store.IdempotentResult, ttl time.Duration) error {
	r.Done = true
	return s.update("finish idempotent request", func(tx *bolt.Tx) error {
		exp := s.now().Add(ttl)
		if err := s.indexOwnerKey(tx, owner, key, exp); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bucketIdem), []byte(key), idemEntry{Result: r, ExpiresAt: exp})
	})
}

// AbortIdempotent forgets owner's key.
func (s *Store) AbortIdempotent(_ context.Context, owner, key string) error {
	return s.update("abort idempotent request", func(tx *bolt.Tx) error {
		if idx := tx.Bucket(bucketIdemOwners); idx != nil && owner != "" {
			if err := idx.Delete([]byte(owner + "\x00" + key)); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketIdem).Delete([]byte(key))
	})
}

// loginState is a sign-on in progress.
type loginState struct {
	Value     []byte    `json:"value"`
	ExpiresAt time.Time `json:"expires_at"`
}

// PutLoginState stores value under id until ttl has passed;
// errs.ErrConflict when id is taken.
func (s *Store) PutLoginState(_ context.Context, id string, value []byte, ttl time.Duration) error {
	return s.update("put login state", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLoginStates)
		var old loginState
		ok, err := getJSON(b, []byte(id), &old)
		if err != nil {
			return err
		}
		now := s.now()
		if ok && now.Before(old.ExpiresAt) {
			return errs.Conflict("login state already exists")
		}
		return putJSON(b, []byte(id), loginState{Value: value, ExpiresAt: now.Add(ttl)})
	})
}

// TakeLoginState answers the value stored under id and removes it.
func (s *Store) TakeLoginState(_ context.Context, id string) ([]byte, error) {
	var st loginState
	err := s.update("take login state", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLoginStates)
		ok, err := getJSON(b, []byte(id), &st)
		if err != nil {
			return err
		}
		if !ok {
			return errs.NotFound("login state not found")
		}
		if err := b.Delete([]byte(id)); err != nil {
			return err
		}
		if !s.now().Before(st.ExpiresAt) {
			return errs.NotFound("login state expired")
		}
		return nil
	})
	return st.Value, err
}

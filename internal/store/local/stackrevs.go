package local

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

var _ store.StackRevisions = (*Store)(nil)

// AddStackRevision stores r as the next revision of its stack and answers
// its number. A stack's revisions live in a bucket of their own, whose
// sequence numbers them: bbolt keeps the sequence when old revisions are
// deleted, so numbers are never reused.
func (s *Store) AddStackRevision(_ context.Context, r store.StackRevision) (int, error) {
	if r.Cluster == "" || r.Stack == "" {
		return 0, errors.New("add stack revision: cluster and stack names are required")
	}
	var n uint64
	err := s.update("add stack revision", func(tx *bolt.Tx) error {
		byCluster, err := tx.Bucket(bucketStackRevs).CreateBucketIfNotExists([]byte(r.Cluster))
		if err != nil {
			return err
		}
		b, err := byCluster.CreateBucketIfNotExists([]byte(r.Stack))
		if err != nil {
			return err
		}
		if n, err = b.NextSequence(); err != nil {
			return err
		}
		r.Number = int(n)
		data, err := store.EncodeStackRevision(r)
		if err != nil {
			return err
		}
		if err := b.Put(seqKey(n), data); err != nil {
			return err
		}
		// Numbers are contiguous, so the first key tells how many are kept.
		c := b.Cursor()
		for k, _ := c.First(); k != nil && n-binary.BigEndian.Uint64(k) >= store.StackRevisionCap; k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
	return int(n), err
}

// ListStackRevisions answers the stack's revisions newest first.
func (s *Store) ListStackRevisions(_ context.Context, cluster, stack string) ([]store.StackRevision, error) {
	out := []store.StackRevision{}
	err := s.view("list stack revisions", func(tx *bolt.Tx) error {
		b := stackRevs(tx, cluster, stack)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var r store.StackRevision
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// GetStackRevision answers revision number of the stack.
func (s *Store) GetStackRevision(_ context.Context, cluster, stack string, number int) (store.StackRevision, error) {
	var r store.StackRevision
	err := s.view("get stack revision", func(tx *bolt.Tx) error {
		found := false
		if b := stackRevs(tx, cluster, stack); b != nil && number > 0 {
			var err error
			if found, err = getJSON(b, seqKey(uint64(number)), &r); err != nil {
				return err
			}
		}
		if !found {
			return errs.NotFound("revision %d of stack %q not found", number, stack)
		}
		return nil
	})
	return r, err
}

// stackRevs answers the bucket of the stack's revisions, nil when it has
// none.
func stackRevs(tx *bolt.Tx, cluster, stack string) *bolt.Bucket {
	if cluster == "" || stack == "" {
		return nil
	}
	byCluster := tx.Bucket(bucketStackRevs).Bucket([]byte(cluster))
	if byCluster == nil {
		return nil
	}
	return byCluster.Bucket([]byte(stack))
}

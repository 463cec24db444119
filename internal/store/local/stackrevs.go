package local

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

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
		return trimStackRevs(b)
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

// ListRevisedStacks answers every stack that has revisions. bbolt keeps
// buckets sorted by name, so cluster then stack order comes for free.
func (s *Store) ListRevisedStacks(context.Context) ([]store.StackRef, error) {
	out := []store.StackRef{}
	err := s.view("list revised stacks", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStackRevs).ForEachBucket(func(cluster []byte) error {
			byCluster := tx.Bucket(bucketStackRevs).Bucket(cluster)
			return byCluster.ForEachBucket(func(stack []byte) error {
				if k, _ := byCluster.Bucket(stack).Cursor().First(); k != nil {
					out = append(out, store.StackRef{Cluster: string(cluster), Stack: string(stack)})
				}
				return nil
			})
		})
	})
	return out, err
}

// PutStackRevision stores r under its own number, raising the bucket's
// sequence to it so AddStackRevision numbers after it.
func (s *Store) PutStackRevision(_ context.Context, r store.StackRevision) error {
	const op = "put stack revision"
	data, err := store.EncodeNumberedStackRevision(r)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return s.update(op, func(tx *bolt.Tx) error {
		byCluster, err := tx.Bucket(bucketStackRevs).CreateBucketIfNotExists([]byte(r.Cluster))
		if err != nil {
			return err
		}
		b, err := byCluster.CreateBucketIfNotExists([]byte(r.Stack))
		if err != nil {
			return err
		}
		n := uint64(r.Number)
		if b.Sequence() < n {
			if err := b.SetSequence(n); err != nil {
				return err
			}
		}
		if err := b.Put(seqKey(n), data); err != nil {
			return err
		}
		return trimStackRevs(b)
	})
}

// trimStackRevs drops the revisions StackRevisionCap or more behind the
// newest number the bucket has given. Keys are big-endian numbers, so the
// first is the oldest.
func trimStackRevs(b *bolt.Bucket) error {
	top := b.Sequence()
	c := b.Cursor()
	for k, _ := c.First(); k != nil && top-binary.BigEndian.Uint64(k) >= store.StackRevisionCap; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
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

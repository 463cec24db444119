package local

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"strconv"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmops/swarmops/internal/store"
)

// defaultAuditLimit is what ListAudit answers at most when the filter
// names no limit.
const defaultAuditLimit = 100

// AppendAudit adds r under the next sequence number, dropping the oldest
// records beyond the cap. An empty ID becomes the sequence number, a zero
// Time the current time.
func (s *Store) AppendAudit(_ context.Context, r store.AuditRecord) error {
	return s.update("append audit record", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		if r.ID == "" {
			r.ID = strconv.FormatUint(seq, 10)
		}
		if r.Time.IsZero() {
			r.Time = s.now()
		}
		if err := putJSON(b, seqKey(seq), r); err != nil {
			return err
		}
		// Sequences are contiguous, so the first key tells how many are kept.
		c := b.Cursor()
		for k, _ := c.First(); k != nil && seq-binary.BigEndian.Uint64(k) >= uint64(s.auditCap); k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListAudit answers the records matching f, newest first.
func (s *Store) ListAudit(_ context.Context, f store.AuditFilter) ([]store.AuditRecord, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	out := []store.AuditRecord{}
	err := s.view("list audit records", func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.Last(); k != nil && len(out) < limit; k, v = c.Prev() {
			var r store.AuditRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			if f.Match(r) {
				out = append(out, r)
			}
		}
		return nil
	})
	return out, err
}

func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, seq)
}

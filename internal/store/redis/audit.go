package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/swarmops/swarmops/internal/store"
)

const (
	// defaultAuditLimit is what ListAudit answers at most when the filter
	// names no limit.
	defaultAuditLimit = 100
	// auditPage is how many stream entries one XREVRANGE reads.
	auditPage = 500
)

// AppendAudit adds r to the audit stream, trimmed to about the cap (the
// "~" lets Redis trim whole nodes; ListAudit never reads beyond the cap). An
// empty ID becomes the stream entry's ID, a zero Time the current time.
func (s *Store) AppendAudit(ctx context.Context, r store.AuditRecord) error {
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	data, err := encode(r)
	if err != nil {
		return fmt.Errorf("append audit record: %w", err)
	}
	const op = "append audit record"
	return s.fail(op, s.write(ctx, op, func(c goredis.Cmdable) error {
		return c.XAdd(ctx, &goredis.XAddArgs{
			Stream: s.key("audit"),
			MaxLen: s.auditCap,
			Approx: true,
			Values: []string{"r", data},
		}).Err()
	}))
}

// ListAudit answers the records matching f, newest first, among the newest
// AuditCap records.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditRecord, error) {
	const op = "list audit records"
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	out := []store.AuditRecord{}
	end, left := "+", s.auditCap
	for left > 0 && len(out) < limit {
		n := min(left, auditPage)
		msgs, err := s.c.XRevRangeN(ctx, s.key("audit"), end, "-", n).Result()
		if err != nil {
			return nil, s.fail(op, err)
		}
		for _, m := range msgs {
			data, _ := m.Values["r"].(string)
			r, err := decode[store.AuditRecord](data)
			if err != nil {
				return nil, fmt.Errorf("%s: entry %s: %w", op, m.ID, err)
			}
			if r.ID == "" {
				r.ID = m.ID
			}
			if f.Match(r) && len(out) < limit {
				out = append(out, r)
			}
		}
		if int64(len(msgs)) < n {
			break
		}
		left -= n
		end = "(" + msgs[len(msgs)-1].ID
	}
	return out, nil
}

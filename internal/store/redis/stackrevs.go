package redis

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

var _ store.StackRevisions = (*Store)(nil)

// addStackRevScript numbers a revision and stores it in one step, so two
// instances adding at once get distinct numbers and no number is taken
// without its record. KEYS[1] is the stack's counter, KEYS[2] its sorted
// set of revisions scored by number; the record is ARGV[1] .. number ..
// ARGV[2]. Revisions more than ARGV[3] behind the new one are dropped; the
// counter stays, so numbers are never reused.
var addStackRevScript = goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], n, ARGV[1] .. n .. ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', n - tonumber(ARGV[3]))
return n`)

// numberField is where the JSON of a revision encoded with Number 0 is cut
// for the script to put the number in. Cluster and stack, the only fields
// before it, are strings, in which a quote is always escaped: the first
// match is the field itself.
var numberField = []byte(`"number":0,`)

// stackRevKeys answers the keys of the stack's counter and revisions.
func (s *Store) stackRevKeys(cluster, stack string) []string {
	return []string{s.key("stackrev-seq", cluster, stack), s.key("stackrev", cluster, stack)}
}

// AddStackRevision stores r as the next revision of its stack and answers
// its number.
func (s *Store) AddStackRevision(ctx context.Context, r store.StackRevision) (int, error) {
	const op = "add stack revision"
	if r.Cluster == "" || r.Stack == "" {
		return 0, fmt.Errorf("%s: cluster and stack names are required", op)
	}
	r.Number = 0
	data, err := store.EncodeStackRevision(r)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	before, after, found := bytes.Cut(data, numberField)
	if !found {
		return 0, fmt.Errorf("%s: no number field in %.40q", op, data)
	}
	head := string(before) + `"number":`
	tail := "," + string(after)
	n, err := s.runWrite(ctx, op, addStackRevScript, s.stackRevKeys(r.Cluster, r.Stack), head, tail, store.StackRevisionCap).Int()
	if err != nil {
		return 0, s.fail(op, err)
	}
	return n, nil
}

// ListStackRevisions answers the stack's revisions newest first.
func (s *Store) ListStackRevisions(ctx context.Context, cluster, stack string) ([]store.StackRevision, error) {
	const op = "list stack revisions"
	members, err := s.c.ZRevRange(ctx, s.stackRevKeys(cluster, stack)[1], 0, -1).Result()
	if err != nil {
		return nil, s.fail(op, err)
	}
	out := make([]store.StackRevision, 0, len(members))
	for _, m := range members {
		r, err := decode[store.StackRevision](m)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// GetStackRevision answers revision number of the stack.
func (s *Store) GetStackRevision(ctx context.Context, cluster, stack string, number int) (store.StackRevision, error) {
	const op = "get stack revision"
	score := strconv.Itoa(number)
	members, err := s.c.ZRangeByScore(ctx, s.stackRevKeys(cluster, stack)[1], &goredis.ZRangeBy{Min: score, Max: score}).Result()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return store.StackRevision{}, s.fail(op, err)
	}
	if len(members) == 0 {
		return store.StackRevision{}, errs.NotFound("revision %d of stack %q not found", number, stack)
	}
	r, err := decode[store.StackRevision](members[0])
	if err != nil {
		return r, fmt.Errorf("%s: %w", op, err)
	}
	return r, nil
}

// putStackRevScript stores a revision under its own number in one step.
// KEYS as for addStackRevScript; ARGV[1] is the number, ARGV[2] the
// record, ARGV[3] the cap. The counter is raised to the number when
// below it, a member of that number replaced, and revisions ARGV[3] or
// more behind the counter dropped (the new one too, when it is that old).
var putStackRevScript = goredis.NewScript(`
local n = tonumber(ARGV[1])
local top = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > top then
  redis.call('SET', KEYS[1], n)
  top = n
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], n, n)
redis.call('ZADD', KEYS[2], n, ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', top - tonumber(ARGV[3]))
return top`)

// PutStackRevision stores r under its own number.
func (s *Store) PutStackRevision(ctx context.Context, r store.StackRevision) error {
	const op = "put stack revision"
	data, err := store.EncodeNumberedStackRevision(r)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	err = s.runWrite(ctx, op, putStackRevScript, s.stackRevKeys(r.Cluster, r.Stack), r.Number, data, store.StackRevisionCap).Err()
	return s.fail(op, err)
}

// ListRevisedStacks answers every stack that has revisions. It scans for
// the stacks' sorted sets and reads the names from a revision of each
// rather than from the key, since names may hold the ":" that joins them
// there.
func (s *Store) ListRevisedStacks(ctx context.Context) ([]store.StackRef, error) {
	const op = "list revised stacks"
	var keys []string
	iter := s.c.ScanType(ctx, 0, globEscape(s.key("stackrev"))+":*", 500, "zset").Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return nil, s.fail(op, err)
	}
	out := make([]store.StackRef, 0, len(keys))
	for chunk := range slices.Chunk(keys, 500) {
		cmds, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, k := range chunk {
				p.ZRange(ctx, k, 0, 0)
			}
			return nil
		})
		if err != nil && !errors.Is(err, goredis.Nil) {
			return nil, s.fail(op, err)
		}
		for i, c := range cmds {
			members, _ := c.(*goredis.StringSliceCmd).Result()
			if len(members) == 0 {
				continue // emptied since the scan
			}
			r, err := decode[store.StackRevision](members[0])
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", op, chunk[i], err)
			}
			out = append(out, store.StackRef{Cluster: r.Cluster, Stack: r.Stack})
		}
	}
	slices.SortFunc(out, func(a, b store.StackRef) int {
		return cmp.Or(strings.Compare(a.Cluster, b.Cluster), strings.Compare(a.Stack, b.Stack))
	})
	// SCAN may answer a key twice.
	return slices.Compact(out), nil
}

// globEscape answers s with the characters SCAN's MATCH treats as
// pattern syntax escaped, so a prefix matches only itself.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

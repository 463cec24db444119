package redis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"

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
	n, err := addStackRevScript.Run(ctx, s.c, s.stackRevKeys(r.Cluster, r.Stack), head, tail, store.StackRevisionCap).Int()
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

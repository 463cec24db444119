package redis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// named is a family of records keyed by a unique name: <prefix><noun>:<name>
// holds the JSON, the set <prefix><index> the names.
type named struct {
	noun  string
	index string
}

// defaultKey holds the default cluster's name.
const defaultKey = "default-cluster"

var (
	clusters   = named{"cluster", "clusters"}
	users      = named{"user", "users"}
	registries = named{"registry", "registries"}
)

// createScript stores a record unless its key exists, and indexes its name.
var createScript = goredis.NewScript(`
if not redis.call('SET', KEYS[1], ARGV[1], 'NX') then return 0 end
redis.call('SADD', KEYS[2], ARGV[2])
return 1`)

// deleteScript removes a record and its name, and the default mark
// (KEYS[3], if given) when it names the record.
var deleteScript = goredis.NewScript(`
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('SREM', KEYS[2], ARGV[1])
if KEYS[3] and redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
return 1`)

// setDefaultScript marks an existing cluster as the default.
var setDefaultScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[2], ARGV[1])
return 1`)

func create(ctx context.Context, s *Store, n named, name string, v any) error {
	store.ReadAheadOf(ctx).Drop()
	op := "create " + n.noun
	data, err := encode(v)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	ok, err := s.runWrite(ctx, op, createScript, []string{s.key(n.noun, name), s.key(n.index)}, data, name).Bool()
	if err != nil {
		return s.fail(op, err)
	}
	if !ok {
		return errs.Conflict("%s %q already exists", n.noun, name)
	}
	return nil
}

func get[T any](ctx context.Context, s *Store, n named, name string) (T, error) {
	return getWith(ctx, s, n, name, decode[T])
}

func getWith[T any](ctx context.Context, s *Store, n named, name string, dec func(string) (T, error)) (T, error) {
	var v T
	data, err := s.c.Get(ctx, s.key(n.noun, name)).Result()
	if errors.Is(err, goredis.Nil) {
		return v, errs.NotFound("%s %q not found", n.noun, name)
	}
	if err != nil {
		return v, s.fail("get "+n.noun, err)
	}
	v, err = dec(data)
	if err != nil {
		return v, fmt.Errorf("get %s %q: %w", n.noun, name, err)
	}
	return v, nil
}

// list answers every record sorted by name; a name whose record vanished
// meanwhile is skipped.
func list[T any](ctx context.Context, s *Store, n named) ([]T, error) {
	out, _, err := listWith(ctx, s, n, "", decode[T])
	return out, err
}

// listWith answers every record of n sorted by name, decoded by dec, and,
// when extra is not "", the value of key extra ("" when not set): one
// round trip (see records).
func listWith[T any](ctx context.Context, s *Store, n named, extra string, dec func(string) (T, error)) ([]T, string, error) {
	op := "list " + n.noun
	recs, first, err := s.records(ctx, n, extra)
	if err != nil {
		return nil, "", s.fail(op, err)
	}
	out, err := decodeAll(recs, dec)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", op, err)
	}
	return out, first, nil
}

// decodeAll decodes the records recs with dec.
func decodeAll[T any](recs []string, dec func(string) (T, error)) ([]T, error) {
	out := make([]T, 0, len(recs))
	for _, data := range recs {
		v, err := dec(data)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// records answers the records of n's names in the order of the names,
// skipping names whose record vanished meanwhile, and the value of key
// extra ("" when not set or extra is ""), in one round trip: SORT_RO BY
// nosort with GET answers each name and its record in one command, sent
// with the GET of extra, where SMEMBERS and MGET took two. Two it takes
// still where SORT_RO cannot: a prefix with a "*" (SORT's place for the
// name), and whenever Redis answers it with an error, which reads of
// plain keys may not share: SORT is in the @dangerous ACL category that
// many deployments deny, and a Redis before 7 lacks SORT_RO. A refusal
// for good (an ACL's NOPERM or "denied", an unknown command) turns SORT_RO
// off for the store's life; another error (a replica's READONLY during a
// failover...) costs this call the second round trip only.
func (s *Store) records(ctx context.Context, n named, extra string) ([]string, string, error) {
	if s.sorting() {
		recs, first, err := s.sortedRecords(ctx, n, extra)
		var reply goredis.Error
		if err == nil || !errors.As(err, &reply) {
			return recs, first, err
		}
		if sortRefused(err) {
			s.noSort.Store(true)
		}
	}
	p := s.c.Pipeline()
	names := p.SMembers(ctx, s.key(n.index))
	first := s.pipeGet(ctx, p, extra)
	if _, err := p.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, "", err
	}
	def, err := valueOf(first)
	if err != nil {
		return nil, "", err
	}
	list, err := names.Result()
	if err != nil {
		return nil, "", err
	}
	slices.Sort(list)
	keys := make([]string, len(list))
	for i, name := range list {
		keys[i] = s.key(n.noun, name)
	}
	out := make([]string, 0, len(list))
	if len(keys) == 0 {
		return out, def, nil
	}
	vals, err := s.c.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, "", err
	}
	for _, v := range vals {
		if data, _ := v.(string); data != "" { // else vanished meanwhile
			out = append(out, data)
		}
	}
	return out, def, nil
}

// sortRefused reports whether Redis refuses SORT_RO for good: an ACL
// denies it, or this Redis does not know it.
func sortRefused(err error) bool {
	msg := strings.ToLower(err.Error())
	return goredis.IsPermissionError(err) || strings.Contains(msg, "denied") || strings.Contains(msg, "unknown command")
}

// sortedRecords is records by SORT_RO.
func (s *Store) sortedRecords(ctx context.Context, n named, extra string) ([]string, string, error) {
	p := s.c.Pipeline()
	read := s.queueSorted(ctx, p, n, extra)
	if _, err := p.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, "", err
	}
	return read.result()
}

// sortedRead is a read by SORT_RO queued on a pipeline (queueSorted).
type sortedRead struct {
	pairs *goredis.StringSliceCmd
	first *goredis.StringCmd
}

// sorting reports whether records may be read by SORT_RO.
func (s *Store) sorting() bool { return !s.noSort.Load() && !strings.Contains(s.prefix, "*") }

// queueSorted queues on p the read of n's names with their records by
// SORT_RO, and the GET of extra.
func (s *Store) queueSorted(ctx context.Context, p goredis.Pipeliner, n named, extra string) sortedRead {
	return sortedRead{
		pairs: p.SortRO(ctx, s.key(n.index), &goredis.Sort{By: "nosort", Get: []string{"#", s.key(n.noun, "*")}}),
		first: s.pipeGet(ctx, p, extra),
	}
}

// result answers the records read, in the order of their names, and
// extra's value, once the pipeline ran.
func (r sortedRead) result() ([]string, string, error) {
	def, err := valueOf(r.first)
	if err != nil {
		return nil, "", err
	}
	val, err := r.pairs.Result()
	if err != nil {
		return nil, "", err
	}
	type entry struct{ name, data string }
	entries := make([]entry, 0, len(val)/2)
	for i := 0; i+1 < len(val); i += 2 {
		if val[i+1] != "" { // else vanished between SADD/SREM and its record's write
			entries = append(entries, entry{val[i], val[i+1]})
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.data
	}
	return out, def, nil
}

// pipeGet queues GET key on p, unless key is "".
func (s *Store) pipeGet(ctx context.Context, p goredis.Pipeliner, key string) *goredis.StringCmd {
	if key == "" {
		return nil
	}
	return p.Get(ctx, key)
}

// valueOf answers the value cmd read, "" when it was not sent or the key
// was not set.
func valueOf(cmd *goredis.StringCmd) (string, error) {
	if cmd == nil {
		return "", nil
	}
	v, err := cmd.Result()
	if errors.Is(err, goredis.Nil) {
		return "", nil
	}
	return v, err
}

// mget answers the decoded values of keys in order, skipping missing ones.
func mget[T any](ctx context.Context, s *Store, op string, keys []string) ([]T, error) {
	out := make([]T, 0, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	vals, err := s.c.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, s.fail(op, err)
	}
	for _, val := range vals {
		data, ok := val.(string)
		if !ok {
			continue
		}
		v, err := decode[T](data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func replace(ctx context.Context, s *Store, n named, name string, v any) error {
	store.ReadAheadOf(ctx).Drop()
	op := "update " + n.noun
	data, err := encode(v)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	ok, err := s.putKeeping(ctx, op, s.key(n.noun, name), data, v, nil)
	if err != nil {
		return s.fail(op, err)
	}
	if !ok {
		return errs.NotFound("%s %q not found", n.noun, name)
	}
	return nil
}

// keepRetries bounds the optimistic retries of a write: each one means
// another writer changed the same record meanwhile. With optimistic's
// backoff, all of them take about 2 s at most.
const keepRetries = 50

// putKeeping replaces the value at key (which must exist: false when it
// does not) with data, keeping the fields of the stored value this build
// does not know (store.KeepUnknown). The read and the write are one
// optimistic transaction: a write by another instance in between makes it
// read again. set, when given, writes instead of a plain SET (to keep a
// TTL). The write is waited for like every other (see write), on the
// transaction's connection.
func (s *Store) putKeeping(ctx context.Context, op, key, data string, v any,
	set func(p goredis.Pipeliner, value string)) (bool, error) {
	found := false
	txf := func(tx *goredis.Tx) error {
		prev, err := tx.Get(ctx, key).Result()
		if errors.Is(err, goredis.Nil) {
			found = false
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		merged, err := store.KeepUnknown([]byte(prev), []byte(data), v)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			if set != nil {
				set(p, string(merged))
			} else {
				p.Set(ctx, key, string(merged), goredis.KeepTTL)
			}
			return nil
		})
		if err != nil || s.rep.want <= 0 {
			return err
		}
		return s.waitOn(ctx, op, tx)
	}
	if err := s.optimistic(ctx, txf, key); errors.Is(err, errContended) {
		return false, errs.Conflict("%s changed %d times while being written; try again", key, keepRetries)
	} else if err != nil {
		return found, err
	}
	return found, nil
}

// errContended is optimistic's answer when every try met a concurrent
// write.
var errContended = errors.New("contended")

// optimistic runs txf as a transaction watching keys until it commits,
// up to keepRetries times, backing off a little (with jitter) after each
// commit a concurrent write spoiled, so that many writers of one record
// all get through instead of retrying in lockstep.
func (s *Store) optimistic(ctx context.Context, txf func(*goredis.Tx) error, keys ...string) error {
	for try := range keepRetries {
		err := s.c.Watch(ctx, txf, keys...)
		if !errors.Is(err, goredis.TxFailedErr) {
			return err
		}
		pause := min(time.Millisecond<<try, 50*time.Millisecond)
		pause = pause/2 + rand.N(pause)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
	return errContended
}

func remove(ctx context.Context, s *Store, n named, name string, extraKeys ...string) error {
	store.ReadAheadOf(ctx).Drop()
	op := "delete " + n.noun
	keys := append([]string{s.key(n.noun, name), s.key(n.index)}, extraKeys...)
	ok, err := s.runWrite(ctx, op, deleteScript, keys, name).Bool()
	if err != nil {
		return s.fail(op, err)
	}
	if !ok {
		return errs.NotFound("%s %q not found", n.noun, name)
	}
	return nil
}

// CreateCluster stores c; errs.ErrConflict when the name is taken.
func (s *Store) CreateCluster(ctx context.Context, c store.Cluster) error {
	return create(ctx, s, clusters, c.Name, c)
}

// GetCluster answers the cluster called name.
func (s *Store) GetCluster(ctx context.Context, name string) (store.Cluster, error) {
	return getWith(ctx, s, clusters, name, s.decodeCluster)
}

// ListClusters answers every cluster sorted by name.
func (s *Store) ListClusters(ctx context.Context) ([]store.Cluster, error) {
	list, _, err := listWith(ctx, s, clusters, "", s.decodeCluster)
	return list, err
}

// ListClustersPublic answers every cluster sorted by name without key
// material, and the default cluster's name, in one round trip (see
// records), or none when ctx's read-ahead brought them with the session
// (sessionUser).
func (s *Store) ListClustersPublic(ctx context.Context) ([]store.Cluster, string, error) {
	var (
		list []store.Cluster
		def  string
		err  error
	)
	if v, ok := store.ReadAheadOf(ctx).Take(); ok { // read with the session
		r := v.(clustersRead)
		def = r.def
		if list, err = decodeAll(r.records, s.decodeCluster); err != nil {
			return nil, "", fmt.Errorf("list %s: %w", clusters.noun, err)
		}
	} else if list, def, err = listWith(ctx, s, clusters, s.key(defaultKey), s.decodeCluster); err != nil {
		return nil, "", err
	}
	for i := range list {
		list[i] = store.WithoutKey(list[i])
	}
	return list, def, nil
}

// UpdateCluster replaces the stored cluster of c's name.
func (s *Store) UpdateCluster(ctx context.Context, c store.Cluster) error {
	return replace(ctx, s, clusters, c.Name, c)
}

// DeleteCluster removes the cluster and clears the default mark it held.
func (s *Store) DeleteCluster(ctx context.Context, name string) error {
	return remove(ctx, s, clusters, name, s.key(defaultKey))
}

// DefaultCluster answers the default cluster's name, "" when none is set.
func (s *Store) DefaultCluster(ctx context.Context) (string, error) {
	name, err := s.c.Get(ctx, s.key(defaultKey)).Result()
	if errors.Is(err, goredis.Nil) {
		return "", nil
	}
	return name, s.fail("get default cluster", err)
}

// SetDefaultCluster marks name as the default; "" clears the mark.
func (s *Store) SetDefaultCluster(ctx context.Context, name string) error {
	store.ReadAheadOf(ctx).Drop()
	const op = "set default cluster"
	if name == "" {
		return s.fail(op, s.write(ctx, op, func(c goredis.Cmdable) error {
			return c.Del(ctx, s.key(defaultKey)).Err()
		}))
	}
	ok, err := s.runWrite(ctx, op, setDefaultScript, []string{s.key(clusters.noun, name), s.key(defaultKey)}, name).Bool()
	if err != nil {
		return s.fail(op, err)
	}
	if !ok {
		return errs.NotFound("cluster %q not found", name)
	}
	return nil
}

// CreateUser stores u; errs.ErrConflict when the username is taken.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	return create(ctx, s, users, u.Username, u)
}

// GetUser answers the user called username.
func (s *Store) GetUser(ctx context.Context, username string) (store.User, error) {
	return get[store.User](ctx, s, users, username)
}

// ListUsers answers every user sorted by username.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	return list[store.User](ctx, s, users)
}

// UpdateUser replaces the stored user of u's username.
func (s *Store) UpdateUser(ctx context.Context, u store.User) error {
	return replace(ctx, s, users, u.Username, u)
}

// DeleteUser removes the user (not its sessions or tokens).
func (s *Store) DeleteUser(ctx context.Context, username string) error {
	return remove(ctx, s, users, username)
}

// usersTx reads, in the optimistic transaction tx, the user called
// username and every user, watching the index and every user's key, so a
// write of any user by anyone before tx commits makes the commit fail.
func (s *Store) usersTx(ctx context.Context, tx *goredis.Tx, username string) (store.User, []store.User, string, error) {
	names, err := tx.SMembers(ctx, s.key(users.index)).Result()
	if err != nil {
		return store.User{}, nil, "", err
	}
	slices.Sort(names)
	keys := make([]string, len(names))
	for i, name := range names {
		keys[i] = s.key(users.noun, name)
	}
	own := s.key(users.noun, username)
	if err := tx.Watch(ctx, append(keys, own)...).Err(); err != nil {
		return store.User{}, nil, "", err
	}
	prev, err := tx.Get(ctx, own).Result()
	if errors.Is(err, goredis.Nil) {
		return store.User{}, nil, "", errs.NotFound("user %q not found", username)
	}
	if err != nil {
		return store.User{}, nil, "", err
	}
	u, err := decode[store.User](prev)
	if err != nil {
		return u, nil, "", fmt.Errorf("user %q: %w", username, err)
	}
	all := make([]store.User, 0, len(keys))
	if len(keys) > 0 {
		vals, err := tx.MGet(ctx, keys...).Result()
		if err != nil {
			return u, nil, "", err
		}
		for _, v := range vals {
			if data, ok := v.(string); ok {
				o, err := decode[store.User](data)
				if err != nil {
					return u, nil, "", fmt.Errorf("list users: %w", err)
				}
				all = append(all, o)
			}
		}
	}
	return u, all, prev, nil
}

// watchUsers runs f as an optimistic transaction over every user (see
// usersTx), again while another write got in between.
func (s *Store) watchUsers(ctx context.Context, op, username string, f func(tx *goredis.Tx, u store.User, all []store.User, prev string) error) error {
	txf := func(tx *goredis.Tx) error {
		u, all, prev, err := s.usersTx(ctx, tx, username)
		if err != nil {
			return err
		}
		if err := f(tx, u, all, prev); err != nil || s.rep.want <= 0 {
			return err
		}
		return s.waitOn(ctx, op, tx)
	}
	// The index is watched first, so a user made or removed between
	// reading it and watching the users' keys fails the commit too.
	err := s.optimistic(ctx, txf, s.key(users.index))
	switch {
	case errors.Is(err, errContended):
		return errs.Conflict("users changed %d times while %q was being written; try again", keepRetries, username)
	case err == nil, errs.KindOf(err) != nil:
		return err
	}
	return s.fail(op, err)
}

// ChangeUser stores what change makes of the user called username in an
// optimistic transaction that fails and runs again when any user was
// written by anyone meanwhile.
func (s *Store) ChangeUser(ctx context.Context, username string, change func(store.User, []store.User) (store.User, error)) (store.User, error) {
	const op = "update user"
	var next store.User
	err := s.watchUsers(ctx, op, username, func(tx *goredis.Tx, u store.User, all []store.User, prev string) error {
		var err error
		if next, err = change(u, all); err != nil {
			return err
		}
		if next.Username != username {
			return fmt.Errorf("change of user %q renames it to %q", username, next.Username)
		}
		data, err := encode(next)
		if err != nil {
			return err
		}
		merged, err := store.KeepUnknown([]byte(prev), []byte(data), next)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Set(ctx, s.key(users.noun, username), string(merged), goredis.KeepTTL)
			return nil
		})
		return err
	})
	return next, err
}

// RemoveUserIf removes the user called username, when check allows, in an
// optimistic transaction like ChangeUser's.
func (s *Store) RemoveUserIf(ctx context.Context, username string, check func(store.User, []store.User) error) error {
	return s.watchUsers(ctx, "delete user", username, func(tx *goredis.Tx, u store.User, all []store.User, _ string) error {
		if err := check(u, all); err != nil {
			return err
		}
		_, err := tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Del(ctx, s.key(users.noun, username))
			p.SRem(ctx, s.key(users.index), username)
			return nil
		})
		return err
	})
}

// CreateRegistry stores r; errs.ErrConflict when the name is taken.
func (s *Store) CreateRegistry(ctx context.Context, r store.Registry) error {
	return create(ctx, s, registries, r.Name, r)
}

// GetRegistry answers the registry called name.
func (s *Store) GetRegistry(ctx context.Context, name string) (store.Registry, error) {
	return get[store.Registry](ctx, s, registries, name)
}

// ListRegistries answers every registry sorted by name.
func (s *Store) ListRegistries(ctx context.Context) ([]store.Registry, error) {
	return list[store.Registry](ctx, s, registries)
}

// UpdateRegistry replaces the stored registry of r's name.
func (s *Store) UpdateRegistry(ctx context.Context, r store.Registry) error {
	return replace(ctx, s, registries, r.Name, r)
}

// DeleteRegistry removes the registry called name.
func (s *Store) DeleteRegistry(ctx context.Context, name string) error {
	return remove(ctx, s, registries, name)
}

// createTokenScript stores a token (KEYS[1]) unless its user's name map
// (KEYS[2]) has the name (0) or the hash is known (-1).
var createTokenScript = goredis.NewScript(`
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then return 0 end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX') then return -1 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1`)

// tokenNames is the key of the hash mapping username's token names to
// their hashes.
func (s *Store) tokenNames(username string) string { return s.key("user-tokens", username) }

// CreateToken stores t; errs.ErrConflict when its user has a token of that
// name or the hash is already known.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	data, err := encode(t)
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	keys := []string{s.key("token", t.Hash), s.tokenNames(t.Username)}
	n, err := s.runWrite(ctx, "create token", createTokenScript, keys, data, t.Name, t.Hash).Int()
	switch {
	case err != nil:
		return s.fail("create token", err)
	case n == 0:
		return errs.Conflict("token %q of user %q already exists", t.Name, t.Username)
	case n < 0:
		return errs.Conflict("token already exists")
	}
	return nil
}

// GetTokenByHash answers the token whose text hashes to hash. Expiry is
// the caller's to check.
func (s *Store) GetTokenByHash(ctx context.Context, hash string) (store.Token, error) {
	data, err := s.c.Get(ctx, s.key("token", hash)).Result()
	if errors.Is(err, goredis.Nil) {
		return store.Token{}, errs.NotFound("token not found")
	}
	if err != nil {
		return store.Token{}, s.fail("get token", err)
	}
	t, err := decode[store.Token](data)
	if err != nil {
		return t, fmt.Errorf("get token: %w", err)
	}
	return t, nil
}

// TouchToken sets the token's LastUsedAt.
func (s *Store) TouchToken(ctx context.Context, hash string, at time.Time) error {
	const op = "touch token"
	t, err := s.GetTokenByHash(ctx, hash)
	if err != nil {
		return err
	}
	t.LastUsedAt = at.UTC()
	data, err := encode(t)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	ok, err := s.putKeeping(ctx, op, s.key("token", hash), data, t, nil)
	if err != nil {
		return s.fail(op, err)
	}
	if !ok {
		return errs.NotFound("token not found")
	}
	return nil
}

// ListTokens answers username's tokens sorted by name.
func (s *Store) ListTokens(ctx context.Context, username string) ([]store.Token, error) {
	byName, err := s.c.HGetAll(ctx, s.tokenNames(username)).Result()
	if err != nil {
		return nil, s.fail("list tokens", err)
	}
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	slices.Sort(names)
	keys := make([]string, len(names))
	for i, name := range names {
		keys[i] = s.key("token", byName[name])
	}
	return mget[store.Token](ctx, s, "list tokens", keys)
}

// DeleteToken revokes username's token called name.
func (s *Store) DeleteToken(ctx context.Context, username, name string) error {
	const op = "delete token"
	hash, err := s.c.HGet(ctx, s.tokenNames(username), name).Result()
	if errors.Is(err, goredis.Nil) {
		return errs.NotFound("token %q of user %q not found", name, username)
	}
	if err != nil {
		return s.fail(op, err)
	}
	return s.fail(op, s.write(ctx, op, func(c goredis.Cmdable) error {
		_, err := c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Del(ctx, s.key("token", hash))
			p.HDel(ctx, s.tokenNames(username), name)
			return nil
		})
		return err
	}))
}

// DeleteUserTokens revokes every token of username.
func (s *Store) DeleteUserTokens(ctx context.Context, username string) error {
	const op = "delete user tokens"
	hashes, err := s.c.HVals(ctx, s.tokenNames(username)).Result()
	if err != nil {
		return s.fail(op, err)
	}
	keys := []string{s.tokenNames(username)}
	for _, h := range hashes {
		keys = append(keys, s.key("token", h))
	}
	return s.fail(op, s.write(ctx, op, func(c goredis.Cmdable) error { return c.Del(ctx, keys...).Err() }))
}

// GetMeta answers the meta document called name.
func (s *Store) GetMeta(ctx context.Context, name string) ([]byte, error) {
	v, err := s.c.Get(ctx, s.key("meta", name)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, errs.NotFound("meta %q not found", name)
	}
	return v, s.fail("get meta", err)
}

// PutMeta stores the meta document called name.
func (s *Store) PutMeta(ctx context.Context, name string, value []byte) error {
	const op = "put meta"
	return s.fail(op, s.write(ctx, op, func(c goredis.Cmdable) error {
		return c.Set(ctx, s.key("meta", name), value, 0).Err()
	}))
}

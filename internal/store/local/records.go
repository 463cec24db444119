package local

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// named is a bucket of records keyed by a unique name.
type named struct {
	bucket []byte
	noun   string
}

var (
	clusters   = named{bucketClusters, "cluster"}
	users      = named{bucketUsers, "user"}
	registries = named{bucketRegistries, "registry"}
)

func create(s *Store, n named, name string, v any) error {
	return s.update("create "+n.noun, func(tx *bolt.Tx) error {
		b := tx.Bucket(n.bucket)
		if b.Get([]byte(name)) != nil {
			return errs.Conflict("%s %q already exists", n.noun, name)
		}
		return putJSON(b, []byte(name), v)
	})
}

func get[T any](s *Store, n named, name string) (T, error) {
	var v T
	err := s.view("get "+n.noun, func(tx *bolt.Tx) error {
		ok, err := getJSON(tx.Bucket(n.bucket), []byte(name), &v)
		if err == nil && !ok {
			err = errs.NotFound("%s %q not found", n.noun, name)
		}
		return err
	})
	return v, err
}

// list answers every record, sorted by name (bbolt keeps keys in order).
func list[T any](s *Store, n named) ([]T, error) {
	out := []T{}
	err := s.view("list "+n.noun, func(tx *bolt.Tx) error {
		return tx.Bucket(n.bucket).ForEach(func(_, data []byte) error {
			var v T
			if err := json.Unmarshal(data, &v); err != nil {
				return err
			}
			out = append(out, v)
			return nil
		})
	})
	return out, err
}

func replace(s *Store, n named, name string, v any) error {
	return s.update("update "+n.noun, func(tx *bolt.Tx) error {
		b := tx.Bucket(n.bucket)
		prev := b.Get([]byte(name))
		if prev == nil {
			return errs.NotFound("%s %q not found", n.noun, name)
		}
		return putKeeping(b, []byte(name), prev, v)
	})
}

// remove deletes the record and runs also, if given, in the same
// transaction.
func remove(s *Store, n named, name string, also func(tx *bolt.Tx) error) error {
	return s.update("delete "+n.noun, func(tx *bolt.Tx) error {
		b := tx.Bucket(n.bucket)
		if b.Get([]byte(name)) == nil {
			return errs.NotFound("%s %q not found", n.noun, name)
		}
		if err := b.Delete([]byte(name)); err != nil {
			return err
		}
		if also != nil {
			return also(tx)
		}
		return nil
	})
}

// CreateCluster stores c; errs.ErrConflict when the name is taken.
func (s *Store) CreateCluster(_ context.Context, c store.Cluster) error {
	return create(s, clusters, c.Name, c)
}

// GetCluster answers the cluster called name.
func (s *Store) GetCluster(_ context.Context, name string) (store.Cluster, error) {
	return get[store.Cluster](s, clusters, name)
}

// ListClusters answers every cluster sorted by name.
func (s *Store) ListClusters(context.Context) ([]store.Cluster, error) {
	return list[store.Cluster](s, clusters)
}

// ListClustersPublic answers every cluster sorted by name without key
// material, and the default cluster's name, read in one transaction.
func (s *Store) ListClustersPublic(context.Context) ([]store.Cluster, string, error) {
	out := []store.Cluster{}
	var def string
	err := s.view("list cluster", func(tx *bolt.Tx) error {
		def = string(tx.Bucket(bucketMeta).Get(keyDefault))
		return tx.Bucket(bucketClusters).ForEach(func(_, data []byte) error {
			var c store.Cluster
			if err := json.Unmarshal(data, &c); err != nil {
				return err
			}
			out = append(out, store.WithoutKey(c))
			return nil
		})
	})
	if err != nil {
		return nil, "", err
	}
	return out, def, nil
}

// UpdateCluster replaces the stored cluster of c's name.
func (s *Store) UpdateCluster(_ context.Context, c store.Cluster) error {
	return replace(s, clusters, c.Name, c)
}

// DeleteCluster removes the cluster and clears the default mark it held.
func (s *Store) DeleteCluster(_ context.Context, name string) error {
	return remove(s, clusters, name, func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if string(meta.Get(keyDefault)) == name {
			return meta.Delete(keyDefault)
		}
		return nil
	})
}

// DefaultCluster answers the default cluster's name, "" when none is set.
func (s *Store) DefaultCluster(context.Context) (string, error) {
	var name string
	err := s.view("get default cluster", func(tx *bolt.Tx) error {
		name = string(tx.Bucket(bucketMeta).Get(keyDefault))
		return nil
	})
	return name, err
}

// SetDefaultCluster marks name as the default; "" clears the mark.
func (s *Store) SetDefaultCluster(_ context.Context, name string) error {
	return s.update("set default cluster", func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if name == "" {
			return meta.Delete(keyDefault)
		}
		if tx.Bucket(bucketClusters).Get([]byte(name)) == nil {
			return errs.NotFound("cluster %q not found", name)
		}
		return meta.Put(keyDefault, []byte(name))
	})
}

// CreateUser stores u; errs.ErrConflict when the username is taken.
func (s *Store) CreateUser(_ context.Context, u store.User) error {
	return create(s, users, u.Username, u)
}

// GetUser answers the user called username.
func (s *Store) GetUser(_ context.Context, username string) (store.User, error) {
	return get[store.User](s, users, username)
}

// ListUsers answers every user sorted by username.
func (s *Store) ListUsers(context.Context) ([]store.User, error) {
	return list[store.User](s, users)
}

// UpdateUser replaces the stored user of u's username.
func (s *Store) UpdateUser(_ context.Context, u store.User) error {
	return replace(s, users, u.Username, u)
}

// DeleteUser removes the user (not its sessions or tokens).
func (s *Store) DeleteUser(_ context.Context, username string) error {
	return remove(s, users, username, nil)
}

// usersIn answers the user called username and every user, as tx sees
// them.
func usersIn(tx *bolt.Tx, username string) (store.User, []store.User, error) {
	var u store.User
	all := []store.User{}
	b := tx.Bucket(bucketUsers)
	ok, err := getJSON(b, []byte(username), &u)
	if err == nil && !ok {
		err = errs.NotFound("user %q not found", username)
	}
	if err != nil {
		return u, nil, err
	}
	err = b.ForEach(func(_, data []byte) error {
		var o store.User
		if err := json.Unmarshal(data, &o); err != nil {
			return err
		}
		all = append(all, o)
		return nil
	})
	return u, all, err
}

// ChangeUser stores what change makes of the user called username in one
// bbolt transaction, which every other write waits for.
func (s *Store) ChangeUser(_ context.Context, username string, change func(store.User, []store.User) (store.User, error)) (store.User, error) {
	var next store.User
	err := s.update("update user", func(tx *bolt.Tx) error {
		u, all, err := usersIn(tx, username)
		if err != nil {
			return err
		}
		if next, err = change(u, all); err != nil {
			return err
		}
		if next.Username != username {
			return fmt.Errorf("change of user %q renames it to %q", username, next.Username)
		}
		b := tx.Bucket(bucketUsers)
		return putKeeping(b, []byte(username), b.Get([]byte(username)), next)
	})
	return next, err
}

// RemoveUserIf removes the user called username, when check allows, in one
// bbolt transaction.
func (s *Store) RemoveUserIf(_ context.Context, username string, check func(store.User, []store.User) error) error {
	return s.update("delete user", func(tx *bolt.Tx) error {
		u, all, err := usersIn(tx, username)
		if err != nil {
			return err
		}
		if err := check(u, all); err != nil {
			return err
		}
		return tx.Bucket(bucketUsers).Delete([]byte(username))
	})
}

// CreateRegistry stores r; errs.ErrConflict when the name is taken.
func (s *Store) CreateRegistry(_ context.Context, r store.Registry) error {
	return create(s, registries, r.Name, r)
}

// GetRegistry answers the registry called name.
func (s *Store) GetRegistry(_ context.Context, name string) (store.Registry, error) {
	return get[store.Registry](s, registries, name)
}

// ListRegistries answers every registry sorted by name.
func (s *Store) ListRegistries(context.Context) ([]store.Registry, error) {
	return list[store.Registry](s, registries)
}

// UpdateRegistry replaces the stored registry of r's name.
func (s *Store) UpdateRegistry(_ context.Context, r store.Registry) error {
	return replace(s, registries, r.Name, r)
}

// DeleteRegistry removes the registry called name.
func (s *Store) DeleteRegistry(_ context.Context, name string) error {
	return remove(s, registries, name, nil)
}

// CreateToken stores t; errs.ErrConflict when its user has a token of that
// name or the hash is already known.
func (s *Store) CreateToken(_ context.Context, t store.Token) error {
	return s.update("create token", func(tx *bolt.Tx) error {
		names, err := tx.Bucket(bucketTokenNames).CreateBucketIfNotExists([]byte(t.Username))
		if err != nil {
			return err
		}
		if names.Get([]byte(t.Name)) != nil {
			return errs.Conflict("token %q of user %q already exists", t.Name, t.Username)
		}
		tokens := tx.Bucket(bucketTokens)
		if tokens.Get([]byte(t.Hash)) != nil {
			return errs.Conflict("token already exists")
		}
		if err := names.Put([]byte(t.Name), []byte(t.Hash)); err != nil {
			return err
		}
		return putJSON(tokens, []byte(t.Hash), t)
	})
}

// GetTokenByHash answers the token whose text hashes to hash. Expiry is
// the caller's to check.
func (s *Store) GetTokenByHash(_ context.Context, hash string) (store.Token, error) {
	var t store.Token
	err := s.view("get token", func(tx *bolt.Tx) error {
		ok, err := getJSON(tx.Bucket(bucketTokens), []byte(hash), &t)
		if err == nil && !ok {
			err = errs.NotFound("token not found")
		}
		return err
	})
	return t, err
}

// TouchToken sets the token's LastUsedAt.
func (s *Store) TouchToken(_ context.Context, hash string, at time.Time) error {
	return s.update("touch token", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		prev := b.Get([]byte(hash))
		if prev == nil {
			return errs.NotFound("token not found")
		}
		var t store.Token
		if err := json.Unmarshal(prev, &t); err != nil {
			return err
		}
		t.LastUsedAt = at.UTC()
		return putKeeping(b, []byte(hash), prev, t)
	})
}

// ListTokens answers username's tokens sorted by name.
func (s *Store) ListTokens(_ context.Context, username string) ([]store.Token, error) {
	out := []store.Token{}
	err := s.view("list tokens", func(tx *bolt.Tx) error {
		names := tx.Bucket(bucketTokenNames).Bucket([]byte(username))
		if names == nil {
			return nil
		}
		tokens := tx.Bucket(bucketTokens)
		return names.ForEach(func(_, hash []byte) error {
			var t store.Token
			ok, err := getJSON(tokens, hash, &t)
			if ok {
				out = append(out, t)
			}
			return err
		})
	})
	return out, err
}

// DeleteToken revokes username's token called name.
func (s *Store) DeleteToken(_ context.Context, username, name string) error {
	return s.update("delete token", func(tx *bolt.Tx) error {
		names := tx.Bucket(bucketTokenNames).Bucket([]byte(username))
		var hash []byte
		if names != nil {
			hash = names.Get([]byte(name))
		}
		if hash == nil {
			return errs.NotFound("token %q of user %q not found", name, username)
		}
		if err := tx.Bucket(bucketTokens).Delete(hash); err != nil {
			return err
		}
		return names.Delete([]byte(name))
	})
}

// DeleteUserTokens revokes every token of username.
func (s *Store) DeleteUserTokens(_ context.Context, username string) error {
	return s.update("delete user tokens", func(tx *bolt.Tx) error {
		byUser := tx.Bucket(bucketTokenNames)
		names := byUser.Bucket([]byte(username))
		if names == nil {
			return nil
		}
		tokens := tx.Bucket(bucketTokens)
		err := names.ForEach(func(_, hash []byte) error { return tokens.Delete(hash) })
		if err != nil {
			return err
		}
		return byUser.DeleteBucket([]byte(username))
	})
}

// metaKey is where the meta document name lives in the meta bucket,
// apart from the default cluster's mark.
func metaKey(name string) []byte { return []byte("doc:" + name) }

// GetMeta answers the meta document called name.
func (s *Store) GetMeta(_ context.Context, name string) ([]byte, error) {
	var out []byte
	err := s.view("get meta", func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(metaKey(name))
		if v == nil {
			return errs.NotFound("meta %q not found", name)
		}
		out = append([]byte(nil), v...)
		return nil
	})
	return out, err
}

// PutMeta stores the meta document called name.
func (s *Store) PutMeta(_ context.Context, name string, value []byte) error {
	return s.update("put meta", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaKey(name), value)
	})
}

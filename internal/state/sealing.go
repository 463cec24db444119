package state

import (
	"context"
	"fmt"

	"github.com/swarmops/swarmops/internal/seal"
	"github.com/swarmops/swarmops/internal/store"
)

// Sealing answers st with its secrets sealed at rest: engine TLS keys and
// registry passwords are sealed with box before they reach st and opened
// after they leave it, so callers see them in the clear and the backend
// never does. Without a key (box nil) storing a secret is refused with
// seal.ErrNoKey (a 400 naming SWARMOPS_SECRET_KEY); records without one
// pass as they are. A record an older build stored in the clear reads as
// it is until Prepare seals it.
func Sealing(st store.Store, box *seal.Box) store.Store {
	return &sealing{Store: st, box: box}
}

type sealing struct {
	store.Store
	box *seal.Box
}

func (s *sealing) CreateCluster(ctx context.Context, c store.Cluster) error {
	c, err := sealCluster(c, s.box)
	if err != nil {
		return err
	}
	return s.Store.CreateCluster(ctx, c)
}

func (s *sealing) UpdateCluster(ctx context.Context, c store.Cluster) error {
	c, err := sealCluster(c, s.box)
	if err != nil {
		return err
	}
	return s.Store.UpdateCluster(ctx, c)
}

func (s *sealing) GetCluster(ctx context.Context, name string) (store.Cluster, error) {
	c, err := s.Store.GetCluster(ctx, name)
	if err != nil {
		return c, err
	}
	return openCluster(c, s.box)
}

func (s *sealing) ListClusters(ctx context.Context) ([]store.Cluster, error) {
	list, err := s.Store.ListClusters(ctx)
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i], err = openCluster(list[i], s.box); err != nil {
			return nil, err
		}
	}
	return list, nil
}

func (s *sealing) CreateRegistry(ctx context.Context, r store.Registry) error {
	r, err := sealRegistry(r, s.box)
	if err != nil {
		return err
	}
	return s.Store.CreateRegistry(ctx, r)
}

func (s *sealing) UpdateRegistry(ctx context.Context, r store.Registry) error {
	r, err := sealRegistry(r, s.box)
	if err != nil {
		return err
	}
	return s.Store.UpdateRegistry(ctx, r)
}

func (s *sealing) GetRegistry(ctx context.Context, name string) (store.Registry, error) {
	r, err := s.Store.GetRegistry(ctx, name)
	if err != nil {
		return r, err
	}
	return openRegistry(r, s.box)
}

func (s *sealing) ListRegistries(ctx context.Context) ([]store.Registry, error) {
	list, err := s.Store.ListRegistries(ctx)
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i], err = openRegistry(list[i], s.box); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// sealCluster answers c with its TLS key sealed (and c's own TLS left as
// it was: the caller keeps its copy).
func sealCluster(c store.Cluster, box *seal.Box) (store.Cluster, error) {
	if c.TLS == nil || c.TLS.Key == "" {
		return c, nil
	}
	sealed, err := box.Seal([]byte(c.TLS.Key))
	if err != nil {
		return c, err
	}
	tls := *c.TLS
	tls.Key, tls.KeySealed = "", sealed
	c.TLS = &tls
	return c, nil
}

// openCluster answers c with its TLS key in the clear.
func openCluster(c store.Cluster, box *seal.Box) (store.Cluster, error) {
	if c.TLS == nil || len(c.TLS.KeySealed) == 0 {
		return c, nil
	}
	plain, err := box.Open(c.TLS.KeySealed)
	if err != nil {
		return c, fmt.Errorf("cluster %s: the engine TLS key: %w", c.Name, err)
	}
	tls := *c.TLS
	tls.Key, tls.KeySealed = string(plain), nil
	c.TLS = &tls
	return c, nil
}

func sealRegistry(r store.Registry, box *seal.Box) (store.Registry, error) {
	if r.Password == "" {
		return r, nil
	}
	sealed, err := box.Seal([]byte(r.Password))
	if err != nil {
		return r, err
	}
	r.Password, r.PasswordSealed = "", sealed
	return r, nil
}

func openRegistry(r store.Registry, box *seal.Box) (store.Registry, error) {
	if len(r.PasswordSealed) == 0 {
		return r, nil
	}
	plain, err := box.Open(r.PasswordSealed)
	if err != nil {
		return r, fmt.Errorf("registry %s: the password: %w", r.Name, err)
	}
	r.Password, r.PasswordSealed = string(plain), nil
	return r, nil
}

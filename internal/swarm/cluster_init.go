package swarm

import (
	"context"
	"errors"
	"fmt"

	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/lock"
)

// InitCluster is a request to create a new swarm on an engine.
type InitCluster struct {
	NewCluster
	AdvertiseAddr   string
	ListenAddr      string
	ForceNewCluster bool
}

// InitCluster runs swarm init on an engine that is in no swarm and
// registers the new swarm.
func (f *Fleet) InitCluster(ctx context.Context, in InitCluster) (v ClusterView, err error) {
	defer func() { f.audit.Record(ctx, "", "cluster.init", in.Name, in.Endpoint, err) }()
	if err := in.validate(); err != nil {
		return ClusterView{}, err
	}
	if err := f.canStoreTLS(in.TLS); err != nil {
		return ClusterView{}, err
	}
	if in.AdvertiseAddr == "" {
		return ClusterView{}, errs.Invalid("advertise_addr", "required: the address other nodes reach this manager at, e.g. 10.0.0.5 or 10.0.0.5:2377")
	}
	if in.ListenAddr == "" {
		in.ListenAddr = "0.0.0.0:2377"
	}
	err = f.withLock(ctx, lock.ClusterKey(in.Name), func(ctx context.Context) error {
		if _, err := f.store.GetCluster(ctx, in.Name); err == nil {
			return errs.Conflict("cluster %q already exists", in.Name)
		} else if !errors.Is(err, errs.ErrNotFound) {
			return fmt.Errorf("init cluster %q: %w", in.Name, err)
		}
		info, err := f.probeEngine(ctx, in.Endpoint, in.TLS)
		if err != nil {
			return err
		}
		if info.Swarm.LocalNodeState != swarm.LocalNodeStateInactive && !in.ForceNewCluster {
			return errs.Conflict("the engine at %s is already part of a swarm (state %q); register it with POST /api/v1/clusters instead", in.Endpoint, info.Swarm.LocalNodeState)
		}
		// force_new_cluster rebuilds the engine's swarm: refuse before,
		// not after, when that swarm is registered already.
		if id := swarmID(info); id != "" {
			if other, err := f.bySwarmID(ctx, id); err != nil {
				return err
			} else if other != "" {
				return errs.Conflict("the engine at %s is a manager of cluster %q, registered already", in.Endpoint, other)
			}
		}
		if err := f.swarmCall(ctx, in.Endpoint, in.TLS, func(ctx context.Context, api Engine) error {
			_, err := api.SwarmInit(ctx, swarm.InitRequest{
				ListenAddr: in.ListenAddr, AdvertiseAddr: in.AdvertiseAddr, ForceNewCluster: in.ForceNewCluster,
			})
			return err
		}, func(err error, timedOut bool) error {
			if timedOut || ctx.Err() != nil || classify(err, false, write) == noAnswer {
				return maybeApplied(err, "the engine at %s did not answer swarm init in time; it may have made the swarm: "+
					"register it with POST /api/v1/clusters if it did", in.Endpoint)
			}
			return engineError(err)
		}); err != nil {
			return err
		}
		if info, err = f.probeEngine(ctx, in.Endpoint, in.TLS); err != nil {
			return err
		}
		c, err := f.register(ctx, in.NewCluster, info)
		if err != nil {
			return err
		}
		v = viewOf(c, false)
		return nil
	})
	return v, err
}

package swarm

import (
	"context"

	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/errs"
)

// JoinTokens are the secrets a node joins the swarm with.
type JoinTokens struct {
	Worker      string `json:"worker"`
	Manager     string `json:"manager"`
	ManagerAddr string `json:"manager_addr"`
}

// JoinTokens answers the swarm's join tokens and a manager address to
// join at.
func (f *Fleet) JoinTokens(ctx context.Context, name string) (JoinTokens, error) {
	c, err := f.cluster(ctx, name)
	if err != nil {
		return JoinTokens{}, err
	}
	var jt JoinTokens
	_, err = f.do(ctx, c, read, func(ctx context.Context, api Engine) error {
		var err error
		jt, err = joinTokens(ctx, api)
		return err
	})
	return jt, err
}

// joinTokens reads the join tokens and a manager address through api.
func joinTokens(ctx context.Context, api Engine) (JoinTokens, error) {
	sw, err := api.SwarmInspect(ctx)
	if err != nil {
		return JoinTokens{}, err
	}
	info, err := api.Info(ctx)
	if err != nil {
		return JoinTokens{}, err
	}
	jt := JoinTokens{Worker: sw.JoinTokens.Worker, Manager: sw.JoinTokens.Manager}
	for _, p := range info.Swarm.RemoteManagers {
		if p.NodeID == info.Swarm.NodeID {
			jt.ManagerAddr = p.Addr
		}
	}
	if jt.ManagerAddr == "" && len(info.Swarm.RemoteManagers) > 0 {
		jt.ManagerAddr = info.Swarm.RemoteManagers[0].Addr
	}
	return jt, nil
}

// RotateJoinToken replaces the worker or manager join token.
func (f *Fleet) RotateJoinToken(ctx context.Context, name, role string) (jt JoinTokens, err error) {
	err = f.mutate(ctx, mutation{
		action: "cluster.rotate_join_token", cluster: name, target: role,
		check: func() error {
			if role != "worker" && role != "manager" {
				return errs.Invalid("role", "expected worker or manager")
			}
			return nil
		},
		write: func(ctx context.Context, api Engine, _ *ref) error {
			sw, err := api.SwarmInspect(ctx)
			if err != nil {
				return err
			}
			flags := swarm.UpdateFlags{RotateWorkerToken: role == "worker", RotateManagerToken: role == "manager"}
			return api.SwarmUpdate(ctx, sw.Version, sw.Spec, flags)
		},
		reread: func(ctx context.Context, api Engine, _ *ref) (err error) {
			jt, err = joinTokens(ctx, api)
			return err
		},
	})
	return jt, err
}

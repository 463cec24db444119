package swarm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/rs/zerolog"

	"github.com/swarmops/swarmops/internal/audit"
	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/lock"
	"github.com/swarmops/swarmops/internal/stack"
	"github.com/swarmops/swarmops/internal/store"
)

// StackDeploy is a deploy of a compose file as a stack.
type StackDeploy struct {
	Name string
	stack.Source
	// Prune removes the stack's services that the file no longer has.
	Prune bool
	// ResolveImage is always (the docker CLI's default), changed or never.
	ResolveImage string
	// Wait, when set, answers only once the changed services converged or
	// failed, or Wait passed; a deploy of the same stack in progress is
	// also waited for that long.
	Wait time.Duration
}

// StackDeployed is the answer to a deploy or a rollback.
type StackDeployed struct {
	// Revision is the number the deploy is stored under; 0 when storing
	// it failed (Warnings then says so).
	Revision int `json:"revision"`
	stack.Result
	Convergence *Convergence `json:"convergence,omitempty"`
}

// deployOptions are the options a revision keeps, to redeploy it alike.
type deployOptions struct {
	Prune        bool   `json:"prune"`
	ResolveImage string `json:"resolve_image"`
}

// revisionResult is what a revision keeps of its deploy's answer.
type revisionResult struct {
	stack.Result
	// RollbackOf is the revision a rollback redeployed.
	RollbackOf int `json:"rollback_of,omitempty"`
}

var resolveModes = []string{"always", "changed", "never"}

func (d *StackDeploy) check() error {
	if d.ResolveImage == "" {
		d.ResolveImage = "always"
	}
	if !slices.Contains(resolveModes, d.ResolveImage) {
		return errs.Invalid("resolve_image", "expected always, changed or never (as docker stack deploy --resolve-image)")
	}
	return nil
}

// DeployStack deploys a compose file as docker stack deploy does, under
// the stack's lock and then its services' locks, stores the deploy as the
// stack's next revision, and, with Wait, reports the convergence of the
// services it created or updated. A file giving a service host access is
// refused, before anything is written, unless caller may give it
// (hostaccess.go). Each service's image goes with its registry's
// credentials, if registered (registry_auth.go); a lookup that fails
// stops the deploy before anything is written.
func (f *Fleet) DeployStack(ctx context.Context, cluster string, caller auth.Role, d StackDeploy) (StackDeployed, error) {
	return f.deployStack(ctx, cluster, "stack.deploy", caller, d, 0)
}

// deployStack is a deploy or a rollback (rollbackOf > 0).
func (f *Fleet) deployStack(ctx context.Context, cluster, action string, caller auth.Role, d StackDeploy, rollbackOf int) (StackDeployed, error) {
	var (
		loaded *stack.Loaded
		sealed map[string]store.SealedFile
	)
	ctx = lock.WithWait(ctx, d.Wait)
	return mutateLocked(ctx, f, mutation{
		action: action, cluster: cluster, kind: "stack", target: d.Name,
		check: func() (err error) {
			if err := d.check(); err != nil {
				return err
			}
			if loaded, err = stack.Load(d.Name, d.Source); err != nil {
				return err
			}
			// Secrets are sealed before anything is deployed: without a key
			// the deploy is refused whole, not made and then forgotten.
			sealed, err = f.sealFiles(d.Files, loaded.SecretFiles)
			return err
		},
	}, func(ctx context.Context, c store.Cluster) (StackDeployed, error) {
		var out StackDeployed
		err := f.withServiceLocks(ctx, c, d.Name, func(ctx context.Context) error {
			_, err := f.do(ctx, c, batch, func(ctx context.Context, api Engine) (err error) {
				out.Result, err = stack.Deploy(ctx, api, loaded, stack.Options{Prune: d.Prune, ResolveImage: d.ResolveImage,
					CheckService: f.stackHostAccessCheck(api, caller), RegistryAuth: f.registryAuth})
				return err
			})
			return err
		})
		if err != nil {
			return out, err
		}
		out.Revision = f.storeRevision(ctx, cluster, d, sealed, revisionResult{Result: out.Result, RollbackOf: rollbackOf}, &out.Result)
		if d.Wait > 0 && len(out.Changed) > 0 {
			conv, err := f.AwaitConvergence(ctx, cluster, out.Changed, d.Wait)
			if err != nil {
				out.Warnings = append(out.Warnings, "the deploy was made, but its convergence could not be read: "+publicMessage(err))
			} else {
				out.Convergence = &conv
			}
		}
		return out, nil
	})
}

// withServiceLocks runs fn holding the locks of the stack's current
// services, taken in ID order after the stack's own: a change of one of
// them through the service routes waits for the deploy, and two lockers
// never take the same pair in opposite orders.
func (f *Fleet) withServiceLocks(ctx context.Context, c store.Cluster, name string, fn func(ctx context.Context) error) error {
	var ids []string
	if _, err := f.do(ctx, c, read, func(ctx context.Context, api Engine) error {
		list, err := api.ServiceList(ctx, swarm.ServiceListOptions{Filters: stackFilter(name)})
		ids = ids[:0]
		for _, s := range list {
			ids = append(ids, s.ID)
		}
		return err
	}); err != nil {
		return err
	}
	slices.Sort(ids)
	var hold func(ctx context.Context, rest []string) error
	hold = func(ctx context.Context, rest []string) error {
		if len(rest) == 0 {
			return fn(ctx)
		}
		return f.withLock(ctx, lock.ObjectKey(c.Name, "service", rest[0]), func(ctx context.Context) error {
			return hold(ctx, rest[1:])
		})
	}
	return hold(ctx, ids)
}

// sealFiles seals the files used as secrets, keyed by their path.
func (f *Fleet) sealFiles(files map[string]string, secret []string) (map[string]store.SealedFile, error) {
	out := make(map[string]store.SealedFile, len(secret))
	for _, name := range secret {
		data, err := f.box.Seal([]byte(files[name]))
		if err != nil {
			return nil, err
		}
		out[name] = store.SealedFile{Data: data, SHA256: digest(files[name])}
	}
	return out, nil
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// storeRevision stores a made deploy as the stack's next revision and
// answers its number. A store that fails then does not undo the deploy:
// the answer says the revision is missing instead.
func (f *Fleet) storeRevision(ctx context.Context, cluster string, d StackDeploy, sealed map[string]store.SealedFile, res revisionResult, out *stack.Result) int {
	if f.revisions == nil {
		return 0
	}
	plain := make(map[string]string, len(d.Files))
	for name, content := range d.Files {
		if _, ok := sealed[name]; !ok {
			plain[name] = content
		}
	}
	opts, _ := json.Marshal(deployOptions{Prune: d.Prune, ResolveImage: d.ResolveImage})
	result, _ := json.Marshal(res)
	n, err := f.revisions.AddStackRevision(context.WithoutCancel(ctx), store.StackRevision{
		Cluster: cluster, Stack: d.Name, Time: f.now().UTC(), User: audit.ActorFrom(ctx).User,
		Compose: d.Compose, Env: d.Env, Files: plain, Sealed: sealed, Options: opts, Result: result,
	})
	if err != nil {
		zerolog.Ctx(ctx).Error().Err(err).Str("cluster", cluster).Str("stack", d.Name).Msg("stack deployed, but its revision was not stored")
		out.Warnings = append(out.Warnings, fmt.Sprintf("the deploy was made, but storing it as a revision failed (%s): it is missing from the stack's history", publicMessage(err)))
		return 0
	}
	return n
}

package swarm

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/swarm"
)

// SecretSummary is a secret's metadata; the data is never answered (the
// engine does not give it out either).
type SecretSummary struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Labels    map[string]string `json:"labels"`
	Driver    string            `json:"driver,omitempty"` // an external secret store, if any
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
	Stack     string            `json:"stack"`
}

// SecretDetail is a secret with the engine's own object (without data).
type SecretDetail struct {
	Summary SecretSummary `json:"summary"`
	Secret  swarm.Secret  `json:"secret"`
}

func summarizeSecret(s swarm.Secret) SecretSummary {
	sum := SecretSummary{
		ID: s.ID, Name: s.Spec.Name, Labels: s.Spec.Labels, CreatedAt: s.CreatedAt.UTC(),
		UpdatedAt: s.UpdatedAt.UTC(), Stack: s.Spec.Labels[StackLabel],
	}
	if sum.Labels == nil {
		sum.Labels = map[string]string{}
	}
	if s.Spec.Driver != nil {
		sum.Driver = s.Spec.Driver.Name
	}
	return sum
}

// withoutData clears the one field that could carry a secret's value, so
// that no answer can, whatever an engine version puts there.
func withoutData(s swarm.Secret) swarm.Secret {
	s.Spec.Data = nil
	return s
}

// ListSecrets answers the cluster's secrets matching flt.
func (f *Fleet) ListSecrets(ctx context.Context, cluster string, flt Filter) ([]SecretSummary, error) {
	c, err := f.cluster(ctx, cluster)
	if err != nil {
		return nil, err
	}
	list, err := readSnapshot(ctx, f, c, "secrets", func(ctx context.Context, api Engine) ([]swarm.Secret, error) {
		return api.SecretList(ctx, swarm.SecretListOptions{})
	})
	if err != nil {
		return nil, err
	}
	out := make([]SecretSummary, 0, len(list))
	for _, s := range list {
		if flt.Match(s.Spec.Name, s.Spec.Labels) {
			out = append(out, summarizeSecret(s))
		}
	}
	slices.SortFunc(out, func(a, b SecretSummary) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

type secretInspector interface {
	SecretInspectWithRaw(ctx context.Context, id string) (swarm.Secret, []byte, error)
}

// inspectSecret finds a secret by ID, name or unique ID prefix.
func inspectSecret(ctx context.Context, api secretInspector, cluster, id string) (swarm.Secret, error) {
	s, _, err := api.SecretInspectWithRaw(ctx, id)
	return withoutData(s), lookupError(err, "secret", id, cluster)
}

// GetSecret answers one secret's metadata.
func (f *Fleet) GetSecret(ctx context.Context, cluster, id string) (SecretDetail, error) {
	c, err := f.cluster(ctx, cluster)
	if err != nil {
		return SecretDetail{}, err
	}
	s, err := readSnapshot(ctx, f, c, "secret/"+id, func(ctx context.Context, api Engine) (swarm.Secret, error) {
		return inspectSecret(ctx, api, cluster, id)
	})
	return SecretDetail{Summary: summarizeSecret(s), Secret: s}, err
}

// NewSecret is a request to create a secret. Exactly one of Data and
// DataBase64 is set.
type NewSecret struct {
	Name       string
	Data       *string
	DataBase64 *string
	Labels     map[string]string
}

// CreateSecret creates a secret. Its value goes to the engine and nowhere
// else: not into errors, logs or the audit record.
func (f *Fleet) CreateSecret(ctx context.Context, cluster string, n NewSecret) (s SecretSummary, err error) {
	p := newPayload{kind: "secret", limit: maxSecretSize, name: n.Name, data: n.Data, base64: n.DataBase64, labels: n.Labels}
	err = f.mutate(ctx, p.creation(cluster, func(ctx context.Context, api Engine, a swarm.Annotations, data []byte) (string, error) {
		resp, err := api.SecretCreate(ctx, swarm.SecretSpec{Annotations: a, Data: data})
		return resp.ID, err
	}, func(ctx context.Context, api Engine, o *ref) error {
		created, err := inspectSecret(ctx, api, cluster, o.ID)
		s = summarizeSecret(created)
		return err
	}))
	return s, err
}

// RemoveSecret removes a secret no service uses; the engine names the
// services that still do.
func (f *Fleet) RemoveSecret(ctx context.Context, cluster, id string) error {
	return f.mutate(ctx, payloadRemoval(cluster, "secret", id, func(ctx context.Context, api Engine) (ref, error) {
		x, err := inspectSecret(ctx, api, cluster, id)
		return ref{ID: x.ID, Name: x.Spec.Name}, err
	}, Engine.SecretRemove))
}

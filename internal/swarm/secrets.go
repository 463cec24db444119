package swarm

import (
	"context"
	"encoding/base64"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/lock"
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

// secretNameRE is swarmkit's rule for secret and config names.
var secretNameRE = regexp.MustCompile(`^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$`)

func validSecretName(kind, name string) error {
	if len(name) > 64 || !secretNameRE.MatchString(name) {
		return errs.Invalid("name", "expected a %s name: 1-64 letters, digits, - _ or ., starting and ending with a letter or digit", kind)
	}
	return nil
}

// Payload limits of swarmkit: the data must be shorter than these.
const (
	maxSecretSize = 500 * 1024
	maxConfigSize = 1000 * 1024
)

// payload reads the data of a secret or config from exactly one of data
// (text) and dataBase64. Errors never quote the data.
func payload(kind string, data, dataBase64 *string, limit int) ([]byte, error) {
	var b []byte
	field := "data"
	switch {
	case data != nil && dataBase64 != nil:
		return nil, errs.Invalid("data_base64", "give data or data_base64, not both")
	case data != nil:
		b = []byte(*data)
	case dataBase64 != nil:
		field = "data_base64"
		var err error
		if b, err = base64.StdEncoding.DecodeString(*dataBase64); err != nil {
			// Tolerate a missing padding, as many encoders leave it off.
			if b, err = base64.RawStdEncoding.DecodeString(*dataBase64); err != nil {
				return nil, errs.Invalid(field, "expected standard base64 (RFC 4648, alphabet A-Z a-z 0-9 + /)")
			}
		}
	default:
		return nil, errs.Invalid("data", "required: the %s's value as data (text) or data_base64", kind)
	}
	if len(b) == 0 {
		return nil, errs.Invalid(field, "empty: a %s holds 1 byte to %d KB", kind, limit/1024)
	}
	if len(b) >= limit {
		return nil, errs.Invalid(field, "%d bytes: a %s must be smaller than %d KB", len(b), kind, limit/1024)
	}
	return b, nil
}

// ListSecrets answers the cluster's secrets matching flt.
func (f *Fleet) ListSecrets(ctx context.Context, cluster string, flt Filter) ([]SecretSummary, error) {
	c, err := f.cluster(ctx, cluster)
	if err != nil {
		return nil, err
	}
	var list []swarm.Secret
	if _, err := f.do(ctx, c, read, func(ctx context.Context, api Engine) (err error) {
		list, err = api.SecretList(ctx, swarm.SecretListOptions{})
		return err
	}); err != nil {
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
	var s swarm.Secret
	_, err = f.do(ctx, c, read, func(ctx context.Context, api Engine) (err error) {
		s, err = inspectSecret(ctx, api, cluster, id)
		return err
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
	defer func() { f.audit.Record(ctx, "", "secret.create", cluster, n.Name, err) }()
	if err := validSecretName("secret", n.Name); err != nil {
		return SecretSummary{}, err
	}
	data, err := payload("secret", n.Data, n.DataBase64, maxSecretSize)
	if err != nil {
		return SecretSummary{}, err
	}
	if err := validLabels("labels", n.Labels); err != nil {
		return SecretSummary{}, err
	}
	c, err := f.cluster(ctx, cluster)
	if err != nil {
		return SecretSummary{}, err
	}
	spec := swarm.SecretSpec{Annotations: swarm.Annotations{Name: n.Name, Labels: n.Labels}, Data: data}
	err = f.withLock(ctx, lock.ObjectKey(cluster, "secret", n.Name), func(ctx context.Context) error {
		var id string
		_, err := f.do(ctx, c, write, func(ctx context.Context, api Engine) error {
			resp, err := api.SecretCreate(ctx, spec)
			id = resp.ID
			return err
		})
		if isConflict(err) {
			return errs.Conflict("a secret named %q already exists in cluster %q; secrets never change: "+
				"create one under a new name and point the services at it", n.Name, cluster)
		}
		if err != nil {
			return err
		}
		// A separate read: retrying it can never create the secret twice.
		_, err = f.do(ctx, c, read, func(ctx context.Context, api Engine) error {
			created, err := inspectSecret(ctx, api, cluster, id)
			s = summarizeSecret(created)
			return err
		})
		return err
	})
	return s, err
}

// RemoveSecret removes a secret no service uses; the engine names the
// services that still do.
func (f *Fleet) RemoveSecret(ctx context.Context, cluster, id string) (err error) {
	target := id
	defer func() { f.audit.Record(ctx, "", "secret.remove", cluster, target, err) }()
	c, err := f.cluster(ctx, cluster)
	if err != nil {
		return err
	}
	var s swarm.Secret
	if _, err := f.do(ctx, c, read, func(ctx context.Context, api Engine) (err error) {
		s, err = inspectSecret(ctx, api, cluster, id)
		return err
	}); err != nil {
		return err
	}
	target = s.Spec.Name
	return f.withLock(ctx, lock.ObjectKey(cluster, "secret", s.ID), func(ctx context.Context) error {
		_, err := f.do(ctx, c, write, func(ctx context.Context, api Engine) error {
			return api.SecretRemove(ctx, s.ID)
		})
		return refusedAsConflict(err)
	})
}

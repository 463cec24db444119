package swarm

import (
	"context"
	"encoding/base64"
	"regexp"

	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/errs"
)

// Secrets and configs are alike in swarm: a name, labels and data fixed
// when they are made, under the same naming rules, refused once a service
// uses them. They differ in their engine calls and in what is answered of
// them; what they share is here.

// secretNameRE is swarmkit's rule for secret and config names.
var secretNameRE = regexp.MustCompile(`^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$`)

// validSecretName checks the name of a secret or config (kind).
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

// newPayload is a secret or config to create.
type newPayload struct {
	kind   string // "secret" or "config"
	limit  int    // swarmkit's limit of its data
	name   string
	data   *string // text
	base64 *string // any bytes, base64-encoded
	labels map[string]string
}

// creation is the mutation that creates p: create makes it of its
// annotations and data, answering its ID; reread reads it back.
func (p newPayload) creation(cluster string, create func(ctx context.Context, api Engine, a swarm.Annotations, data []byte) (string, error), reread step) mutation {
	var data []byte
	return mutation{
		action: p.kind + ".create", cluster: cluster, kind: p.kind, target: p.name,
		check: func() (err error) {
			if err := validSecretName(p.kind, p.name); err != nil {
				return err
			}
			if data, err = payload(p.kind, p.data, p.base64, p.limit); err != nil {
				return err
			}
			return validLabels("labels", p.labels)
		},
		write: func(ctx context.Context, api Engine, o *ref) (err error) {
			o.ID, err = create(ctx, api, swarm.Annotations{Name: p.name, Labels: p.labels}, data)
			return err
		},
		refused: func(err error) error {
			if isConflict(err) {
				return errs.Conflict("a %s named %q already exists in cluster %q; %ss never change: "+
					"create one under a new name and point the services at it", p.kind, p.name, cluster, p.kind)
			}
			return err
		},
		reread: reread,
	}
}

// payloadRemoval is the mutation that removes the secret or config (kind)
// that find finds by the id it was given; the engine refuses while a
// service uses it, and names the services.
func payloadRemoval(cluster, kind, id string, find func(ctx context.Context, api Engine) (ref, error), remove func(api Engine, ctx context.Context, id string) error) mutation {
	return mutation{
		action: kind + ".remove", cluster: cluster, kind: kind, target: id,
		resolve: find,
		write: func(ctx context.Context, api Engine, o *ref) error {
			return remove(api, ctx, o.ID)
		},
		refused: refusedAsConflict,
	}
}

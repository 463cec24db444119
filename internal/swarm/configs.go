package swarm

import (
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/docker/docker/api/types/swarm"
)

// ConfigSummary is a config as lists show it, without its data.
type ConfigSummary struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Labels    map[string]string `json:"labels"`
	Size      int               `json:"size"` // bytes of data
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
	Stack     string            `json:"stack"`
}

// ConfigDetail is a config with its data and the engine's own object.
type ConfigDetail struct {
	Summary ConfigSummary `json:"summary"`
	// Data is the data as text when it is valid UTF-8, else nil.
	Data       *string      `json:"data"`
	DataBase64 string       `json:"data_base64"`
	Config     swarm.Config `json:"config"`
}

func summarizeConfig(c swarm.Config) ConfigSummary {
	s := ConfigSummary{
		ID: c.ID, Name: c.Spec.Name, Labels: c.Spec.Labels, Size: len(c.Spec.Data),
		CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(), Stack: c.Spec.Labels[StackLabel],
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	return s
}

func configDetail(c swarm.Config) ConfigDetail {
	d := ConfigDetail{Summary: summarizeConfig(c), DataBase64: base64.StdEncoding.EncodeToString(c.Spec.Data), Config: c}
	if utf8.Valid(c.Spec.Data) {
		text := string(c.Spec.Data)
		d.Data = &text
	}
	return d
}

// ListConfigs answers the cluster's configs matching flt.
func (f *Fleet) ListConfigs(ctx context.Context, cluster string, flt Filter) ([]ConfigSummary, error) {
	c, err := f.cluster(ctx, cluster)
	if err != nil {
		return nil, err
	}
	list, err := readSnapshot(ctx, f, c, "configs", func(ctx context.Context, api Engine) ([]swarm.Config, error) {
		return api.ConfigList(ctx, swarm.ConfigListOptions{})
	})
	if err != nil {
		return nil, err
	}
	out := make([]ConfigSummary, 0, len(list))
	for _, cf := range list {
		if flt.Match(cf.Spec.Name, cf.Spec.Labels) {
			out = append(out, summarizeConfig(cf))
		}
	}
	slices.SortFunc(out, func(a, b ConfigSummary) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

type configInspector interface {
	ConfigInspectWithRaw(ctx context.Context, id string) (swarm.Config, []byte, error)
}

// inspectConfig finds a config by ID, name or unique ID prefix.
func inspectConfig(ctx context.Context, api configInspector, cluster, id string) (swarm.Config, error) {
	cf, _, err := api.ConfigInspectWithRaw(ctx, id)
	return cf, lookupError(err, "config", id, cluster)
}

// GetConfig answers one config with its data.
func (f *Fleet) GetConfig(ctx context.Context, cluster, id string) (ConfigDetail, error) {
	c, err := f.cluster(ctx, cluster)
	if err != nil {
		return ConfigDetail{}, err
	}
	cf, err := readSnapshot(ctx, f, c, "config/"+id, func(ctx context.Context, api Engine) (swarm.Config, error) {
		return inspectConfig(ctx, api, cluster, id)
	})
	return configDetail(cf), err
}

// NewConfig is a request to create a config. Exactly one of Data (text)
// and DataBase64 (any bytes) is set.
type NewConfig struct {
	Name       string
	Data       *string
	DataBase64 *string
	Labels     map[string]string
}

// CreateConfig creates a config.
func (f *Fleet) CreateConfig(ctx context.Context, cluster string, n NewConfig) (s ConfigSummary, err error) {
	p := newPayload{kind: "config", limit: maxConfigSize, name: n.Name, data: n.Data, base64: n.DataBase64, labels: n.Labels}
	err = f.mutate(ctx, p.creation(cluster, func(ctx context.Context, api Engine, a swarm.Annotations, data []byte) (string, error) {
		resp, err := api.ConfigCreate(ctx, swarm.ConfigSpec{Annotations: a, Data: data})
		return resp.ID, err
	}, func(ctx context.Context, api Engine, o *ref) error {
		created, err := inspectConfig(ctx, api, cluster, o.ID)
		s = summarizeConfig(created)
		return err
	}))
	return s, err
}

// RemoveConfig removes a config no service uses; the engine names the
// services that still do.
func (f *Fleet) RemoveConfig(ctx context.Context, cluster, id string) error {
	return f.mutate(ctx, payloadRemoval(cluster, "config", id, func(ctx context.Context, api Engine) (ref, error) {
		x, err := inspectConfig(ctx, api, cluster, id)
		return ref{ID: x.ID, Name: x.Spec.Name}, err
	}, Engine.ConfigRemove))
}

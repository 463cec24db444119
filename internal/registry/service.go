package registry

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/distribution/reference"
	dockerregistry "github.com/docker/docker/api/types/registry"

	"github.com/swarmops/swarmops/internal/audit"
	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/seal"
	"github.com/swarmops/swarmops/internal/store"
)

// Bounds of a registration's fields.
const (
	maxURLLen      = 2048
	maxUsernameLen = 256
	maxPasswordLen = 4096
	maxCALen       = 64 << 10
)

// pingTimeout bounds the check of a registry when it is registered.
const pingTimeout = 15 * time.Second

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// Input registers a registry or changes a registration. In a change, nil
// fields are kept.
type Input struct {
	Name               string  `json:"name"`
	URL                *string `json:"url"`
	Username           *string `json:"username"`
	Password           *string `json:"password"`
	InsecureSkipVerify *bool   `json:"insecure_skip_verify"`
	CA                 *string `json:"ca"`
}

// Summary is a registration as it is shown: never the password.
type Summary struct {
	Name               string    `json:"name"`
	URL                string    `json:"url"`
	Host               string    `json:"host"` // as image references name it
	Username           string    `json:"username,omitempty"`
	PasswordSet        bool      `json:"password_set"`
	InsecureSkipVerify bool      `json:"insecure_skip_verify"`
	CA                 bool      `json:"ca"` // a CA bundle is configured
	CreatedAt          time.Time `json:"created_at"`
	CreatedBy          string    `json:"created_by,omitempty"`
}

// Service is the registered registries and the operations on them.
// Passwords reach it opened by the store's sealing decorator and leave it
// only towards the registry and, encoded, towards engines that pull.
type Service struct {
	store store.Registries
	audit *audit.Log
	// box is only asked whether a key is configured, so that a password
	// is refused before the registry is contacted.
	box *seal.Box

	mu      sync.Mutex
	clients map[string]cachedClient // by registry name
}

// cachedClient is a client with the fingerprint of the registration it
// was made from; a changed registration makes a new one.
type cachedClient struct {
	fingerprint [32]byte
	client      *Client
}

// NewService wires the registries domain.
func NewService(st store.Registries, log *audit.Log, box *seal.Box) *Service {
	return &Service{store: st, audit: log, box: box, clients: map[string]cachedClient{}}
}

// List answers every registration, sorted by name.
func (s *Service) List(ctx context.Context) ([]Summary, error) {
	regs, err := s.store.ListRegistries(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Summary, 0, len(regs))
	for _, r := range regs {
		out = append(out, summarize(r))
	}
	return out, nil
}

// Get answers one registration.
func (s *Service) Get(ctx context.Context, name string) (Summary, error) {
	r, err := s.get(ctx, name)
	if err != nil {
		return Summary{}, err
	}
	return summarize(r), nil
}

func (s *Service) get(ctx context.Context, name string) (store.Registry, error) {
	r, err := s.store.GetRegistry(ctx, name)
	if errors.Is(err, errs.ErrNotFound) {
		return r, errs.NotFound("no registry %q is registered; GET /api/v1/registries lists them", name)
	}
	return r, err
}

// Create registers a registry once it answers /v2/ with the credentials.
func (s *Service) Create(ctx context.Context, in Input) (out Summary, err error) {
	defer func() { s.audit.Record(ctx, "", "registry.create", "", in.Name, err) }()
	if !nameRE.MatchString(in.Name) {
		return out, errs.Invalid("name", "expected 1-63 lower-case letters, digits, '_', '.' or '-', starting with a letter or digit")
	}
	if in.URL == nil {
		return out, errs.Invalid("url", "required: the registry's address, such as https://registry.example.com or http://10.0.0.5:5000")
	}
	r := apply(store.Registry{Name: in.Name}, in)
	r.CreatedAt, r.CreatedBy = time.Now().UTC(), audit.ActorFrom(ctx).User
	if err := s.check(ctx, r); err != nil {
		return out, err
	}
	if err := s.store.CreateRegistry(ctx, r); err != nil {
		return out, err
	}
	return summarize(r), nil
}

// Update changes a registration; the registry is checked again with the
// result before it is stored.
func (s *Service) Update(ctx context.Context, name string, in Input) (out Summary, err error) {
	defer func() { s.audit.Record(ctx, "", "registry.update", "", name, err) }()
	if in.Name != "" && in.Name != name {
		return out, errs.Invalid("name", "a registry cannot be renamed; register it again under the new name")
	}
	cur, err := s.get(ctx, name)
	if err != nil {
		return out, err
	}
	r := apply(cur, in)
	if in.Password == nil && r.Password != "" && hostOf(r) != hostOf(cur) {
		// The stored password goes only to the host it was given for: a
		// new address could collect it.
		return out, errs.Invalid("password", "give the password again when the address moves to another host (%s to %s): the stored one is only sent to %s",
			hostOf(cur), hostOf(r), hostOf(cur))
	}
	if err := s.check(ctx, r); err != nil {
		return out, err
	}
	if err := s.store.UpdateRegistry(ctx, r); err != nil {
		return out, err
	}
	s.forget(name)
	return summarize(r), nil
}

// Delete forgets a registration; the registry itself is untouched.
func (s *Service) Delete(ctx context.Context, name string) (err error) {
	defer func() { s.audit.Record(ctx, "", "registry.delete", "", name, err) }()
	if _, err := s.get(ctx, name); err != nil {
		return err
	}
	if err := s.store.DeleteRegistry(ctx, name); err != nil {
		return err
	}
	s.forget(name)
	return nil
}

// apply copies the fields in gives over r.
func apply(r store.Registry, in Input) store.Registry {
	if in.URL != nil {
		r.URL = strings.TrimRight(strings.TrimSpace(*in.URL), "/")
	}
	if in.Username != nil {
		r.Username = *in.Username
	}
	if in.Password != nil {
		r.Password = *in.Password
	}
	if in.InsecureSkipVerify != nil {
		r.InsecureSkipVerify = *in.InsecureSkipVerify
	}
	if in.CA != nil {
		r.CA = *in.CA
	}
	return r
}

// check validates r whole, refuses a password that could not be stored
// and a host another registration serves, then asks the registry.
func (s *Service) check(ctx context.Context, r store.Registry) error {
	switch {
	case len(r.URL) > maxURLLen:
		return errs.Invalid("url", "at most %d characters", maxURLLen)
	case len(r.Username) > maxUsernameLen:
		return errs.Invalid("username", "at most %d characters", maxUsernameLen)
	case len(r.Password) > maxPasswordLen:
		return errs.Invalid("password", "at most %d characters", maxPasswordLen)
	case len(r.CA) > maxCALen:
		return errs.Invalid("ca", "at most %d KiB of PEM", maxCALen>>10)
	}
	c, err := NewClient(endpointOf(r))
	if err != nil {
		return err
	}
	if r.Password != "" && s.box == nil {
		return seal.ErrNoKey
	}
	others, err := s.store.ListRegistries(ctx)
	if err != nil {
		return err
	}
	for _, o := range others {
		if o.Name != r.Name && hostOf(o) == c.Host() {
			return errs.Conflict("registry %q already serves %s; change or remove it instead", o.Name, c.Host())
		}
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	return c.Ping(pctx)
}

// Repositories answers a page of the registry's repositories whose names
// contain q.
func (s *Service) Repositories(ctx context.Context, name, q, last string, n int) (RepositoryPage, error) {
	c, err := s.client(ctx, name)
	if err != nil {
		return RepositoryPage{}, err
	}
	return c.Repositories(ctx, q, last, n)
}

// Tags answers a page of a repository's tags with their manifests' facts.
func (s *Service) Tags(ctx context.Context, name, repo, last string, n int) (TagPage, error) {
	c, err := s.client(ctx, name)
	if err != nil {
		return TagPage{}, err
	}
	return c.Tags(ctx, repo, last, n)
}

// DeleteTag deletes the manifest tag points at, and so every tag on it.
func (s *Service) DeleteTag(ctx context.Context, name, repo, tag string) (out Deleted, err error) {
	defer func() { s.audit.Record(ctx, "", "registry.tag.delete", "", name+"/"+repo+":"+tag, err) }()
	c, err := s.client(ctx, name)
	if err != nil {
		return out, err
	}
	return c.DeleteTag(ctx, repo, tag)
}

// AuthFor answers the encoded credentials (X-Registry-Auth) of the
// registration serving image's host, "" when none does or it has no
// credentials. An image reference that does not parse gets "": the engine
// says what is wrong with it.
func (s *Service) AuthFor(ctx context.Context, image string) (string, error) {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return "", nil
	}
	host := reference.Domain(named)
	regs, err := s.store.ListRegistries(ctx)
	if err != nil {
		return "", errs.Unavailable(err, "the registered registries could not be read to find credentials for %s", host)
	}
	for _, r := range regs {
		if hostOf(r) != host || r.Username == "" {
			continue
		}
		return dockerregistry.EncodeAuthConfig(dockerregistry.AuthConfig{Username: r.Username, Password: r.Password, ServerAddress: host})
	}
	return "", nil
}

// client answers the cached client of a registration, made anew when the
// registration changed (on any instance).
func (s *Service) client(ctx context.Context, name string) (*Client, error) {
	r, err := s.get(ctx, name)
	if err != nil {
		return nil, err
	}
	fp := fingerprint(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	if cc, ok := s.clients[name]; ok && cc.fingerprint == fp {
		return cc.client, nil
	}
	c, err := NewClient(endpointOf(r))
	if err != nil {
		return nil, err
	}
	s.clients[name] = cachedClient{fingerprint: fp, client: c}
	return c, nil
}

func (s *Service) forget(name string) {
	s.mu.Lock()
	delete(s.clients, name)
	s.mu.Unlock()
}

func fingerprint(r store.Registry) [32]byte {
	return sha256.Sum256(fmt.Appendf(nil, "%q %q %q %t %q", r.URL, r.Username, r.Password, r.InsecureSkipVerify, r.CA))
}

func endpointOf(r store.Registry) Endpoint {
	return Endpoint{URL: r.URL, Username: r.Username, Password: r.Password, InsecureSkipVerify: r.InsecureSkipVerify, CA: r.CA}
}

// hostOf answers the host a stored registration serves, "" when its URL
// no longer parses.
func hostOf(r store.Registry) string {
	u, err := parseURL(r.URL)
	if err != nil {
		return ""
	}
	return refHost(u)
}

func summarize(r store.Registry) Summary {
	return Summary{Name: r.Name, URL: r.URL, Host: hostOf(r), Username: r.Username, PasswordSet: r.Password != "" || len(r.PasswordSealed) > 0,
		InsecureSkipVerify: r.InsecureSkipVerify, CA: r.CA != "", CreatedAt: r.CreatedAt, CreatedBy: r.CreatedBy}
}

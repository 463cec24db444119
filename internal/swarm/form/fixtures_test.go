package form

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
	"github.com/google/go-cmp/cmp"
	"github.com/swarmops/swarmops/internal/errs"
)

// fakeRefs resolves names from maps, as the domain does from the engine.
type fakeRefs struct {
	networks, secrets, configs map[string]string
	err                        error // returned by every lookup when set
}

func (r fakeRefs) NetworkID(name string) (string, error) { return r.find("network", r.networks, name) }
func (r fakeRefs) SecretID(name string) (string, error)  { return r.find("secret", r.secrets, name) }
func (r fakeRefs) ConfigID(name string) (string, error)  { return r.find("config", r.configs, name) }

func (r fakeRefs) find(kind string, ids map[string]string, name string) (string, error) {
	if r.err != nil {
		return "", r.err
	}
	if id, ok := ids[name]; ok {
		return id, nil
	}
	for _, id := range ids { // by ID, as the engine also accepts
		if id == name {
			return id, nil
		}
	}
	return "", errs.NotFound("%s %q not found", kind, name)
}

// NetworkName answers the name of a network ID, or the ID for a network
// that is gone.
func (r fakeRefs) NetworkName(id string) string {
	for name, nid := range r.networks {
		if nid == id {
			return name
		}
	}
	return id
}

var testRefs = fakeRefs{
	networks: map[string]string{"backend": "net-backend", "front": "net-front"},
	secrets:  map[string]string{"db_pw": "sec-db", "api_key": "sec-api"},
	configs:  map[string]string{"app_cfg": "cfg-app", "nginx_conf": "cfg-nginx"},
}

const nginxDigest = "sha256:6e2b2d4d1ff3a1b0e0b2ba8c7b4f1e8ab3c2d7e1f0a9b8c7d6e5f4a3b2c1d0e9"

// richFormSpec is a service as docker stack deploy or docker service create
// would make it, using only what the form can express.
func richFormSpec() swarm.ServiceSpec {
	return swarm.ServiceSpec{
		Annotations: swarm.Annotations{
			Name: "shop_web",
			Labels: map[string]string{
				"com.docker.stack.namespace": "shop",
				"com.docker.stack.image":     "nginx:1.27",
				"team":                       "web",
			},
		},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{
				Image:    "nginx:1.27@" + nginxDigest,
				Labels:   map[string]string{"com.docker.stack.namespace": "shop", "tier": "front"},
				Command:  []string{"/docker-entrypoint.sh"},
				Args:     []string{"nginx", "-g", "daemon off;"},
				Hostname: "{{.Service.Name}}-{{.Task.Slot}}",
				Env:      []string{"A=1", "B=two words", "C="},
				Dir:      "/usr/share/nginx",
				User:     "101:101",
				Mounts: []mount.Mount{
					{
						Type: mount.TypeVolume, Source: "data", Target: "/data",
						VolumeOptions: &mount.VolumeOptions{
							NoCopy: true,
							Labels: map[string]string{"backup": "daily"},
							DriverConfig: &mount.Driver{
								Name:    "local",
								Options: map[string]string{"type": "nfs", "o": "addr=10.0.0.1,rw"},
							},
						},
					},
					{
						Type: mount.TypeBind, Source: "/srv/static", Target: "/usr/share/nginx/html", ReadOnly: true,
						BindOptions: &mount.BindOptions{Propagation: mount.PropagationRSlave},
					},
					{
						Type: mount.TypeTmpfs, Target: "/cache",
						TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 64 << 20, Mode: 0o1777},
					},
				},
				StopGracePeriod: new(30 * time.Second),
				ReadOnly:        true,
				Healthcheck: &container.HealthConfig{
					Test:        []string{"CMD-SHELL", "curl -fsS http://localhost/ || exit 1"},
					Interval:    10 * time.Second,
					Timeout:     3 * time.Second,
					Retries:     3,
					StartPeriod: 20 * time.Second,
				},
				Secrets: []*swarm.SecretReference{
					{File: fileTarget("db_pw", "0", "0", 0o444), SecretID: "sec-db", SecretName: "db_pw"},
					{File: fileTarget("/etc/api.key", "101", "101", 0o400), SecretID: "sec-api", SecretName: "api_key"},
				},
				Configs: []*swarm.ConfigReference{{
					File:     (*swarm.ConfigReferenceFileTarget)(fileTarget("/etc/nginx/nginx.conf", "0", "0", 0o444)),
					ConfigID: "cfg-nginx", ConfigName: "nginx_conf",
				}},
			},
			Resources: &swarm.ResourceRequirements{
				Limits:       &swarm.Limit{NanoCPUs: 1_500_000_000, MemoryBytes: 512 << 20},
				Reservations: &swarm.Resources{NanoCPUs: 250_000_000, MemoryBytes: 128 << 20},
			},
			RestartPolicy: &swarm.RestartPolicy{
				Condition:   swarm.RestartPolicyConditionOnFailure,
				Delay:       new(5 * time.Second),
				MaxAttempts: new(uint64(3)),
				Window:      new(2 * time.Minute),
			},
			Placement: &swarm.Placement{
				Constraints: []string{"node.role==worker", "node.labels.zone!=c"},
				Preferences: []swarm.PlacementPreference{{Spread: &swarm.SpreadOver{SpreadDescriptor: "node.labels.zone"}}},
			},
			Networks: []swarm.NetworkAttachmentConfig{
				{Target: "net-backend", Aliases: []string{"web"}},
				{Target: "net-front"},
			},
		},
		Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: new(uint64(3))}},
		UpdateConfig: &swarm.UpdateConfig{
			Parallelism: 2, Delay: 10 * time.Second, FailureAction: swarm.UpdateFailureActionRollback,
			Monitor: 5 * time.Second, MaxFailureRatio: 0.1, Order: swarm.UpdateOrderStartFirst,
		},
		RollbackConfig: &swarm.UpdateConfig{
			Parallelism: 1, FailureAction: swarm.UpdateFailureActionPause,
			Monitor: 5 * time.Second, Order: swarm.UpdateOrderStopFirst,
		},
		EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{
			{Protocol: swarm.PortConfigProtocolTCP, TargetPort: 80, PublishedPort: 8080, PublishMode: swarm.PortConfigPublishModeIngress},
			{Protocol: swarm.PortConfigProtocolUDP, TargetPort: 53, PublishedPort: 53, PublishMode: swarm.PortConfigPublishModeIngress},
			{Protocol: swarm.PortConfigProtocolTCP, TargetPort: 443, PublishedPort: 8443, PublishMode: swarm.PortConfigPublishModeHost},
			{Protocol: swarm.PortConfigProtocolTCP, TargetPort: 9000, PublishMode: swarm.PortConfigPublishModeIngress},
		}},
	}
}

// richSpec is richFormSpec plus what the form can't express, which an
// update must keep.
func richSpec() swarm.ServiceSpec {
	s := richFormSpec()
	s.EndpointSpec.Mode = swarm.ResolutionModeVIP
	s.TaskTemplate.LogDriver = &swarm.Driver{Name: "json-file", Options: map[string]string{"max-size": "10m"}}
	s.TaskTemplate.ForceUpdate = 2
	s.TaskTemplate.Placement.MaxReplicas = 2
	s.TaskTemplate.Resources.Limits.Pids = 100
	cs := s.TaskTemplate.ContainerSpec
	cs.Init = new(true)
	cs.Healthcheck.StartInterval = 2 * time.Second
	cs.Privileges = &swarm.Privileges{CredentialSpec: &swarm.CredentialSpec{Config: "cfg-cred"}}
	cs.Configs = append(cs.Configs, &swarm.ConfigReference{
		Runtime: &swarm.ConfigReferenceRuntimeTarget{}, ConfigID: "cfg-cred", ConfigName: "cred_spec",
	})
	return s
}

func fileTarget(name, uid, gid string, mode uint32) *swarm.SecretReferenceFileTarget {
	return &swarm.SecretReferenceFileTarget{Name: name, UID: uid, GID: gid, Mode: os.FileMode(mode)}
}

// spec builds a new service's spec as Apply makes it: replicated unless
// edit says otherwise.
func spec(edit func(s *swarm.ServiceSpec)) swarm.ServiceSpec {
	s := swarm.ServiceSpec{
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{}},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{}},
	}
	if edit != nil {
		edit(&s)
	}
	return s
}

// applyNew applies f onto an empty spec and fails the test on an error.
func applyNew(t *testing.T, f Service) swarm.ServiceSpec {
	t.Helper()
	var s swarm.ServiceSpec
	if err := f.Apply(&s, testRefs); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return s
}

// wantInvalid checks that err is an *errs.Error of kind ErrInvalid on field
// whose message contains every one of parts.
func wantInvalid(t *testing.T, err error, field string, parts ...string) {
	t.Helper()
	var e *errs.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want an *errs.Error", err, err)
	}
	if e.Kind != errs.ErrInvalid {
		t.Errorf("kind = %v, want %v", e.Kind, errs.ErrInvalid)
	}
	if e.Field != field {
		t.Errorf("field = %q, want %q (error: %v)", e.Field, field, err)
	}
	for _, p := range parts {
		if !strings.Contains(e.Message, p) {
			t.Errorf("message %q doesn't say %q", e.Message, p)
		}
	}
}

func diffSpec(t *testing.T, got, want swarm.ServiceSpec) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("spec mismatch (-want +got):\n%s", diff)
	}
}

package form

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// roundTrip renders spec as a form, sends it through JSON as a client
// would, and applies it onto an empty spec.
func roundTrip(t *testing.T, s swarm.ServiceSpec) swarm.ServiceSpec {
	t.Helper()
	f := FromSpec(s, testRefs)
	body, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var back Service
	if err := json.Unmarshal(body, &back); err != nil {
		t.Fatal(err)
	}
	var got swarm.ServiceSpec
	if err := back.Apply(&got, testRefs); err != nil {
		t.Fatalf("Apply of FromSpec's form %s: %v", body, err)
	}
	return got
}

func TestFromSpec_RoundTrip(t *testing.T) {
	// Nil and empty maps and slices are the same to the engine (and to
	// JSON), and the CLI's parsers make empty ones.
	equateEmpty := cmpopts.EquateEmpty()
	tests := []struct {
		name string
		spec swarm.ServiceSpec
	}{
		{"rich", richFormSpec()},
		{"minimal", spec(func(s *swarm.ServiceSpec) {
			s.TaskTemplate.ContainerSpec = &swarm.ContainerSpec{Image: "nginx"}
		})},
		{"global", swarm.ServiceSpec{
			Annotations:  swarm.Annotations{Name: "agent"},
			TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "agent:1"}},
			Mode:         swarm.ServiceMode{Global: &swarm.GlobalService{}},
		}},
		{
			// Objects present but empty must stay present: a zero
			// UpdateConfig is parallelism 0, not swarm's default of 1.
			name: "empty nested objects",
			spec: spec(func(s *swarm.ServiceSpec) {
				s.TaskTemplate.ContainerSpec = &swarm.ContainerSpec{
					Image:       "nginx",
					Healthcheck: &container.HealthConfig{},
					Mounts: []mount.Mount{
						{Type: mount.TypeVolume, Target: "/v", VolumeOptions: &mount.VolumeOptions{Labels: map[string]string{}, DriverConfig: &mount.Driver{}}},
						{Type: mount.TypeTmpfs, Target: "/t", TmpfsOptions: &mount.TmpfsOptions{}},
					},
					StopGracePeriod: new(time.Duration(0)),
				}
				s.TaskTemplate.Resources = &swarm.ResourceRequirements{Limits: &swarm.Limit{}, Reservations: &swarm.Resources{}}
				s.TaskTemplate.RestartPolicy = &swarm.RestartPolicy{}
				s.UpdateConfig = &swarm.UpdateConfig{}
				s.RollbackConfig = &swarm.UpdateConfig{}
			}),
		},
		{
			name: "odd values",
			spec: spec(func(s *swarm.ServiceSpec) {
				s.TaskTemplate.ContainerSpec = &swarm.ContainerSpec{
					Image: "registry.example.com:5000/team/app@" + nginxDigest,
					Secrets: []*swarm.SecretReference{
						{File: fileTarget("/run/a,b", "", "x", 0), SecretID: "sec-db", SecretName: "db_pw"},
					},
					Mounts: []mount.Mount{{
						Type: mount.TypeVolume, Source: "v", Target: "/with space", Consistency: mount.ConsistencyCached,
						VolumeOptions: &mount.VolumeOptions{Subpath: "sub/dir", DriverConfig: &mount.Driver{Options: map[string]string{"o": `a"b`}}},
					}},
				}
				s.TaskTemplate.Resources = &swarm.ResourceRequirements{
					Limits: &swarm.Limit{NanoCPUs: 1_000_000_001, MemoryBytes: 5_000_001},
				}
				s.EndpointSpec = &swarm.EndpointSpec{Ports: []swarm.PortConfig{
					{Protocol: "sctp", TargetPort: 65535, PublishedPort: 1, PublishMode: "host"},
					{Protocol: "udp", TargetPort: 1, PublishMode: "host"},
				}}
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.spec, roundTrip(t, tt.spec), equateEmpty); diff != "" {
				t.Errorf("spec mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFromSpec_EditIsNoop is the UI's edit page saved unchanged: the whole
// form PATCHed onto the service changes nothing, not even what the form
// can't express.
func TestFromSpec_EditIsNoop(t *testing.T) {
	f := FromSpec(richSpec(), testRefs)
	s := richSpec()
	if err := f.Apply(&s, testRefs); err != nil {
		t.Fatal(err)
	}
	diffSpec(t, s, richSpec())
}

func TestFromSpec_Golden(t *testing.T) {
	got, err := json.MarshalIndent(FromSpec(richSpec(), testRefs), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "fromspec_rich.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("FromSpec(richSpec()) differs from %s (-want +got):\n%s", golden, cmp.Diff(string(want), string(got)))
	}
}

func TestFromSpec_Networks(t *testing.T) {
	tests := []struct {
		name string
		spec swarm.ServiceSpec
		want []string
	}{
		{
			name: "gone network shows its id",
			spec: swarm.ServiceSpec{TaskTemplate: swarm.TaskSpec{Networks: []swarm.NetworkAttachmentConfig{{Target: "net-x"}}}},
			want: []string{"net-x"},
		},
		{
			name: "deprecated service networks",
			spec: swarm.ServiceSpec{Networks: []swarm.NetworkAttachmentConfig{{Target: "net-front", Aliases: []string{"a"}}}},
			want: []string{"name=front,alias=a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := FromSpec(tt.spec, testRefs)
			if f.Networks == nil {
				t.Fatal("no networks")
			}
			if diff := cmp.Diff(tt.want, *f.Networks); diff != "" {
				t.Errorf("networks (-want +got):\n%s", diff)
			}
		})
	}
	f := FromSpec(swarm.ServiceSpec{TaskTemplate: swarm.TaskSpec{Networks: []swarm.NetworkAttachmentConfig{{Target: "net-front"}}}}, nil)
	if diff := cmp.Diff([]string{"net-front"}, *f.Networks); diff != "" {
		t.Errorf("networks without Names (-want +got):\n%s", diff)
	}
}

func TestFromSpec_JobMode(t *testing.T) {
	f := FromSpec(swarm.ServiceSpec{Mode: swarm.ServiceMode{GlobalJob: &swarm.GlobalJob{}}}, nil)
	if f.Mode == nil || *f.Mode != ModeGlobalJob {
		t.Errorf("mode = %v, want %q", f.Mode, ModeGlobalJob)
	}
	if f.Replicas != nil {
		t.Errorf("replicas = %d, want none", *f.Replicas)
	}
}

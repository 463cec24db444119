package stack

import (
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
)

func uint64p(v uint64) *uint64 { return &v }

// baseSpec is a spec as the converter makes it.
func baseSpec() swarm.ServiceSpec {
	return swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: "app_web", Labels: map[string]string{"com.docker.stack.namespace": "app"}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{
				Image: "hello:1", Env: []string{"A=1"}, Labels: map[string]string{},
				Privileges: &swarm.Privileges{},
				Secrets: []*swarm.SecretReference{
					{SecretName: "app_key", SecretID: "s1", File: &swarm.SecretReferenceFileTarget{Name: "other", UID: "0", GID: "0", Mode: 0o444}},
					{SecretName: "app_key", SecretID: "s1", File: &swarm.SecretReferenceFileTarget{Name: "app_key", UID: "0", GID: "0", Mode: 0o444}},
				},
			},
			Placement:     &swarm.Placement{},
			Resources:     &swarm.ResourceRequirements{},
			RestartPolicy: &swarm.RestartPolicy{Delay: durationp(time.Second)},
			Networks:      []swarm.NetworkAttachmentConfig{{Target: "app_default", Aliases: []string{"web"}}},
		},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{}},
		UpdateConfig: &swarm.UpdateConfig{Parallelism: 1},
		EndpointSpec: &swarm.EndpointSpec{Ports: []swarm.PortConfig{{TargetPort: 8080, PublishedPort: 8080}}},
	}
}

func durationp(d time.Duration) *time.Duration { return &d }

// asStored is baseSpec as a 20.10 engine answers it back.
func asStored() swarm.ServiceSpec {
	s := baseSpec()
	cs := *s.TaskTemplate.ContainerSpec
	cs.Isolation = "default"
	cs.Labels = nil
	cs.Secrets = []*swarm.SecretReference{cs.Secrets[1], cs.Secrets[0]}
	s.TaskTemplate.ContainerSpec = &cs
	s.TaskTemplate.Runtime = swarm.RuntimeContainer
	s.TaskTemplate.Placement, s.TaskTemplate.Resources = nil, nil
	s.TaskTemplate.RestartPolicy = &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny, Delay: durationp(time.Second), MaxAttempts: uint64p(0)}
	s.TaskTemplate.Networks = []swarm.NetworkAttachmentConfig{{Target: "netid", Aliases: []string{"web"}}}
	s.Mode = swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: uint64p(1)}}
	s.UpdateConfig = &swarm.UpdateConfig{Parallelism: 1, FailureAction: "pause", Order: "stop-first"}
	s.EndpointSpec = &swarm.EndpointSpec{Mode: "vip", Ports: []swarm.PortConfig{{Protocol: "tcp", TargetPort: 8080, PublishedPort: 8080, PublishMode: "ingress"}}}
	return s
}

func TestSpecEqual(t *testing.T) {
	names := map[string]string{"netid": "app_default", "other": "app_other"}
	tests := []struct {
		name   string
		change func(sent, stored *swarm.ServiceSpec)
		equal  bool
	}{
		{"as the engine stores it", func(sent, stored *swarm.ServiceSpec) {}, true},
		{"one more variable", func(sent, _ *swarm.ServiceSpec) {
			sent.TaskTemplate.ContainerSpec.Env = append(sent.TaskTemplate.ContainerSpec.Env, "B=2")
		}, false},
		{"other network", func(_, stored *swarm.ServiceSpec) { stored.TaskTemplate.Networks[0].Target = "other" }, false},
		{"two replicas", func(sent, _ *swarm.ServiceSpec) { sent.Mode.Replicated.Replicas = uint64p(2) }, false},
		{"global instead of one replica", func(_, stored *swarm.ServiceSpec) {
			stored.Mode = swarm.ServiceMode{Global: &swarm.GlobalService{}}
		}, false},
		{"global both", func(sent, stored *swarm.ServiceSpec) {
			sent.Mode = swarm.ServiceMode{Global: &swarm.GlobalService{}}
			stored.Mode = swarm.ServiceMode{Global: &swarm.GlobalService{}}
		}, true},
		{"job defaults", func(sent, stored *swarm.ServiceSpec) {
			sent.Mode = swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{}}
			stored.Mode = swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{MaxConcurrent: uint64p(1), TotalCompletions: uint64p(1)}}
		}, true},
		{"job of two", func(sent, stored *swarm.ServiceSpec) {
			sent.Mode = swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{MaxConcurrent: uint64p(2)}}
			stored.Mode = swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{MaxConcurrent: uint64p(2), TotalCompletions: uint64p(1)}}
		}, false},
		{"other update order", func(sent, _ *swarm.ServiceSpec) { sent.UpdateConfig.Order = "start-first" }, false},
		{"no update config", func(sent, _ *swarm.ServiceSpec) { sent.UpdateConfig = nil }, false},
		{"dnsrr", func(sent, _ *swarm.ServiceSpec) { sent.EndpointSpec.Mode = "dnsrr" }, false},
		{"empty endpoint spec sent, vip stored", func(sent, stored *swarm.ServiceSpec) {
			sent.EndpointSpec = &swarm.EndpointSpec{}
			stored.EndpointSpec = &swarm.EndpointSpec{Mode: "vip"}
		}, true},
		{"port mode host", func(sent, _ *swarm.ServiceSpec) { sent.EndpointSpec.Ports[0].PublishMode = "host" }, false},
		{"pinned image", func(_, stored *swarm.ServiceSpec) {
			stored.TaskTemplate.ContainerSpec.Image += "@sha256:" + "ab"
		}, false},
		{"restart policy none", func(sent, _ *swarm.ServiceSpec) { sent.TaskTemplate.RestartPolicy.Condition = "none" }, false},
		{"empty label value", func(sent, stored *swarm.ServiceSpec) {
			sent.Labels = map[string]string{"com.docker.stack.namespace": "app", "x": ""}
		}, false},
		{"force update moved", func(_, stored *swarm.ServiceSpec) { stored.TaskTemplate.ForceUpdate = 1 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent, stored := baseSpec(), asStored()
			tt.change(&sent, &stored)
			if got := specEqual(sent, stored, names); got != tt.equal {
				a, _ := normalize(sent, names)
				b, _ := normalize(stored, names)
				t.Errorf("specEqual = %v, want %v\nsent:   %v\nstored: %v", got, tt.equal, a, b)
			}
		})
	}
}

func TestEngineForm_LeavesSpecAlone(t *testing.T) {
	sent := baseSpec()
	engineForm(sent, map[string]string{"app_default": "x"})
	if sent.TaskTemplate.ContainerSpec.Isolation != "" || sent.TaskTemplate.Runtime != "" ||
		sent.TaskTemplate.RestartPolicy.MaxAttempts != nil || sent.UpdateConfig.Order != "" ||
		sent.EndpointSpec.Mode != "" || sent.EndpointSpec.Ports[0].Protocol != "" ||
		sent.TaskTemplate.Networks[0].Target != "app_default" || sent.Mode.Replicated.Replicas != nil ||
		sent.TaskTemplate.ContainerSpec.Secrets[0].File.Name != "other" {
		t.Errorf("engineForm changed what the spec points to: %+v", sent)
	}
}

package form

import (
	"fmt"
	"strings"
	"testing"
)

func repeat(item string, n int) *[]string {
	out := make([]string, n)
	for i := range out {
		out[i] = item
	}
	return &out
}

func manyLabels(n int) *map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprintf("k%d", i)] = "v"
	}
	return &m
}

// TestApply_Limits checks that a form past a limit is refused with the
// field and the limit named, by Apply and by Validate alike, leaving the
// spec alone.
func TestApply_Limits(t *testing.T) {
	tests := []struct {
		name  string
		form  Service
		field string
		says  []string
	}{
		{"port ranges of the whole space", Service{Ports: repeat("0-65535:0-65535", 5)}, "ports[0]", []string{"target port must be 1-65535"}},
		{"wide port ranges", Service{Ports: repeat("1-65535:1-65535", 5)}, "ports[0]", []string{"at most 1024 ports", "spans 65535"}},
		{"range with an invalid target", Service{Ports: &[]string{"1-65535:abc"}}, "ports[0]", []string{`target port "abc"`}},
		{"range with an invalid published half", Service{Ports: &[]string{"x-1:1-65535"}}, "ports[0]", []string{`published port "x"`}},
		{"ranges of different sizes", Service{Ports: &[]string{"1-10:1-20"}}, "ports[0]", []string{"same size"}},
		{"published range for a target range", Service{Ports: &[]string{"8000:80-81"}}, "ports[0]", []string{"same size"}},
		{"bad protocol after a range", Service{Ports: &[]string{"1-65535/icmp"}}, "ports[0]", []string{"not tcp, udp or sctp"}},
		{"too many ports items", Service{Ports: repeat("80", MaxPorts+1)}, "ports", []string{"at most 4096 items, got 4097"}},
		{"ports adding up", Service{Ports: &[]string{"1-1024", "1025-2048", "2049-3072", "3073-4096", "5000"}}, "ports[4]", []string{"more than 4096"}},
		{"invalid ports count", Service{Ports: repeat("no", MaxPorts+1)}, "ports", []string{"at most 4096 items"}},
		{"too many mounts", Service{Mounts: repeat("type=tmpfs,dst=/t", MaxPlacementItems+1)}, "mounts", []string{"at most 100 items"}},
		{"long mount", Service{Mounts: &[]string{"type=volume,src=data,dst=/data,volume-opt=a=" + strings.Repeat("x", MaxItemBytes)}}, "mounts[0]", []string{"at most 4096 bytes"}},
		{"too many networks", Service{Networks: repeat("front", MaxPlacementItems+1)}, "networks", []string{"at most 100 items"}},
		{"too many constraints", Service{Constraints: repeat("node.role==worker", MaxPlacementItems+1)}, "constraints", []string{"at most 100 items"}},
		{"too many placement prefs", Service{PlacementPrefs: repeat("spread=node.labels.zone", MaxPlacementItems+1)}, "placement_prefs", []string{"at most 100 items"}},
		{"too many secrets", Service{Secrets: repeat("db_pw", MaxListItems+1)}, "secrets", []string{"at most 1000 items"}},
		{"too many configs", Service{Configs: repeat("app_cfg", MaxListItems+1)}, "configs", []string{"at most 1000 items"}},
		{"too many env items", Service{Env: repeat("K=V", MaxListItems+1)}, "env", []string{"at most 1000 items"}},
		{"long env item", Service{Env: &[]string{"K=" + strings.Repeat("v", MaxValueBytes)}}, "env[0]", []string{"at most 65536 bytes"}},
		{"too many command words", Service{Command: repeat("x", MaxListItems+1)}, "command", []string{"at most 1000 items"}},
		{"too many args", Service{Args: repeat("x", MaxListItems+1)}, "args", []string{"at most 1000 items"}},
		{"too many health words", Service{Healthcheck: &Healthcheck{Test: repeat("CMD", MaxListItems+1)}}, "healthcheck.test", []string{"at most 1000 items"}},
		{"too many labels", Service{Labels: manyLabels(MaxListItems + 1)}, "labels", []string{"at most 1000 labels"}},
		{"too many container labels", Service{ContainerLabels: manyLabels(MaxListItems + 1)}, "container_labels", []string{"at most 1000 labels"}},
		{"long label key", Service{Labels: &map[string]string{strings.Repeat("k", MaxItemBytes+1): "v"}}, "labels", []string{"at most 4096 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := richSpec()
			wantInvalid(t, tt.form.Apply(&s, testRefs), tt.field, tt.says...)
			diffSpec(t, s, richSpec())
			wantInvalid(t, tt.form.Validate(), tt.field, tt.says...)
		})
	}
}

// TestApply_LimitsAllowTheirBound checks that what the limits allow is
// accepted, ranges expanded.
func TestApply_LimitsAllowTheirBound(t *testing.T) {
	fm := Service{Ports: &[]string{"1-1024", "1025-2048:1025-2048", "2049-3072/udp", "30000-31022:8080", "mode=host,target=9000,published=9000"}}
	if err := fm.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	var s = richSpec()
	if err := fm.Apply(&s, testRefs); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if got := len(s.EndpointSpec.Ports); got != MaxPorts {
		t.Errorf("got %d ports, want %d", got, MaxPorts)
	}
}

// TestValidate_NeedsNoSpec checks that Validate refuses what a form says
// wrongly on its own and accepts what only a spec can judge.
func TestValidate_NeedsNoSpec(t *testing.T) {
	for _, fm := range []Service{
		{Mode: new("replicated-job")}, // the mode of a job, sent back by a UI's edit form
		{Replicas: new(uint64(3))},
		{Networks: &[]string{"not-there"}}, // resolved under the lock, with the engine
	} {
		if err := fm.Validate(); err != nil {
			t.Errorf("Validate(%+v): %v", fm, err)
		}
	}
	bad := Service{Env: &[]string{"=x"}}
	wantInvalid(t, bad.Validate(), "env[0]")
}

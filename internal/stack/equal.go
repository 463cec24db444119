package stack

import (
	"cmp"
	"encoding/json"
	"reflect"
	"slices"

	"github.com/docker/docker/api/types/swarm"
)

// specEqual reports whether a service whose stored spec is stored (as
// ServiceInspect answers it) already is what sending spec would make it,
// so that no update is needed. networkNames maps network IDs to names.
//
// The engine does not store a spec as it is sent. Seen on Docker 20.10
// (API 1.41), for specs converted from compose files by the CLI's convert
// package (TestSpecEqual_AfterEngineRoundTrip checks it):
//   - network attachments name their network by ID, not by name;
//   - defaults are filled: Replicated.Replicas 1, ReplicatedJob.MaxConcurrent
//     1 and TotalCompletions MaxConcurrent, TaskTemplate.Runtime "container",
//     ContainerSpec.Isolation "default", EndpointSpec.Mode "vip" (and an
//     EndpointSpec where none was sent), a port's Protocol "tcp" and
//     PublishMode "ingress", an update or rollback config's FailureAction
//     "pause" and Order "stop-first", a restart policy's Condition "any"
//     and MaxAttempts 0;
//   - empty lists, maps and objects come back absent, and absent ones
//     come back as null (Privileges.CredentialSpec, Placement {}).
//
// So both specs are compared as JSON with those defaults filled, network
// targets by name, and empty values removed (normalize), rather than field
// by field: a field the API gains later is compared without a change here.
func specEqual(spec, stored swarm.ServiceSpec, networkNames map[string]string) bool {
	a, err := normalize(spec, networkNames)
	if err != nil {
		return false
	}
	b, err := normalize(stored, networkNames)
	if err != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}

// normalize is spec as generic JSON, in the form the engine stores it
// (engineForm), with what the engine treats as absent removed (prune).
func normalize(spec swarm.ServiceSpec, networkNames map[string]string) (any, error) {
	raw, err := json.Marshal(engineForm(spec, networkNames))
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	v, _ = prune(v, "")
	return v, nil
}

// engineForm answers a copy of spec with the engine's defaults filled,
// network targets named, and secret and config references in one order
// (the converter sorts them by name only, leaving two references to one
// secret in map order). It never changes what spec points to.
func engineForm(spec swarm.ServiceSpec, networkNames map[string]string) swarm.ServiceSpec {
	switch m := spec.Mode; {
	case m.Replicated != nil && m.Replicated.Replicas == nil:
		one := uint64(1)
		spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &one}
	case m.ReplicatedJob != nil:
		job := *m.ReplicatedJob
		if job.MaxConcurrent == nil {
			one := uint64(1)
			job.MaxConcurrent = &one
		}
		if job.TotalCompletions == nil {
			job.TotalCompletions = job.MaxConcurrent
		}
		spec.Mode.ReplicatedJob = &job
	}
	t := &spec.TaskTemplate
	if t.ContainerSpec != nil {
		cs := *t.ContainerSpec
		if t.Runtime == "" {
			t.Runtime = swarm.RuntimeContainer
		}
		if cs.Isolation == "" {
			cs.Isolation = "default"
		}
		cs.Secrets = slices.Clone(cs.Secrets)
		slices.SortStableFunc(cs.Secrets, func(a, b *swarm.SecretReference) int {
			return cmp.Or(cmp.Compare(a.SecretName, b.SecretName), cmp.Compare(secretTarget(a), secretTarget(b)))
		})
		cs.Configs = slices.Clone(cs.Configs)
		slices.SortStableFunc(cs.Configs, func(a, b *swarm.ConfigReference) int {
			return cmp.Or(cmp.Compare(a.ConfigName, b.ConfigName), cmp.Compare(configTarget(a), configTarget(b)))
		})
		t.ContainerSpec = &cs
	}
	if t.RestartPolicy != nil {
		rp := *t.RestartPolicy
		if rp.Condition == "" {
			rp.Condition = swarm.RestartPolicyConditionAny
		}
		if rp.MaxAttempts == nil {
			zero := uint64(0)
			rp.MaxAttempts = &zero
		}
		t.RestartPolicy = &rp
	}
	if len(t.Networks) > 0 {
		nets := slices.Clone(t.Networks)
		for i := range nets {
			if name, ok := networkNames[nets[i].Target]; ok {
				nets[i].Target = name
			}
		}
		t.Networks = nets
	}
	ep := swarm.EndpointSpec{}
	if spec.EndpointSpec != nil {
		ep = *spec.EndpointSpec
	}
	if ep.Mode == "" {
		ep.Mode = swarm.ResolutionModeVIP
	}
	ep.Ports = slices.Clone(ep.Ports)
	for i := range ep.Ports {
		if ep.Ports[i].Protocol == "" {
			ep.Ports[i].Protocol = swarm.PortConfigProtocolTCP
		}
		if ep.Ports[i].PublishMode == "" {
			ep.Ports[i].PublishMode = swarm.PortConfigPublishModeIngress
		}
	}
	spec.EndpointSpec = &ep
	spec.UpdateConfig = updateConfigForm(spec.UpdateConfig)
	spec.RollbackConfig = updateConfigForm(spec.RollbackConfig)
	return spec
}

func updateConfigForm(c *swarm.UpdateConfig) *swarm.UpdateConfig {
	if c == nil {
		return nil
	}
	out := *c
	if out.FailureAction == "" {
		out.FailureAction = swarm.UpdateFailureActionPause
	}
	if out.Order == "" {
		out.Order = swarm.UpdateOrderStopFirst
	}
	return &out
}

func secretTarget(r *swarm.SecretReference) string {
	if r.File == nil {
		return ""
	}
	return r.File.Name
}

func configTarget(r *swarm.ConfigReference) string {
	if r.File == nil {
		return ""
	}
	return r.File.Name
}

// keepEmpty are the keys whose empty object means something: a service
// mode ({"Replicated":{}} is one replica, {"Global":{}} one per node).
var keepEmpty = map[string]bool{
	"Replicated": true, "Global": true, "ReplicatedJob": true, "GlobalJob": true,
}

// prune removes nulls, empty lists, and empty maps and objects (but
// keepEmpty ones) from a JSON value; it answers whether the value itself
// is empty that way.
func prune(v any, key string) (any, bool) {
	switch v := v.(type) {
	case nil:
		return nil, true
	case []any:
		out := make([]any, 0, len(v))
		for _, e := range v {
			// An element is kept even when empty: its position matters.
			p, _ := prune(e, "")
			out = append(out, p)
		}
		return out, len(out) == 0
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			if p, empty := prune(e, k); !empty {
				out[k] = p
			}
		}
		return out, len(out) == 0 && !keepEmpty[key]
	}
	return v, false
}

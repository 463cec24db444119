package swarm

import (
	"strconv"

	"github.com/swarmops/swarmops/internal/jsonw"
)

// The lists' items written as encoding/json writes them (package jsonw),
// byte for byte, field by field in the order of their structs; the test
// TestAppendJSON_SameAsEncodingJSON compares them on random values of
// every field.

// AppendJSON appends s as encoding/json.Marshal writes it.
func (s *ServiceSummary) AppendJSON(b []byte) ([]byte, error) {
	var err error
	b = append(b, `{"id":`...)
	b = jsonw.String(b, s.ID)
	b = append(b, `,"name":`...)
	b = jsonw.String(b, s.Name)
	b = append(b, `,"image":`...)
	b = jsonw.String(b, s.Image)
	b = append(b, `,"mode":`...)
	b = jsonw.String(b, s.Mode)
	b = append(b, `,"replicas":{"desired":`...)
	b = strconv.AppendUint(b, s.Replicas.Desired, 10)
	b = append(b, `,"running":`...)
	b = strconv.AppendUint(b, s.Replicas.Running, 10)
	b = append(b, `},"ports":`...)
	b = jsonw.Strings(b, s.Ports)
	b = append(b, `,"stack":`...)
	b = jsonw.String(b, s.Stack)
	b = append(b, `,"labels":`...)
	b = jsonw.Labels(b, s.Labels)
	b = append(b, `,"update_status":`...)
	if u := s.UpdateStatus; u == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"state":`...)
		b = jsonw.String(b, u.State)
		if u.Message != "" {
			b = append(b, `,"message":`...)
			b = jsonw.String(b, u.Message)
		}
		if u.StartedAt != nil {
			b = append(b, `,"started_at":`...)
			if b, err = jsonw.TimePtr(b, u.StartedAt); err != nil {
				return b, err
			}
		}
		if u.CompletedAt != nil {
			b = append(b, `,"completed_at":`...)
			if b, err = jsonw.TimePtr(b, u.CompletedAt); err != nil {
				return b, err
			}
		}
		b = append(b, '}')
	}
	b = append(b, `,"created_at":`...)
	if b, err = jsonw.Time(b, s.CreatedAt); err != nil {
		return b, err
	}
	b = append(b, `,"updated_at":`...)
	if b, err = jsonw.Time(b, s.UpdatedAt); err != nil {
		return b, err
	}
	b = append(b, `,"version":`...)
	b = strconv.AppendUint(b, s.Version, 10)
	return append(b, '}'), nil
}

// AppendJSON appends t as encoding/json.Marshal writes it.
func (t *Task) AppendJSON(b []byte) ([]byte, error) {
	var err error
	b = append(b, `{"id":`...)
	b = jsonw.String(b, t.ID)
	b = append(b, `,"service":`...)
	b = jsonw.String(b, t.Service)
	b = append(b, `,"service_id":`...)
	b = jsonw.String(b, t.ServiceID)
	b = append(b, `,"slot":`...)
	b = strconv.AppendInt(b, int64(t.Slot), 10)
	b = append(b, `,"node":`...)
	b = jsonw.String(b, t.Node)
	b = append(b, `,"node_hostname":`...)
	b = jsonw.String(b, t.NodeHostname)
	b = append(b, `,"state":`...)
	b = jsonw.String(b, t.State)
	b = append(b, `,"desired_state":`...)
	b = jsonw.String(b, t.DesiredState)
	b = append(b, `,"message":`...)
	b = jsonw.String(b, t.Message)
	b = append(b, `,"error":`...)
	b = jsonw.String(b, t.Error)
	b = append(b, `,"image":`...)
	b = jsonw.String(b, t.Image)
	b = append(b, `,"created_at":`...)
	if b, err = jsonw.Time(b, t.CreatedAt); err != nil {
		return b, err
	}
	b = append(b, `,"updated_at":`...)
	if b, err = jsonw.Time(b, t.UpdatedAt); err != nil {
		return b, err
	}
	return append(b, '}'), nil
}

// AppendJSON appends n as encoding/json.Marshal writes it.
func (n *NodeSummary) AppendJSON(b []byte) ([]byte, error) {
	var err error
	b = append(b, `{"id":`...)
	b = jsonw.String(b, n.ID)
	b = append(b, `,"hostname":`...)
	b = jsonw.String(b, n.Hostname)
	b = append(b, `,"addr":`...)
	b = jsonw.String(b, n.Addr)
	b = append(b, `,"role":`...)
	b = jsonw.String(b, n.Role)
	b = append(b, `,"leader":`...)
	b = jsonw.Bool(b, n.Leader)
	b = append(b, `,"status":`...)
	b = jsonw.String(b, n.Status)
	b = append(b, `,"availability":`...)
	b = jsonw.String(b, n.Availability)
	b = append(b, `,"reachability":`...)
	b = jsonw.String(b, n.Reachability)
	b = append(b, `,"engine_version":`...)
	b = jsonw.String(b, n.EngineVersion)
	b = append(b, `,"cpus":`...)
	if b, err = jsonw.Float(b, n.CPUs); err != nil {
		return b, err
	}
	b = append(b, `,"memory_bytes":`...)
	b = strconv.AppendInt(b, n.MemoryBytes, 10)
	b = append(b, `,"labels":`...)
	b = jsonw.Labels(b, n.Labels)
	b = append(b, `,"tasks_running":`...)
	b = strconv.AppendInt(b, int64(n.TasksRunning), 10)
	return append(b, '}'), nil
}

// AppendJSON appends n as encoding/json.Marshal writes it.
func (n *NetworkSummary) AppendJSON(b []byte) ([]byte, error) {
	var err error
	b = append(b, `{"id":`...)
	b = jsonw.String(b, n.ID)
	b = append(b, `,"name":`...)
	b = jsonw.String(b, n.Name)
	b = append(b, `,"driver":`...)
	b = jsonw.String(b, n.Driver)
	b = append(b, `,"scope":`...)
	b = jsonw.String(b, n.Scope)
	b = append(b, `,"attachable":`...)
	b = jsonw.Bool(b, n.Attachable)
	b = append(b, `,"internal":`...)
	b = jsonw.Bool(b, n.Internal)
	b = append(b, `,"ingress":`...)
	b = jsonw.Bool(b, n.Ingress)
	b = append(b, `,"labels":`...)
	b = jsonw.Labels(b, n.Labels)
	b = append(b, `,"subnets":`...)
	b = jsonw.Strings(b, n.Subnets)
	b = append(b, `,"gateways":`...)
	b = jsonw.Strings(b, n.Gateways)
	b = append(b, `,"created_at":`...)
	if b, err = jsonw.Time(b, n.CreatedAt); err != nil {
		return b, err
	}
	b = append(b, `,"stack":`...)
	b = jsonw.String(b, n.Stack)
	return append(b, '}'), nil
}

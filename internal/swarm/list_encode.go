package swarm

import "strconv"

// The lists' items written as encoding/json writes them (list_json.go),
// byte for byte, field by field in the order of their structs; the test
// TestAppendJSON_SameAsEncodingJSON compares them on random values of
// every field.

// AppendJSON appends s as encoding/json.Marshal writes it.
func (s *ServiceSummary) AppendJSON(b []byte) ([]byte, error) {
	var err error
	b = append(b, `{"id":`...)
	b = AppendJSONString(b, s.ID)
	b = append(b, `,"name":`...)
	b = AppendJSONString(b, s.Name)
	b = append(b, `,"image":`...)
	b = AppendJSONString(b, s.Image)
	b = append(b, `,"mode":`...)
	b = AppendJSONString(b, s.Mode)
	b = append(b, `,"replicas":{"desired":`...)
	b = strconv.AppendUint(b, s.Replicas.Desired, 10)
	b = append(b, `,"running":`...)
	b = strconv.AppendUint(b, s.Replicas.Running, 10)
	b = append(b, `},"ports":`...)
	b = appendJSONStrings(b, s.Ports)
	b = append(b, `,"stack":`...)
	b = AppendJSONString(b, s.Stack)
	b = append(b, `,"labels":`...)
	b = appendJSONLabels(b, s.Labels)
	b = append(b, `,"update_status":`...)
	if u := s.UpdateStatus; u == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"state":`...)
		b = AppendJSONString(b, u.State)
		if u.Message != "" {
			b = append(b, `,"message":`...)
			b = AppendJSONString(b, u.Message)
		}
		if u.StartedAt != nil {
			b = append(b, `,"started_at":`...)
			if b, err = appendJSONTime(b, *u.StartedAt); err != nil {
				return b, err
			}
		}
		if u.CompletedAt != nil {
			b = append(b, `,"completed_at":`...)
			if b, err = appendJSONTime(b, *u.CompletedAt); err != nil {
				return b, err
			}
		}
		b = append(b, '}')
	}
	b = append(b, `,"created_at":`...)
	if b, err = appendJSONTime(b, s.CreatedAt); err != nil {
		return b, err
	}
	b = append(b, `,"updated_at":`...)
	if b, err = appendJSONTime(b, s.UpdatedAt); err != nil {
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
	b = AppendJSONString(b, t.ID)
	b = append(b, `,"service":`...)
	b = AppendJSONString(b, t.Service)
	b = append(b, `,"service_id":`...)
	b = AppendJSONString(b, t.ServiceID)
	b = append(b, `,"slot":`...)
	b = strconv.AppendInt(b, int64(t.Slot), 10)
	b = append(b, `,"node":`...)
	b = AppendJSONString(b, t.Node)
	b = append(b, `,"node_hostname":`...)
	b = AppendJSONString(b, t.NodeHostname)
	b = append(b, `,"state":`...)
	b = AppendJSONString(b, t.State)
	b = append(b, `,"desired_state":`...)
	b = AppendJSONString(b, t.DesiredState)
	b = append(b, `,"message":`...)
	b = AppendJSONString(b, t.Message)
	b = append(b, `,"error":`...)
	b = AppendJSONString(b, t.Error)
	b = append(b, `,"image":`...)
	b = AppendJSONString(b, t.Image)
	b = append(b, `,"created_at":`...)
	if b, err = appendJSONTime(b, t.CreatedAt); err != nil {
		return b, err
	}
	b = append(b, `,"updated_at":`...)
	if b, err = appendJSONTime(b, t.UpdatedAt); err != nil {
		return b, err
	}
	return append(b, '}'), nil
}

// AppendJSON appends n as encoding/json.Marshal writes it.
func (n *NodeSummary) AppendJSON(b []byte) ([]byte, error) {
	var err error
	b = append(b, `{"id":`...)
	b = AppendJSONString(b, n.ID)
	b = append(b, `,"hostname":`...)
	b = AppendJSONString(b, n.Hostname)
	b = append(b, `,"addr":`...)
	b = AppendJSONString(b, n.Addr)
	b = append(b, `,"role":`...)
	b = AppendJSONString(b, n.Role)
	b = append(b, `,"leader":`...)
	b = appendJSONBool(b, n.Leader)
	b = append(b, `,"status":`...)
	b = AppendJSONString(b, n.Status)
	b = append(b, `,"availability":`...)
	b = AppendJSONString(b, n.Availability)
	b = append(b, `,"reachability":`...)
	b = AppendJSONString(b, n.Reachability)
	b = append(b, `,"engine_version":`...)
	b = AppendJSONString(b, n.EngineVersion)
	b = append(b, `,"cpus":`...)
	if b, err = appendJSONFloat(b, n.CPUs); err != nil {
		return b, err
	}
	b = append(b, `,"memory_bytes":`...)
	b = strconv.AppendInt(b, n.MemoryBytes, 10)
	b = append(b, `,"labels":`...)
	b = appendJSONLabels(b, n.Labels)
	b = append(b, `,"tasks_running":`...)
	b = strconv.AppendInt(b, int64(n.TasksRunning), 10)
	return append(b, '}'), nil
}

// AppendJSON appends n as encoding/json.Marshal writes it.
func (n *NetworkSummary) AppendJSON(b []byte) ([]byte, error) {
	var err error
	b = append(b, `{"id":`...)
	b = AppendJSONString(b, n.ID)
	b = append(b, `,"name":`...)
	b = AppendJSONString(b, n.Name)
	b = append(b, `,"driver":`...)
	b = AppendJSONString(b, n.Driver)
	b = append(b, `,"scope":`...)
	b = AppendJSONString(b, n.Scope)
	b = append(b, `,"attachable":`...)
	b = appendJSONBool(b, n.Attachable)
	b = append(b, `,"internal":`...)
	b = appendJSONBool(b, n.Internal)
	b = append(b, `,"ingress":`...)
	b = appendJSONBool(b, n.Ingress)
	b = append(b, `,"labels":`...)
	b = appendJSONLabels(b, n.Labels)
	b = append(b, `,"subnets":`...)
	b = appendJSONStrings(b, n.Subnets)
	b = append(b, `,"gateways":`...)
	b = appendJSONStrings(b, n.Gateways)
	b = append(b, `,"created_at":`...)
	if b, err = appendJSONTime(b, n.CreatedAt); err != nil {
		return b, err
	}
	b = append(b, `,"stack":`...)
	b = AppendJSONString(b, n.Stack)
	return append(b, '}'), nil
}

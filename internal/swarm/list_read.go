package swarm

import (
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
)

// Readers of the engine's list answers (list_body.go): each reads one
// element into the fields its list shows, leaving the others zero.

var (
	serviceFields       = newFields("ID", "Version", "CreatedAt", "UpdatedAt", "Spec", "Endpoint", "UpdateStatus", "ServiceStatus")
	versionFields       = newFields("Index")
	serviceSpecFields   = newFields("Name", "Labels", "TaskTemplate", "Mode", "EndpointSpec")
	taskSpecFields      = newFields("ContainerSpec")
	imageFields         = newFields("Image")
	modeFields          = newFields("Replicated", "Global", "ReplicatedJob", "GlobalJob")
	replicasFields      = newFields("Replicas")
	portsFields         = newFields("Ports")
	portFields          = newFields("Name", "Protocol", "TargetPort", "PublishedPort", "PublishMode")
	updateStatusFields  = newFields("State", "StartedAt", "CompletedAt", "Message")
	serviceStatusFields = newFields("RunningTasks", "DesiredTasks", "CompletedTasks")
	nameFields          = newFields("ID", "Spec")
	specNameFields      = newFields("Name")
	taskFields          = newFields("ID", "CreatedAt", "UpdatedAt", "Spec", "ServiceID", "Slot", "NodeID", "Status", "DesiredState")
	taskStatusFields    = newFields("State", "Message", "Err")
	runningFields       = newFields("NodeID", "Status")
	stateFields         = newFields("State")
	networkFields       = newFields("Name", "Id", "Created", "Scope", "Driver", "IPAM", "Internal", "Attachable", "Ingress", "Labels")
	ipamFields          = newFields("Config")
	ipamConfigFields    = newFields("Subnet", "Gateway")
	nodeFields          = newFields("ID", "Spec", "Description", "Status", "ManagerStatus")
	nodeSpecFields      = newFields("Role", "Availability", "Labels")
	nodeDescFields      = newFields("Hostname", "Engine", "Resources")
	engineFields        = newFields("EngineVersion")
	resourcesFields     = newFields("NanoCPUs", "MemoryBytes")
	nodeStatusFields    = newFields("State", "Addr")
	managerFields       = newFields("Leader", "Reachability", "Addr")
)

// readServiceSummary reads a service's summary.
func readServiceSummary(r *jsonIn, sum *ServiceSummary) {
	var s swarm.Service
	readService(r, &s)
	*sum = summarize(s)
}

// readService reads what summarize needs of a service into s.
func readService(r *jsonIn, s *swarm.Service) {
	if !r.obj() {
		return
	}
	for i := r.member(serviceFields); i >= 0; i = r.member(serviceFields) {
		switch i {
		case 0:
			r.str(&s.ID)
		case 1:
			if r.obj() {
				for r.member(versionFields) == 0 {
					r.uint64(&s.Version.Index)
				}
			}
		case 2:
			r.time(&s.CreatedAt)
		case 3:
			r.time(&s.UpdatedAt)
		case 4:
			readServiceSpec(r, &s.Spec)
		case 5:
			if r.obj() {
				for r.member(portsFields) == 0 {
					readPorts(r, &s.Endpoint.Ports)
				}
			}
		case 6:
			readUpdateStatus(r, &s.UpdateStatus)
		case 7:
			readServiceStatus(r, &s.ServiceStatus)
		}
	}
}

func readServiceSpec(r *jsonIn, spec *swarm.ServiceSpec) {
	if !r.obj() {
		return
	}
	for i := r.member(serviceSpecFields); i >= 0; i = r.member(serviceSpecFields) {
		switch i {
		case 0:
			r.str(&spec.Name)
		case 1:
			r.labels(&spec.Labels)
		case 2:
			// Only the image, which summarize shows.
			var img string
			if cs := spec.TaskTemplate.ContainerSpec; cs != nil {
				img = cs.Image
			}
			readTaskSpecImageInto(r, &img)
			spec.TaskTemplate.ContainerSpec = nil
			if img != "" {
				spec.TaskTemplate.ContainerSpec = &swarm.ContainerSpec{Image: img}
			}
		case 3:
			readMode(r, &spec.Mode)
		case 4:
			if r.null() {
				spec.EndpointSpec = nil
			} else if r.obj() {
				if spec.EndpointSpec == nil {
					spec.EndpointSpec = &swarm.EndpointSpec{}
				}
				for r.member(portsFields) == 0 {
					readPorts(r, &spec.EndpointSpec.Ports)
				}
			}
		}
	}
}

func readMode(r *jsonIn, m *swarm.ServiceMode) {
	if !r.obj() {
		return
	}
	for i := r.member(modeFields); i >= 0; i = r.member(modeFields) {
		switch i {
		case 0:
			if r.null() {
				m.Replicated = nil
			} else if r.obj() {
				if m.Replicated == nil {
					m.Replicated = &swarm.ReplicatedService{}
				}
				for r.member(replicasFields) == 0 {
					r.uint64Ptr(&m.Replicated.Replicas)
				}
			}
		case 1:
			if present(r) {
				m.Global = &swarm.GlobalService{}
			} else {
				m.Global = nil
			}
		case 2:
			if present(r) {
				m.ReplicatedJob = &swarm.ReplicatedJob{}
			} else {
				m.ReplicatedJob = nil
			}
		case 3:
			if present(r) {
				m.GlobalJob = &swarm.GlobalJob{}
			} else {
				m.GlobalJob = nil
			}
		}
	}
}

// present reads an object whose presence alone counts: false for null.
func present(r *jsonIn) bool {
	if !r.obj() {
		return false
	}
	for r.next() {
		r.skip()
	}
	return r.err == nil
}

func readPorts(r *jsonIn, ports *[]swarm.PortConfig) {
	if r.null() {
		*ports = nil
		return
	}
	if !r.arr() {
		return
	}
	out := []swarm.PortConfig{}
	for r.elem() {
		var p swarm.PortConfig
		if r.obj() {
			for i := r.member(portFields); i >= 0; i = r.member(portFields) {
				switch i {
				case 0:
					r.str(&p.Name)
				case 1:
					r.str((*string)(&p.Protocol))
				case 2:
					r.uint32(&p.TargetPort)
				case 3:
					r.uint32(&p.PublishedPort)
				case 4:
					r.str((*string)(&p.PublishMode))
				}
			}
		}
		out = append(out, p)
	}
	*ports = out
}

func readUpdateStatus(r *jsonIn, dst **swarm.UpdateStatus) {
	if r.null() {
		*dst = nil
		return
	}
	if !r.obj() {
		return
	}
	u := &swarm.UpdateStatus{}
	for i := r.member(updateStatusFields); i >= 0; i = r.member(updateStatusFields) {
		switch i {
		case 0:
			r.str((*string)(&u.State))
		case 1:
			r.timePtr(&u.StartedAt)
		case 2:
			r.timePtr(&u.CompletedAt)
		case 3:
			r.str(&u.Message)
		}
	}
	*dst = u
}

func readServiceStatus(r *jsonIn, dst **swarm.ServiceStatus) {
	if r.null() {
		*dst = nil
		return
	}
	if !r.obj() {
		return
	}
	st := &swarm.ServiceStatus{}
	for i := r.member(serviceStatusFields); i >= 0; i = r.member(serviceStatusFields) {
		switch i {
		case 0:
			r.uint64(&st.RunningTasks)
		case 1:
			r.uint64(&st.DesiredTasks)
		case 2:
			r.uint64(&st.CompletedTasks)
		}
	}
	*dst = st
}

// serviceName is a service as task lists name it.
type serviceName struct{ ID, Name string }

// readServiceName reads a service's ID and name.
func readServiceName(r *jsonIn, s *serviceName) {
	if !r.obj() {
		return
	}
	for i := r.member(nameFields); i >= 0; i = r.member(nameFields) {
		switch i {
		case 0:
			r.str(&s.ID)
		case 1:
			if r.obj() {
				for r.member(specNameFields) == 0 {
					r.str(&s.Name)
				}
			}
		}
	}
}

// readTaskRow reads a task as taskRow makes its row of it, but for its
// service's name and its node's hostname.
func readTaskRow(r *jsonIn, t *Task) {
	if !r.obj() {
		return
	}
	for i := r.member(taskFields); i >= 0; i = r.member(taskFields) {
		switch i {
		case 0:
			r.str(&t.ID)
		case 1:
			r.time(&t.CreatedAt)
		case 2:
			r.time(&t.UpdatedAt)
		case 3:
			readTaskSpecImageInto(r, &t.Image)
		case 4:
			r.strSame(&t.ServiceID, 0)
		case 5:
			r.int(&t.Slot)
		case 6:
			r.strSame(&t.Node, 1)
		case 7:
			if r.obj() {
				for j := r.member(taskStatusFields); j >= 0; j = r.member(taskStatusFields) {
					switch j {
					case 0:
						r.strSame(&t.State, 2)
					case 1:
						r.strSame(&t.Message, 3)
					case 2:
						r.strSame(&t.Error, 4)
					}
				}
			}
		case 8:
			r.strSame(&t.DesiredState, 5)
		}
	}
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	t.Image = imageName(t.Image)
}

// readTaskSpecImageInto reads a task spec's container image into image
// ("" without a container spec).
func readTaskSpecImageInto(r *jsonIn, image *string) {
	if !r.obj() {
		return
	}
	for r.member(taskSpecFields) == 0 {
		if r.null() {
			*image = ""
			continue
		}
		if !r.obj() {
			continue
		}
		for r.member(imageFields) == 0 {
			r.strSame(image, 6)
		}
	}
}

// runningTask is a task as runningTasks counts it.
type runningTask struct{ NodeID, State string }

// readRunningTask reads a task's node and state.
func readRunningTask(r *jsonIn, t *runningTask) {
	if !r.obj() {
		return
	}
	for i := r.member(runningFields); i >= 0; i = r.member(runningFields) {
		switch i {
		case 0:
			r.strSame(&t.NodeID, 0)
		case 1:
			if r.obj() {
				for r.member(stateFields) == 0 {
					r.strSame(&t.State, 1)
				}
			}
		}
	}
}

// readNetworkSummary reads a network's summary.
func readNetworkSummary(r *jsonIn, sum *NetworkSummary) {
	var n network.Inspect
	readNetwork(r, &n)
	*sum = summarizeNetwork(n)
}

// readNetwork reads what summarizeNetwork needs of a network into n.
func readNetwork(r *jsonIn, n *network.Inspect) {
	if !r.obj() {
		return
	}
	for i := r.member(networkFields); i >= 0; i = r.member(networkFields) {
		switch i {
		case 0:
			r.str(&n.Name)
		case 1:
			r.str(&n.ID)
		case 2:
			r.time(&n.Created)
		case 3:
			r.str(&n.Scope)
		case 4:
			r.str(&n.Driver)
		case 5:
			if r.obj() {
				for r.member(ipamFields) == 0 {
					readIPAMConfig(r, &n.IPAM.Config)
				}
			}
		case 6:
			r.bool(&n.Internal)
		case 7:
			r.bool(&n.Attachable)
		case 8:
			r.bool(&n.Ingress)
		case 9:
			r.labels(&n.Labels)
		}
	}
}

func readIPAMConfig(r *jsonIn, dst *[]network.IPAMConfig) {
	if r.null() {
		*dst = nil
		return
	}
	if !r.arr() {
		return
	}
	out := []network.IPAMConfig{}
	for r.elem() {
		var c network.IPAMConfig
		if r.obj() {
			for i := r.member(ipamConfigFields); i >= 0; i = r.member(ipamConfigFields) {
				switch i {
				case 0:
					r.str(&c.Subnet)
				case 1:
					r.str(&c.Gateway)
				}
			}
		}
		out = append(out, c)
	}
	*dst = out
}

// readNode reads into n what node lists, health and task names use of a
// node: its ID, role, availability and labels, hostname, engine version
// and resources, state and address, and manager status.
func readNode(r *jsonIn, n *swarm.Node) {
	if !r.obj() {
		return
	}
	for i := r.member(nodeFields); i >= 0; i = r.member(nodeFields) {
		switch i {
		case 0:
			r.str(&n.ID)
		case 1:
			if r.obj() {
				for j := r.member(nodeSpecFields); j >= 0; j = r.member(nodeSpecFields) {
					switch j {
					case 0:
						r.str((*string)(&n.Spec.Role))
					case 1:
						r.str((*string)(&n.Spec.Availability))
					case 2:
						r.labels(&n.Spec.Labels)
					}
				}
			}
		case 2:
			readNodeDescription(r, &n.Description)
		case 3:
			if r.obj() {
				for j := r.member(nodeStatusFields); j >= 0; j = r.member(nodeStatusFields) {
					switch j {
					case 0:
						r.str((*string)(&n.Status.State))
					case 1:
						r.str(&n.Status.Addr)
					}
				}
			}
		case 4:
			readManagerStatus(r, &n.ManagerStatus)
		}
	}
}

func readNodeDescription(r *jsonIn, d *swarm.NodeDescription) {
	if !r.obj() {
		return
	}
	for i := r.member(nodeDescFields); i >= 0; i = r.member(nodeDescFields) {
		switch i {
		case 0:
			r.str(&d.Hostname)
		case 1:
			if r.obj() {
				for r.member(engineFields) == 0 {
					r.str(&d.Engine.EngineVersion)
				}
			}
		case 2:
			if r.obj() {
				for j := r.member(resourcesFields); j >= 0; j = r.member(resourcesFields) {
					switch j {
					case 0:
						r.int64(&d.Resources.NanoCPUs)
					case 1:
						r.int64(&d.Resources.MemoryBytes)
					}
				}
			}
		}
	}
}

// readManagerStatus reads a manager status as encoding/json does: null
// clears it, an object fills the one there is (or a new one).
func readManagerStatus(r *jsonIn, dst **swarm.ManagerStatus) {
	if r.null() {
		*dst = nil
		return
	}
	if !r.obj() {
		return
	}
	m := *dst
	if m == nil {
		m = &swarm.ManagerStatus{}
	}
	for i := r.member(managerFields); i >= 0; i = r.member(managerFields) {
		switch i {
		case 0:
			r.bool(&m.Leader)
		case 1:
			r.str((*string)(&m.Reachability))
		case 2:
			r.str(&m.Addr)
		}
	}
	*dst = m
}

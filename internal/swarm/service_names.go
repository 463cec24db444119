package swarm

import "sync"

// serviceNameCache remembers the names of services by ID, per cluster,
// for task lists. A service's name never changes (the engine refuses to
// rename one), so a name once read stays right for as long as its ID
// exists. A task list then reads the service list only when one of its
// tasks names a service this instance has not seen yet: a service created
// since, through this instance or any other, is read then, so a list
// after a write anywhere names its tasks; the steady state costs the
// engine the task list and the node list only (issue 16).
//
// Hostnames are not kept: a node's can change when its machine is renamed,
// and the node list costs the engine little.
//
// The tasks of a service removed since keep the name this instance read
// for it; an instance that never read it names them by the service's ID,
// as the engine's lists no longer hold it.
type serviceNameCache struct {
	mu sync.Mutex
	by map[string]map[string]string // cluster → service ID → name
	n  int                          // names kept, in all clusters
}

// maxServiceNames bounds the names kept (about 100 bytes each); past it,
// the cache starts again empty.
const maxServiceNames = 100_000

func newServiceNameCache() *serviceNameCache {
	return &serviceNameCache{by: map[string]map[string]string{}}
}

// warm reports whether names of cluster were read before.
func (c *serviceNameCache) warm(cluster string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.by[cluster]) > 0
}

// learn keeps the names of services, just read from cluster's engine,
// and marks as gone the IDs of missing that are not among them: IDs the
// tasks read before named, which a service list read after them no longer
// holds, are of services removed since, and an ID is never used again.
// Their tasks are named by the ID.
func (c *serviceNameCache) learn(cluster string, services []serviceName, missing []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n+len(services)+len(missing) > maxServiceNames {
		clear(c.by)
		c.n = 0
	}
	m := c.by[cluster]
	if m == nil {
		m = make(map[string]string, len(services))
		c.by[cluster] = m
	}
	for _, s := range services {
		if _, ok := m[s.ID]; !ok {
			c.n++
		}
		m[s.ID] = s.Name
	}
	for _, id := range missing {
		if _, ok := m[id]; !ok {
			c.n++
			m[id] = "" // nameTasks names it by its ID
		}
	}
}

// of answers the services of the tasks in parts whose names cluster's
// cache holds, and the IDs of those it does not.
func (c *serviceNameCache) of(cluster string, parts [][]Task) (services []serviceName, missing []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.by[cluster]
	seen := map[string]bool{}
	last := "\x00" // no ID
	for _, p := range parts {
		for i := range p {
			id := p[i].ServiceID
			if id == last || seen[id] { // a service's tasks mostly come in a row
				continue
			}
			last, seen[id] = id, true
			if name, ok := m[id]; ok {
				services = append(services, serviceName{ID: id, Name: name})
			} else {
				missing = append(missing, id)
			}
		}
	}
	return services, missing
}

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
// as the engine's lists no longer hold it. Such tasks live only until the
// swarm reaps them (seconds): meanwhile, pages of a task list cut on one
// instance and continued on another may place them apart.
type serviceNameCache struct {
	mu  sync.Mutex
	by  map[string]map[string]string // cluster → service ID → name
	n   int                          // names kept, in all clusters
	max int                          // names kept at most; past it, the cache starts again empty
}

// maxServiceNames bounds the names kept (about 100 bytes each).
const maxServiceNames = 100_000

func newServiceNameCache() *serviceNameCache {
	return &serviceNameCache{by: map[string]map[string]string{}, max: maxServiceNames}
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
	m := c.by[cluster]
	added := len(missing) // at most
	for _, s := range services {
		if _, ok := m[s.ID]; !ok {
			added++
		}
	}
	if c.n+added > c.max {
		clear(c.by)
		c.n, m = 0, nil
	}
	if m == nil {
		m = make(map[string]string, len(services)+len(missing))
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

// namesOf answers the services of missing as services names them, and
// those services lack as gone (named by their IDs): what learn keeps of
// them, without reading the cache again (another list may have emptied
// it meanwhile).
func namesOf(services []serviceName, missing []string) []serviceName {
	byID := make(map[string]string, len(services))
	for _, s := range services {
		byID[s.ID] = s.Name
	}
	out := make([]serviceName, len(missing))
	for i, id := range missing {
		out[i] = serviceName{ID: id, Name: byID[id]}
	}
	return out
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

// Package swarm is the domain: registered clusters and everything done on
// them — services, tasks, nodes, networks, secrets, configs, logs, events.
// It owns the engine client pool (one client per endpoint, reused), the
// failover from a manager that stops answering to the next one, and the
// translation of engine errors into the kinds of package errs.
//
// Every mutation takes its lock (package lock) and is recorded in the audit
// log. swarm never imports fiber, fasthttp, go-redis or redsync: transports
// and backends depend on it, not the reverse.
package swarm

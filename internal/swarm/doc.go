// Package swarm is the domain: registered clusters and everything done on
// them — services, tasks, nodes, networks, secrets, configs, logs, events.
// It owns the engine client pool (one client per endpoint, reused), the
// failover from a manager that stops answering to the next one (fleet.go),
// and the translation of engine errors into the kinds of package errs
// (engine_errors.go).
//
// Its answers are its own types: a cluster is a ClusterView, which says
// what TLS material there is (TLSSummary) and cannot hold any of it; TLS
// material comes in as TLS. The store's records (store.Cluster, store.TLS)
// stay inside the package.
//
// Every change of a registered cluster goes through Fleet.mutate
// (mutate.go): input checked, object found, its lock (package lock) taken,
// the engine written once, the outcome read back separately where there is
// one to answer, the attempt recorded in the audit log. Registering a
// cluster (AddCluster, InitCluster) is audited on its own, and stores the
// registration under one lock for all registrations.
// Files are named by noun and verb, as docker/cli's are: nodes.go reads
// nodes, node_update.go, node_remove.go, node_join.go and node_leave.go
// change them; clusters.go reads clusters, cluster_add.go, cluster_init.go,
// cluster_update.go and cluster_remove.go change registrations.
//
// swarm never imports fiber, fasthttp, go-redis or redsync: transports
// and backends depend on it, not the reverse.
package swarm

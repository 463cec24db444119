// Package testenv starts the real components SwarmOps is tested against —
// private dockerd engines in network namespaces, redis-server, nginx, a
// registry, Chromium — under a temporary directory, and stops them when the
// test binary ends (see Main). A component that cannot be started fails the
// test with a message saying how to get it; nothing is skipped, except
// under -short, where every component skips its test (Require) and no
// program is started.
//
// # Engines and swarms
//
// StartSwarm(t, SwarmOptions{Managers: 3, Workers: 1}) answers a swarm of
// the test's own (stopped at t.Cleanup); SharedSwarm(t) one of 3 managers
// and 1 worker started once per test process (stopped by Main), which tests
// share and must leave as they found it; StartNode and StartTLSNode answer
// engines outside any swarm. Each Node is a dockerd in its own network
// namespace with its own address 198.18.N.K, reachable from the test at
// Endpoint (tcp://198.18.N.K:2375) and, even when Disconnect()ed, at Socket.
// Node.Stop, Kill (a crash), Start (same data; waits until it is back in its
// swarm), Disconnect/Reconnect (a partition) and Docker (the CLI) act on it.
//
// Every engine has the images HelloImage1 and HelloImage2 (testdata/hello,
// built without a registry; GET / answers {"hostname","version"}). No
// engine can pull: create services with QueryRegistry: false. This kernel
// has no IPVS, so publish ports in host mode (they answer on the node's
// Addr) and use endpoint mode dnsrr; a service that publishes a port must
// be on an overlay network (engines have no docker0). ScratchImageContext
// and Node.BuildImage make more images from host binaries.
//
// Leader elections take about 10-15 s (swarm's default raft election tick).
//
// # Machine-wide names
//
// Several test processes run at once on one machine, so each process that
// starts engines holds a slot N (flock on /run/swarmops-test/slot-N.lock)
// for its life: bridge sobrN with 198.18.N.1/24, namespaces soN-K, veths
// soNhK. A process that dies without cleaning up (SIGKILL, a test timeout)
// leaves its slot to the next holder, which cleans it first, or to
//
//	go run ./internal/testenv/cmd/testenv-sweep
//
// which cleans every slot no running process holds. ^C and SIGTERM stop
// everything before the process exits. SWARMOPS_TEST_KEEP=1 keeps the
// directories (engine logs: <Node.Dir>/log) after the run.
//
// # Other servers
//
// Redis/NewRedis (redis-server), StartNginx with NginxConf (nginx),
// StartRegistry/StartRegistryWith and StartChromium (a chromedp context)
// are stopped when the test ends. Poll and WaitHTTP wait with a deadline
// and say what they waited for.
//
// # Registries
//
// StartRegistryWith starts Debian's docker-registry (Distribution 2.8)
// with deletes enabled (NoDelete: they answer 405), on loopback or, with
// Bridge, on the bridge so engines can push to it. User and Password are
// its only credentials: htpasswd basic auth, or with Token `auth: token`
// against a token service the test process runs on the same host (ES256
// JWTs with the signing certificate in x5c; TokenRequests counts the
// tokens issued; TokenTTL is how long the registry accepts one). TLS
// serves https with a certificate of a fresh CA (Registry.CA). PushRandom
// and PushRandomIndex push small random images (linux/amd64; an index of
// linux/amd64 and linux/arm64/v8) under tags without an engine.
//
// testenv is imported only by tests. It needs root (namespaces, mounts).
package testenv

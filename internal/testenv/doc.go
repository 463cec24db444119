// Package testenv starts the real components SwarmOps is tested against —
// private dockerd engines in network namespaces, redis-server, nginx, a
// registry, Chromium — under a temporary directory, and stops them when the
// test binary ends (see Main). A component that cannot be started fails the
// test with a message saying how to get it; nothing is skipped.
//
// testenv is imported only by tests.
package testenv

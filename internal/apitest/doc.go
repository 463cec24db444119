// Package apitest builds real SwarmOps instances for tests — the same wiring
// as production (package server) over a bbolt file or a real Redis — and
// gives typed HTTP clients that log in by session (with CSRF) or API
// token. It is imported only by tests.
package apitest

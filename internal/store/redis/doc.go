// Package redis implements store.Store over a shared Redis, so any number of
// SwarmOps instances see one state. Every key lives under a prefix
// ("swarmops:" by default). Creates are atomic across instances (SET NX in
// small Lua scripts), sessions and idempotency keys expire through Redis
// TTLs, the audit log is a capped stream.
//
// Connect builds the go-redis client from configuration (URL, password,
// Sentinel) without contacting Redis; a Redis that is down at start only
// makes calls fail with errs.ErrUnavailable until it is back, and go-redis
// reconnects by itself. CredentialsRefused tells refused credentials (a
// setting to fix) from an outage. SetLibraryLog routes go-redis's own log
// lines, at a bounded rate.
// In Sentinel mode (Options.WaitReplicas) each write that must survive a
// failover is followed by WAIT on its own connection, so it is
// acknowledged once a replica has it (see write for when it is not).
//
// redis imports go-redis and the store and errs packages only: no bbolt,
// no redsync, no transport, no Docker type.
package redis

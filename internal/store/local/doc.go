// Package local implements store.Store over one bbolt file, swarmops.db, for
// a single SwarmOps instance. bbolt's file lock keeps a second process off
// the file; every call is one bbolt transaction, so a crash leaves the file
// as it was after the last committed call.
//
// Each aggregate has its own bucket of JSON values. Sessions, failure
// counters and idempotency keys carry their expiry: expired entries are never
// answered and a background sweep removes them.
//
// local imports bbolt and the store and errs packages only: no Redis, no
// transport, no Docker type.
package local

// Package redis implements lock.Locker with redsync over the shared Redis,
// so a key is held by one SwarmOps instance at a time. A lease lives TTL
// unless extended; its holder extends it every TTL/3 in the background, so
// a holder that dies frees the key after at most TTL.
//
// redis imports redsync, go-redis and the lock and errs packages only: no
// store, no transport, no Docker type.
package redis

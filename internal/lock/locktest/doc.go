// Package locktest is the contract every lock.Locker passes: exclusion,
// waiting bounded by the locker's wait and the caller's context, prompt
// release, independent keys, harmless double release, and leases that
// outlive their TTL while held.
//
// locktest imports the lock and errs packages and testing only; it never
// imports a backend.
package locktest

// Package locktest is the contract every lock.Locker passes: exclusion,
// waiting bounded by the locker's wait and the caller's context, prompt
// release, independent keys, harmless double release, and leases that
// outlive their TTL while held. A backend hands the suite a test hook that
// says when an Acquire waits for a taken key, so no test sleeps hoping a
// waiter is blocked.
//
// locktest imports the lock and errs packages and testing only; it never
// imports a backend.
package locktest

// Package local implements lock.Locker as an in-process keyed mutex, for the
// single-instance local mode. A lease lives until released: there is no
// other instance to hand the key to, so Lost never closes.
//
// local imports the lock and errs packages only: no Redis.
package local

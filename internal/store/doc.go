// Package store declares the persistent state SwarmOps shares between its
// instances: small interfaces, one per aggregate, the records they hold, and
// the errors they return. Implementations live in store/local (one bbolt
// file, a single instance) and store/redis (any number of instances); both
// pass the same suite in store/storetest.
//
// Backends return errs.ErrNotFound, errs.ErrConflict or errs.ErrUnavailable
// (wrapped) and never leak their own error types. store imports no backend
// library, no transport and no Docker type.
package store

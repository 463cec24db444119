// Package storetest is the contract every store.Store backend passes: one
// suite, run by each backend's tests against a real instance (a bbolt file,
// a real redis-server), so the backends cannot drift apart.
//
// storetest imports the store and errs packages, testing and go-cmp only;
// it never imports a backend (the backends' tests import it).
package storetest

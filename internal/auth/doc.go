// Package auth owns who may do what: local users with bcrypt-hashed
// passwords, browser sessions, API tokens, the three roles and the
// permissions each grants. Sessions and tokens live in the shared store, so
// a session made on one instance is valid on every other and logout ends it
// everywhere; the store keeps only hashes of cookie values and token texts.
//
// auth imports the store interfaces, never a backend, a transport or the
// Docker client.
package auth

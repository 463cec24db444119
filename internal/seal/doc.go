// Package seal encrypts secrets at rest with SWARMOPS_SECRET_KEY: engine
// TLS keys, registry passwords and the secret files of stack revisions are
// sealed before they reach a store and opened after they leave it, so
// nothing stored in Redis or the bbolt file alone reveals them.
//
// It owns the key (LoadKey: the configured one, or in local mode a key
// file created once in the data directory) and the sealed format: one
// version byte (1), four bytes of key id (the start of the key's SHA-256),
// a random 12-byte nonce and the AES-256-GCM ciphertext, the version and
// key id authenticated with it. The key id lets Open say a key does not
// match rather than that data is corrupt, and lets a key rotation tell
// which key sealed a blob.
//
// seal imports the standard library and internal/errs only: it never sees
// a store, a transport or an engine.
package seal

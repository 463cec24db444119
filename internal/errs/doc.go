// Package errs declares the few kinds of failure SwarmOps knows and the
// public error that carries one of them to a client.
//
// Every layer wraps its errors with %w; the HTTP adapters map the kind to a
// status once, in one place. Only the message of an *Error is shown to
// clients: a bare sentinel reaches them as its generic text, so a cause that
// names an internal address or a secret is logged, never answered.
//
// errs imports nothing of SwarmOps and no transport or storage library.
package errs

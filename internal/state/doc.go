// Package state keeps the shared store fit to outlive the builds that
// use it: the schema version and its migrations (Prepare), secrets sealed
// at rest (Sealing), key rotation (Rotate), and export and import of the
// whole state (Export, Import) for backups and moves between backends.
//
// It sits between the domain and the store: it imports store, seal and
// lock, never a backend, a transport or an engine. Every function here
// works on the raw store, whose secrets are sealed; only Sealing's answer
// shows them in the clear, to the domain.
package state

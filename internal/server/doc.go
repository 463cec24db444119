// Package server assembles one SwarmOps instance — store and locker for the
// configured mode, the domain services, the HTTP app — in one readable
// function (New), and runs it with a graceful drain (Serve). cmd/swarmops
// and the integration tests build instances the same way through it.
//
// server is the one package that knows every layer, so its TestLayers
// checks the arrows between them (no store in a transport, no fiber or
// backend in the domain).
package server

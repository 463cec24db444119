// Package lock serializes operations on one swarm object across every
// SwarmOps instance. lock/redis uses redsync over the shared Redis; lock/local
// is an in-process keyed mutex for the single-instance local mode. Both pass
// lock/locktest.
//
// A lease expires by itself when its holder dies, and is extended in the
// background while the holder works. lock imports no backend library.
package lock

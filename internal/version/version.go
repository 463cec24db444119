// Package version holds the build's version and commit, stamped by the
// Makefile with -ldflags "-X".
package version

// Version and Commit are set at link time; "dev" and "unknown" otherwise.
var (
	Version = "dev"
	Commit  = "unknown"
)

// API is the REST API generation served under /api/v1.
const API = "v1"

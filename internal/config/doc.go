// Package config turns flags and SWARMOPS_* environment variables into one
// immutable Config, from a single table of keys (see keys.go). Flags win
// over variables, variables over the original SwarmOps' names, those over
// defaults; a secret may be read from the file named by its *_FILE
// variable. Load reports every mistake at once, one line each, naming the
// variable.
//
// config imports no transport, store or engine package.
package config

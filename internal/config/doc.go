// Package config turns flags and SWARMOPS_* environment variables into one
// immutable Config, from a single table of keys (see keys.go). Flags win
// over variables, variables over the original SwarmOps' names, those over
// defaults; a secret may be read from the file named by its *_FILE
// variable. Flags may stand anywhere among the positional arguments. Load
// reports every mistake at once, one line each, naming the variable the
// user set, and answers a warning for each SWARMOPS_* variable no key
// reads (with the closest name) in Config.Warnings.
//
// config imports no transport, store or engine package.
package config

// Package stack turns a compose file into the swarm objects `docker stack
// deploy -c file.yml NAME` makes, and deploys and removes them.
//
// It owns no parser and no converter of its own: Load runs the docker
// CLI's compose loader (github.com/docker/cli/cli/compose/loader) and
// converter (.../compose/convert) in the same steps as the CLI's
// loader.LoadComposefile and deployCompose, so the specs are the CLI's.
// A stack is a label (com.docker.stack.namespace) on its services,
// networks, secrets and configs, as for the CLI, so stacks deployed by
// either tool are seen and managed by the other.
//
// Where SwarmOps differs from the CLI it says so at the spot: a compose
// file never reads the SwarmOps host (its env_file, secret and config
// files come from the request, interpolation from the request's env),
// everything that can be checked is checked before anything is written,
// an unchanged service is not updated at all, and prune runs last.
//
// Load writes the request's files into a private temporary directory for
// the loader and removes it before returning; Deploy and Remove talk to one
// engine through client.APIClient. Translating engine errors into the
// kinds of package errs is left to the caller (package swarm), except
// where this package knows better (a secret whose content changed).
//
// stack imports no transport, store or lock package, and never os/exec:
// nothing here shells out to the docker CLI (imports_test.go checks it).
package stack

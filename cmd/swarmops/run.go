package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/swarmops/swarmops/internal/config"
	"github.com/swarmops/swarmops/internal/server"
	"github.com/swarmops/swarmops/internal/version"
)

var errUsage = errors.New("usage")

const usage = `usage: swarmops [command] [flags]

commands:
  serve                      serve the API and UI (the default)
  version                    print the version
  healthcheck                exit 0 when the local instance answers /healthz
  user list                  list users of the configured store
  user add NAME [ROLE]       add a user (role viewer|operator|admin, default viewer);
                             the password is read from standard input
  user passwd NAME           set a user's password, read from standard input;
                             ends the user's sessions
  user token NAME TOKEN-NAME [EXPIRES-IN]
                             print a new API token of the user (default 1h):
                             the way in when no one can sign in
  state export [--audit] [--output FILE]
                             write the store's state (clusters, users, tokens,
                             registries, stack history; audit with --audit) as
                             one JSON archive, secrets still sealed; not
                             sessions, login throttles or idempotency keys
  state import [--merge] FILE|-
                             load an archive into an empty store (--merge: into
                             one with records, keeping those); needs the
                             archive's SWARMOPS_SECRET_KEY. In local mode, stop
                             SwarmOps before either
  secret-key generate        print a new random key for SWARMOPS_SECRET_KEY
  secret-key show            print the ids of the configured keys (never the keys)
  secret-key rotate          re-seal every stored secret with the first key of
                             SWARMOPS_SECRET_KEY=NEW,OLD (local mode without it:
                             a new key file; stop SwarmOps first)

Flags and SWARMOPS_* variables configure every command; flags may stand
anywhere after the command (swarmops user add gina --data-dir=/srv/so).
`

// help writes the commands, then every flag with its variable.
func help(w io.Writer) {
	fmt.Fprint(w, usage)
	fmt.Fprintln(w)
	config.PrintFlags(w)
}

// wantsHelp reports whether args ask for help anywhere before "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// loadConfig is config.Load for the commands an operator runs by hand:
// what the configuration warns about goes to standard error.
func loadConfig(args []string, env config.Env, stderr io.Writer) (config.Config, []string, error) {
	cfg, rest, err := config.Load(args, env, stderr)
	if err == nil {
		for _, w := range cfg.Warnings {
			fmt.Fprintln(stderr, "swarmops: warning:", w)
		}
	}
	return cfg, rest, err
}

// run is the whole program: main only turns its error into an exit code.
func run(ctx context.Context, args []string, env config.Env, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	if cmd == "help" || wantsHelp(args) {
		help(stdout)
		return nil
	}
	switch cmd {
	case "serve":
		cfg, rest, err := config.Load(args, env, stderr)
		if err != nil {
			return err
		}
		if len(rest) > 0 {
			return fmt.Errorf("%w: serve takes no arguments, got %q", errUsage, rest)
		}
		// The log (standard output) has the configuration's warnings;
		// standard error what the operator must see whatever the log level.
		return server.Run(ctx, cfg, stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "swarmops %s (commit %s, api %s)\n", version.Version, version.Commit, version.API)
		return nil
	case "healthcheck":
		cfg, _, err := config.Load(args, env, stderr)
		if err != nil {
			return err
		}
		return healthcheck(ctx, cfg)
	case "user":
		return userCommand(ctx, args, env, stdin, stdout, stderr)
	case "state":
		return stateCommand(ctx, args, env, stdin, stdout, stderr)
	case "secret-key":
		return secretKeyCommand(ctx, args, env, stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/swarmops/swarmops/internal/audit"
	"github.com/swarmops/swarmops/internal/config"
	"github.com/swarmops/swarmops/internal/seal"
	"github.com/swarmops/swarmops/internal/server"
	"github.com/swarmops/swarmops/internal/state"
	"github.com/swarmops/swarmops/internal/store"
	"github.com/swarmops/swarmops/internal/version"
)

// stateFlags are the state command's own flags, taken out of the
// arguments before the configuration's flags are parsed.
type stateFlags struct {
	audit, merge bool
	output       string
}

// stateCommand exports the configured store's state to a JSON archive or
// imports one, for backups and for moving between local and redis mode.
func stateCommand(ctx context.Context, args []string, env config.Env, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "export" && args[0] != "import") {
		return fmt.Errorf("%w: state needs export or import (swarmops state export [--audit] [--output FILE], swarmops state import [--merge] FILE|-)", errUsage)
	}
	verb := args[0]
	flags, rest, err := takeStateFlags(verb, args[1:])
	if err != nil {
		return err
	}
	cfg, rest, err := loadConfig(rest, env, stderr)
	if err != nil {
		return err
	}
	st, err := openStateStore(ctx, cfg, verb)
	if err != nil {
		return err
	}
	defer st.Close()
	by := fmt.Sprintf("swarmops %s on %s", version.Version, cfg.InstanceID)
	if verb == "export" {
		if len(rest) > 0 {
			return fmt.Errorf("%w: state export takes no arguments, got %q (write to a file with --output FILE)", errUsage, rest)
		}
		return stateExport(ctx, st, flags, by, stdout, stderr)
	}
	if len(rest) != 1 {
		return fmt.Errorf("%w: state import [--merge] FILE|- (one archive, - for standard input), got %q", errUsage, rest)
	}
	box, err := importBox(cfg)
	if err != nil {
		return err
	}
	return stateImport(ctx, st, rest[0], state.ImportOptions{Merge: flags.merge, Box: box, By: by}, stdin, stderr)
}

// takeStateFlags answers the verb's own flags and the other arguments:
// the configuration's flags (each takes a value), then the operands,
// wherever they stood.
func takeStateFlags(verb string, args []string) (stateFlags, []string, error) {
	var f stateFlags
	var rest, operands []string
	for i := 0; i < len(args); i++ {
		name, value, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasPrefix(args[i], "-") || args[i] == "-" {
			operands = append(operands, args[i])
			continue
		}
		switch {
		case verb == "export" && name == "audit" && !hasValue:
			f.audit = true
		case verb == "import" && name == "merge" && !hasValue:
			f.merge = true
		case verb == "export" && name == "output":
			if !hasValue {
				if i+1 >= len(args) {
					return f, nil, fmt.Errorf("%w: --output needs a file name (--output FILE)", errUsage)
				}
				i++
				value = args[i]
			}
			if value == "" {
				return f, nil, fmt.Errorf("%w: --output needs a file name (--output FILE)", errUsage)
			}
			f.output = value
		default:
			rest = append(rest, args[i])
			if !hasValue && name != "h" && name != "help" && i+1 < len(args) {
				i++
				rest = append(rest, args[i])
			}
		}
	}
	return f, append(rest, operands...), nil
}

// openStateStore opens the configured store. In local mode a running
// SwarmOps holds the file, and the operator is told to stop it.
func openStateStore(ctx context.Context, cfg config.Config, verb string) (store.Store, error) {
	st, _, err := server.OpenStore(ctx, cfg)
	if err != nil {
		if cfg.Store == "local" && strings.Contains(err.Error(), "in use by another SwarmOps process") {
			return nil, fmt.Errorf("%w: stop SwarmOps first, then run swarmops state %s again (the local file has one user at a time)", err, verb)
		}
		return nil, err
	}
	if err := st.Ping(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	return st, nil
}

// importBox loads the keys the instances using the store will have, as
// swarmops serve does, without making a key file in local mode: the
// archive's key is the one to bring.
func importBox(cfg config.Config) (*seal.Box, error) {
	if cfg.SecretKey == "" && cfg.Store == "local" {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, seal.KeyFileName)); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	}
	keys, _, err := seal.LoadKey(cfg.SecretKey, cfg.Store, cfg.DataDir)
	if err != nil || keys == nil {
		return nil, err
	}
	return seal.New(keys...)
}

func stateExport(ctx context.Context, st store.Store, f stateFlags, by string, stdout, stderr io.Writer) error {
	a, err := state.Export(ctx, st, state.ExportOptions{Audit: f.audit, By: by})
	if err != nil {
		return err
	}
	to := "standard output"
	if f.output == "" || f.output == "-" {
		if err := a.Write(stdout); err != nil {
			return err
		}
	} else {
		if err := writeFileAtomic(f.output, a.Write); err != nil {
			return err
		}
		to = f.output
	}
	keys := "no sealed secrets"
	if len(a.KeyIDs) > 0 {
		keys = "secrets sealed with key ids " + strings.Join(a.KeyIDs, ", ") + " (back the key up apart from the archive)"
	}
	fmt.Fprintf(stderr, "exported %s from the %s store (schema %d) to %s; %s\n", a.Counts(), st.Kind(), a.Schema, to, keys)
	return nil
}

func stateImport(ctx context.Context, st store.Store, from string, opts state.ImportOptions, stdin io.Reader, stderr io.Writer) error {
	r := stdin
	if from != "-" {
		f, err := os.Open(from)
		if err != nil {
			return fmt.Errorf("state import: %w", err)
		}
		defer f.Close()
		r = f
	}
	a, err := state.ReadArchive(r)
	if err != nil {
		return err
	}
	rep, err := state.Import(ctx, st, a, opts)
	if err != nil {
		return err
	}
	audit.New(st, "cli").Record(ctx, "cli", "state.import", "", fmt.Sprintf("archive of %s by %s", a.ExportedAt.Format(time.RFC3339), a.By), nil)
	fmt.Fprintf(stderr, "imported %s into the %s store (schema %d)\n", rep.Imported, st.Kind(), rep.Schema)
	if rep.Skipped != (state.Counts{}) {
		fmt.Fprintf(stderr, "kept what the store had (skipped): %s\n", rep.Skipped)
	}
	if rep.DefaultCluster != "" {
		fmt.Fprintf(stderr, "default cluster: %s\n", rep.DefaultCluster)
	}
	if len(rep.Plaintext) > 0 {
		fmt.Fprintf(stderr, "warning: the archive held secrets in the clear (%s); the next swarmops serve seals them (it needs SWARMOPS_SECRET_KEY in redis mode)\n",
			strings.Join(rep.Plaintext, ", "))
	}
	return nil
}

// writeFileAtomic writes path through write, readable by its owner only,
// so that it never holds half an archive: a temporary file beside it is
// renamed over it when complete.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after the rename, there is none
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

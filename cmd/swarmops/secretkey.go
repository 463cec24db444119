package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/swarmops/swarmops/internal/audit"
	"github.com/swarmops/swarmops/internal/config"
	"github.com/swarmops/swarmops/internal/seal"
	"github.com/swarmops/swarmops/internal/server"
	"github.com/swarmops/swarmops/internal/state"
	"github.com/swarmops/swarmops/internal/store"
)

// secretKeyCommand makes, shows and rotates the key that seals secrets at
// rest.
func secretKeyCommand(ctx context.Context, args []string, env config.Env, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: secret-key needs generate, show or rotate", errUsage)
	}
	verb := args[0]
	if verb == "generate" {
		key, err := seal.NewKey()
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, seal.EncodeKey(key))
		return nil
	}
	if verb != "show" && verb != "rotate" {
		return fmt.Errorf("%w: secret-key %q: expected generate, show or rotate", errUsage, verb)
	}
	cfg, rest, err := loadConfig(args[1:], env, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("%w: secret-key %s takes no arguments, got %q", errUsage, verb, rest)
	}
	keys, _, err := seal.LoadKey(cfg.SecretKey, cfg.Store, cfg.DataDir)
	if err != nil {
		return err
	}
	if verb == "show" {
		if keys == nil {
			fmt.Fprintln(stdout, "no key: SWARMOPS_SECRET_KEY is not set (redis mode stores no secret without it)")
			return nil
		}
		box, err := seal.New(keys...)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "sealing key id %s\n", box.KeyID())
		if ids := box.KeyIDs(); len(ids) > 1 {
			fmt.Fprintf(stdout, "also opening key ids %s\n", strings.Join(ids[1:], ", "))
		}
		return nil
	}
	return rotateSecretKey(ctx, cfg, keys, stdout)
}

// rotateSecretKey re-seals every stored secret under a new key. With
// SWARMOPS_SECRET_KEY set, the new key is its first and the old ones
// follow; in local mode without it, a new key is made and the data
// directory's key file rewritten (first with both keys, so a crash midway
// loses nothing, then with the new one alone).
func rotateSecretKey(ctx context.Context, cfg config.Config, keys [][]byte, stdout io.Writer) error {
	keyFile := ""
	switch {
	case cfg.SecretKey != "" && len(keys) < 2:
		return fmt.Errorf("%w: secret-key rotate re-seals under the first key of SWARMOPS_SECRET_KEY what older ones sealed: "+
			"give the new key first and the old one after a comma (SWARMOPS_SECRET_KEY=NEW,OLD; `swarmops secret-key generate` makes one)", errUsage)
	case cfg.SecretKey == "" && cfg.Store == "redis":
		return fmt.Errorf("%w: secret-key rotate in redis mode needs SWARMOPS_SECRET_KEY=NEW,OLD (new key first)", errUsage)
	case cfg.SecretKey == "":
		keyFile = filepath.Join(cfg.DataDir, seal.KeyFileName)
	}

	raw, locker, err := server.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer raw.Close()
	if err := readyStore(ctx, raw); err != nil {
		return err
	}
	if keyFile != "" {
		fresh, err := seal.NewKey()
		if err != nil {
			return err
		}
		keys = append([][]byte{fresh}, keys...)
		if err := seal.ReplaceKeyFile(keyFile, keys); err != nil {
			return fmt.Errorf("write the new key to %s: %w", keyFile, err)
		}
	}
	box, err := seal.New(keys...)
	if err != nil {
		return err
	}
	rep, err := state.Rotate(ctx, raw, locker, box)
	if err != nil {
		return fmt.Errorf("rotate: %w (run it again: what is done stays done)", err)
	}
	if keyFile != "" {
		if err := seal.ReplaceKeyFile(keyFile, keys[:1]); err != nil {
			return fmt.Errorf("everything is sealed with key id %s, but dropping the old key from %s failed: %w", box.KeyID(), keyFile, err)
		}
	}
	audit.New(raw, cfg.InstanceID+"/cli").Record(ctx, "cli", "state.secret-key.rotate", "", box.KeyID(), nil)

	fmt.Fprintf(stdout, "re-sealed %d cluster TLS keys, %d registry passwords and %d stack revisions with key id %s\n",
		rep.Clusters, rep.Registries, rep.StackRevisions, rep.KeyID)
	if keyFile != "" {
		fmt.Fprintf(stdout, "%s now holds the new key only; back it up\n", keyFile)
	} else {
		fmt.Fprintln(stdout, "every secret now opens with the new key alone: set SWARMOPS_SECRET_KEY to it on every instance")
	}
	return nil
}

// readyStore checks that the store answers and that this build may use
// it (its schema is not newer than this build reads).
func readyStore(ctx context.Context, st store.Store) error {
	if err := st.Ping(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	s, err := state.ReadSchema(ctx, st)
	if err != nil {
		return err
	}
	return state.CheckReadable(s)
}

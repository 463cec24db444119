package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/swarmops/swarmops/internal/audit"
	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/config"
	"github.com/swarmops/swarmops/internal/server"
	localstore "github.com/swarmops/swarmops/internal/store/local"
)

// userCommand manages users directly in the configured store, for
// recovering a lost admin password.
func userCommand(ctx context.Context, args []string, env config.Env, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: user needs add, passwd, token or list", errUsage)
	}
	verb := args[0]
	if verb != "list" && verb != "add" && verb != "passwd" && verb != "token" {
		return fmt.Errorf("%w: user %q: expected add, passwd, token or list", errUsage, verb)
	}
	cfg, rest, err := loadConfig(args[1:], env, stderr)
	if err != nil {
		return err
	}
	if err := existingStore(cfg); err != nil {
		return err
	}
	st, _, err := server.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	// Which store, on standard error: a user "not found" in the wrong one
	// must not look like a missing user.
	fmt.Fprintf(stderr, "swarmops: user %s: %s\n", verb, describeStore(cfg))
	if err := readyStore(ctx, st); err != nil {
		return err
	}
	ctx = audit.WithActor(ctx, audit.Actor{User: "cli"})
	svc := auth.NewService(st, audit.New(st, cfg.InstanceID+"/cli"), auth.Options{SessionTTL: cfg.SessionTTL})
	switch verb {
	case "list":
		users, err := svc.ListUsers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USERNAME\tROLE\tSOURCE\tCREATED")
		for _, u := range users {
			src := u.Source
			if u.Disabled {
				src += " (refused by SSO)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Username, u.Role, src, u.CreatedAt.Format("2006-01-02 15:04"))
		}
		return tw.Flush()
	case "add":
		if len(rest) < 1 || len(rest) > 2 {
			return fmt.Errorf("%w: user add NAME [ROLE]", errUsage)
		}
		role := ""
		if len(rest) == 2 {
			role = rest[1]
		}
		pw, err := readPassword(stdin)
		if err != nil {
			return err
		}
		u, err := svc.CreateUser(ctx, rest[0], pw, role)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %s added with role %s\n", u.Username, u.Role)
		return nil
	case "passwd":
		if len(rest) != 1 {
			return fmt.Errorf("%w: user passwd NAME", errUsage)
		}
		pw, err := readPassword(stdin)
		if err != nil {
			return err
		}
		if _, err := svc.UpdateUser(ctx, rest[0], auth.UserChange{Password: &pw}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "password of %s changed; their sessions ended\n", rest[0])
		return nil
	case "token":
		// The way in when no one can sign in (password sign-in off, the
		// identity provider down): an API token of any user.
		if len(rest) < 2 || len(rest) > 3 {
			return fmt.Errorf("%w: user token NAME TOKEN-NAME [EXPIRES-IN, e.g. 1h]", errUsage)
		}
		expires := "1h"
		if len(rest) == 3 {
			expires = rest[2]
		}
		text, t, err := svc.CreateToken(ctx, rest[0], rest[1], expires)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "API token %q of %s, expiring %s; it is shown once:\n", t.Name, rest[0], t.ExpiresAt.UTC().Format("2006-01-02 15:04 MST"))
		fmt.Fprintln(stdout, text)
		return nil
	}
	return fmt.Errorf("%w: user %q: expected add, passwd, token or list", errUsage, verb)
}

// existingStore refuses a local data directory without a store: the user
// commands change a store, and one they made would be an empty store
// nobody serves (run from another directory, ./data is not the server's).
// Only swarmops serve (and state import, to restore) make a store.
func existingStore(cfg config.Config) error {
	if cfg.Store != "local" {
		return nil
	}
	file := filepath.Join(cfg.DataDir, localstore.FileName)
	if _, err := os.Stat(file); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return nil // present, or a reason OpenStore reports
	}
	abs, _ := filepath.Abs(file)
	return fmt.Errorf("no SwarmOps store at %s: the user commands change an existing store and never create one; "+
		"point them at the server's data directory (--data-dir or SWARMOPS_DATA_DIR, now %q), or set SWARMOPS_STORE=redis and its "+
		"SWARMOPS_REDIS_* settings as the server has them", abs, cfg.DataDir)
}

// describeStore says which store cfg names, without secrets.
func describeStore(cfg config.Config) string {
	switch {
	case cfg.Store == "local":
		abs, err := filepath.Abs(filepath.Join(cfg.DataDir, localstore.FileName))
		if err != nil {
			abs = filepath.Join(cfg.DataDir, localstore.FileName)
		}
		return "local store " + abs
	case len(cfg.RedisSentinels) > 0:
		return fmt.Sprintf("redis store (master %q via sentinels %s), key prefix %q", cfg.RedisMaster, strings.Join(cfg.RedisSentinels, ","), cfg.RedisPrefix)
	default:
		return fmt.Sprintf("redis store %s, key prefix %q", config.RedactURL(cfg.RedisURL), cfg.RedisPrefix)
	}
}

func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("give the password on standard input, e.g. echo 'long-secret' | swarmops user passwd admin")
	}
	return pw, nil
}

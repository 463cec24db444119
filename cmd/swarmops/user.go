package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/swarmops/swarmops/internal/audit"
	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/config"
	"github.com/swarmops/swarmops/internal/server"
)

// userCommand manages users directly in the configured store, for
// recovering a lost admin password.
func userCommand(ctx context.Context, args []string, env config.Env, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: user needs add, passwd, token or list", errUsage)
	}
	verb := args[0]
	cfg, rest, err := config.Load(args[1:], env, stderr)
	if err != nil {
		return err
	}
	st, _, err := server.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
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

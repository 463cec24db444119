// Command swarmops serves the SwarmOps API and web UI, and manages its
// users offline (swarmops user add|passwd|token|list).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/swarmops/swarmops/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], config.OSEnv(), os.Stdin, os.Stdout, os.Stderr)
	var problems config.Problems
	switch {
	case err == nil, errors.Is(err, config.ErrHelp):
	case errors.As(err, &problems):
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, "swarmops: configuration:", p)
		}
		os.Exit(2)
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "swarmops:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "swarmops:", err)
		os.Exit(1)
	}
}

package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/swarmops/swarmops/internal/config"
)

// healthcheck asks the local instance's /healthz; the image's HEALTHCHECK
// runs it (the image has no shell or curl). It checks liveness, not
// readiness: a store outage must not make the orchestrator kill every
// instance.
func healthcheck(ctx context.Context, cfg config.Config) error {
	_, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort("127.0.0.1", port)+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: /healthz answered %s", resp.Status)
	}
	return nil
}

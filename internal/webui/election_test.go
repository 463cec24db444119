package webui_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/testenv"
)

// TestServices_StaleBannerDuringElection: when the swarm loses its leader,
// the services page still shows the services, from this instance's
// snapshot, under a banner saying since when and why.
func TestServices_StaleBannerDuringElection(t *testing.T) {
	t.Parallel()
	sw := testenv.StartSwarm(t, testenv.SwarmOptions{Managers: 3, Name: "ue"})
	in, b := startUI(t, apitest.WithEngineTimeout(3*time.Second))
	admin := in.Admin(t)
	admin.MustDo(http.MethodPost, "/api/v1/clusters", map[string]any{"name": "ue", "endpoint": sw.Managers[0].Endpoint}, nil, 201)
	admin.HTTP.Timeout = 2 * time.Minute
	admin.MustDo(http.MethodPost, "/api/v1/clusters/ue/services?wait=60s", map[string]any{"name": "ue-web", "image": testenv.HelloImage1, "replicas": 1}, nil, 201)

	b.open("/c/ue/services")
	b.waitText(`main`, "ue-web", 10*time.Second)
	if n := b.count(`.flash.stale`); n != 0 {
		t.Fatalf("a stale banner before anything went wrong (%d)", n)
	}
	b.clean("the services page")

	// Managers[0] initialised the swarm: it is the leader.
	if err := sw.Managers[0].Kill(); err != nil {
		t.Fatal(err)
	}
	testenv.Poll(t, 20*time.Second, "the services page to show the stale banner", func() error {
		if status := b.open("/c/ue/services"); status != 200 {
			return fmt.Errorf("status %d", status)
		}
		if b.count(`.flash.stale`) == 0 {
			return fmt.Errorf("no banner yet")
		}
		return nil
	})
	if banner := b.text(`.flash.stale`); !strings.Contains(banner, "The swarm is electing a new leader") || !strings.Contains(banner, "UTC") {
		t.Errorf("banner %q", banner)
	}
	if !strings.Contains(b.text(`main`), "ue-web") {
		t.Error("the stale page lost the service list")
	}
	b.screenshot("services_stale")
	// The page's live updates may have failed while no manager answered;
	// nothing else may have.
	for _, p := range b.takeProblems() {
		if !strings.Contains(p, "/events") && !strings.Contains(p, "status of 503") {
			t.Errorf("while the swarm elects: %s", p)
		}
	}
}

package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/idempotency"
	"github.com/swarmops/swarmops/internal/testenv"
)

// TestIdempotency_KeysPerUserBounded: two instances share Redis. One user
// spreads idempotency.MaxKeysPerUser keyed requests over both (each answer
// is kept for replay); the next new key, through either instance, is
// refused with 429 naming the header, while a key already held still
// replays and another user's keys are not counted.
func TestIdempotency_KeysPerUserBounded(t *testing.T) {
	r := testenv.Redis(t)
	prefix := fmt.Sprintf("swarmops-test:%s:%d:", t.Name(), time.Now().UnixNano())
	in1 := apitest.Start(t, apitest.Config(t, apitest.WithRedis(r.URL(0), prefix)))
	in2 := apitest.Start(t, apitest.Config(t, apitest.WithRedis(r.URL(0), prefix)))
	admins := []*apitest.Client{in1.Admin(t), in2.Admin(t)}
	other := in1.UserWithRole(t, admins[0], "idem-other", "admin")

	// A refused call (404, the cluster is not registered) is answered and
	// its answer kept, as any answer below 500.
	send := func(c *apitest.Client, key string) (*http.Response, string) {
		t.Helper()
		resp, text, err := c.Raw(http.MethodDelete, "/api/v1/clusters/idem-none", nil, map[string]string{idempotency.Field: key})
		if err != nil {
			t.Fatalf("DELETE with key %s: %v", key, err)
		}
		return resp, text
	}
	var wg sync.WaitGroup
	errc := make(chan string, idempotency.MaxKeysPerUser)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < idempotency.MaxKeysPerUser; i += 8 {
				resp, text, err := admins[i%2].Raw(http.MethodDelete, "/api/v1/clusters/idem-none", nil,
					map[string]string{idempotency.Field: fmt.Sprintf("key-%d", i)})
				if err != nil || resp.StatusCode != http.StatusNotFound {
					errc <- fmt.Sprintf("key-%d: %v %v %s", i, err, resp.StatusCode, text)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for e := range errc {
		t.Fatalf("a request below the limit: %s", e)
	}

	for i, c := range admins {
		resp, text := send(c, fmt.Sprintf("one-too-many-%d", i))
		if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(text, idempotency.Field) || resp.Header.Get("Retry-After") == "" {
			t.Errorf("instance %d, key %d+1: %d %s (Retry-After %q), want 429 naming %s with Retry-After",
				i+1, idempotency.MaxKeysPerUser, resp.StatusCode, text, resp.Header.Get("Retry-After"), idempotency.Field)
		}
	}
	if resp, text := send(admins[1], "key-0"); resp.StatusCode != http.StatusNotFound || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("a key already held, at the limit: %d %s (replayed %q), want its 404 replayed", resp.StatusCode, text, resp.Header.Get("Idempotent-Replayed"))
	}
	if resp, text := send(other, "key-0"); resp.StatusCode == http.StatusTooManyRequests {
		t.Errorf("another user's new key: %d %s, want it not counted with the first user's", resp.StatusCode, text)
	}
}

package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/lock"
	redislock "github.com/swarmops/swarmops/internal/lock/redis"
	"github.com/swarmops/swarmops/internal/testenv"
)

// TestLocked_AnswersRetryAfter: while another instance holds a service's
// lock, a change of that service answers 423 with Retry-After and changes
// nothing; once the lock is free, the same change goes through.
func TestLocked_AnswersRetryAfter(t *testing.T) {
	sw := testenv.SharedSwarm(t)
	m := sw.Managers[0]
	r := testenv.Redis(t)
	prefix := fmt.Sprintf("lk-%d:", time.Now().UnixNano())
	in := apitest.Start(t, apitest.Config(t, apitest.WithRedis(r.URL(0), prefix)))
	admin := in.Admin(t)
	register(t, admin, "lk", m.Endpoint)
	var created struct{ ID string }
	admin.MustDo(http.MethodPost, "/api/v1/clusters/lk/services", map[string]any{"name": "lk", "image": testenv.HelloImage1, "replicas": 0}, &created, 201)
	removeAfter(t, m, "lk")

	// "Another instance": its own Redis client and locker on the same prefix.
	client := goredis.NewClient(&goredis.Options{Addr: r.Addr})
	defer client.Close()
	other := redislock.New(client, redislock.Options{Prefix: prefix + "lock:", Wait: time.Second})
	lease, err := other.Acquire(context.Background(), lock.ObjectKey("lk", "service", created.ID))
	if err != nil {
		t.Fatal(err)
	}
	resp, text, err := admin.Raw(http.MethodPost, "/api/v1/clusters/lk/services/lk/scale", strings.NewReader(`{"replicas":2}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if e := apitest.ParseError(t, text); resp.StatusCode != 423 || e.Error.Code != "locked" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("while locked: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), text)
	}
	if got := *inspect(t, m, "lk").Spec.Mode.Replicated.Replicas; got != 0 {
		t.Fatalf("a refused change scaled the service to %d", got)
	}
	if err := lease.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	admin.MustDo(http.MethodPost, "/api/v1/clusters/lk/services/lk/scale", map[string]any{"replicas": 2}, nil, 200)
}

// TestIdempotencyKey: a repeated key answers the first result without
// acting twice; the same key for another request is refused.
func TestIdempotencyKey(t *testing.T) {
	sw, _, admin := sharedCluster(t, "ik")
	m := sw.Managers[0]
	body := `{"name":"ik","image":"` + testenv.HelloImage1 + `","replicas":0}`
	key := map[string]string{"Idempotency-Key": fmt.Sprintf("ik-%d", time.Now().UnixNano())}
	first, firstText, err := admin.Raw(http.MethodPost, "/api/v1/clusters/ik/services", strings.NewReader(body), key)
	if err != nil || first.StatusCode != 201 {
		t.Fatalf("first: %v %v %s", err, first, firstText)
	}
	removeAfter(t, m, "ik")
	again, againText, err := admin.Raw(http.MethodPost, "/api/v1/clusters/ik/services", strings.NewReader(body), key)
	if err != nil || again.StatusCode != 201 || againText != firstText || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("repeat: %v %d %q %s, want the first answer replayed", err, again.StatusCode, again.Header.Get("Idempotent-Replayed"), againText)
	}
	// Without the key the same request is a new one: the name is taken.
	if status, text := admin.Do(http.MethodPost, "/api/v1/clusters/ik/services", body, nil); status != 409 {
		t.Fatalf("without the key: %d %s", status, text)
	}
	other, otherText, err := admin.Raw(http.MethodPost, "/api/v1/clusters/ik/services", strings.NewReader(strings.Replace(body, `"ik"`, `"ik2"`, 1)), key)
	if err != nil || other.StatusCode != 400 || !strings.Contains(otherText, "Idempotency-Key") {
		t.Fatalf("same key, other request: %v %d %s", err, other.StatusCode, otherText)
	}
	if status, _ := admin.Do(http.MethodGet, "/api/v1/clusters/ik/services/ik2", nil, nil); status != 404 {
		t.Fatalf("the refused request created ik2")
	}
}

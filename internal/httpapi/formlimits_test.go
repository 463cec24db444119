package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
	goredis "github.com/redis/go-redis/v9"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/lock"
	redislock "github.com/swarmops/swarmops/internal/lock/redis"
	"github.com/swarmops/swarmops/internal/testenv"
)

// wantRefused checks an answer is status with the contract's error shape,
// naming field and saying every one of says.
func wantRefused(t *testing.T, what string, status int, text string, wantStatus int, field string, says ...string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("%s: answered %d %s, want %d", what, status, text, wantStatus)
	}
	e := apitest.ParseError(t, text)
	if got, _ := e.Error.Details["field"].(string); got != field {
		t.Errorf("%s: field %q, want %q (%s)", what, got, field, text)
	}
	for _, s := range says {
		if !strings.Contains(e.Error.Message, s) {
			t.Errorf("%s: message %q doesn't say %q", what, e.Error.Message, s)
		}
	}
}

// TestFormLimits_RefusedBeforeTheLock: a service form past the form's
// limits (port ranges of the whole port space, too many items) is refused
// with 400 naming the field and the limit, for PATCH and create, even
// while another instance holds the object's lock (the form is parsed
// before any lock is taken), and changes nothing.
func TestFormLimits_RefusedBeforeTheLock(t *testing.T) {
	sw := testenv.SharedSwarm(t)
	m := sw.Managers[0]
	r := testenv.Redis(t)
	prefix := fmt.Sprintf("fl-%d:", time.Now().UnixNano())
	in := apitest.Start(t, apitest.Config(t, apitest.WithRedis(r.URL(0), prefix)))
	admin := in.Admin(t)
	register(t, admin, "fl", m.Endpoint)
	op := in.UserWithRole(t, admin, "fl-operator", "operator")
	var created struct{ ID string }
	op.MustDo(http.MethodPost, "/api/v1/clusters/fl/services", map[string]any{"name": "fl-svc", "image": testenv.HelloImage1, "replicas": 0}, &created, 201)
	removeAfter(t, m, "fl-svc")
	before := inspect(t, m, "fl-svc")

	// "Another instance" holds the service's lock and the new name's.
	client := goredis.NewClient(&goredis.Options{Addr: r.Addr})
	defer client.Close()
	other := redislock.New(client, redislock.Options{Prefix: prefix + "lock:", Wait: time.Second})
	for _, key := range []string{lock.ObjectKey("fl", "service", created.ID), lock.ObjectKey("fl", "service-name", "fl-new")} {
		lease, err := other.Acquire(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = lease.Release(context.Background()) }()
	}

	wholeSpace := strings.Repeat(`"1-65535:1-65535",`, 5)
	tooMany := strings.Repeat(`"1-65535:abc",`, 4097)
	tests := []struct {
		name, body, field string
		says              []string
	}{
		{"ranges of the whole port space", `{"ports":[` + strings.TrimSuffix(wholeSpace, ",") + `]}`, "ports[0]", []string{"at most 1024 ports"}},
		{"a range with an invalid other half", `{"ports":["0-65535:x"]}`, "ports[0]", []string{`target port "x"`}},
		{"too many ports items", `{"ports":[` + strings.TrimSuffix(tooMany, ",") + `]}`, "ports", []string{"at most 4096 items, got 4097"}},
		{"too many env items", `{"env":[` + strings.TrimSuffix(strings.Repeat(`"K=V",`, 1001), ",") + `]}`, "env", []string{"at most 1000 items"}},
		{"too many mounts", `{"mounts":[` + strings.TrimSuffix(strings.Repeat(`"type=tmpfs,dst=/t",`, 101), ",") + `]}`, "mounts", []string{"at most 100 items"}},
		{"too many networks", `{"networks":[` + strings.TrimSuffix(strings.Repeat(`"n",`, 101), ",") + `]}`, "networks", []string{"at most 100 items"}},
		{"too many constraints", `{"constraints":[` + strings.TrimSuffix(strings.Repeat(`"node.role==worker",`, 101), ",") + `]}`, "constraints", []string{"at most 100 items"}},
		{"too many secrets", `{"secrets":[` + strings.TrimSuffix(strings.Repeat(`"s",`, 1001), ",") + `]}`, "secrets", []string{"at most 1000 items"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, text := op.Do(http.MethodPatch, "/api/v1/clusters/fl/services/fl-svc", tt.body, nil)
			wantRefused(t, "PATCH", status, text, 400, tt.field, tt.says...)
			create := `{"name":"fl-new","image":"` + testenv.HelloImage1 + `",` + strings.TrimPrefix(tt.body, "{")
			status, text = op.Do(http.MethodPost, "/api/v1/clusters/fl/services", create, nil)
			wantRefused(t, "create", status, text, 400, tt.field, tt.says...)
		})
	}
	if after := inspect(t, m, "fl-svc"); after.Version.Index != before.Version.Index {
		t.Errorf("refused changes moved the service from version %d to %d", before.Version.Index, after.Version.Index)
	}
	if _, _, err := m.Client().ServiceInspectWithRaw(context.Background(), "fl-new", swarm.ServiceInspectOptions{}); err == nil {
		_ = m.Client().ServiceRemove(context.Background(), "fl-new")
		t.Errorf("a refused create made service fl-new")
	}
}

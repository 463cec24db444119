package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/testenv"
)

type auditRecord struct {
	Time      time.Time
	User      string
	Action    string
	Cluster   string
	Target    string
	RequestID string `json:"request_id"`
	Instance  string
	Result    string
	Error     string
}

// TestAudit_MutationsFromEveryInstance: service mutations made through two
// instances on one Redis are all in the audit log of either, with user,
// target, request id, instance and result, and the filters select them.
func TestAudit_MutationsFromEveryInstance(t *testing.T) {
	sw := testenv.SharedSwarm(t)
	m := sw.Managers[0]
	r := testenv.Redis(t)
	prefix := fmt.Sprintf("au-%d:", time.Now().UnixNano())
	cfgA := apitest.Config(t, apitest.WithRedis(r.URL(0), prefix))
	cfgA.InstanceID = "audit-a"
	cfgB := apitest.Config(t, apitest.WithRedis(r.URL(0), prefix))
	cfgB.InstanceID = "audit-b"
	a, b := apitest.Start(t, cfgA), apitest.Start(t, cfgB)
	adminA := a.Admin(t)
	op := a.UserWithRole(t, adminA, "au-op", "operator")
	opB := b.Login(t, "au-op", "password-au-op")
	register(t, adminA, "au", m.Endpoint)

	start := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)
	op.MustDo(http.MethodPost, "/api/v1/clusters/au/services", map[string]any{"name": "au", "image": testenv.HelloImage1, "replicas": 0}, nil, 201)
	removeAfter(t, m, "au")
	opB.MustDo(http.MethodPost, "/api/v1/clusters/au/services/au/scale", map[string]any{"replicas": 0}, nil, 200)
	opB.MustDo(http.MethodPost, "/api/v1/clusters/au/services/au/image", map[string]any{"tag": "x y"}, nil, 400)
	op.MustDo(http.MethodDelete, "/api/v1/clusters/au/services/au", nil, nil, 204)

	var l struct {
		Items []auditRecord
		Total int
	}
	q := url.Values{"user": {"au-op"}, "action": {"service."}, "since": {start}}
	adminA.MustDo(http.MethodGet, "/api/v1/audit?"+q.Encode(), nil, &l, 200)
	var got []string
	for _, rec := range l.Items {
		got = append(got, fmt.Sprintf("%s %s %s@%s", rec.Action, rec.Result, rec.Target, rec.Instance))
		if rec.RequestID == "" || rec.Cluster != "au" || rec.User != "au-op" {
			t.Errorf("record lacks its facts: %+v", rec)
		}
	}
	want := "service.remove ok au@audit-a|service.scale ok au@audit-b|service.create ok au@audit-a"
	if strings.Join(got, "|") != want {
		t.Fatalf("audit (newest first):\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.ReplaceAll(want, "|", "\n"))
	}
	// The refused image change never reached the domain: bad input is
	// not a mutation. The filters select by cluster and action too.
	adminA.MustDo(http.MethodGet, "/api/v1/audit?cluster=au&action=service.scale&limit=10", nil, &l, 200)
	if l.Total != 1 || l.Items[0].Instance != "audit-b" {
		t.Fatalf("filtered: %+v", l.Items)
	}
	for _, bad := range []string{"since=yesterday", "limit=0", "limit=many"} {
		if status, text := adminA.Do(http.MethodGet, "/api/v1/audit?"+bad, nil, nil); status != 400 {
			t.Errorf("audit?%s: %d %s", bad, status, text)
		}
	}
}

package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/audit"
	"github.com/swarmops/swarmops/internal/testenv"
)

// TestAudit_BoundedFieldsAndBudgetAcrossInstances: a refused create with
// a 3 MB name leaves a small record; a viewer's refused calls spread over
// two instances on one Redis write at most the budget per window, and one
// "N similar records suppressed" record per window counts the rest; a
// success after the budget is spent is recorded.
func TestAudit_BoundedFieldsAndBudgetAcrossInstances(t *testing.T) {
	t.Parallel()
	a, b := twoOnRedis(t, "ab")
	budget := audit.Budget{PerPrincipal: 5, Window: 3 * time.Second}
	a.Server.API.Audit.SetBudget(budget)
	b.Server.API.Audit.SetBudget(budget)
	adminA := a.Admin(t)
	op := a.UserWithRole(t, adminA, "ab-op", "operator")
	viewerA := a.UserWithRole(t, adminA, "ab-viewer", "viewer")
	viewerB := b.Login(t, "ab-viewer", "password-ab-viewer")

	huge := strings.Repeat("x", 3<<20)
	if s, text := op.Do(http.MethodPost, "/api/v1/clusters/ab-none/services", map[string]any{"name": huge, "image": "hello:1"}, nil); s < 400 || s >= 500 {
		t.Fatalf("service create with a 3 MB name: %d %.200s", s, text)
	}
	adminA.MustDo(http.MethodPost, "/api/v1/users", map[string]string{"username": huge, "password": "password-x"}, nil, 400)
	var l struct{ Items []auditRecord }
	text := adminA.MustDo(http.MethodGet, "/api/v1/audit?limit=50", nil, &l, 200)
	if len(text) > 64<<10 {
		t.Fatalf("audit read after two refused 3 MB names is %d bytes; records must be bounded", len(text))
	}
	for _, r := range l.Items {
		if len(r.Target) > 512 || len(r.Error) > 1024 {
			t.Fatalf("record %s has a %d-byte target and a %d-byte error", r.Action, len(r.Target), len(r.Error))
		}
	}

	const n = 30
	for i := range n {
		c := []*apitest.Client{viewerA, viewerB}[i%2]
		c.MustDo(http.MethodPost, "/api/v1/clusters/ab-none/services", map[string]any{"name": fmt.Sprintf("ab-%d", i)}, nil, 403)
	}
	viewerB.MustDo(http.MethodPost, "/api/v1/tokens", map[string]string{"name": "after-budget"}, nil, 201)

	q := url.Values{"user": {"ab-viewer"}, "limit": {"1000"}}
	testenv.Poll(t, 4*budget.Window, "the suppressed records of ab-viewer's refused calls to be counted", func() error {
		adminA.MustDo(http.MethodGet, "/api/v1/audit?"+q.Encode(), nil, &l, 200)
		perWindow := map[int64]int{}
		recorded, suppressed, tokenOK := 0, 0, false
		for _, r := range l.Items {
			switch r.Action {
			case "access.denied":
				recorded++
				perWindow[r.Time.UnixNano()/int64(budget.Window)]++
			case "audit.suppressed":
				var k int
				if _, err := fmt.Sscanf(r.Target, "%d similar records suppressed", &k); err != nil {
					return fmt.Errorf("summary target %q: %v", r.Target, err)
				}
				suppressed += k
			case "token.create":
				tokenOK = r.Result == "ok"
			}
		}
		for w, c := range perWindow {
			if c > budget.PerPrincipal {
				t.Fatalf("window %d holds %d records of ab-viewer's refused calls, want at most %d", w, c, budget.PerPrincipal)
			}
		}
		if !tokenOK {
			t.Fatalf("the token created after the budget was spent is not recorded: %+v", l.Items)
		}
		if recorded+suppressed != n {
			return fmt.Errorf("%d recorded + %d suppressed, want %d", recorded, suppressed, n)
		}
		return nil
	})
}

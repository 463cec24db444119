package httpapi_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/testenv"
)

// TestStacks_HistoryRoutes walks a stack's read routes and its rollback
// through the API (their answers checked against the OpenAPI document):
// two deploys make two revisions, their diff shows the change, a rollback
// makes a third revision with the first one's file.
func TestStacks_HistoryRoutes(t *testing.T) {
	t.Parallel()
	sw, _, admin := sharedCluster(t, "sh")
	mark := make([]byte, 3)
	_, _ = rand.Read(mark)
	name := "sh" + hex.EncodeToString(mark)
	base := "/api/v1/clusters/sh/stacks/" + name
	// Tasks no node may run: the stack's objects are all the test needs.
	compose := func(replicas int) string {
		return fmt.Sprintf("services:\n  web:\n    image: %s\n    deploy:\n      replicas: %d\n      placement:\n        constraints: [\"node.labels.sh-none==1\"]\n",
			testenv.HelloImage1, replicas)
	}
	t.Cleanup(func() {
		api := sw.Managers[0].Client()
		ctx := context.Background()
		testenv.Poll(t, time.Minute, "the stack's objects removed", func() error {
			left, err := testenv.StackObjects(ctx, api, name)
			if err != nil || len(left) == 0 {
				return err
			}
			testenv.RemoveStackObjects(ctx, api, left)
			return fmt.Errorf("left: %v", left)
		})
	})
	admin.MustDo(http.MethodPost, "/api/v1/clusters/sh/stacks", map[string]any{"name": name, "compose": compose(1)}, nil, 200)
	admin.MustDo(http.MethodPost, "/api/v1/clusters/sh/stacks", map[string]any{"name": name, "compose": compose(2)}, nil, 200)

	var stack struct {
		Name     string `json:"name"`
		Services []struct {
			Name string `json:"name"`
		} `json:"services"`
	}
	admin.MustDo(http.MethodGet, base, nil, &stack, 200)
	if stack.Name != name || len(stack.Services) != 1 {
		t.Fatalf("GET %s = %+v, want the stack with its one service", base, stack)
	}
	var revs struct {
		Items []struct {
			Revision int `json:"revision"`
		} `json:"items"`
	}
	admin.MustDo(http.MethodGet, base+"/revisions", nil, &revs, 200)
	if len(revs.Items) != 2 || revs.Items[0].Revision != 2 {
		t.Fatalf("revisions %+v, want 2 then 1", revs.Items)
	}
	var first struct {
		Compose string `json:"compose"`
	}
	admin.MustDo(http.MethodGet, base+"/revisions/1", nil, &first, 200)
	if first.Compose != compose(1) {
		t.Fatalf("revision 1's compose file = %q, want %q", first.Compose, compose(1))
	}
	diff := admin.MustDo(http.MethodGet, base+"/revisions/1/diff?to=2", nil, nil, 200)
	if !strings.Contains(diff, "-      replicas: 1") || !strings.Contains(diff, "+      replicas: 2") {
		t.Fatalf("diff of revisions 1 and 2:\n%s\nwant the replicas line changed", diff)
	}
	admin.MustDo(http.MethodPost, base+"/rollback", map[string]any{"revision": 1}, nil, 200)
	admin.MustDo(http.MethodGet, base+"/revisions/3", nil, &first, 200)
	if first.Compose != compose(1) {
		t.Fatalf("the rollback's revision holds %q, want revision 1's file", first.Compose)
	}
}

// TestOIDC_RoutesAnswerRedirects: the sign-in's two routes, called through
// a test client that does not follow redirects, answer their documented
// redirects (302 to the provider, 303 back to next).
func TestOIDC_RoutesAnswerRedirects(t *testing.T) {
	t.Parallel()
	s := startSSO(t, nil)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	c := (&apitest.Client{Base: s.in.URL, HTTP: hc}).For(t)

	resp, _, err := c.Raw(http.MethodGet, "/api/v1/auth/oidc/login?next=/services", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, s.idp.Issuer) {
		t.Fatalf("oidc/login = %d to %q, want 302 to the provider %s", resp.StatusCode, loc, s.idp.Issuer)
	}
	cb, err := s.idp.LoginCallbackURL(hc, s.start("/services"), "alice", "alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	resp, _, err = c.Raw(http.MethodGet, cb.RequestURI(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/services" {
		t.Fatalf("oidc/callback = %d to %q, want 303 to /services", resp.StatusCode, loc)
	}
}

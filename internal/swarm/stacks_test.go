package swarm

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStacksOf(t *testing.T) {
	svc := func(name, stack string, desired, running uint64) ServiceSummary {
		s := ServiceSummary{Name: name, Stack: stack}
		s.Replicas.Desired, s.Replicas.Running = desired, running
		return s
	}
	got := StacksOf([]ServiceSummary{
		svc("shop_api", "shop", 2, 2), svc("lone", "", 1, 1), svc("blog_web", "blog", 1, 0), svc("shop_db", "shop", 1, 1),
	})
	want := []StackSummary{{Name: "blog", Services: 1, Desired: 1, Running: 0}, {Name: "shop", Services: 2, Desired: 3, Running: 3}}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("StacksOf (-got +want):\n%s", d)
	}
	sf := ServiceFilter{Filter: Filter{Q: "api"}, Stack: "shop"}
	if !sf.Selects(svc("shop_api", "shop", 1, 1)) || sf.Selects(svc("shop_db", "shop", 1, 1)) || sf.Selects(svc("blog_api", "blog", 1, 1)) {
		t.Errorf("ServiceFilter{q=api, stack=shop}.Selects is wrong")
	}
}

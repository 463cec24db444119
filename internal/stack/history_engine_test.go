package stack_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/testenv"
)

// revision is GET .../revisions/{n} (and an item of .../revisions).
type revision struct {
	Revision int               `json:"revision"`
	Time     time.Time         `json:"time"`
	User     string            `json:"user"`
	Compose  string            `json:"compose"`
	Env      map[string]string `json:"env"`
	Files    []revisionFile    `json:"files"`
}

type revisionFile struct {
	Name    string  `json:"name"`
	SHA256  string  `json:"sha256"`
	Secret  bool    `json:"secret"`
	Content *string `json:"content"`
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestStacks_History deploys three revisions, reads them and their diff,
// rolls back to the first, and finds the engine's specs as the first
// deploy left them.
func TestStacks_History(t *testing.T) {
	t.Parallel()
	sw, _, admin := sharedCluster(t, "hi")
	api := sw.Managers[0].Client()
	name := stackName(t, "")
	removeStackAfter(t, sw, name)
	base := "/api/v1/clusters/hi/stacks/" + name
	var srcs []source
	for i := 1; i <= 3; i++ {
		srcs = append(srcs, readSource(t, fmt.Sprintf("testdata/history-%d.yml", i)))
	}
	envOf := func(i int) map[string]string { return map[string]string{"RELEASE": fmt.Sprint("r", i)} }

	var first map[string]swarm.ServiceSpec
	for i, src := range srcs {
		got := deploy(t, admin, "hi", deployReq{Name: name, Compose: src.Compose, Env: envOf(i + 1)})
		if got.Revision != i+1 {
			t.Fatalf("deploy %d: revision %d", i+1, got.Revision)
		}
		if i == 0 {
			settle(t, api, name)
			first = serviceSpecs(t, api, name)
		}
	}

	var list struct{ Items []revision }
	admin.MustDo(http.MethodGet, base+"/revisions", nil, &list, 200)
	var numbers []int
	for _, r := range list.Items {
		numbers = append(numbers, r.Revision)
		if r.User != "admin" || r.Time.IsZero() {
			t.Errorf("revision %d: user %q time %s, want admin and a time", r.Revision, r.User, r.Time)
		}
	}
	if !slices.Equal(numbers, []int{3, 2, 1}) {
		t.Errorf("revisions %v, want 3, 2, 1 (newest first)", numbers)
	}
	if len(list.Items) == 3 && list.Items[0].Time.Before(list.Items[2].Time) {
		t.Errorf("revision 3 at %s is older than revision 1 at %s", list.Items[0].Time, list.Items[2].Time)
	}

	var one revision
	admin.MustDo(http.MethodGet, base+"/revisions/1", nil, &one, 200)
	if one.Revision != 1 || one.Compose != srcs[0].Compose || !cmp.Equal(one.Env, envOf(1)) || one.User != "admin" {
		t.Errorf("revision 1: %+v, want history-1.yml with env %v", one, envOf(1))
	}

	resp, diff, err := admin.Raw(http.MethodGet, base+"/revisions/1/diff?to=3", nil, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("diff 1..3: %v %v %s", err, resp, diff)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("diff Content-Type %q, want text/plain", ct)
	}
	for _, line := range []string{"--- ", "+++ ", "@@ ", `-      STAGE: "1"`, `+      STAGE: "3"`,
		`-        com.example.stage: "1"`, `+        com.example.stage: "3"`, "+  extra:", " services:",
		"--- revision 1 env", "+++ revision 3 env", "-RELEASE=r1", "+RELEASE=r3"} {
		if !strings.Contains("\n"+diff, "\n"+line) {
			t.Errorf("diff 1..3 lacks a line %q:\n%s", line, diff)
		}
	}
	if strings.Contains(diff, "\n-  side:") || strings.Contains(diff, "\n+  side:") {
		t.Errorf("diff 1..3 marks an unchanged line:\n%s", diff)
	}

	var rb deployed
	admin.MustDo(http.MethodPost, base+"/rollback", map[string]any{"revision": 1}, &rb, 200)
	if rb.Revision != 4 {
		t.Errorf("rollback to 1: revision %d, want 4", rb.Revision)
	}
	checkLists(t, "rollback to 1", rb, nil, scoped(name, "app"), scoped(name, "side"), scoped(name, "extra"))
	// A rollback is an update: it may set ForceUpdate anew; nothing else
	// of the specs may differ from the first deploy's.
	if diff := cmp.Diff(first, serviceSpecs(t, api, name), cmpopts.IgnoreFields(swarm.TaskSpec{}, "ForceUpdate")); diff != "" {
		t.Errorf("specs after the rollback to 1 (-first deploy +after rollback):\n%s", diff)
	}
	admin.MustDo(http.MethodGet, base+"/revisions", nil, &list, 200)
	if len(list.Items) != 4 || list.Items[0].Revision != 4 {
		t.Errorf("after the rollback: %+v, want 4 revisions, the rollback first", list.Items)
	}
	var four revision
	admin.MustDo(http.MethodGet, base+"/revisions/4", nil, &four, 200)
	if four.Compose != srcs[0].Compose || !cmp.Equal(four.Env, envOf(1)) {
		t.Errorf("revision 4 (the rollback) holds %+v, want revision 1's compose and env", four)
	}
}

// TestStacks_Roles: viewers read revisions without env values and file
// contents and cannot deploy; operators deploy and read env values and
// config files; nobody reads a secret file, only its name and SHA-256.
func TestStacks_Roles(t *testing.T) {
	t.Parallel()
	sw, in, admin := sharedCluster(t, "ro")
	viewer := in.UserWithRole(t, admin, "stk-viewer", "viewer")
	operator := in.UserWithRole(t, admin, "stk-operator", "operator")
	name := stackName(t, "")
	removeStackAfter(t, sw, name)
	src := readSource(t, "testdata/roles.yml")
	const password = "pw-only-operators-read-9c1e"
	env := map[string]string{"DB_PASSWORD": password}
	secret, config := src.Files["./files/roles-key.txt"], src.Files["./files/roles.conf"]
	if secret == "" || config == "" {
		t.Fatalf("testdata/files lacks the roles files: %v", src.Files)
	}
	req := deployReq{Name: name, Compose: src.Compose, Env: env, Files: src.Files, ResolveImage: "never"}
	base := "/api/v1/clusters/ro/stacks"

	status, text := viewer.Do(http.MethodPost, base, req, nil)
	if status != 403 {
		t.Fatalf("a viewer deploys: %d %s, want 403", status, text)
	}
	if left, _ := testenv.StackObjects(t.Context(), sw.Managers[0].Client(), name); len(left) > 0 {
		t.Fatalf("a viewer's refused deploy created %v", left)
	}
	if got := deploy(t, operator, "ro", req); got.Revision != 1 {
		t.Fatalf("operator's deploy: revision %d, want 1", got.Revision)
	}

	// Nothing any role reads carries the secret file's content.
	for role, c := range map[string]*apitest.Client{"viewer": viewer, "operator": operator, "admin": admin} {
		for _, path := range []string{base, base + "/" + name, base + "/" + name + "/revisions",
			base + "/" + name + "/revisions/1", base + "/" + name + "/revisions/1/diff?to=1"} {
			text := c.MustDo(http.MethodGet, path, nil, nil, 200)
			if strings.Contains(text, strings.TrimSpace(secret)) {
				t.Errorf("%s reads the secret file's content in GET %s: %s", role, path, text)
			}
			if role == "viewer" && (strings.Contains(text, password) || strings.Contains(text, strings.TrimSpace(config))) {
				t.Errorf("a viewer reads an env value or a config file in GET %s: %s", path, text)
			}
		}
	}

	// A diff of a changed variable: its value for operators, only that it
	// changed for viewers.
	req.Env = map[string]string{"DB_PASSWORD": password + "-next"}
	if got := deploy(t, operator, "ro", req); got.Revision != 2 {
		t.Fatalf("operator's second deploy: revision %d, want 2", got.Revision)
	}
	diffPath := base + "/" + name + "/revisions/1/diff?to=2"
	if text := viewer.MustDo(http.MethodGet, diffPath, nil, nil, 200); strings.Contains(text, password) ||
		!strings.Contains(text, "\n+DB_PASSWORD=(hidden, changed)") {
		t.Errorf("a viewer's diff of a changed variable shows its value or not that it changed:\n%s", text)
	}
	if text := operator.MustDo(http.MethodGet, diffPath, nil, nil, 200); !strings.Contains(text, "\n-DB_PASSWORD="+password+"\n+DB_PASSWORD="+password+"-next") {
		t.Errorf("an operator's diff of a changed variable lacks its values:\n%s", text)
	}

	files := func(withContent bool) []revisionFile {
		conf := config
		out := []revisionFile{
			{Name: "./files/roles-key.txt", SHA256: sha(secret), Secret: true},
			{Name: "./files/roles.conf", SHA256: sha(config)},
		}
		if withContent {
			out[1].Content = &conf
		}
		return out
	}
	tests := []struct {
		role  string
		c     *apitest.Client
		env   map[string]string
		files []revisionFile
	}{
		{"viewer", viewer, map[string]string{"DB_PASSWORD": ""}, files(false)},
		{"operator", operator, env, files(true)},
		{"admin", admin, env, files(true)},
	}
	for _, tt := range tests {
		var r revision
		tt.c.MustDo(http.MethodGet, base+"/"+name+"/revisions/1", nil, &r, 200)
		if r.User != "stk-operator" || r.Compose != src.Compose {
			t.Errorf("%s reads revision 1 by %q with compose %q", tt.role, r.User, r.Compose)
		}
		if diff := cmp.Diff(tt.env, r.Env); diff != "" {
			t.Errorf("%s reads revision 1's env (-want +got):\n%s", tt.role, diff)
		}
		if diff := cmp.Diff(tt.files, r.Files, cmpopts.SortSlices(func(a, b revisionFile) bool { return a.Name < b.Name })); diff != "" {
			t.Errorf("%s reads revision 1's files (-want +got):\n%s", tt.role, diff)
		}
	}
}

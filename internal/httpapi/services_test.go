package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/testenv"
)

// sharedCluster registers the shared swarm as a cluster of a fresh
// instance and answers an admin client of it.
func sharedCluster(t *testing.T, name string, opts ...apitest.Option) (*testenv.Swarm, *apitest.Instance, *apitest.Client) {
	t.Helper()
	sw := testenv.SharedSwarm(t)
	in := apitest.Start(t, apitest.Config(t, opts...))
	admin := in.Admin(t)
	register(t, admin, name, sw.Managers[0].Endpoint)
	return sw, in, admin
}

// inspect reads a service straight from the engine.
func inspect(t *testing.T, n *testenv.Node, name string) swarm.Service {
	t.Helper()
	s, _, err := n.Client().ServiceInspectWithRaw(context.Background(), name, swarm.ServiceInspectOptions{})
	if err != nil {
		t.Fatalf("inspect service %s: %v", name, err)
	}
	return s
}

// removeAfter removes a service when the test ends.
func removeAfter(t *testing.T, n *testenv.Node, name string) {
	t.Cleanup(func() { _ = n.Client().ServiceRemove(context.Background(), name) })
}

// runningImages answers the images of a service's running tasks.
func runningImages(t *testing.T, n *testenv.Node, service string) ([]string, error) {
	tasks, err := n.Client().TaskList(context.Background(), swarm.TaskListOptions{
		Filters: filters.NewArgs(filters.Arg("service", service), filters.Arg("desired-state", "running")),
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, task := range tasks {
		if task.Status.State != swarm.TaskStateRunning {
			return nil, fmt.Errorf("task %s is %s (%s)", task.ID, task.Status.State, task.Status.Err)
		}
		img := task.Spec.ContainerSpec.Image
		if i := strings.Index(img, "@"); i >= 0 {
			img = img[:i]
		}
		out = append(out, img)
	}
	return out, nil
}

// asJSON answers v as a JSON decoder would hand it back (numbers as
// float64, lists as []any), so a sent value compares with an answered one.
func asJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %v: %v", v, err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	return out
}

// TestServices_EveryFieldLikeTheCLI creates a service with every field of
// the form through the API, and the same service with the equivalent
// `docker service create` flags, and compares what the engine holds.
func TestServices_EveryFieldLikeTheCLI(t *testing.T) {
	sw, _, admin := sharedCluster(t, "sf")
	m := sw.Managers[0]
	m.Docker(t, "network", "create", "--driver", "overlay", "sf-net")
	t.Cleanup(func() { _ = m.Client().NetworkRemove(context.Background(), "sf-net") })
	m.Docker(t, "secret", "create", "sf-secret", "/etc/hostname")
	t.Cleanup(func() { _ = m.Client().SecretRemove(context.Background(), "sf-secret") })
	m.Docker(t, "config", "create", "sf-config", "/etc/hostname")
	t.Cleanup(func() { _ = m.Client().ConfigRemove(context.Background(), "sf-config") })

	form := map[string]any{
		"name": "sf-api", "image": testenv.HelloImage1, "mode": "replicated", "replicas": 2,
		"command": []string{"/hello"}, "args": []string{"-lines", "3"},
		"env": []string{"A=1", "B=two"}, "labels": map[string]string{"team": "ops"},
		"container_labels": map[string]string{"c": "1"},
		"ports":            []string{"18970:8080"},
		"mounts":           []string{"type=volume,source=sf-data,target=/data", "type=tmpfs,target=/scratch"},
		"networks":         []string{"sf-net"},
		"constraints":      []string{"node.role==worker"},
		"placement_prefs":  []string{"spread=node.labels.zone"},
		"secrets":          []string{"source=sf-secret,target=/run/secrets/pw,mode=0400"},
		"configs":          []string{"source=sf-config,target=/etc/app.conf"},
		"resources":        map[string]string{"limit_cpus": "0.5", "limit_memory": "64M", "reserve_cpus": "0.1", "reserve_memory": "16M"},
		"update_config":    map[string]any{"parallelism": 2, "delay": "5s", "failure_action": "rollback", "order": "start-first", "monitor": "3s", "max_failure_ratio": 0.25},
		"rollback_config":  map[string]any{"parallelism": 1, "delay": "1s", "failure_action": "pause", "order": "stop-first", "monitor": "2s"},
		"restart_policy":   map[string]any{"condition": "on-failure", "delay": "3s", "max_attempts": 4, "window": "30s"},
		"healthcheck":      map[string]any{"test": []string{"CMD-SHELL", "/hello healthcheck"}, "interval": "5s", "timeout": "2s", "retries": 3, "start_period": "1s"},
		"hostname":         "sf-host", "user": "1000", "workdir": "/", "stop_grace_period": "7s", "read_only": true,
	}
	var created struct {
		ID, Name string
		Warnings []string
	}
	admin.MustDo(http.MethodPost, "/api/v1/clusters/sf/services", form, &created, 201)
	removeAfter(t, m, "sf-api")
	if created.Name != "sf-api" || created.ID == "" || created.Warnings == nil {
		t.Fatalf("create answer: %+v", created)
	}
	m.Docker(t, "service", "create", "--no-resolve-image", "--detach", "--name", "sf-cli",
		"--mode", "replicated", "--replicas", "2", "--entrypoint", "/hello",
		"--env", "A=1", "--env", "B=two", "--label", "team=ops", "--container-label", "c=1",
		"--publish", "18971:8080",
		"--mount", "type=volume,src=sf-data,dst=/data", "--mount", "type=tmpfs,dst=/scratch",
		"--network", "sf-net", "--constraint", "node.role==worker", "--placement-pref", "spread=node.labels.zone",
		"--secret", "source=sf-secret,target=/run/secrets/pw,mode=0400", "--config", "source=sf-config,target=/etc/app.conf",
		"--limit-cpu", "0.5", "--limit-memory", "64M", "--reserve-cpu", "0.1", "--reserve-memory", "16M",
		"--update-parallelism", "2", "--update-delay", "5s", "--update-failure-action", "rollback", "--update-order", "start-first",
		"--update-monitor", "3s", "--update-max-failure-ratio", "0.25",
		"--rollback-parallelism", "1", "--rollback-delay", "1s", "--rollback-failure-action", "pause", "--rollback-order", "stop-first", "--rollback-monitor", "2s",
		"--restart-condition", "on-failure", "--restart-delay", "3s", "--restart-max-attempts", "4", "--restart-window", "30s",
		"--health-cmd", "/hello healthcheck", "--health-interval", "5s", "--health-timeout", "2s", "--health-retries", "3", "--health-start-period", "1s",
		"--hostname", "sf-host", "--user", "1000", "--workdir", "/", "--stop-grace-period", "7s", "--read-only",
		testenv.HelloImage1, "-lines", "3")
	removeAfter(t, m, "sf-cli")

	api, cli := inspect(t, m, "sf-api").Spec, inspect(t, m, "sf-cli").Spec
	if got, want := api.EndpointSpec.Ports[0].PublishedPort, uint32(18970); got != want {
		t.Errorf("published port %d, want %d", got, want)
	}
	api.Name, cli.Name = "", ""
	// The CLI states two defaults explicitly that the form leaves unset;
	// the engine treats both alike.
	cli.TaskTemplate.ContainerSpec.Init, cli.TaskTemplate.ContainerSpec.DNSConfig = nil, nil
	api.EndpointSpec.Ports[0].PublishedPort, cli.EndpointSpec.Ports[0].PublishedPort = 0, 0
	if diff := cmp.Diff(api, cli, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("spec made through the API differs from the CLI's (-api +cli):\n%s", diff)
	}

	// The form answered by GET reproduces the service.
	var detail struct {
		Form    map[string]any `json:"form"`
		Summary struct {
			Image    string
			Replicas struct{ Desired int }
			Ports    []string
		} `json:"summary"`
	}
	admin.MustDo(http.MethodGet, "/api/v1/clusters/sf/services/sf-api", nil, &detail, 200)
	for _, k := range []string{"env", "secrets", "configs", "networks", "healthcheck", "resources", "mounts", "constraints"} {
		if diff := cmp.Diff(detail.Form[k], asJSON(t, form[k])); diff != "" {
			t.Errorf("form.%s (-got +sent):\n%s", k, diff)
		}
	}
	if detail.Summary.Image != testenv.HelloImage1 || detail.Summary.Replicas.Desired != 2 || !slices.Contains(detail.Summary.Ports, "18970:8080/tcp (ingress)") {
		t.Errorf("summary: %+v", detail.Summary)
	}
}

// TestServices_PatchKeepsEverythingElse: an update of env alone keeps
// labels, secrets, healthcheck and resources.
func TestServices_PatchKeepsEverythingElse(t *testing.T) {
	sw, _, admin := sharedCluster(t, "pk")
	m := sw.Managers[0]
	m.Docker(t, "secret", "create", "pk-secret", "/etc/hostname")
	t.Cleanup(func() { _ = m.Client().SecretRemove(context.Background(), "pk-secret") })
	admin.MustDo(http.MethodPost, "/api/v1/clusters/pk/services", map[string]any{
		"name": "pk", "image": testenv.HelloImage1, "replicas": 0, "env": []string{"X=1"},
		"labels": map[string]string{"keep": "me"}, "secrets": []string{"pk-secret"},
		"healthcheck": map[string]any{"test": []string{"CMD", "/hello", "healthcheck"}, "interval": "9s"},
		"resources":   map[string]string{"limit_memory": "32M"},
	}, nil, 201)
	removeAfter(t, m, "pk")
	before := inspect(t, m, "pk")

	var ch struct{ Version uint64 }
	admin.MustDo(http.MethodPatch, "/api/v1/clusters/pk/services/pk", map[string]any{"env": []string{"X=2", "Y=3"}}, &ch, 200)
	after := inspect(t, m, "pk")
	if got := after.Spec.TaskTemplate.ContainerSpec.Env; !slices.Equal(got, []string{"X=2", "Y=3"}) {
		t.Fatalf("env after patch: %v", got)
	}
	b, a := before.Spec, after.Spec
	b.TaskTemplate.ContainerSpec.Env, a.TaskTemplate.ContainerSpec.Env = nil, nil
	if diff := cmp.Diff(a, b, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("a patch of env changed other fields (-after +before):\n%s", diff)
	}
	if after.Version.Index != ch.Version {
		t.Errorf("answered version %d, engine has %d", ch.Version, after.Version.Index)
	}

	// A stale version is refused and changes nothing.
	status, text := admin.Do(http.MethodPatch, "/api/v1/clusters/pk/services/pk", map[string]any{"env": []string{}, "version": before.Version.Index}, nil)
	if e := apitest.ParseError(t, text); status != 409 || e.Error.Code != "conflict" {
		t.Fatalf("stale version: %d %s", status, text)
	}
	if got := inspect(t, m, "pk").Spec.TaskTemplate.ContainerSpec.Env; len(got) != 2 {
		t.Fatalf("a refused patch changed env: %v", got)
	}
	// The current version is accepted.
	admin.MustDo(http.MethodPatch, "/api/v1/clusters/pk/services/pk", map[string]any{"user": "nobody", "version": after.Version.Index}, nil, 200)
}

// TestServices_RollingUpgradeAndRollback upgrades hello:1 to hello:2 by tag
// and rolls back, waiting each time until every running task has the image.
func TestServices_RollingUpgradeAndRollback(t *testing.T) {
	sw, _, admin := sharedCluster(t, "ru")
	m := sw.Managers[0]
	admin.MustDo(http.MethodPost, "/api/v1/clusters/ru/services", map[string]any{
		"name": "ru", "image": testenv.HelloImage1, "replicas": 3,
		"update_config": map[string]any{"parallelism": 1, "delay": "0s", "order": "start-first"},
	}, nil, 201)
	removeAfter(t, m, "ru")
	waitImages := func(want string) {
		testenv.Poll(t, 2*time.Minute, "3 running tasks of "+want, func() error {
			imgs, err := runningImages(t, m, "ru")
			if err != nil {
				return err
			}
			if len(imgs) != 3 || slices.ContainsFunc(imgs, func(s string) bool { return s != want }) {
				return fmt.Errorf("running images %v", imgs)
			}
			return nil
		})
	}
	waitImages(testenv.HelloImage1)
	admin.MustDo(http.MethodPost, "/api/v1/clusters/ru/services/ru/image", map[string]string{"tag": "2"}, nil, 200)
	waitImages(testenv.HelloImage2)
	testenv.Poll(t, time.Minute, "update status completed", func() error {
		var d struct {
			Summary struct {
				UpdateStatus *struct{ State string } `json:"update_status"`
			}
		}
		admin.MustDo(http.MethodGet, "/api/v1/clusters/ru/services/ru", nil, &d, 200)
		if d.Summary.UpdateStatus == nil || d.Summary.UpdateStatus.State != "completed" {
			return fmt.Errorf("update status %+v", d.Summary.UpdateStatus)
		}
		return nil
	})
	admin.MustDo(http.MethodPost, "/api/v1/clusters/ru/services/ru/rollback", nil, nil, 200)
	waitImages(testenv.HelloImage1)

	// Bad image requests change nothing.
	for _, body := range []string{`{}`, `{"tag":"2","image":"x:1"}`, `{"tag":"-bad"}`, `{"image":"UPPER:case"}`} {
		status, text := admin.Do(http.MethodPost, "/api/v1/clusters/ru/services/ru/image", body, nil)
		if status != 400 {
			t.Errorf("image %s: %d %s", body, status, text)
		}
	}
}

func TestServices_ScaleRedeployRemove(t *testing.T) {
	sw, _, admin := sharedCluster(t, "sr")
	m := sw.Managers[0]
	admin.MustDo(http.MethodPost, "/api/v1/clusters/sr/services", map[string]any{"name": "sr", "image": testenv.HelloImage1, "replicas": 1}, nil, 201)
	removeAfter(t, m, "sr")
	admin.MustDo(http.MethodPost, "/api/v1/clusters/sr/services/sr/scale", map[string]any{"replicas": 3}, nil, 200)
	testenv.Poll(t, 2*time.Minute, "3 running tasks after scale", func() error {
		var l struct {
			Items []struct {
				Name     string
				Replicas struct{ Desired, Running int }
			}
		}
		admin.MustDo(http.MethodGet, "/api/v1/clusters/sr/services?q=sr", nil, &l, 200)
		for _, s := range l.Items {
			if s.Name == "sr" && s.Replicas.Desired == 3 && s.Replicas.Running == 3 {
				return nil
			}
		}
		return fmt.Errorf("list: %+v", l.Items)
	})
	var tasks struct {
		Items []struct {
			Service, State, Image string
			NodeHostname          string `json:"node_hostname"`
		}
		Total int
	}
	admin.MustDo(http.MethodGet, "/api/v1/clusters/sr/services/sr/tasks?state=running", nil, &tasks, 200)
	if tasks.Total != 3 || tasks.Items[0].Service != "sr" || tasks.Items[0].NodeHostname == "" || tasks.Items[0].State != "running" {
		t.Errorf("service tasks: %+v", tasks)
	}
	admin.MustDo(http.MethodGet, "/api/v1/clusters/sr/services/nope/tasks", nil, nil, 404)
	before := inspect(t, m, "sr").Spec.TaskTemplate.ForceUpdate
	admin.MustDo(http.MethodPost, "/api/v1/clusters/sr/services/sr/redeploy", nil, nil, 200)
	if after := inspect(t, m, "sr").Spec.TaskTemplate.ForceUpdate; after != before+1 {
		t.Errorf("redeploy: ForceUpdate %d -> %d", before, after)
	}
	for _, body := range []string{`{}`, `{"replicas":-1}`, `{"replicas":"3"}`} {
		if status, text := admin.Do(http.MethodPost, "/api/v1/clusters/sr/services/sr/scale", body, nil); status != 400 {
			t.Errorf("scale %s: %d %s", body, status, text)
		}
	}
	admin.MustDo(http.MethodDelete, "/api/v1/clusters/sr/services/sr", nil, nil, 204)
	admin.MustDo(http.MethodGet, "/api/v1/clusters/sr/services/sr", nil, nil, 404)
	admin.MustDo(http.MethodDelete, "/api/v1/clusters/sr/services/sr", nil, nil, 404)
	admin.MustDo(http.MethodGet, "/api/v1/clusters/nope/services", nil, nil, 404)
}

// TestServices_BadInput: each malformed field answers 400 naming it and
// nothing reaches the engine.
func TestServices_BadInput(t *testing.T) {
	sw, _, admin := sharedCluster(t, "bi")
	m := sw.Managers[0]
	countServices := func() int {
		l, err := m.Client().ServiceList(context.Background(), swarm.ServiceListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(l)
	}
	before := countServices()
	img := `"image":"` + testenv.HelloImage1 + `"`
	for _, tc := range []struct{ name, body, field string }{
		{"no image", `{"name":"bi-x"}`, "image"},
		{"bad name", `{"name":"bad name",` + img + `}`, "name"},
		{"bad port", `{"name":"bi-x",` + img + `,"ports":["80:99999"]}`, "ports[0]"},
		{"bad mount", `{"name":"bi-x",` + img + `,"mounts":["type=nfs,dst=/x"]}`, "mounts[0]"},
		{"bad env", `{"name":"bi-x",` + img + `,"env":["=x"]}`, "env[0]"},
		{"bad memory", `{"name":"bi-x",` + img + `,"resources":{"limit_memory":"lots"}}`, "resources.limit_memory"},
		{"bad cpus", `{"name":"bi-x",` + img + `,"resources":{"limit_cpus":"-1"}}`, "resources.limit_cpus"},
		{"bad delay", `{"name":"bi-x",` + img + `,"update_config":{"delay":"soon"}}`, "update_config.delay"},
		{"bad order", `{"name":"bi-x",` + img + `,"update_config":{"order":"random"}}`, "update_config.order"},
		{"bad constraint", `{"name":"bi-x",` + img + `,"constraints":["node.role=worker"]}`, "constraints[0]"},
		{"missing secret", `{"name":"bi-x",` + img + `,"secrets":["bi-no-such-secret"]}`, "secrets[0]"},
		{"missing network", `{"name":"bi-x",` + img + `,"networks":["bi-no-such-net"]}`, "networks[0]"},
		{"bad mode", `{"name":"bi-x",` + img + `,"mode":"sometimes"}`, "mode"},
		{"global with replicas", `{"name":"bi-x",` + img + `,"mode":"global","replicas":2}`, "replicas"},
		{"unknown field", `{"name":"bi-x",` + img + `,"replica":2}`, "replica"},
		{"wrong type", `{"name":"bi-x",` + img + `,"replicas":"two"}`, "replicas"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, text := admin.Do(http.MethodPost, "/api/v1/clusters/bi/services", tc.body, nil)
			e := apitest.ParseError(t, text)
			if status != 400 || e.Error.Details["field"] != tc.field {
				t.Fatalf("status %d field %v, want 400 %q: %s", status, e.Error.Details["field"], tc.field, text)
			}
		})
	}
	if after := countServices(); after != before {
		t.Fatalf("bad input created services: %d -> %d", before, after)
	}
}

// TestServices_ConcurrentUpdatesThroughTwoInstances: updates of different
// fields of one service, sent at once through two instances sharing Redis,
// all land: the object lock serializes them, so none is lost and none
// fails on the engine's version check.
func TestServices_ConcurrentUpdatesThroughTwoInstances(t *testing.T) {
	sw := testenv.SharedSwarm(t)
	m := sw.Managers[0]
	r := testenv.Redis(t)
	prefix := "cu-" + fmt.Sprint(time.Now().UnixNano()) + ":"
	a := apitest.Start(t, apitest.Config(t, apitest.WithRedis(r.URL(0), prefix)))
	b := apitest.Start(t, apitest.Config(t, apitest.WithRedis(r.URL(0), prefix)))
	adminA, adminB := a.Admin(t), b.Admin(t)
	register(t, adminA, "cu", m.Endpoint)
	adminA.MustDo(http.MethodPost, "/api/v1/clusters/cu/services", map[string]any{"name": "cu", "image": testenv.HelloImage1, "replicas": 0}, nil, 201)
	removeAfter(t, m, "cu")

	changes := []map[string]any{
		{"env": []string{"E=1"}}, {"hostname": "cu-host"}, {"user": "1234"},
		{"workdir": "/tmp"}, {"stop_grace_period": "11s"}, {"args": []string{"-lines", "1"}},
		{"labels": map[string]string{"l": "1"}}, {"read_only": true},
	}
	var wg sync.WaitGroup
	statuses := make([]string, len(changes))
	for i, ch := range changes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := adminA
			if i%2 == 1 {
				c = adminB
			}
			status, text := c.Do(http.MethodPatch, "/api/v1/clusters/cu/services/cu", ch, nil)
			statuses[i] = fmt.Sprintf("%d %s", status, text)
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		if !strings.HasPrefix(s, "200 ") {
			t.Errorf("change %v: %s", changes[i], s)
		}
	}
	spec := inspect(t, m, "cu").Spec
	cs := spec.TaskTemplate.ContainerSpec
	got := fmt.Sprintln(cs.Env, cs.Hostname, cs.User, cs.Dir, *cs.StopGracePeriod, cs.Args, spec.Labels["l"], cs.ReadOnly)
	if want := "[E=1] cu-host 1234 /tmp 11s [-lines 1] 1 true\n"; got != want {
		t.Fatalf("after concurrent updates: %s, want %s (an update was lost)", got, want)
	}
}

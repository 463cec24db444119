package stack

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/cli/cli/compose/convert"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	"github.com/google/go-cmp/cmp"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/testenv"
)

var stackSeq atomic.Int64

// testStack answers a stack name no other test of this process uses.
func testStack(prefix string) string {
	return fmt.Sprintf("%s%d-%d", prefix, time.Now().Unix()%100000, stackSeq.Add(1))
}

// featureCompose uses as many features of the compose format as the
// test engines run.
const featureCompose = `
version: "3.8"
x-labels: &labels
  com.example.team: a
services:
  web:
    image: ` + testenv.HelloImage1 + `
    environment:
      A: "1"
      B: ${B:-bee}
      EMPTY: ""
    env_file: ./web.env
    labels:
      <<: *labels
      com.example.c: "1"
    deploy:
      mode: replicated
      replicas: 2
      endpoint_mode: dnsrr
      labels: {com.example.svc: web}
      placement:
        constraints: [node.platform.os == linux]
        preferences: [{spread: node.id}]
        max_replicas_per_node: 2
      resources:
        limits: {cpus: "0.5", memory: 64M}
        reservations: {cpus: "0.01", memory: 4M}
      update_config: {parallelism: 1, delay: 2s, failure_action: rollback, monitor: 5s, max_failure_ratio: 0.1, order: start-first}
      rollback_config: {parallelism: 2, delay: 0s, order: stop-first}
      restart_policy: {condition: on-failure, delay: 1s, max_attempts: 3, window: 10s}
    healthcheck:
      test: ["CMD", "/hello", "healthcheck"]
      interval: 10s
      timeout: 2s
      retries: 3
      start_period: 5s
    ports:
      - target: 8080
        published: ${WEB_PORT}
        protocol: tcp
        mode: host
    networks:
      front:
        aliases: [www]
      default:
    volumes:
      - data:/data
      - type: bind
        source: /tmp
        target: /host-tmp
        read_only: true
      - type: tmpfs
        target: /scratch
        tmpfs: {size: 1000000}
    secrets:
      - key
      - {source: key, target: other, uid: "1000", gid: "1000", mode: 0400}
    configs:
      - source: conf
        target: /etc/conf
    hostname: "web-{{.Task.Slot}}"
    stop_grace_period: 5s
    stop_signal: SIGTERM
    user: "0"
    working_dir: /
    read_only: true
    init: true
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    ulimits:
      nofile: {soft: 1000, hard: 2000}
    extra_hosts: ["db.local:10.0.0.1"]
    dns: [10.0.0.53]
    dns_search: [example.com]
    logging:
      driver: json-file
      options: {max-size: 1m}
    x-note: ignored
  vip:
    image: ` + testenv.HelloImage2 + `
    ports: ["${VIP_PORT}:8080", "9090/udp", {target: 9191}]
    deploy:
      mode: global
      update_config: {parallelism: 2}
      resources:
        limits: {memory: 32M}
  plain:
    image: ` + testenv.HelloImage1 + `
  once:
    image: ` + testenv.HelloImage1 + `
    command: [healthcheck, -addr, "127.0.0.1:1"] # exits at once: a job that ends
    deploy:
      mode: replicated-job
      restart_policy: {condition: none}
  job:
    image: swarmops-test/hello
    command: ["-lines", "1"]
    entrypoint: ["/hello"]
    deploy:
      replicas: 0
      restart_policy: {delay: 1s}
networks:
  front:
    driver: overlay
    attachable: true
    labels: [com.example.n=1]
volumes:
  data:
    driver: local
    labels: {com.example.v: "1"}
secrets:
  key: {file: ./key.txt}
configs:
  conf: {file: ./conf.txt}
`

var featureFiles = map[string]string{
	"./web.env":  "C=3\n# comment\nD=four\n",
	"./key.txt":  "s3cret\n",
	"./conf.txt": "a = 1\n",
}

// featureEnv gives each deploy of featureCompose its own published ports.
func featureEnv(base int) map[string]string {
	return map[string]string{"WEB_PORT": fmt.Sprint(base), "VIP_PORT": fmt.Sprint(base + 1)}
}

func engineCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// deployed loads src and deploys it as stack name with resolve_image
// never; the stack is removed when the test ends.
func deployed(t *testing.T, api client.APIClient, name string, src Source, o Options) (*Loaded, Result) {
	t.Helper()
	l := mustLoad(t, name, src)
	o.ResolveImage = ResolveImageNever
	res, err := Deploy(engineCtx(t), api, l, o)
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	return l, res
}

// removeAtEnd removes the stack when the test ends, and checks that
// nothing of it is left.
func removeAtEnd(t *testing.T, api client.APIClient, name string) {
	t.Helper()
	t.Cleanup(func() {
		ctx := context.Background()
		if _, err := Remove(ctx, api, name); err != nil && !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("Remove: %v", err)
		}
		if _, err := Remove(ctx, api, name); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("Remove again: %v, want not found", err)
		}
	})
}

// versions answers the version index of each of the stack's services.
func versions(t *testing.T, api client.APIClient, name string) map[string]uint64 {
	t.Helper()
	list, err := api.ServiceList(engineCtx(t), swarm.ServiceListOptions{Filters: stackFilter(name)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, s := range list {
		out[s.Spec.Name] = s.Version.Index
	}
	return out
}

// settled answers the version index of each of the stack's services once
// the engine has stopped writing them by itself: after a create, the
// allocator writes the service once more (its endpoint), and an update
// writes its progress until it ends.
func settled(t *testing.T, api client.APIClient, name string) map[string]uint64 {
	t.Helper()
	var last map[string]uint64
	testenv.Poll(t, time.Minute, "the services of stack "+name+" to settle", func() error {
		list, err := api.ServiceList(engineCtx(t), swarm.ServiceListOptions{Filters: stackFilter(name)})
		if err != nil {
			return err
		}
		now := map[string]uint64{}
		for _, s := range list {
			if s.Endpoint.Spec.Mode == "" {
				return fmt.Errorf("%s: endpoint not allocated yet", s.Spec.Name)
			}
			if u := s.UpdateStatus; u != nil && (u.State == swarm.UpdateStateUpdating || u.State == swarm.UpdateStateRollbackStarted) {
				return fmt.Errorf("%s: %s", s.Spec.Name, u.State)
			}
			now[s.Spec.Name] = s.Version.Index
		}
		prev := last
		last = now
		if !maps.Equal(prev, now) {
			return fmt.Errorf("versions %v, then %v", prev, now)
		}
		return nil
	})
	return last
}

func networkNames(t *testing.T, api client.APIClient) map[string]string {
	t.Helper()
	nets, err := api.NetworkList(engineCtx(t), network.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, nw := range nets {
		names[nw.ID] = nw.Name
	}
	return names
}

// TestSpecEqual_AfterEngineRoundTrip creates services from a compose file
// using many features and checks that specEqual holds between the spec
// sent and the one the engine answers back, and fails once one
// environment variable differs.
func TestSpecEqual_AfterEngineRoundTrip(t *testing.T) {
	api := testenv.SharedSwarm(t).Managers[0].Client()
	ctx := engineCtx(t)
	name := testStack("rt")
	removeAtEnd(t, api, name)
	l, res := deployed(t, api, name, Source{Compose: featureCompose, Files: featureFiles, Env: featureEnv(18580)}, Options{})
	if d := cmp.Diff(res.Services.Created, []string{name + "_job", name + "_once", name + "_plain", name + "_vip", name + "_web"}); d != "" {
		t.Fatalf("Created (-got +want):\n%s", d)
	}
	sent, err := convert.Services(ctx, l.namespace, l.config, api)
	if err != nil {
		t.Fatal(err)
	}
	names := networkNames(t, api)
	for internal, spec := range sent {
		// What the client does to every spec it sends.
		spec.TaskTemplate.ContainerSpec.Image = imageWithTag(spec.TaskTemplate.ContainerSpec.Image)
		svc, _, err := api.ServiceInspectWithRaw(ctx, l.namespace.Scope(internal), swarm.ServiceInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !specEqual(spec, svc.Spec, names) {
			a, _ := normalize(spec, names)
			b, _ := normalize(svc.Spec, names)
			t.Errorf("service %s: specEqual(sent, inspected) = false; normalized (-sent +inspected):\n%s", internal, cmp.Diff(a, b))
		}
		changed := spec
		cs := *spec.TaskTemplate.ContainerSpec
		cs.Env = append(append([]string{}, cs.Env...), "ONE_MORE=1")
		changed.TaskTemplate.ContainerSpec = &cs
		if specEqual(changed, svc.Spec, names) {
			t.Errorf("service %s: specEqual(sent with one more variable, inspected) = true", internal)
		}
	}
}

// TestDeploy_Again redeploys a file: unchanged, no version index moves;
// one variable changed, only its service moves; a service left out is kept
// without prune and removed with it.
func TestDeploy_Again(t *testing.T) {
	api := testenv.SharedSwarm(t).Managers[0].Client()
	name := testStack("again")
	removeAtEnd(t, api, name)
	src := Source{Compose: featureCompose, Files: featureFiles, Env: featureEnv(18590)}
	deployed(t, api, name, src, Options{})
	before := settled(t, api, name)

	_, res := deployed(t, api, name, src, Options{})
	all := []string{name + "_job", name + "_once", name + "_plain", name + "_vip", name + "_web"}
	if d := cmp.Diff(res.Services.Unchanged, all); d != "" || len(res.Changed) != 0 {
		t.Errorf("redeploy: Unchanged (-got +want):\n%s; Changed %v", d, res.Changed)
	}
	if d := cmp.Diff(versions(t, api, name), before); d != "" {
		t.Errorf("redeploy moved versions (-got +want):\n%s", d)
	}

	src.Env = maps.Clone(src.Env)
	src.Env["B"] = "changed"
	_, res = deployed(t, api, name, src, Options{})
	if d := cmp.Diff(res.Services.Updated, []string{name + "_web"}); d != "" {
		t.Errorf("one variable changed: Updated (-got +want):\n%s", d)
	}
	after := settled(t, api, name)
	for svc, v := range before {
		if moved := after[svc] != v; moved != (svc == name+"_web") {
			t.Errorf("service %s: version %d -> %d", svc, v, after[svc])
		}
	}

	src.Compose = cutService(t, featureCompose, "job")
	_, res = deployed(t, api, name, src, Options{})
	if len(res.Services.Removed) != 0 || len(versions(t, api, name)) != 5 {
		t.Errorf("without prune: %+v, services %v", res.Services, versions(t, api, name))
	}
	_, res = deployed(t, api, name, src, Options{Prune: true})
	if d := cmp.Diff(res.Services.Removed, []string{name + "_job"}); d != "" {
		t.Errorf("prune: Removed (-got +want):\n%s", d)
	}
	if _, ok := versions(t, api, name)[name+"_job"]; ok {
		t.Errorf("prune left %s_job", name)
	}
}

// cutService answers compose without the service svc (the last one of
// featureCompose's services section).
func cutService(t *testing.T, compose, svc string) string {
	t.Helper()
	start := strings.Index(compose, "\n  "+svc+":\n")
	end := strings.Index(compose, "\nnetworks:\n")
	if start < 0 || end < start {
		t.Fatalf("no service %s before networks", svc)
	}
	return compose[:start] + compose[end:]
}

// TestDeploy_SecretChanged checks the engine's refusal of a secret's new
// content, answered as a conflict before anything else is written.
func TestDeploy_SecretChanged(t *testing.T) {
	api := testenv.SharedSwarm(t).Managers[0].Client()
	name := testStack("sec")
	removeAtEnd(t, api, name)
	compose := "version: \"3.8\"\nservices:\n  web:\n    image: " + testenv.HelloImage1 + "\n    secrets: [key]\n    configs: [conf]\n" +
		"secrets:\n  key: {file: ./key}\n  other: {file: ./other}\nconfigs:\n  conf: {file: ./conf}\n"
	deployed(t, api, name, Source{Compose: compose, Files: map[string]string{"./key": "one", "./other": "o", "./conf": "c"}}, Options{})
	before := settled(t, api, name)

	l := mustLoad(t, name, Source{Compose: compose, Files: map[string]string{"./key": "two", "./other": "o", "./conf": "c"}})
	_, err := Deploy(engineCtx(t), api, l, Options{ResolveImage: ResolveImageNever})
	if !errors.Is(err, errs.ErrConflict) || !strings.Contains(err.Error(), fmt.Sprintf("secret %q already exists with other content", name+"_key")) {
		t.Fatalf("Deploy with a new secret content: %v, want a conflict", err)
	}
	l = mustLoad(t, name, Source{Compose: compose, Files: map[string]string{"./key": "one", "./other": "o", "./conf": "changed"}})
	_, err = Deploy(engineCtx(t), api, l, Options{ResolveImage: ResolveImageNever})
	if !errors.Is(err, errs.ErrConflict) || !strings.Contains(err.Error(), fmt.Sprintf("config %q already exists with other content", name+"_conf")) {
		t.Fatalf("Deploy with a new config content: %v, want a conflict", err)
	}
	if d := cmp.Diff(versions(t, api, name), before); d != "" {
		t.Errorf("refused deploys moved versions (-got +want):\n%s", d)
	}
}

// TestDeploy_BadFileCreatesNothing checks that a file the checks refuse
// leaves no object behind.
func TestDeploy_BadFileCreatesNothing(t *testing.T) {
	api := testenv.SharedSwarm(t).Managers[0].Client()
	name := testStack("bad")
	compose := "version: \"3.8\"\nservices:\n  web:\n    image: " + testenv.HelloImage1 + "\n    secrets: [key, ext]\n    networks: [front]\n" +
		"networks:\n  front: {}\nsecrets:\n  key: {file: ./key}\n  ext: {external: true, name: " + name + "-missing}\n"
	l := mustLoad(t, name, Source{Compose: compose, Files: map[string]string{"./key": "k"}})
	_, err := Deploy(engineCtx(t), api, l, Options{ResolveImage: ResolveImageNever})
	if !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), "secret not found: "+name+"-missing") {
		t.Fatalf("Deploy: %v, want invalid: secret not found", err)
	}
	if _, err := Remove(engineCtx(t), api, name); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("Remove after a refused deploy: %v, want not found (nothing created)", err)
	}
}

// TestRemove removes a running stack: every service, network, secret and
// config of it goes, networks included although tasks just left them.
func TestRemove(t *testing.T) {
	sw := testenv.SharedSwarm(t)
	api := sw.Managers[0].Client()
	name := testStack("rm")
	_, res := deployed(t, api, name, Source{Compose: featureCompose, Files: featureFiles, Env: featureEnv(18600)}, Options{})
	if len(res.Services.Created) != 5 {
		t.Fatalf("deploy: %+v", res.Services)
	}
	testenv.Poll(t, time.Minute, "the stack's tasks to run", func() error {
		tasks, err := api.TaskList(engineCtx(t), swarm.TaskListOptions{Filters: stackFilter(name)})
		if err != nil {
			return err
		}
		for _, task := range tasks {
			if task.Status.State == swarm.TaskStateRunning {
				return nil
			}
		}
		return errors.New("no task running")
	})
	r, err := Remove(engineCtx(t), api, name)
	if err != nil {
		t.Fatalf("Remove: %v", err)
	}
	want := Removed{
		Services: []string{name + "_job", name + "_once", name + "_plain", name + "_vip", name + "_web"},
		Networks: []string{name + "_default", name + "_front"},
		Secrets:  []string{name + "_key"},
		Configs:  []string{name + "_conf"},
	}
	if d := cmp.Diff(r, want); d != "" {
		t.Errorf("Remove (-got +want):\n%s", d)
	}
	if _, err := Remove(engineCtx(t), api, name); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("Remove again: %v, want not found", err)
	}
}

package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/docker/cli/cli/compose/loader"
	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/google/go-cmp/cmp"

	"github.com/swarmops/swarmops/internal/testenv"
)

// loadCompose loads a compose file of the repository with the docker CLI's
// own loader (what `docker stack deploy` runs), with env as the
// environment: a syntax or schema error fails the test.
func loadCompose(t *testing.T, name string, env map[string]string) *composetypes.Config {
	t.Helper()
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	dict, err := loader.ParseYAML(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if env == nil {
		env = map[string]string{}
	}
	cfg, err := loader.Load(composetypes.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []composetypes.ConfigFile{{Filename: name, Config: dict}},
		Environment: env,
	})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return cfg
}

func service(t *testing.T, cfg *composetypes.Config, name string) composetypes.ServiceConfig {
	t.Helper()
	for _, s := range cfg.Services {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("%s: no service %q", cfg.Filename, name)
	return composetypes.ServiceConfig{}
}

func envOf(s composetypes.ServiceConfig, k string) string {
	if v := s.Environment[k]; v != nil {
		return *v
	}
	return ""
}

// checkFileRefs fails for secret and config files that do not exist.
func checkFileRefs(t *testing.T, cfg *composetypes.Config) {
	t.Helper()
	for name, c := range cfg.Configs {
		if _, err := os.Stat(c.File); err != nil {
			t.Errorf("%s: config %s: %v", cfg.Filename, name, err)
		}
	}
	for name, s := range cfg.Secrets {
		if s.File == "" {
			t.Errorf("%s: secret %s has no file", cfg.Filename, name)
		}
	}
}

func TestStackFile(t *testing.T) {
	cfg := loadCompose(t, "stack.yaml", nil)
	if keys := loader.GetUnsupportedProperties(mustParse(t, "stack.yaml")); len(keys) > 0 {
		t.Errorf("stack.yaml uses keys that docker stack deploy ignores: %v", keys)
	}
	checkFileRefs(t, cfg)

	so := service(t, cfg, "swarmops")
	if so.Image != "swarmops/swarmops:latest" {
		t.Errorf("swarmops image %q by default", so.Image)
	}
	if so.Deploy.Replicas == nil || *so.Deploy.Replicas != 2 {
		t.Errorf("swarmops replicas %v by default, want 2", so.Deploy.Replicas)
	}
	if u := so.Deploy.UpdateConfig; u == nil || u.Order != "start-first" {
		t.Errorf("swarmops update_config %+v, want order start-first", u)
	}
	if !slices.Contains(so.Deploy.Placement.Constraints, "node.role == manager") {
		t.Errorf("swarmops placement %v, want node.role == manager", so.Deploy.Placement.Constraints)
	}
	if so.Deploy.EndpointMode != "dnsrr" {
		t.Errorf("swarmops endpoint_mode %q, want dnsrr (nginx resolves the tasks; no IPVS needed)", so.Deploy.EndpointMode)
	}
	if hc := so.HealthCheck; hc == nil || !slices.Equal([]string(hc.Test), []string{"CMD", "/swarmops", "healthcheck"}) {
		t.Errorf("swarmops healthcheck %+v", hc)
	}
	for k, want := range map[string]string{
		"SWARMOPS_STORE":               "redis",
		"SWARMOPS_REDIS_PASSWORD_FILE": "/run/secrets/redis_password",
		"SWARMOPS_ADMIN_PASSWORD_FILE": "/run/secrets/admin_password",
		"SWARMOPS_SECRET_KEY_FILE":     "/run/secrets/secret_key",
	} {
		if got := envOf(so, k); got != want {
			t.Errorf("swarmops %s=%q, want %q", k, got, want)
		}
	}
	for _, secret := range []string{"redis_password", "admin_password", "secret_key"} {
		if !slices.ContainsFunc(so.Secrets, func(s composetypes.ServiceSecretConfig) bool { return s.Source == secret }) {
			t.Errorf("swarmops does not get the %s secret: %+v", secret, so.Secrets)
		}
	}
	if !slices.ContainsFunc(so.Volumes, func(v composetypes.ServiceVolumeConfig) bool {
		return v.Type == "bind" && v.Source == "/var/run/docker.sock" && v.Target == "/var/run/docker.sock" && v.ReadOnly
	}) {
		t.Errorf("swarmops does not mount /var/run/docker.sock read-only by default: %+v", so.Volumes)
	}

	rd := service(t, cfg, "redis")
	if !slices.ContainsFunc(rd.Volumes, func(v composetypes.ServiceVolumeConfig) bool { return v.Type == "volume" && v.Target == "/data" }) {
		t.Errorf("redis keeps no volume at /data: %+v", rd.Volumes)
	}
	script := strings.Join(rd.Entrypoint, " ")
	for _, want := range []string{"/run/secrets/redis_password", "requirepass $pw", "--appendonly yes"} {
		if !strings.Contains(script, want) {
			t.Errorf("redis entrypoint lacks %q: %s", want, script)
		}
	}

	ng := service(t, cfg, "nginx")
	if d := cmp.Diff(ng.Ports, []composetypes.ServicePortConfig{{Mode: "ingress", Target: 80, Published: 80, Protocol: "tcp"}}); d != "" {
		t.Errorf("nginx ports by default (-got +want):\n%s", d)
	}
	if !slices.ContainsFunc(ng.Configs, func(c composetypes.ServiceConfigObjConfig) bool {
		return c.Target == "/etc/nginx/conf.d/default.conf" && strings.HasSuffix(cfg.Configs[c.Source].File, "deploy/nginx/swarmops.conf")
	}) {
		t.Errorf("nginx does not get deploy/nginx/swarmops.conf: %+v", ng.Configs)
	}

	// The variables the tests (and operators) set.
	cfg = loadCompose(t, "stack.yaml", map[string]string{
		"SWARMOPS_IMAGE": "example/swarmops:1", "PUBLISH_MODE": "host", "HTTP_PORT": "8080",
		"DOCKER_SOCK": "/run/{{.Node.Hostname}}/docker.sock", "SWARMOPS_REPLICAS": "3",
	})
	so, ng = service(t, cfg, "swarmops"), service(t, cfg, "nginx")
	if so.Image != "example/swarmops:1" || *so.Deploy.Replicas != 3 {
		t.Errorf("SWARMOPS_IMAGE and SWARMOPS_REPLICAS not applied: %q, %d", so.Image, *so.Deploy.Replicas)
	}
	if ng.Ports[0].Mode != "host" || ng.Ports[0].Published != 8080 {
		t.Errorf("PUBLISH_MODE and HTTP_PORT not applied: %+v", ng.Ports)
	}
	if !slices.ContainsFunc(so.Volumes, func(v composetypes.ServiceVolumeConfig) bool {
		return v.Source == "/run/{{.Node.Hostname}}/docker.sock" && v.Target == "/var/run/docker.sock"
	}) {
		t.Errorf("DOCKER_SOCK not applied: %+v", so.Volumes)
	}
}

func mustParse(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), name))
	if err != nil {
		t.Fatal(err)
	}
	dict, err := loader.ParseYAML(b)
	if err != nil {
		t.Fatal(err)
	}
	return dict
}

func TestComposeFile(t *testing.T) {
	cfg := loadCompose(t, "compose.yaml", nil)
	checkFileRefs(t, cfg)
	root := repoRoot(t)
	var ids []string
	for _, name := range []string{"swarmops-1", "swarmops-2"} {
		s := service(t, cfg, name)
		for k, want := range map[string]string{
			"SWARMOPS_STORE":               "redis",
			"SWARMOPS_REDIS_URL":           "redis://redis:6379/0",
			"SWARMOPS_REDIS_PASSWORD_FILE": "/run/secrets/redis_password",
			"SWARMOPS_SECRET_KEY_FILE":     "/run/secrets/secret_key",
		} {
			if got := envOf(s, k); got != want {
				t.Errorf("%s %s=%q, want %q", name, k, got, want)
			}
		}
		ids = append(ids, envOf(s, "SWARMOPS_INSTANCE_ID"))
		if !slices.ContainsFunc(s.Volumes, func(v composetypes.ServiceVolumeConfig) bool {
			return v.Source == "/var/run/docker.sock" && v.ReadOnly
		}) {
			t.Errorf("%s does not mount the docker socket read-only: %+v", name, s.Volumes)
		}
		if n := s.Networks["backend"]; n == nil || !slices.Contains(n.Aliases, "swarmops") {
			t.Errorf("%s is not `swarmops` on the backend network (nginx's upstream name): %+v", name, s.Networks)
		}
	}
	if ids[0] == "" || ids[0] == ids[1] {
		t.Errorf("instance ids %q: want two different ones", ids)
	}
	rd := service(t, cfg, "redis")
	if script := strings.Join(rd.Entrypoint, " "); !strings.Contains(script, "--appendonly yes") || !strings.Contains(script, "requirepass") {
		t.Errorf("redis runs without a password or append-only file: %s", script)
	}
	ng := service(t, cfg, "nginx")
	for _, want := range []string{"deploy/nginx/swarmops.conf", "deploy/nginx/swarmops.d/docker-dns.conf"} {
		if !slices.ContainsFunc(ng.Volumes, func(v composetypes.ServiceVolumeConfig) bool {
			return v.Source == filepath.Join(root, want) && v.ReadOnly
		}) {
			t.Errorf("nginx does not mount %s: %+v", want, ng.Volumes)
		}
		if _, err := os.Stat(filepath.Join(root, want)); err != nil {
			t.Error(err)
		}
	}
}

// TestNginxConfigInDocker checks swarmops.conf as the containers load it,
// with swarmops.d/docker-dns.conf beside it (nginx -t); TestHA runs it
// without, as on a host.
func TestNginxConfigInDocker(t *testing.T) {
	if testing.Short() {
		t.Skip("runs nginx -t")
	}
	nginx := testenv.Require(t, "nginx", "nginx")
	root := repoRoot(t)
	dir := t.TempDir()
	for _, d := range []string{"swarmops.d", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dns, err := os.ReadFile(filepath.Join(root, "deploy", "nginx", "swarmops.d", "docker-dns.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "swarmops.d", "docker-dns.conf"), dns, 0o644); err != nil {
		t.Fatal(err)
	}
	// The upstream's name is resolved by nginx -t: point it at loopback.
	conf := strings.NewReplacer("{{DIR}}", dir, "{{PORT}}", "8080").Replace(nginxConf(t, &instance{Addr: "127.0.0.1:10130"}))
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(nginx, "-t", "-p", dir+"/", "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log")).CombinedOutput()
	if err != nil {
		t.Fatalf("nginx -t with swarmops.d/docker-dns.conf: %v\n%s", err, out)
	}
}

package stack

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/swarmops/swarmops/internal/errs"
)

func mustLoad(t *testing.T, name string, src Source) *Loaded {
	t.Helper()
	l, err := Load(name, src)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return l
}

// environment answers a loaded service's environment, nil values as "<nil>".
func environment(t *testing.T, l *Loaded, service string) map[string]string {
	t.Helper()
	for _, s := range l.config.Services {
		if s.Name == service {
			out := map[string]string{}
			for k, v := range s.Environment {
				if v == nil {
					out[k] = "<nil>"
				} else {
					out[k] = *v
				}
			}
			return out
		}
	}
	t.Fatalf("no service %s", service)
	return nil
}

func TestLoad_Errors(t *testing.T) {
	const head = "version: \"3.8\"\nservices:\n  web:\n    image: hello:1\n"
	tests := []struct {
		name  string
		stack string
		src   Source
		field string
		words []string // the message contains each
	}{
		{"yaml syntax", "app", Source{Compose: "services:\n  web:\n    image: x\n   bad: [\n"}, "compose", []string{"yaml: line"}},
		{"unknown key", "app", Source{Compose: "version: \"3.8\"\nservices:\n  web:\n    imagee: x\n"}, "compose", []string{"services.web", "imagee", "not allowed"}},
		{"bad duration", "app", Source{Compose: head + "    healthcheck:\n      interval: 10x\n"}, "compose", []string{"healthcheck.interval", "duration"}},
		{"required variable", "app", Source{Compose: "version: \"3.8\"\nservices:\n  web:\n    image: ${X:?X is required}\n"}, "compose", []string{"required variable X is missing a value: X is required"}},
		{"bad cast", "app", Source{Compose: head + "    deploy:\n      replicas: ${N}\n", Env: map[string]string{"N": "many"}}, "compose", []string{"deploy.replicas", "failed to cast"}},
		{"forbidden property", "app", Source{Compose: head + "    cpu_shares: 5\n"}, "compose", []string{"Compose file contains unsupported options", "cpu_shares: Set resource limits using deploy.resources"}},
		{"no image", "app", Source{Compose: "version: \"3.8\"\nservices:\n  web:\n    command: x\n"}, "compose", []string{"invalid image reference for service web: no image specified"}},
		{"bad image", "app", Source{Compose: "version: \"3.8\"\nservices:\n  web:\n    image: UPPER\n"}, "compose", []string{"invalid image reference for service web", "must be lowercase"}},
		{"absolute secret file", "app", Source{Compose: head + "secrets:\n  key:\n    file: /etc/shadow\n"}, "files", []string{"secret key reads file /etc/shadow", "absolute"}},
		{"secret file leaving the directory", "app", Source{Compose: head + "secrets:\n  key:\n    file: ./a/../../key\n", Files: map[string]string{"./key": "x"}}, "files", []string{"secret key reads file ./a/../../key", "leaves"}},
		{"secret file not in files", "app", Source{Compose: head + "secrets:\n  key:\n    file: ./key.txt\n"}, "files", []string{"secret key reads file ./key.txt, which the request's files do not carry"}},
		{"interpolated config file", "app", Source{Compose: head + "configs:\n  conf:\n    file: ${F}\n", Env: map[string]string{"F": "/etc/passwd"}}, "files", []string{"config conf reads file /etc/passwd"}},
		{"env_file outside files", "app", Source{Compose: head + "    env_file: ../host.env\n"}, "files", []string{"service web reads env_file ../host.env", "leaves"}},
		{"env_file not in files", "app", Source{Compose: head + "    env_file: [./a.env, ./b.env]\n", Files: map[string]string{"a.env": "A=1\n"}}, "files", []string{"service web reads env_file ./b.env, which the request's files do not carry"}},
		{"absolute env_file", "app", Source{Compose: head + "    env_file: /root/.env\n"}, "files", []string{"service web reads env_file /root/.env", "absolute"}},
		{"bad env file", "app", Source{Compose: head + "    env_file: ./bad.env\n", Files: map[string]string{"./bad.env": "A B=1\n"}}, "compose", []string{"invalid env file (./bad.env)", "contains whitespaces"}},
		{"relative bind", "app", Source{Compose: head + "    volumes:\n      - ./data:/data\n"}, "compose", []string{"service web: bind source ./data is relative; give an absolute path on the nodes"}},
		{"relative bind, long syntax", "app", Source{Compose: head + "    volumes:\n      - type: bind\n        source: data\n        target: /data\n"}, "compose", []string{"service web: bind source data is relative"}},
		{"bind from ~ without HOME", "app", Source{Compose: head + "    volumes:\n      - ~/data:/data\n"}, "compose", []string{"bind source ~/data is relative"}},
		{"secret without file", "app", Source{Compose: head + "secrets:\n  key: {}\n"}, "compose", []string{"secret key"}},
		{"bad file key", "app", Source{Compose: head, Files: map[string]string{"../x": "1"}}, "files", []string{`file "../x"`, "leaves"}},
		{"absolute file key", "app", Source{Compose: head, Files: map[string]string{"/x": "1"}}, "files", []string{`file "/x"`, "absolute"}},
		{"empty file key", "app", Source{Compose: head, Files: map[string]string{"": "1"}}, "files", []string{"empty"}},
		{"one file twice", "app", Source{Compose: head, Files: map[string]string{"./x": "1", "x": "2"}}, "files", []string{"same file"}},
		{"file and directory", "app", Source{Compose: head, Files: map[string]string{"./x": "1", "x/y": "2"}}, "files", []string{"also the directory"}},
		{"env value with a line break", "app", Source{Compose: head + "    env_file: ./a.env\n", Files: map[string]string{"./a.env": "A\n"}, Env: map[string]string{"A": "1\n2"}}, "env", []string{"line break"}},
		{"empty name", "", Source{Compose: head}, "name", []string{"name"}},
		{"uppercase name", "App", Source{Compose: head}, "name", []string{"invalid stack name"}},
		{"long name", strings.Repeat("a", 64), Source{Compose: head}, "name", []string{"invalid stack name"}},
		{"empty file", "app", Source{Compose: ""}, "compose", []string{"top-level object must be a mapping"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.stack, tt.src)
			if !errors.Is(err, errs.ErrInvalid) {
				t.Fatalf("Load: %v, want an errs.ErrInvalid", err)
			}
			pe, _ := errs.Public(err)
			if pe.Field != tt.field {
				t.Errorf("field %q, want %q (%v)", pe.Field, tt.field, err)
			}
			for _, w := range tt.words {
				if !strings.Contains(pe.Message, w) {
					t.Errorf("message %q does not contain %q", pe.Message, w)
				}
			}
			if strings.Contains(pe.Message, "swarmops-stack-") {
				t.Errorf("message %q names the temporary directory", pe.Message)
			}
		})
	}
}

func TestLoad_Warnings(t *testing.T) {
	l := mustLoad(t, "app", Source{Compose: `
version: "3.8"
services:
  web:
    image: hello:1
    build: .
    container_name: web
    restart: always
    depends_on: [db]
  db:
    image: hello:2
    expose: ["5432"]
`})
	want := []string{
		"Ignoring unsupported options: build, restart",
		"Ignoring deprecated options:\n\ncontainer_name: Setting the container name is not supported.\n\n" +
			"expose: Exposing ports is unnecessary - services on the same network can access each other's containers on any port.",
	}
	if d := cmp.Diff(l.Warnings, want); d != "" {
		t.Errorf("Warnings (-got +want):\n%s", d)
	}
	l = mustLoad(t, "app", Source{Compose: "version: \"3.8\"\nservices:\n  web:\n    image: hello:1\n    depends_on: [db]\n  db:\n    image: x\n"})
	if l.Warnings == nil || len(l.Warnings) != 0 {
		t.Errorf("Warnings for depends_on = %#v, want none (the CLI v28 says nothing about it)", l.Warnings)
	}
}

func TestLoad_Interpolation(t *testing.T) {
	t.Setenv("SWARMOPS_TEST_HOST_VAR", "from-the-server")
	compose := `
version: "3.8"
services:
  web:
    image: hello:${TAG}
    environment:
      PLAIN: ${PLAIN}
      DEFAULTED: ${UNSET:-fallback}
      HOST: ${SWARMOPS_TEST_HOST_VAR:-not-from-the-server}
      SWARMOPS_TEST_HOST_VAR:
      GIVEN:
    env_file: ./web.env
`
	files := map[string]string{"./web.env": "\uFEFFFILE=1\n  # comment\nSWARMOPS_TEST_HOST_VAR\nGIVEN_IN_FILE\r\nMISSING\n"}
	l := mustLoad(t, "app", Source{Compose: compose, Files: files, Env: map[string]string{
		"TAG": "2", "PLAIN": "p", "GIVEN": "g", "GIVEN_IN_FILE": "gf",
	}})
	if img := l.config.Services[0].Image; img != "hello:2" {
		t.Errorf("image %q, want hello:2", img)
	}
	want := map[string]string{
		"PLAIN": "p", "DEFAULTED": "fallback", "HOST": "not-from-the-server",
		"SWARMOPS_TEST_HOST_VAR": "<nil>", // a name without value, as the CLI without the variable
		"GIVEN":                  "g",
		"FILE":                   "1",
		"GIVEN_IN_FILE":          "gf",
	}
	if d := cmp.Diff(environment(t, l, "web"), want); d != "" {
		t.Errorf("environment (-got +want):\n%s", d)
	}
	for _, s := range l.Warnings {
		if strings.Contains(s, "from-the-server") {
			t.Errorf("warning %q holds the server's variable", s)
		}
	}
}

func TestLoad_Files(t *testing.T) {
	compose := `
version: "3.8"
services:
  web:
    image: hello:1
    env_file: ./both.env
    secrets: [key, both, ext]
    configs: [conf]
    volumes:
      - /srv/data:/data
      - named:/named
volumes:
  named: {}
secrets:
  key:
    file: ./secrets/key.txt
  both:
    file: both.env
  ext:
    external: true
    name: shared_key
configs:
  conf:
    file: ./conf/app.conf
`
	files := map[string]string{
		"./secrets/key.txt": "s3cret",
		"both.env":          "A\nB=2\n",
		"./conf/app.conf":   "x = 1\n",
		"./unused":          "u",
	}
	l := mustLoad(t, "app", Source{Compose: compose, Files: files, Env: map[string]string{"A": "1"}})
	if d := cmp.Diff(l.SecretFiles, []string{"./secrets/key.txt", "both.env"}); d != "" {
		t.Errorf("SecretFiles (-got +want):\n%s", d)
	}
	secrets := map[string]string{}
	for _, s := range l.secrets {
		secrets[s.Name] = string(s.Data)
		if s.Labels["com.docker.stack.namespace"] != "app" {
			t.Errorf("secret %s labels %v", s.Name, s.Labels)
		}
	}
	// The env file gets A from env for the loader, the secret is the file as sent.
	if d := cmp.Diff(secrets, map[string]string{"app_key": "s3cret", "app_both": "A\nB=2\n"}); d != "" {
		t.Errorf("secrets (-got +want):\n%s", d)
	}
	if d := cmp.Diff(environment(t, l, "web"), map[string]string{"A": "1", "B": "2"}); d != "" {
		t.Errorf("environment (-got +want):\n%s", d)
	}
	if len(l.configs) != 1 || l.configs[0].Name != "app_conf" || string(l.configs[0].Data) != "x = 1\n" {
		t.Errorf("configs %+v", l.configs)
	}
	if _, ok := l.networks["app_default"]; !ok || len(l.externalNetworks) != 0 {
		t.Errorf("networks %v, external %v", l.networks, l.externalNetworks)
	}
	// Nothing of the request stays on disk.
	for _, base := range []string{"/dev/shm", os.TempDir()} {
		for _, f := range l.config.Secrets {
			if f.File != "" && strings.HasPrefix(f.File, base) {
				if _, err := os.Stat(filepath.Dir(f.File)); err == nil {
					t.Errorf("%s is still there", filepath.Dir(f.File))
				}
			}
		}
	}
}

func TestLoad_ExternalNetwork(t *testing.T) {
	l := mustLoad(t, "app", Source{Compose: `
version: "3.8"
services:
  web:
    image: hello:1
    networks: [front, outside]
networks:
  front: {}
  outside:
    external: true
    name: shared
`})
	if d := cmp.Diff(l.externalNetworks, []string{"shared"}); d != "" {
		t.Errorf("external networks (-got +want):\n%s", d)
	}
	names := []string{}
	for n := range l.networks {
		names = append(names, n)
	}
	slices.Sort(names)
	if d := cmp.Diff(names, []string{"app_front"}); d != "" {
		t.Errorf("networks (-got +want):\n%s", d)
	}
}

func TestEnvFileForLoader(t *testing.T) {
	env := map[string]string{"A": "1", "B": ""}
	got, err := envFileForLoader("\uFEFFA\n  B\n#C\nC\nD=x\r\nE \nF=\n", env)
	if err != nil {
		t.Fatal(err)
	}
	want := "A=1\nB=\n#C\nD=x\r\nE \nF=\n"
	if got != want {
		t.Errorf("envFileForLoader = %q, want %q", got, want)
	}
}

package config

import (
	"errors"
	"io"
	"io/fs"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func testEnv(vars map[string]string, files map[string]string) Env {
	return Env{
		Getenv: func(k string) string { return vars[k] },
		ReadFile: func(p string) ([]byte, error) {
			if s, ok := files[p]; ok {
				return []byte(s), nil
			}
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		},
		Hostname: func() (string, error) { return "host-a", nil },
	}
}

func TestLoad_Defaults(t *testing.T) {
	got, _, err := Load(nil, testEnv(nil, nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Listen: "0.0.0.0:10130", Store: "local", DataDir: "./data", RedisPrefix: "swarmops:",
		Autoregister: true, LocalEndpoint: "unix:///var/run/docker.sock", EngineTimeout: 10 * time.Second,
		InstanceID: "host-a", SessionTTL: 12 * time.Hour, ShutdownDrain: 5 * time.Second,
		LockWait: 5 * time.Second, AuditCap: 100000, LogLevel: "info", LogFormat: "json",
		StreamsPerUser: 20, StreamsPerInstance: 1000, LogTailMax: 10000,
	}
	if diff := cmp.Diff(got, want, cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
		t.Errorf("Load() (-got +want):\n%s", diff)
	}
}

func TestLoad_Precedence(t *testing.T) {
	vars := map[string]string{
		"SWARMOPS_LISTEN": "127.0.0.1:1", "swarmops_host": "10.0.0.1", "swarmops_port": "2",
		"SWARMOPS_STORE": "redis", "SWARMOPS_REDIS_URL": "redis://r:6379/1",
		"SWARMOPS_REDIS_PASSWORD_FILE": "/run/secrets/pw",
		"SWARMOPS_TRUSTED_PROXIES":     "10.0.0.0/8, 192.168.1.7",
	}
	files := map[string]string{"/run/secrets/pw": "s3cret\n"}
	got, _, err := Load([]string{"--listen", "127.0.0.1:3"}, testEnv(vars, files), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got.Listen != "127.0.0.1:3" {
		t.Errorf("Listen = %q, want the flag's 127.0.0.1:3", got.Listen)
	}
	if got.RedisPassword != "s3cret" {
		t.Errorf("RedisPassword = %q, want the file's content without newline", got.RedisPassword)
	}
	wantProxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32")}
	if diff := cmp.Diff(got.TrustedProxies, wantProxies, cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
		t.Errorf("TrustedProxies (-got +want):\n%s", diff)
	}
	if s := got.String(); strings.Contains(s, "s3cret") || !strings.Contains(s, "redis-password=<redacted>") {
		t.Errorf("String() must redact the password: %s", s)
	}
}

func TestLoad_Aliases(t *testing.T) {
	vars := map[string]string{
		"swarmops_host": "127.0.0.2", "swarmops_port": "9000",
		"swarmops_swarmstoragemode":  "Redis",
		"swarmops_StorageConnection": "redis://cache.example:6380:p@ss",
	}
	got, _, err := Load(nil, testEnv(vars, nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got.Listen != "127.0.0.2:9000" || got.Store != "redis" {
		t.Errorf("Listen, Store = %q, %q; want 127.0.0.2:9000, redis", got.Listen, got.Store)
	}
	if want := "redis://:p%40ss@cache.example:6380/0"; got.RedisURL != want {
		t.Errorf("RedisURL = %q, want %q", got.RedisURL, want)
	}
	if s := got.String(); strings.Contains(s, "p%40ss") || strings.Contains(s, "p@ss") {
		t.Errorf("String() leaks the URL's password: %s", s)
	}
}

func TestLoad_Problems(t *testing.T) {
	vars := map[string]string{
		"SWARMOPS_LISTEN":          "nowhere",
		"SWARMOPS_STORE":           "etcd",
		"SWARMOPS_ENGINE_TIMEOUT":  "ten",
		"SWARMOPS_LOG_LEVEL":       "loud",
		"SWARMOPS_TRUSTED_PROXIES": "10.0.0.0/33",
		"SWARMOPS_ADMIN_PASSWORD":  "short",
	}
	_, _, err := Load(nil, testEnv(vars, nil), io.Discard)
	var p Problems
	if !errors.As(err, &p) {
		t.Fatalf("Load() error = %v, want Problems", err)
	}
	for _, want := range []string{"SWARMOPS_LISTEN", "SWARMOPS_STORE", "SWARMOPS_ENGINE_TIMEOUT", "SWARMOPS_LOG_LEVEL", "SWARMOPS_TRUSTED_PROXIES", "SWARMOPS_ADMIN_PASSWORD"} {
		found := false
		for _, line := range p {
			if strings.HasPrefix(line, want+"=") {
				found = true
			}
		}
		if !found {
			t.Errorf("no problem line for %s in:\n%s", want, p)
		}
	}
	if strings.Contains(p.Error(), "short") {
		t.Errorf("a secret's value appears in the problems:\n%s", p)
	}
}

func TestLoad_RedisNeedsURL(t *testing.T) {
	_, _, err := Load([]string{"--store", "redis"}, testEnv(nil, nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "SWARMOPS_REDIS_URL") {
		t.Fatalf("Load() error = %v, want one naming SWARMOPS_REDIS_URL", err)
	}
}

func TestLoad_MissingSecretFile(t *testing.T) {
	vars := map[string]string{"SWARMOPS_ADMIN_PASSWORD_FILE": "/nope"}
	_, _, err := Load(nil, testEnv(vars, nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "SWARMOPS_ADMIN_PASSWORD_FILE: cannot read /nope") {
		t.Fatalf("Load() error = %v", err)
	}
}

func TestLoad_BadRedisURLHidesPassword(t *testing.T) {
	for _, v := range []string{"redis://:s3cr3t@host:port/0", "http://:s3cr3t@host:6379", "redis://host:6379:s3cr3t/x"} {
		_, _, err := Load(nil, testEnv(map[string]string{"SWARMOPS_REDIS_URL": v}, nil), io.Discard)
		if err == nil {
			t.Errorf("%s: accepted", v)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("the problem line shows the password: %v", err)
		}
	}
}

func TestLoad_SecretKey(t *testing.T) {
	const key = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=" // 32 bytes
	tests := []struct {
		name  string
		vars  map[string]string
		files map[string]string
		want  string
	}{
		{"variable", map[string]string{"SWARMOPS_SECRET_KEY": key}, nil, key},
		{"unpadded", map[string]string{"SWARMOPS_SECRET_KEY": strings.TrimRight(key, "=")}, nil, strings.TrimRight(key, "=")},
		{"file", map[string]string{"SWARMOPS_SECRET_KEY_FILE": "/run/secrets/key"}, map[string]string{"/run/secrets/key": key + "\n"}, key},
		{"rotating", map[string]string{"SWARMOPS_SECRET_KEY": key + "," + strings.TrimRight(key, "=")}, nil, key + "," + strings.TrimRight(key, "=")},
		{"none", nil, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := Load(nil, testEnv(tc.vars, tc.files), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if got.SecretKey != tc.want {
				t.Errorf("SecretKey = %q, want %q", got.SecretKey, tc.want)
			}
			s := got.String()
			if tc.want != "" && (strings.Contains(s, tc.want) || !strings.Contains(s, "secret-key=<redacted>")) {
				t.Errorf("String() must redact the key: %s", s)
			}
		})
	}
}

func TestLoad_BadSecretKey(t *testing.T) {
	for _, v := range []string{
		"c2hvcnQta2V5LW9mLTE2Yg==",                         // 16 bytes
		"q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEg==", // 34 bytes
		"not base64 at all, but long enough to be a key!",
		"q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80-",                          // URL alphabet
		"q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=,c2hvcnQta2V5LW9mLTE2Yg==", // a good key, then a short one
		",,,", // no key at all
	} {
		_, _, err := Load([]string{"--secret-key", v}, testEnv(nil, nil), io.Discard)
		var p Problems
		if !errors.As(err, &p) || len(p) != 1 {
			t.Errorf("--secret-key %q: %v, want one problem", v, err)
			continue
		}
		if !strings.HasPrefix(p[0], "--secret-key=") || !strings.Contains(p[0], "expected 32 random bytes in base64, e.g. from `openssl rand -base64 32`") {
			t.Errorf("--secret-key %q: problem %q", v, p[0])
		}
		if strings.Contains(p[0], v) {
			t.Errorf("the problem shows the key: %s", p[0])
		}
	}
}

func TestLoad_OperatorBindPaths(t *testing.T) {
	got, _, err := Load(nil, testEnv(map[string]string{"SWARMOPS_OPERATOR_BIND_PATHS": " /srv/data/ , /var/lib/app"}, nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/srv/data", "/var/lib/app"}; !cmp.Equal(got.OperatorBindPaths, want) {
		t.Errorf("OperatorBindPaths = %q, want %q", got.OperatorBindPaths, want)
	}
	for _, bad := range []string{"srv/data", "/", "/srv/../etc", "/srv/data,relative"} {
		_, _, err := Load(nil, testEnv(map[string]string{"SWARMOPS_OPERATOR_BIND_PATHS": bad}, nil), io.Discard)
		var p Problems
		if !errors.As(err, &p) || len(p) != 1 || !strings.Contains(p[0], "SWARMOPS_OPERATOR_BIND_PATHS") {
			t.Errorf("SWARMOPS_OPERATOR_BIND_PATHS=%q: %v, want one problem naming the variable", bad, err)
		}
	}
}

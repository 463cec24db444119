package config

import (
	"errors"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/swarmops/swarmops/internal/sso"
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

// configCmp compares Configs: prefixes as values, the single sign-on map
// and lists by the text they were parsed from.
var configCmp = cmp.Options{
	cmpopts.EquateComparable(netip.Prefix{}),
	cmp.Comparer(func(a, b sso.RoleMap) bool { return a.String() == b.String() }),
	cmp.Comparer(func(a, b sso.List) bool { return a.String() == b.String() }),
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
		OIDCScopes: []string{"openid", "profile", "email"}, OIDCName: "SSO",
		OIDCUsernameClaim: "preferred_username", OIDCGroupsClaim: "groups", LocalLogin: true,
	}
	if diff := cmp.Diff(got, want, configCmp); diff != "" {
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

// ssoEnv is a complete single sign-on setup (OIDC and an auth proxy) that
// Load accepts; tests change one variable of it.
func ssoEnv(change map[string]string) map[string]string {
	vars := map[string]string{
		"SWARMOPS_PUBLIC_URL":      "https://swarmops.example.com",
		"SWARMOPS_OIDC_ISSUER":     "https://login.example.com/realms/main",
		"SWARMOPS_OIDC_CLIENT_ID":  "swarmops",
		"SWARMOPS_OIDC_ROLE_MAP":   "platform-admins=admin,*=viewer",
		"SWARMOPS_AUTH_HEADER":     "Remote-User",
		"SWARMOPS_TRUSTED_PROXIES": "10.0.0.5",
	}
	for k, v := range change {
		vars[k] = v
	}
	return vars
}

func TestLoad_SSOValuesAccepted(t *testing.T) {
	tests := []struct {
		name, variable, value string
		field                 func(Config) any
		want                  any
	}{
		{"public url", "SWARMOPS_PUBLIC_URL", "https://swarmops.example.com",
			func(c Config) any { return c.PublicURL }, "https://swarmops.example.com"},
		{"public url trailing slash trimmed", "SWARMOPS_PUBLIC_URL", "https://swarmops.example.com/",
			func(c Config) any { return c.PublicURL }, "https://swarmops.example.com"},
		{"public url with path", "SWARMOPS_PUBLIC_URL", "https://example.com/ops//",
			func(c Config) any { return c.PublicURL }, "https://example.com/ops"},
		{"public url http with port", "SWARMOPS_PUBLIC_URL", "http://10.0.0.7:10130",
			func(c Config) any { return c.PublicURL }, "http://10.0.0.7:10130"},
		{"public url IPv6", "SWARMOPS_PUBLIC_URL", "https://[::1]:8443",
			func(c Config) any { return c.PublicURL }, "https://[::1]:8443"},
		{"issuer with path", "SWARMOPS_OIDC_ISSUER", "https://login.example.com/realms/main",
			func(c Config) any { return c.OIDCIssuer }, "https://login.example.com/realms/main"},
		{"issuer trailing slash kept", "SWARMOPS_OIDC_ISSUER", "https://tenant.eu.auth0.com/",
			func(c Config) any { return c.OIDCIssuer }, "https://tenant.eu.auth0.com/"},
		{"issuer http", "SWARMOPS_OIDC_ISSUER", "http://127.0.0.1:5556/dex",
			func(c Config) any { return c.OIDCIssuer }, "http://127.0.0.1:5556/dex"},
		{"client id", "SWARMOPS_OIDC_CLIENT_ID", "0oa1b2c3d4-Swarm.ops",
			func(c Config) any { return c.OIDCClientID }, "0oa1b2c3d4-Swarm.ops"},
		{"client secret", "SWARMOPS_OIDC_CLIENT_SECRET", "s3cret with spaces",
			func(c Config) any { return c.OIDCClientSecret }, "s3cret with spaces"},
		{"redirect url given", "SWARMOPS_OIDC_REDIRECT_URL", "https://sso.example.com/cb?realm=main",
			func(c Config) any { return c.OIDCRedirectURL }, "https://sso.example.com/cb?realm=main"},
		{"scopes spaces and commas, each once", "SWARMOPS_OIDC_SCOPES", "openid,groups  email, openid",
			func(c Config) any { return c.OIDCScopes }, []string{"openid", "groups", "email"}},
		{"scopes openid alone", "SWARMOPS_OIDC_SCOPES", "openid",
			func(c Config) any { return c.OIDCScopes }, []string{"openid"}},
		{"scopes with a URL scope", "SWARMOPS_OIDC_SCOPES", "openid api://swarmops/read",
			func(c Config) any { return c.OIDCScopes }, []string{"openid", "api://swarmops/read"}},
		{"name trimmed", "SWARMOPS_OIDC_NAME", " Keycloak ",
			func(c Config) any { return c.OIDCName }, "Keycloak"},
		{"name with spaces", "SWARMOPS_OIDC_NAME", "Microsoft Entra ID",
			func(c Config) any { return c.OIDCName }, "Microsoft Entra ID"},
		{"username claim", "SWARMOPS_OIDC_USERNAME_CLAIM", "email",
			func(c Config) any { return c.OIDCUsernameClaim }, "email"},
		{"namespaced groups claim", "SWARMOPS_OIDC_GROUPS_CLAIM", "https://swarmops.example.com/groups",
			func(c Config) any { return c.OIDCGroupsClaim }, "https://swarmops.example.com/groups"},
		{"role map", "SWARMOPS_OIDC_ROLE_MAP", "/platform/admins=admin, ops=operator,*=viewer",
			func(c Config) any { r, _ := c.SSORoles.Role([]string{"ops"}); return r }, "operator"},
		{"allow list", "SWARMOPS_SSO_ALLOW", "alice,@example.com",
			func(c Config) any { return c.SSOAllow.Match("bob", "bob@Example.com") }, true},
		{"deny list", "SWARMOPS_SSO_DENY", "Mallory",
			func(c Config) any { return c.SSODeny.Match("mallory", "") }, true},
		{"auth header canonicalised", "SWARMOPS_AUTH_HEADER", "x-forwarded-user",
			func(c Config) any { return c.AuthHeader }, "X-Forwarded-User"},
		{"auth header token characters", "SWARMOPS_AUTH_HEADER", "x-auth_request.user~1",
			func(c Config) any { return c.AuthHeader }, "X-Auth_request.user~1"},
		{"groups header canonicalised", "SWARMOPS_AUTH_GROUPS_HEADER", "REMOTE-GROUPS",
			func(c Config) any { return c.AuthGroupsHeader }, "Remote-Groups"},
		{"local login off", "SWARMOPS_LOCAL_LOGIN", "false",
			func(c Config) any { return c.LocalLogin }, false},
		{"local login on", "SWARMOPS_LOCAL_LOGIN", "true",
			func(c Config) any { return c.LocalLogin }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := Load(nil, testEnv(ssoEnv(map[string]string{tc.variable: tc.value}), nil), io.Discard)
			if err != nil {
				t.Fatalf("%s=%q: %v", tc.variable, tc.value, err)
			}
			if diff := cmp.Diff(tc.field(got), tc.want); diff != "" {
				t.Errorf("%s=%q (-got +want):\n%s", tc.variable, tc.value, diff)
			}
		})
	}
}

func TestLoad_SSOValuesRefused(t *testing.T) {
	const notURL = "expected an absolute http:// or https:// URL with a host"
	tests := []struct {
		variable, value, want string
	}{
		{"SWARMOPS_PUBLIC_URL", "swarmops.example.com", notURL + ", e.g. https://swarmops.example.com"},
		{"SWARMOPS_PUBLIC_URL", "/swarmops", notURL},
		{"SWARMOPS_PUBLIC_URL", "ftp://swarmops.example.com", notURL},
		{"SWARMOPS_PUBLIC_URL", "https://", notURL},
		{"SWARMOPS_PUBLIC_URL", "https:///ops", notURL},
		{"SWARMOPS_PUBLIC_URL", "https:swarmops.example.com", notURL},
		{"SWARMOPS_PUBLIC_URL", "https://swarm ops.example.com", notURL},
		{"SWARMOPS_PUBLIC_URL", "https://swarmops.example.com/?tab=1", "must not have a ?query"},
		{"SWARMOPS_PUBLIC_URL", "https://swarmops.example.com/?", "must not have a ?query"},
		{"SWARMOPS_PUBLIC_URL", "https://swarmops.example.com/#top", "must not have a #fragment"},
		{"SWARMOPS_PUBLIC_URL", "https://swarmops.example.com#", "must not have a #fragment"},
		{"SWARMOPS_PUBLIC_URL", "https://admin:pw@swarmops.example.com", "must not hold a user name or password"},
		{"SWARMOPS_OIDC_ISSUER", "login.example.com", notURL + ", e.g. https://login.example.com/realms/main"},
		{"SWARMOPS_OIDC_ISSUER", "unix:///run/idp.sock", notURL},
		{"SWARMOPS_OIDC_ISSUER", "https://login.example.com/realms/main?x=1", "must not have a ?query"},
		{"SWARMOPS_OIDC_ISSUER", "https://login.example.com/#x", "must not have a #fragment"},
		{"SWARMOPS_OIDC_CLIENT_ID", "swarm ops", "expected the client id without spaces"},
		{"SWARMOPS_OIDC_REDIRECT_URL", "/api/v1/auth/oidc/callback", notURL + ", e.g. https://swarmops.example.com/api/v1/auth/oidc/callback"},
		{"SWARMOPS_OIDC_REDIRECT_URL", "https://swarmops.example.com/cb#x", "must not have a #fragment"},
		{"SWARMOPS_OIDC_REDIRECT_URL", "https://u:p@swarmops.example.com/cb", "must not hold a user name or password"},
		{"SWARMOPS_OIDC_SCOPES", "profile email", "expected openid among the scopes"},
		{"SWARMOPS_OIDC_SCOPES", "OpenID profile", "expected openid among the scopes"},
		{"SWARMOPS_OIDC_SCOPES", ", ,", "expected openid among the scopes"},
		{"SWARMOPS_OIDC_SCOPES", `openid "email"`, `scope "\"email\"": expected printable ASCII`},
		{"SWARMOPS_OIDC_SCOPES", `openid a\b`, "expected printable ASCII without quotes or backslashes"},
		{"SWARMOPS_OIDC_SCOPES", "openid prófile", "expected printable ASCII"},
		{"SWARMOPS_OIDC_NAME", "   ", "expected a short name for the login button"},
		{"SWARMOPS_OIDC_NAME", strings.Repeat("n", 65), "(1 to 64 characters)"},
		{"SWARMOPS_OIDC_NAME", "Key\x1bcloak", "expected a short name"},
		{"SWARMOPS_OIDC_USERNAME_CLAIM", "preferred username", "expected a claim name without spaces, e.g. preferred_username"},
		{"SWARMOPS_OIDC_GROUPS_CLAIM", " ", "expected a claim name without spaces, e.g. groups"},
		{"SWARMOPS_OIDC_ROLE_MAP", "platform-admins", `entry 1 "platform-admins": expected group=role`},
		{"SWARMOPS_OIDC_ROLE_MAP", "ops=operator,devs=root", `role "root": expected viewer, operator or admin`},
		{"SWARMOPS_SSO_ALLOW", "alice smith", "expected a user name, an email address or @domain"},
		{"SWARMOPS_SSO_DENY", "@example", "expected a user name, an email address or @domain"},
		{"SWARMOPS_AUTH_HEADER", "Remote User", "expected an HTTP header name (letters, digits and !#$%&'*+-.^_`|~), e.g. Remote-User"},
		{"SWARMOPS_AUTH_HEADER", "Remote-User:", "expected an HTTP header name"},
		{"SWARMOPS_AUTH_HEADER", "X-Üser", "expected an HTTP header name"},
		{"SWARMOPS_AUTH_GROUPS_HEADER", "Remote-Groups,X-Groups", "expected an HTTP header name (letters, digits and !#$%&'*+-.^_`|~), e.g. Remote-Groups"},
		{"SWARMOPS_LOCAL_LOGIN", "no", "expected true or false"},
	}
	for _, tc := range tests {
		t.Run(tc.variable+"="+tc.value, func(t *testing.T) {
			_, _, err := Load(nil, testEnv(ssoEnv(map[string]string{tc.variable: tc.value}), nil), io.Discard)
			var p Problems
			if !errors.As(err, &p) || len(p) != 1 {
				t.Fatalf("Load() = %v, want one problem", err)
			}
			if !strings.HasPrefix(p[0], tc.variable+"=") || !strings.Contains(p[0], tc.want) {
				t.Errorf("problem %q, want one naming %s and saying %q", p[0], tc.variable, tc.want)
			}
		})
	}
}

// An empty variable is the default; an empty flag is a value, checked too.
func TestLoad_SSOFlagsRefused(t *testing.T) {
	for flag, want := range map[string]string{
		"--oidc-scopes":         "expected openid among the scopes",
		"--oidc-name":           "expected a short name for the login button",
		"--oidc-username-claim": "expected a claim name",
		"--oidc-groups-claim":   "expected a claim name",
		"--local-login":         "expected true or false",
	} {
		_, _, err := Load([]string{flag, ""}, testEnv(ssoEnv(nil), nil), io.Discard)
		var p Problems
		if !errors.As(err, &p) || len(p) != 1 || !strings.HasPrefix(p[0], flag+`="": `) || !strings.Contains(p[0], want) {
			t.Errorf("%s \"\": %v, want one problem naming the flag and saying %q", flag, err, want)
		}
	}
}

func TestLoad_SSOCrossField(t *testing.T) {
	const secret = "oidc-s3cret-value"
	tests := []struct {
		name  string
		vars  map[string]string
		files map[string]string
		want  string // the one problem line, in part; "" for none
	}{
		{name: "oidc and auth header together",
			vars: ssoEnv(nil)},
		{name: "oidc alone, redirect from public url",
			vars: map[string]string{"SWARMOPS_OIDC_ISSUER": "https://login.example.com", "SWARMOPS_OIDC_CLIENT_ID": "swarmops",
				"SWARMOPS_PUBLIC_URL": "https://swarmops.example.com", "SWARMOPS_OIDC_ROLE_MAP": "*=viewer"}},
		{name: "oidc alone, redirect url given",
			vars: map[string]string{"SWARMOPS_OIDC_ISSUER": "https://login.example.com", "SWARMOPS_OIDC_CLIENT_ID": "swarmops",
				"SWARMOPS_OIDC_REDIRECT_URL": "https://swarmops.example.com/cb", "SWARMOPS_OIDC_ROLE_MAP": "*=viewer"}},
		{name: "auth header alone, local login off",
			vars: map[string]string{"SWARMOPS_AUTH_HEADER": "Remote-User", "SWARMOPS_AUTH_GROUPS_HEADER": "Remote-Groups",
				"SWARMOPS_TRUSTED_PROXIES": "10.0.0.5", "SWARMOPS_OIDC_ROLE_MAP": "ops=operator", "SWARMOPS_LOCAL_LOGIN": "false"}},
		{name: "oidc, local login off",
			vars: ssoEnv(map[string]string{"SWARMOPS_AUTH_HEADER": "", "SWARMOPS_LOCAL_LOGIN": "false"})},
		{name: "public url alone",
			vars: map[string]string{"SWARMOPS_PUBLIC_URL": "https://swarmops.example.com"}},

		{name: "issuer without client id",
			vars: ssoEnv(map[string]string{"SWARMOPS_OIDC_CLIENT_ID": ""}),
			want: "SWARMOPS_OIDC_ISSUER needs SWARMOPS_OIDC_CLIENT_ID: set it to the client id registered with the identity provider"},
		{name: "issuer without public or redirect url",
			vars: ssoEnv(map[string]string{"SWARMOPS_PUBLIC_URL": ""}),
			want: "SWARMOPS_OIDC_ISSUER needs SWARMOPS_PUBLIC_URL (the URL users reach SwarmOps at, e.g. https://swarmops.example.com; " +
				"the callback is then that URL + /api/v1/auth/oidc/callback) or SWARMOPS_OIDC_REDIRECT_URL"},
		{name: "client id without issuer",
			vars: ssoEnv(map[string]string{"SWARMOPS_OIDC_ISSUER": ""}),
			want: "SWARMOPS_OIDC_CLIENT_ID is set but SWARMOPS_OIDC_ISSUER is missing: set SWARMOPS_OIDC_ISSUER to the identity provider's issuer URL"},
		{name: "client secret file without issuer",
			vars:  map[string]string{"SWARMOPS_OIDC_CLIENT_SECRET_FILE": "/run/secrets/oidc"},
			files: map[string]string{"/run/secrets/oidc": secret + "\n"},
			want:  "SWARMOPS_OIDC_CLIENT_SECRET is set but SWARMOPS_OIDC_ISSUER is missing"},
		{name: "redirect url without issuer",
			vars: map[string]string{"SWARMOPS_OIDC_REDIRECT_URL": "https://swarmops.example.com/cb"},
			want: "SWARMOPS_OIDC_REDIRECT_URL is set but SWARMOPS_OIDC_ISSUER is missing"},
		{name: "all three without issuer",
			vars: map[string]string{"SWARMOPS_OIDC_CLIENT_ID": "swarmops", "SWARMOPS_OIDC_CLIENT_SECRET": secret,
				"SWARMOPS_OIDC_REDIRECT_URL": "https://swarmops.example.com/cb"},
			want: "SWARMOPS_OIDC_CLIENT_ID, SWARMOPS_OIDC_CLIENT_SECRET and SWARMOPS_OIDC_REDIRECT_URL are set but SWARMOPS_OIDC_ISSUER is missing: " +
				"set SWARMOPS_OIDC_ISSUER to the identity provider's issuer URL (e.g. https://login.example.com/realms/main), or unset " +
				"SWARMOPS_OIDC_CLIENT_ID, SWARMOPS_OIDC_CLIENT_SECRET and SWARMOPS_OIDC_REDIRECT_URL"},
		{name: "issuer without role map",
			vars: ssoEnv(map[string]string{"SWARMOPS_OIDC_ROLE_MAP": "", "SWARMOPS_AUTH_HEADER": ""}),
			want: "SWARMOPS_OIDC_ROLE_MAP is empty, so nobody could sign in through SWARMOPS_OIDC_ISSUER: set it to group=role pairs, e.g. platform-admins=admin,ops=operator,*=viewer"},
		{name: "auth header without role map",
			vars: ssoEnv(map[string]string{"SWARMOPS_OIDC_ROLE_MAP": "", "SWARMOPS_OIDC_ISSUER": "", "SWARMOPS_OIDC_CLIENT_ID": ""}),
			want: "SWARMOPS_OIDC_ROLE_MAP is empty, so nobody could sign in through SWARMOPS_AUTH_HEADER:"},
		{name: "both without role map",
			vars: ssoEnv(map[string]string{"SWARMOPS_OIDC_ROLE_MAP": " , "}),
			want: "SWARMOPS_OIDC_ROLE_MAP is empty, so nobody could sign in through SWARMOPS_AUTH_HEADER and SWARMOPS_OIDC_ISSUER:"},
		{name: "role map without sso",
			vars: map[string]string{"SWARMOPS_OIDC_ROLE_MAP": "ops=operator"},
			want: "SWARMOPS_OIDC_ROLE_MAP is set, which does nothing without single sign-on: set SWARMOPS_OIDC_ISSUER or SWARMOPS_AUTH_HEADER, or unset SWARMOPS_OIDC_ROLE_MAP"},
		{name: "allow list without sso",
			vars: map[string]string{"SWARMOPS_SSO_ALLOW": "alice"},
			want: "SWARMOPS_SSO_ALLOW is set, which does nothing without single sign-on: set SWARMOPS_OIDC_ISSUER or SWARMOPS_AUTH_HEADER, or unset SWARMOPS_SSO_ALLOW"},
		{name: "deny list without sso",
			vars: map[string]string{"SWARMOPS_SSO_DENY": "@evil.example"},
			want: "SWARMOPS_SSO_DENY is set, which does nothing without single sign-on"},
		{name: "all three without sso",
			vars: map[string]string{"SWARMOPS_OIDC_ROLE_MAP": "*=viewer", "SWARMOPS_SSO_ALLOW": "alice", "SWARMOPS_SSO_DENY": "bob"},
			want: "SWARMOPS_OIDC_ROLE_MAP, SWARMOPS_SSO_ALLOW and SWARMOPS_SSO_DENY are set, which does nothing without single sign-on"},
		{name: "auth header without trusted proxies",
			vars: ssoEnv(map[string]string{"SWARMOPS_TRUSTED_PROXIES": ""}),
			want: "SWARMOPS_AUTH_HEADER needs SWARMOPS_TRUSTED_PROXIES: the header is believed only from those addresses; set it to the auth proxy's address or network"},
		{name: "groups header without auth header",
			vars: ssoEnv(map[string]string{"SWARMOPS_AUTH_HEADER": "", "SWARMOPS_AUTH_GROUPS_HEADER": "Remote-Groups"}),
			want: "SWARMOPS_AUTH_GROUPS_HEADER needs SWARMOPS_AUTH_HEADER: set it to the header in which the auth proxy passes the user's name"},
		{name: "local login off without sso",
			vars: map[string]string{"SWARMOPS_LOCAL_LOGIN": "false"},
			want: "SWARMOPS_LOCAL_LOGIN=false with neither SWARMOPS_OIDC_ISSUER nor SWARMOPS_AUTH_HEADER set would let nobody sign in: " +
				"set one of them, or SWARMOPS_LOCAL_LOGIN=true"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Load(nil, testEnv(tc.vars, tc.files), io.Discard)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Load() = %v, want no problem", err)
				}
				return
			}
			var p Problems
			if !errors.As(err, &p) || len(p) != 1 {
				t.Fatalf("Load() = %v, want one problem", err)
			}
			if !strings.Contains(p[0], tc.want) {
				t.Errorf("problem:\n%s\nwant it to contain:\n%s", p[0], tc.want)
			}
			if strings.Contains(p[0], secret) {
				t.Errorf("the problem shows the client secret: %s", p[0])
			}
		})
	}
}

func TestLoad_OIDCRedirectURL(t *testing.T) {
	tests := []struct {
		name string
		vars map[string]string
		want string
	}{
		{"derived from public url", ssoEnv(nil), "https://swarmops.example.com/api/v1/auth/oidc/callback"},
		{"derived below the public url's path", ssoEnv(map[string]string{"SWARMOPS_PUBLIC_URL": "https://example.com/ops/"}),
			"https://example.com/ops/api/v1/auth/oidc/callback"},
		{"given wins over derived", ssoEnv(map[string]string{"SWARMOPS_OIDC_REDIRECT_URL": "https://sso-cb.example.com/callback"}),
			"https://sso-cb.example.com/callback"},
		{"not derived without issuer", map[string]string{"SWARMOPS_PUBLIC_URL": "https://swarmops.example.com"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := Load(nil, testEnv(tc.vars, nil), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if c.OIDCRedirectURL != tc.want {
				t.Errorf("OIDCRedirectURL = %q, want %q", c.OIDCRedirectURL, tc.want)
			}
			if !strings.Contains(c.String(), "oidc-redirect-url="+tc.want+" ") {
				t.Errorf("String() does not show the redirect URL %q: %s", tc.want, c)
			}
		})
	}
}

func TestLoad_OIDCClientSecret(t *testing.T) {
	const secret = "Xy7-oidc-client-s3cret"
	tests := []struct {
		name  string
		vars  map[string]string
		files map[string]string
	}{
		{"variable", ssoEnv(map[string]string{"SWARMOPS_OIDC_CLIENT_SECRET": secret}), nil},
		{"file", ssoEnv(map[string]string{"SWARMOPS_OIDC_CLIENT_SECRET_FILE": "/run/secrets/oidc"}),
			map[string]string{"/run/secrets/oidc": secret + "\r\n"}},
		{"variable over file", ssoEnv(map[string]string{"SWARMOPS_OIDC_CLIENT_SECRET": secret, "SWARMOPS_OIDC_CLIENT_SECRET_FILE": "/run/secrets/old"}),
			map[string]string{"/run/secrets/old": "old-secret"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := Load(nil, testEnv(tc.vars, tc.files), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if c.OIDCClientSecret != secret {
				t.Errorf("OIDCClientSecret = %q, want %q", c.OIDCClientSecret, secret)
			}
			if s := c.String(); strings.Contains(s, secret) || !strings.Contains(s, "oidc-client-secret=<redacted>") {
				t.Errorf("String() must redact the client secret: %s", s)
			}
		})
	}

	_, _, err := Load(nil, testEnv(ssoEnv(map[string]string{"SWARMOPS_OIDC_CLIENT_SECRET_FILE": "/nope"}), nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "SWARMOPS_OIDC_CLIENT_SECRET_FILE: cannot read /nope") {
		t.Errorf("missing file: Load() = %v, want a problem naming SWARMOPS_OIDC_CLIENT_SECRET_FILE", err)
	}
}

// TestConfig_StringRedactsEverySecret: every key marked secret, the OIDC
// client secret among them, is shown as <redacted>, and -h shows none.
func TestConfig_StringRedactsEverySecret(t *testing.T) {
	secretKeys := map[string]bool{}
	for _, k := range keys {
		if k.secret {
			secretKeys[k.name] = true
		}
	}
	for _, name := range []string{"oidc-client-secret", "redis-password", "admin-password", "secret-key"} {
		if !secretKeys[name] {
			t.Errorf("key %s is not marked secret", name)
		}
	}
	values := map[string]string{
		"oidc-client-secret": "marker-oidc-client",
		"redis-password":     "marker-redis-pw",
		"admin-password":     "marker-admin-pw",
		"secret-key":         "bWFya2VyLXNlY3JldC1rZXktMzItYnl0ZXMtbG9uZyE=", // 32 bytes
	}
	vars := ssoEnv(nil)
	for name := range secretKeys {
		v, ok := values[name]
		if !ok {
			t.Fatalf("secret key %s has no test value here; add one", name)
		}
		vars[key{name: name}.envName()] = v
	}
	c, _, err := Load(nil, testEnv(vars, nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s := c.String()
	var usage strings.Builder
	if _, _, err := Load([]string{"-h"}, testEnv(vars, nil), &usage); !errors.Is(err, ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for name := range secretKeys {
		if strings.Contains(s, values[name]) || !strings.Contains(s, name+"=<redacted>") {
			t.Errorf("String() must redact %s: %s", name, s)
		}
		if strings.Contains(usage.String(), values[name]) {
			t.Errorf("-h shows %s", name)
		}
	}
}

func TestConfig_SSOPolicy(t *testing.T) {
	c, _, err := Load(nil, testEnv(ssoEnv(map[string]string{
		"SWARMOPS_OIDC_ROLE_MAP": "platform-admins=admin,ops=operator",
		"SWARMOPS_SSO_ALLOW":     "@example.com",
		"SWARMOPS_SSO_DENY":      "mallory@example.com",
	}), nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	p := c.SSOPolicy()
	if role, err := p.Decide(sso.Identity{Username: "alice", Email: "alice@example.com", Groups: []string{"ops"}}); err != nil || role != "operator" {
		t.Errorf("alice: %q, %v; want operator", role, err)
	}
	if _, err := p.Decide(sso.Identity{Username: "mallory", Email: "mallory@example.com", Groups: []string{"platform-admins"}}); !errors.Is(err, sso.ErrDenied) {
		t.Errorf("mallory: %v, want ErrDenied", err)
	}
	if _, err := p.Decide(sso.Identity{Username: "bob", Email: "bob@example.org", Groups: []string{"ops"}}); !errors.Is(err, sso.ErrNotAllowed) {
		t.Errorf("bob: %v, want ErrNotAllowed", err)
	}
	if _, err := p.Decide(sso.Identity{Username: "carol", Email: "carol@example.com", Groups: []string{"sales"}}); !errors.Is(err, sso.ErrUnmapped) {
		t.Errorf("carol: %v, want ErrUnmapped", err)
	}
}

// TestLoad_SSOMistypedValueReportedOnce: a value that is refused counts as
// given for the rules between settings, so it is not also reported as
// missing.
func TestLoad_SSOMistypedValueReportedOnce(t *testing.T) {
	tests := []struct {
		name string
		vars map[string]string
		want string
	}{
		{"issuer", ssoEnv(map[string]string{"SWARMOPS_OIDC_ISSUER": "login.example.com"}), "SWARMOPS_OIDC_ISSUER="},
		{"client id", ssoEnv(map[string]string{"SWARMOPS_OIDC_CLIENT_ID": "swarm ops"}), "SWARMOPS_OIDC_CLIENT_ID="},
		{"public url", ssoEnv(map[string]string{"SWARMOPS_PUBLIC_URL": "swarmops.example.com"}), "SWARMOPS_PUBLIC_URL="},
		{"redirect url without public url", ssoEnv(map[string]string{"SWARMOPS_PUBLIC_URL": "", "SWARMOPS_OIDC_REDIRECT_URL": "/cb"}),
			"SWARMOPS_OIDC_REDIRECT_URL="},
		{"role map", ssoEnv(map[string]string{"SWARMOPS_OIDC_ROLE_MAP": "ops=root"}), "SWARMOPS_OIDC_ROLE_MAP="},
		{"auth header", map[string]string{"SWARMOPS_AUTH_HEADER": "Remote User", "SWARMOPS_AUTH_GROUPS_HEADER": "Remote-Groups",
			"SWARMOPS_TRUSTED_PROXIES": "10.0.0.5", "SWARMOPS_OIDC_ROLE_MAP": "*=viewer", "SWARMOPS_LOCAL_LOGIN": "false"}, "SWARMOPS_AUTH_HEADER="},
		{"trusted proxies", ssoEnv(map[string]string{"SWARMOPS_TRUSTED_PROXIES": "10.0.0.0/33"}), "SWARMOPS_TRUSTED_PROXIES="},
		{"local login", map[string]string{"SWARMOPS_LOCAL_LOGIN": "no"}, "SWARMOPS_LOCAL_LOGIN="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Load(nil, testEnv(tc.vars, nil), io.Discard)
			var p Problems
			if !errors.As(err, &p) || len(p) != 1 || !strings.HasPrefix(p[0], tc.want) {
				t.Errorf("Load() = %v, want one problem beginning %s", err, tc.want)
			}
		})
	}
}

// TestLoad_Listen: a listen address must be host:port with a port that
// exists, named in the problem; metrics-listen alike.
func TestLoad_Listen(t *testing.T) {
	for _, ok := range []string{"0.0.0.0:10130", "127.0.0.1:1", ":8080", "[::1]:65535", "localhost:10130", "swarmops-1.example.com:80", "127.0.0.1:0"} {
		if _, _, err := Load(nil, testEnv(map[string]string{"SWARMOPS_LISTEN": ok, "SWARMOPS_METRICS_LISTEN": ok}, nil), io.Discard); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"127.0.0.1:99999", ":abc", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:+80", "10130", "127.0.0.1:", "bad host:80", "[::1:80"} {
		for _, name := range []string{"SWARMOPS_LISTEN", "SWARMOPS_METRICS_LISTEN"} {
			_, _, err := Load(nil, testEnv(map[string]string{name: bad}, nil), io.Discard)
			var p Problems
			if !errors.As(err, &p) || len(p) != 1 || !strings.HasPrefix(p[0], name+"=") {
				t.Errorf("%s=%q: %v, want one problem naming %s", name, bad, err, name)
			}
		}
	}
}

// TestLoad_AliasProblemNamesWhatWasSet: a bad value given through one of
// the original SwarmOps' variables is reported under that variable's
// name, with the name it stands for.
func TestLoad_AliasProblemNamesWhatWasSet(t *testing.T) {
	for _, tc := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"swarmops_swarmstoragemode": "mongo"},
			`swarmops_swarmstoragemode="mongo" (the original SwarmOps' name for SWARMOPS_STORE): expected local or redis`},
		{map[string]string{"swarmops_port": "99999"},
			`swarmops_port="99999" (the original SwarmOps' name for SWARMOPS_LISTEN): the port must be a number from 1 to 65535`},
		{map[string]string{"swarmops_host": "10.0.0.1", "swarmops_port": "abc"},
			`swarmops_host="10.0.0.1" swarmops_port="abc" (the original SwarmOps' name for SWARMOPS_LISTEN): the port must be`},
		{map[string]string{"swarmops_StorageConnection": "mongo://:hunter2@db:27017"},
			`swarmops_StorageConnection="mongo://xxxxx@db:27017" (the original SwarmOps' name for SWARMOPS_REDIS_URL): expected redis://`},
	} {
		_, _, err := Load(nil, testEnv(tc.vars, nil), io.Discard)
		var p Problems
		if !errors.As(err, &p) || len(p) != 1 || !strings.HasPrefix(p[0], tc.want) {
			t.Errorf("%v: %v, want one problem beginning %s", tc.vars, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the problem shows the password: %v", err)
		}
	}
}

// TestLoad_UnknownVariables: a SWARMOPS_* variable no setting reads is
// warned about once, with the closest name when one is close; with a
// configuration mistake the warning comes with the problems, since a typo
// is often why a setting is missing.
func TestLoad_UnknownVariables(t *testing.T) {
	env := func(vars map[string]string) Env {
		e := testEnv(vars, nil)
		e.Environ = func() []string {
			var out []string
			for k, v := range vars {
				out = append(out, k+"="+v)
			}
			return out
		}
		return e
	}
	c, _, err := Load(nil, env(map[string]string{
		"SWARMOPS_REDIS_ULR": "redis://r:6379/0", "SWARMOPS_LOGLEVEL": "debug", "SWARMOPS_REDIS_URL_FILE": "/run/url",
		"SWARMOPS_FROBNICATE": "1", "SWARMOPS_IMAGE": "swarmops/swarmops:1", "SWARMOPS_TEST_KEEP": "1",
		"SWARMOPS_LOG_LEVEL": "warn", "swarmops_port": "10131", "OTHER": "x",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"SWARMOPS_FROBNICATE is not a SwarmOps setting and is ignored (swarmops serve -h lists the settings)",
		"SWARMOPS_LOGLEVEL is not a SwarmOps setting and is ignored; did you mean SWARMOPS_LOG_LEVEL?",
		"SWARMOPS_REDIS_ULR is not a SwarmOps setting and is ignored; did you mean SWARMOPS_REDIS_URL?",
	}
	if len(c.Warnings) != 4 || !cmp.Equal(c.Warnings[:3], want) ||
		!strings.HasPrefix(c.Warnings[3], "SWARMOPS_REDIS_URL_FILE is not a SwarmOps setting and is ignored: only secrets are read from files (") {
		t.Errorf("Warnings:\n%s\nwant:\n%s\nand one on SWARMOPS_REDIS_URL_FILE", strings.Join(c.Warnings, "\n"), strings.Join(want, "\n"))
	}

	_, _, err = Load(nil, env(map[string]string{"SWARMOPS_STORE": "redis", "SWARMOPS_REDIS_ULR": "redis://r:6379/0"}), io.Discard)
	var p Problems
	if !errors.As(err, &p) || len(p) != 2 || !strings.Contains(p[0], "needs SWARMOPS_REDIS_URL") || !strings.Contains(p[1], "did you mean SWARMOPS_REDIS_URL?") {
		t.Errorf("redis without URL, URL mistyped: %v", err)
	}
}

// TestLoad_NotSettingsAreTheProjectsOwn: the SWARMOPS_* names that are not
// warned about are those compose.yaml, stack.yaml and the tests read, and
// none of them is a setting.
func TestLoad_NotSettingsAreTheProjectsOwn(t *testing.T) {
	known := knownVariables()
	var deployed []string
	for _, f := range []string{"../../compose.yaml", "../../stack.yaml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`\$\{(SWARMOPS_[A-Z_]+)`).FindAllStringSubmatch(string(b), -1) {
			deployed = append(deployed, m[1])
		}
	}
	for _, name := range deployed {
		if !slices.Contains(notSettings, name) && !slices.Contains(known, name) {
			t.Errorf("%s is read by compose.yaml or stack.yaml but would be warned about as unknown", name)
		}
	}
	for _, name := range notSettings {
		if slices.Contains(known, name) {
			t.Errorf("%s is a setting; it must not be listed among notSettings", name)
		}
	}
}

// TestLoad_FlagsAnywhere: flags may follow positional arguments, which are
// answered in order; after "--" everything is positional.
func TestLoad_FlagsAnywhere(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
		dir  string
	}{
		{[]string{"gina", "--data-dir=x"}, []string{"gina"}, "x"},
		{[]string{"gina", "--data-dir", "x", "operator"}, []string{"gina", "operator"}, "x"},
		{[]string{"--data-dir=x", "gina", "operator"}, []string{"gina", "operator"}, "x"},
		{[]string{"gina", "--", "--data-dir=x"}, []string{"gina", "--data-dir=x"}, "./data"},
		{[]string{"-"}, []string{"-"}, "./data"},
	} {
		c, rest, err := Load(tc.args, testEnv(nil, nil), io.Discard)
		if err != nil || !cmp.Equal(rest, tc.want) || c.DataDir != tc.dir {
			t.Errorf("Load(%q): rest %q, data dir %q, %v; want %q, %q", tc.args, rest, c.DataDir, err, tc.want, tc.dir)
		}
	}
}

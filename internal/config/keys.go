package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/textproto"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/swarmops/swarmops/internal/sso"
)

// key is one setting: its flag name (the variable is SWARMOPS_ + the name in
// upper snake case), default, whether it is a secret (then a *_FILE
// variable may name a file holding it), and how it is parsed and shown.
type key struct {
	name   string
	def    string
	secret bool
	help   string
	set    func(*Config, string) error
	get    func(*Config) string
}

func (k key) envName() string {
	return "SWARMOPS_" + strings.ToUpper(strings.ReplaceAll(k.name, "-", "_"))
}

// keys is the one table of settings; README's configuration table follows it.
var keys = []key{
	{name: "listen", def: "0.0.0.0:10130", help: "address to serve on (host:port)",
		set: func(c *Config, v string) error {
			c.Listen = v
			return listenAddress(v, "0.0.0.0:10130 or 127.0.0.1:8080")
		},
		get: func(c *Config) string { return c.Listen }},
	{name: "store", def: "local", help: "local (bbolt file, one instance) or redis (any number of instances)",
		set: func(c *Config, v string) error {
			if v != "local" && v != "redis" {
				return errors.New("expected local or redis")
			}
			c.Store = v
			return nil
		},
		get: func(c *Config) string { return c.Store }},
	{name: "data-dir", def: "./data", help: "directory of the local store",
		set: func(c *Config, v string) error { c.DataDir = v; return nil },
		get: func(c *Config) string { return c.DataDir }},
	{name: "redis-url", help: "redis://[:password@]host:port/db, rediss:// for TLS, unix:///path",
		set: func(c *Config, v string) error {
			if v == "" {
				return nil
			}
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") ||
				(u.Scheme != "unix" && u.Host == "") {
				return errors.New("expected redis://[:password@]host:port/db, rediss://... or unix:///path " +
					"(percent-encode special characters of the password: # ? / @ % as %23 %3F %2F %40 %25)")
			}
			// A password with "#", "?", "/" or "@" that is not
			// percent-encoded is read as fragment, query or path, and the
			// URL then names another host or none.
			if strings.Contains(v, "#") || strings.Contains(v, "@") && u.User == nil ||
				u.Scheme == "unix" && u.Host != "" || u.Scheme != "unix" && u.Hostname() == "" {
				return errors.New("the URL does not read as redis://[:password@]host:port/db or unix:///path; " +
					"percent-encode special characters of the password (# ? / @ % as %23 %3F %2F %40 %25) or give it in SWARMOPS_REDIS_PASSWORD")
			}
			if db := strings.Trim(u.Path, "/"); u.Scheme != "unix" && db != "" {
				if _, err := strconv.Atoi(db); err != nil {
					return errors.New("the path must be a database number, e.g. redis://host:6379/0")
				}
			}
			c.RedisURL = v
			return nil
		},
		get: func(c *Config) string { return c.RedisURL }},
	{name: "redis-password", secret: true, help: "Redis password; overrides the URL's",
		set: func(c *Config, v string) error { c.RedisPassword = v; return nil },
		get: func(c *Config) string { return c.RedisPassword }},
	{name: "redis-sentinels", help: "comma-separated Sentinel addresses host:port",
		set: func(c *Config, v string) error {
			list, err := hostPorts(v)
			c.RedisSentinels = list
			return err
		},
		get: func(c *Config) string { return strings.Join(c.RedisSentinels, ",") }},
	{name: "redis-master", help: "master name known to the Sentinels",
		set: func(c *Config, v string) error { c.RedisMaster = v; return nil },
		get: func(c *Config) string { return c.RedisMaster }},
	{name: "redis-prefix", def: "swarmops:", help: "namespace of every Redis key",
		set: func(c *Config, v string) error {
			if v == "" || strings.ContainsAny(v, " \t\r\n") {
				return errors.New("expected a non-empty prefix without spaces, e.g. \"swarmops:\"")
			}
			c.RedisPrefix = v
			return nil
		},
		get: func(c *Config) string { return c.RedisPrefix }},
	{name: "admin-password", secret: true, help: "first admin's password when no user exists (random and logged once if empty)",
		set: func(c *Config, v string) error {
			if v != "" && (len(v) < 8 || len(v) > 72) {
				return errors.New("must be 8 to 72 bytes (bcrypt's limit)")
			}
			c.AdminPassword = v
			return nil
		},
		get: func(c *Config) string { return c.AdminPassword }},
	{name: "autoregister", def: "true", help: "register the local engine as cluster local if it is a swarm manager",
		set: func(c *Config, v string) (err error) { c.Autoregister, err = parseBool(v); return err },
		get: func(c *Config) string { return strconv.FormatBool(c.Autoregister) }},
	{name: "local-endpoint", def: "unix:///var/run/docker.sock", help: "engine registered by autoregister",
		set: func(c *Config, v string) error {
			if !strings.HasPrefix(v, "unix://") && !strings.HasPrefix(v, "tcp://") {
				return errors.New("expected unix:///path or tcp://host:port")
			}
			c.LocalEndpoint = v
			return nil
		},
		get: func(c *Config) string { return c.LocalEndpoint }},
	{name: "engine-timeout", def: "10s", help: "time limit of one engine call (streams excepted)",
		set: func(c *Config, v string) (err error) {
			c.EngineTimeout, err = parseDuration(v, 100*time.Millisecond)
			return err
		},
		get: func(c *Config) string { return c.EngineTimeout.String() }},
	{name: "instance-id", help: "this instance's name, sent as X-SwarmOps-Instance (default: hostname)",
		set: func(c *Config, v string) error { c.InstanceID = v; return nil },
		get: func(c *Config) string { return c.InstanceID }},
	{name: "trusted-proxies", help: "comma-separated CIDRs whose X-Forwarded-* headers are believed",
		set: func(c *Config, v string) error {
			c.TrustedProxies = nil
			for _, s := range splitList(v) {
				p, err := netip.ParsePrefix(s)
				if err != nil {
					a, aerr := netip.ParseAddr(s)
					if aerr != nil {
						return fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8 or an address", s)
					}
					p = netip.PrefixFrom(a, a.BitLen())
				}
				c.TrustedProxies = append(c.TrustedProxies, p.Masked())
			}
			return nil
		},
		get: func(c *Config) string {
			s := make([]string, len(c.TrustedProxies))
			for i, p := range c.TrustedProxies {
				s[i] = p.String()
			}
			return strings.Join(s, ",")
		}},
	{name: "session-ttl", def: "12h", help: "idle session lifetime",
		set: func(c *Config, v string) (err error) { c.SessionTTL, err = parseDuration(v, time.Minute); return err },
		get: func(c *Config) string { return c.SessionTTL.String() }},
	{name: "shutdown-drain", def: "5s", help: "time between /readyz turning 503 and closing the listener",
		set: func(c *Config, v string) (err error) { c.ShutdownDrain, err = parseDuration(v, 0); return err },
		get: func(c *Config) string { return c.ShutdownDrain.String() }},
	{name: "lock-wait", def: "5s", help: "how long an operation waits for its object's lock before answering 423",
		set: func(c *Config, v string) (err error) { c.LockWait, err = parseDuration(v, 0); return err },
		get: func(c *Config) string { return c.LockWait.String() }},
	{name: "audit-cap", def: "100000", help: "audit records kept; the oldest go first",
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 100 {
				return errors.New("expected a whole number of at least 100")
			}
			c.AuditCap = n
			return nil
		},
		get: func(c *Config) string { return strconv.Itoa(c.AuditCap) }},
	{name: "secret-key", secret: true,
		help: "key that encrypts secrets at rest (engine TLS keys, registry passwords, stack secret files) and keys idempotency fingerprints; the same on every instance (NEW,OLD during a rotation)",
		set: func(c *Config, v string) error {
			if v != "" && !isSecretKey(v) {
				return errors.New("expected 32 random bytes in base64, e.g. from `openssl rand -base64 32` " +
					"(during a key rotation: NEW,OLD, the new key first)")
			}
			c.SecretKey = v
			return nil
		},
		get: func(c *Config) string { return c.SecretKey }},
	{name: "metrics-listen", help: "serve /metrics on this address (host:port) only, and not on listen",
		set: func(c *Config, v string) error {
			if v == "" {
				c.MetricsListen = ""
				return nil
			}
			c.MetricsListen = v
			return listenAddress(v, "127.0.0.1:9130")
		},
		get: func(c *Config) string { return c.MetricsListen }},
	{name: "streams-per-user", def: "20", help: "event and log streams one user may hold open on an instance at once (429 past it)",
		set: func(c *Config, v string) (err error) { c.StreamsPerUser, err = parseCount(v); return err },
		get: func(c *Config) string { return strconv.Itoa(c.StreamsPerUser) }},
	{name: "streams-per-instance", def: "1000", help: "event and log streams an instance holds open at once, for all users (429 past it)",
		set: func(c *Config, v string) (err error) { c.StreamsPerInstance, err = parseCount(v); return err },
		get: func(c *Config) string { return strconv.Itoa(c.StreamsPerInstance) }},
	{name: "log-tail-max", def: "10000", help: "most log lines a logs request may ask for with tail (tail=all means this many)",
		set: func(c *Config, v string) (err error) { c.LogTailMax, err = parseCount(v); return err },
		get: func(c *Config) string { return strconv.Itoa(c.LogTailMax) }},
	{name: "operator-bind-paths", help: "comma-separated host path prefixes operators may bind-mount (host access is otherwise the admin's)",
		set: func(c *Config, v string) (err error) { c.OperatorBindPaths, err = bindPaths(v); return err },
		get: func(c *Config) string { return strings.Join(c.OperatorBindPaths, ",") }},
	{name: "public-url", help: "the URL users reach SwarmOps at, e.g. https://swarmops.example.com (the OIDC callback is derived from it)",
		set: func(c *Config, v string) error {
			err := httpURL(v, "https://swarmops.example.com", false)
			c.PublicURL = strings.TrimRight(v, "/")
			return err
		},
		get: func(c *Config) string { return c.PublicURL }},
	{name: "oidc-issuer", help: "OpenID Connect issuer URL, exactly as the provider's tokens name it (empty: no OIDC sign-in)",
		set: func(c *Config, v string) error {
			// Kept as given, trailing "/" included: it must equal the
			// tokens' iss claim character for character.
			err := httpURL(v, "https://login.example.com/realms/main", false)
			c.OIDCIssuer = v
			return err
		},
		get: func(c *Config) string { return c.OIDCIssuer }},
	{name: "oidc-client-id", help: "client id registered with the OpenID Connect provider",
		set: func(c *Config, v string) error {
			if strings.ContainsFunc(v, unicode.IsSpace) || strings.ContainsFunc(v, unicode.IsControl) {
				return errors.New("expected the client id without spaces, as the provider shows it")
			}
			c.OIDCClientID = v
			return nil
		},
		get: func(c *Config) string { return c.OIDCClientID }},
	{name: "oidc-client-secret", secret: true, help: "client secret registered with the OpenID Connect provider",
		set: func(c *Config, v string) error { c.OIDCClientSecret = v; return nil },
		get: func(c *Config) string { return c.OIDCClientSecret }},
	{name: "oidc-redirect-url", help: "OIDC callback URL registered with the provider (default: public-url + " + OIDCCallbackPath + ")",
		set: func(c *Config, v string) error {
			err := httpURL(v, "https://swarmops.example.com"+OIDCCallbackPath, true)
			c.OIDCRedirectURL = v
			return err
		},
		get: func(c *Config) string { return c.OIDCRedirectURL }},
	{name: "oidc-scopes", def: "openid profile email", help: "scopes asked of the OpenID Connect provider, separated by spaces or commas; openid among them",
		set: func(c *Config, v string) (err error) { c.OIDCScopes, err = oidcScopes(v); return err },
		get: func(c *Config) string { return strings.Join(c.OIDCScopes, ",") }},
	{name: "oidc-name", def: "SSO", help: `the provider's name on the login page: "Sign in with <name>"`,
		set: func(c *Config, v string) error {
			v = strings.TrimSpace(v)
			if v == "" || utf8.RuneCountInString(v) > 64 || strings.ContainsFunc(v, unicode.IsControl) {
				return errors.New("expected a short name for the login button (1 to 64 characters), e.g. Keycloak")
			}
			c.OIDCName = v
			return nil
		},
		get: func(c *Config) string { return c.OIDCName }},
	{name: "oidc-username-claim", def: "preferred_username", help: "ID token claim that holds the user name",
		set: func(c *Config, v string) (err error) {
			c.OIDCUsernameClaim, err = claimName(v, "preferred_username, email or sub")
			return err
		},
		get: func(c *Config) string { return c.OIDCUsernameClaim }},
	{name: "oidc-groups-claim", def: "groups", help: "ID token claim that holds the user's groups",
		set: func(c *Config, v string) (err error) {
			c.OIDCGroupsClaim, err = claimName(v, "groups or roles")
			return err
		},
		get: func(c *Config) string { return c.OIDCGroupsClaim }},
	{name: "oidc-role-map", help: "single sign-on groups to roles, e.g. platform-admins=admin,ops=operator,*=viewer (OIDC and the auth header alike)",
		set: func(c *Config, v string) (err error) { c.SSORoles, err = sso.ParseRoleMap(v); return err },
		get: func(c *Config) string { return c.SSORoles.String() }},
	{name: "sso-allow", help: "who single sign-on lets in: user names, email addresses and @domains, comma-separated (empty: everyone the role map admits)",
		set: func(c *Config, v string) (err error) { c.SSOAllow, err = sso.ParseList(v); return err },
		get: func(c *Config) string { return c.SSOAllow.String() }},
	{name: "sso-deny", help: "who single sign-on never lets in: user names, email addresses and @domains, comma-separated; wins over sso-allow",
		set: func(c *Config, v string) (err error) { c.SSODeny, err = sso.ParseList(v); return err },
		get: func(c *Config) string { return c.SSODeny.String() }},
	{name: "auth-header", help: "header in which an auth proxy among trusted-proxies passes the signed-in user's name, e.g. Remote-User",
		set: func(c *Config, v string) (err error) { c.AuthHeader, err = headerName(v, "Remote-User"); return err },
		get: func(c *Config) string { return c.AuthHeader }},
	{name: "auth-groups-header", help: "header in which the auth proxy passes the user's groups, e.g. Remote-Groups",
		set: func(c *Config, v string) (err error) {
			c.AuthGroupsHeader, err = headerName(v, "Remote-Groups")
			return err
		},
		get: func(c *Config) string { return c.AuthGroupsHeader }},
	{name: "local-login", def: "true", help: "let users sign in with a SwarmOps user name and password (false: single sign-on only)",
		set: func(c *Config, v string) (err error) { c.LocalLogin, err = parseBool(v); return err },
		get: func(c *Config) string { return strconv.FormatBool(c.LocalLogin) }},
	{name: "log-level", def: "info", help: "trace, debug, info, warn or error",
		set: func(c *Config, v string) error {
			switch v {
			case "trace", "debug", "info", "warn", "error":
				c.LogLevel = v
				return nil
			}
			return errors.New("expected trace, debug, info, warn or error")
		},
		get: func(c *Config) string { return c.LogLevel }},
	{name: "log-format", def: "json", help: "json or console",
		set: func(c *Config, v string) error {
			if v != "json" && v != "console" {
				return errors.New("expected json or console")
			}
			c.LogFormat = v
			return nil
		},
		get: func(c *Config) string { return c.LogFormat }},
}

// isSecretKey reports whether v is one key, base64 (padded or not) of 32
// bytes, or several separated by commas (during a key rotation: the new
// key first), as internal/seal reads it; config checks the syntax early,
// seal decodes.
func isSecretKey(v string) bool {
	keys := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	for _, k := range keys {
		key, err := base64.StdEncoding.DecodeString(k)
		if err != nil {
			key, err = base64.RawStdEncoding.DecodeString(k)
		}
		if err != nil || len(key) != 32 {
			return false
		}
	}
	return len(keys) > 0
}

// parseCount reads a whole number of at least 1.
func parseCount(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, errors.New("expected a whole number of at least 1")
	}
	return n, nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// listenAddress checks an address to listen on: host:port, the host a
// name, an IP address or empty (every address), the port a number from 1
// to 65535 (0 also passes: any free port, which tests use), so that a
// mistake stops the start rather than failing the listen later.
func listenAddress(v, example string) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("expected host:port, e.g. %s", example)
	}
	if n, err := strconv.Atoi(port); err != nil || !isDigits(port) || n > 65535 {
		return fmt.Errorf("the port must be a number from 1 to 65535, e.g. %s", example)
	}
	if host != "" && !isHostName(host) {
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("%q is neither an IP address nor a host name; expected host:port, e.g. %s", host, example)
		}
	}
	return nil
}

// isHostName reports whether s reads as a DNS name: labels of letters,
// digits, "-" and "_", separated by dots.
func isHostName(s string) bool {
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || strings.ContainsFunc(label, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
		}) {
			return false
		}
	}
	return len(s) <= 253
}

func hostPorts(v string) ([]string, error) {
	list := splitList(v)
	for _, s := range list {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return nil, fmt.Errorf("%q: expected host:port, comma-separated", s)
		}
	}
	return list, nil
}

// bindPaths reads SWARMOPS_OPERATOR_BIND_PATHS: absolute host paths, kept
// clean ("/srv/data/" is "/srv/data") so that a prefix is compared by whole
// path elements. "/" would hand operators the whole host and is refused.
func bindPaths(v string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !path.IsAbs(p) || strings.Contains(p, "\\") {
			return nil, fmt.Errorf("%q is not an absolute host path; expected e.g. /srv/data,/var/lib/app", p)
		}
		clean := path.Clean(p)
		if clean == "/" {
			return nil, errors.New(`"/" would let operators bind every host path (the engine's socket too); name the directories they may bind`)
		}
		if slices.Contains(strings.Split(p, "/"), "..") {
			return nil, fmt.Errorf("%q contains \"..\"; give the path it means (%s)", p, clean)
		}
		out = append(out, clean)
	}
	return out, nil
}

// httpURL checks that v is an absolute http or https URL with a host, and
// neither credentials nor a fragment (nor a query, unless query is true).
// "" passes: it leaves the setting off.
func httpURL(v, example string, query bool) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.Opaque != "" {
		return fmt.Errorf("expected an absolute http:// or https:// URL with a host, e.g. %s", example)
	}
	if u.User != nil {
		return errors.New("the URL must not hold a user name or password")
	}
	if strings.Contains(v, "#") {
		return errors.New("the URL must not have a #fragment")
	}
	if !query && (u.RawQuery != "" || u.ForceQuery) {
		return errors.New("the URL must not have a ?query")
	}
	return nil
}

// oidcScopes reads scopes separated by spaces or commas, each once, in the
// order given; OpenID Connect needs openid among them.
func oidcScopes(v string) ([]string, error) {
	var out []string
	for _, s := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		// RFC 6749's scope-token: printable ASCII but '"' and '\'.
		if strings.ContainsFunc(s, func(r rune) bool { return r < 0x21 || r > 0x7e || r == '"' || r == '\\' }) {
			return nil, fmt.Errorf("scope %q: expected printable ASCII without quotes or backslashes", s)
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if !slices.Contains(out, "openid") {
		return nil, errors.New("expected openid among the scopes (OpenID Connect needs it), e.g. openid profile email")
	}
	return out, nil
}

// claimName reads the name of an ID token claim.
func claimName(v, examples string) (string, error) {
	if v == "" || strings.ContainsFunc(v, unicode.IsSpace) || strings.ContainsFunc(v, unicode.IsControl) {
		return "", fmt.Errorf("expected a claim name without spaces, e.g. %s", examples)
	}
	return v, nil
}

// headerName reads an HTTP header name (RFC 7230 token characters) and
// answers it in canonical form (remote-user is Remote-User), as Go's
// net/http and fasthttp key headers.
func headerName(v, example string) (string, error) {
	if v == "" {
		return "", nil
	}
	if strings.ContainsFunc(v, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r))
	}) {
		return "", fmt.Errorf("expected an HTTP header name (letters, digits and !#$%%&'*+-.^_`|~), e.g. %s", example)
	}
	return textproto.CanonicalMIMEHeaderKey(v), nil
}

package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
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
	{name: "listen", def: "0.0.0.0:10130", help: "address to serve on",
		set: func(c *Config, v string) error {
			if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
				return errors.New("expected host:port, e.g. 0.0.0.0:10130 or 127.0.0.1:8080")
			}
			c.Listen = v
			return nil
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
				return errors.New("expected a non-empty prefix without spaces, e.g. swarmops:")
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
			if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
				return errors.New("expected host:port, e.g. 127.0.0.1:9130")
			}
			c.MetricsListen = v
			return nil
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

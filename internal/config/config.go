package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/swarmops/swarmops/internal/sso"
)

// Config is the validated configuration of one SwarmOps process.
type Config struct {
	Listen         string
	Store          string // "local" or "redis"
	DataDir        string
	RedisURL       string
	RedisPassword  string
	RedisSentinels []string
	RedisMaster    string
	RedisPrefix    string
	AdminPassword  string
	Autoregister   bool
	LocalEndpoint  string
	EngineTimeout  time.Duration
	InstanceID     string
	TrustedProxies []netip.Prefix
	SessionTTL     time.Duration
	ShutdownDrain  time.Duration
	LockWait       time.Duration
	AuditCap       int
	LogLevel       string
	LogFormat      string
	// SecretKey is SWARMOPS_SECRET_KEY as given (base64); internal/seal
	// decodes it. Empty: a key file in local mode, none in redis mode.
	SecretKey string
	// MetricsListen, when set, is the only address serving /metrics.
	MetricsListen string
	// StreamsPerUser and StreamsPerInstance cap open event and log streams.
	StreamsPerUser, StreamsPerInstance int
	// LogTailMax bounds a logs request's tail.
	LogTailMax int
	// OperatorBindPaths are the host path prefixes (clean, absolute) that
	// operators may bind-mount; every other host access is the admin's.
	OperatorBindPaths []string

	// PublicURL is where users reach SwarmOps (scheme, host and any path
	// prefix, without a trailing "/"); the OIDC callback is derived from it.
	PublicURL string
	// OIDCIssuer is the OpenID Connect provider's issuer URL, exactly as
	// its tokens' iss claim says it; empty: no OIDC sign-in.
	OIDCIssuer       string
	OIDCClientID     string
	OIDCClientSecret string
	// OIDCRedirectURL is the callback registered with the provider;
	// unless given, PublicURL + OIDCCallbackPath when an issuer is set.
	OIDCRedirectURL string
	// OIDCScopes are the scopes asked for; openid is always among them.
	OIDCScopes []string
	// OIDCName is what the login button says: "Sign in with <name>".
	OIDCName string
	// OIDCUsernameClaim and OIDCGroupsClaim name the ID token claims that
	// hold the user name and the groups.
	OIDCUsernameClaim, OIDCGroupsClaim string
	// SSORoles maps the provider's (or the auth proxy's) groups to roles.
	SSORoles sso.RoleMap
	// SSOAllow and SSODeny say who single sign-on may let in.
	SSOAllow, SSODeny sso.List
	// AuthHeader, when set, names the header (canonical form) in which an
	// auth proxy among TrustedProxies passes the signed-in user's name;
	// AuthGroupsHeader the one with their groups.
	AuthHeader, AuthGroupsHeader string
	// LocalLogin allows signing in with a SwarmOps user's password.
	LocalLogin bool

	// Warnings are what Load noticed but did not refuse (an unknown
	// SWARMOPS_* variable), one sentence each, to be said once at start.
	Warnings []string
}

// OIDCCallbackPath is where the provider sends the browser back, below
// PublicURL, when SWARMOPS_OIDC_REDIRECT_URL is not given.
const OIDCCallbackPath = "/api/v1/auth/oidc/callback"

// SSOPolicy answers who single sign-on lets in and with which role; OIDC
// and the auth-proxy header apply the same policy.
func (c Config) SSOPolicy() sso.Policy {
	return sso.Policy{Roles: c.SSORoles, Allow: c.SSOAllow, Deny: c.SSODeny}
}

// Env is where Load reads variables and files; os.Getenv and os.ReadFile in
// production, maps in tests. Environ, when set, lists every variable
// (NAME=value), so that unknown SWARMOPS_* names can be warned about.
type Env struct {
	Getenv   func(string) string
	ReadFile func(string) ([]byte, error)
	Hostname func() (string, error)
	Environ  func() []string
}

// OSEnv is the process environment.
func OSEnv() Env {
	return Env{Getenv: os.Getenv, ReadFile: os.ReadFile, Hostname: os.Hostname, Environ: os.Environ}
}

// Problems is every mistake Load found, one per line.
type Problems []string

func (p Problems) Error() string { return strings.Join(p, "\n") }

// ErrHelp is returned when -h or --help was asked for; usage was written.
var ErrHelp = flag.ErrHelp

// Load parses args and the environment. Flags may stand anywhere among
// the positional arguments (`user add gina --data-dir=x`), which it
// answers in order; "--" ends the flags. Usage and flag errors go to usage.
func Load(args []string, env Env, usage io.Writer) (Config, []string, error) {
	fs, flags := newFlagSet(usage)
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return Config{}, nil, err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	aliases := aliasValues(env.Getenv)
	var c Config
	var problems Problems
	refused := map[string]bool{} // keys whose value was given but not accepted
	for _, k := range keys {
		v, source, err := k.lookup(given[k.name], *flags[k.name], env, aliases)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if err := k.set(&c, v); err != nil {
			refused[k.name] = true
			if a, ok := aliases[k.name]; ok && source == a.names {
				// Name what the user set, not the variable it stands for.
				problems = append(problems, fmt.Sprintf("%s (the original SwarmOps' name for %s): %v", a.given, k.envName(), err))
				continue
			}
			shown := redactIf(k.secret, v)
			if k.name == "redis-url" {
				shown = RedactURL(legacyRedisURL(v))
			}
			problems = append(problems, fmt.Sprintf("%s=%q: %v", source, shown, err))
		}
	}
	if c.InstanceID == "" && env.Hostname != nil {
		c.InstanceID, _ = env.Hostname()
	}
	if c.OIDCRedirectURL == "" && c.OIDCIssuer != "" && c.PublicURL != "" {
		c.OIDCRedirectURL = c.PublicURL + OIDCCallbackPath
	}
	problems = append(problems, c.validate(refused)...)
	if env.Environ != nil {
		c.Warnings = unknownVariables(env.Environ())
	}
	if len(problems) > 0 {
		// A mistyped name is often why a setting is missing: say it here too.
		return Config{}, nil, append(problems, c.Warnings...)
	}
	return c, positional, nil
}

// newFlagSet answers the flag set of every key, writing usage to out.
func newFlagSet(out io.Writer) (*flag.FlagSet, map[string]*string) {
	fs := flag.NewFlagSet("swarmops", flag.ContinueOnError)
	fs.SetOutput(out)
	flags := make(map[string]*string, len(keys))
	for _, k := range keys {
		flags[k.name] = fs.String(k.name, "", k.help+" (env "+k.envName()+", default "+quoteDefault(k.def)+")")
	}
	fs.Usage = func() {
		fmt.Fprintln(out, "flags (each also a SWARMOPS_* variable, named in its line; flags win over variables):")
		fs.PrintDefaults()
	}
	return fs, flags
}

// PrintFlags writes every flag with its variable and default, as -h does.
func PrintFlags(out io.Writer) {
	fs, _ := newFlagSet(out)
	fs.Usage()
}

// parseInterspersed parses flags wherever they stand among args and
// answers the other arguments in order. The flag package stops at the
// first argument that is not a flag: parsing starts again after it.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			// "--" ended the flags: the rest is positional, whatever it looks like.
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

func quoteDefault(d string) string {
	if d == "" {
		return "none"
	}
	return d
}

func redactIf(secret bool, v string) string {
	if secret {
		return "<redacted>"
	}
	return v
}

// lookup answers the raw value of k and where it came from.
func (k key) lookup(flagGiven bool, flagValue string, env Env, aliases map[string]alias) (string, string, error) {
	if flagGiven {
		return flagValue, "--" + k.name, nil
	}
	if v := env.Getenv(k.envName()); v != "" {
		return v, k.envName(), nil
	}
	if k.secret {
		if path := env.Getenv(k.envName() + "_FILE"); path != "" {
			b, err := env.ReadFile(path)
			if err != nil {
				return "", "", fmt.Errorf("%s_FILE: cannot read %s: %v", k.envName(), path, errors.Unwrap(err))
			}
			return strings.TrimRight(string(b), "\r\n"), k.envName() + "_FILE", nil
		}
	}
	if a, ok := aliases[k.name]; ok {
		return a.value, a.names, nil
	}
	return k.def, "default of " + k.envName(), nil
}

// alias is a value set through the original SwarmOps' variables.
type alias struct {
	value string // as the SWARMOPS_* variable would hold it
	names string // the variables set, e.g. swarmops_host and swarmops_port
	given string // what the user set, for messages: swarmops_port="99999"
}

// aliasValues maps the original SwarmOps variables onto our keys.
func aliasValues(getenv func(string) string) map[string]alias {
	a := map[string]alias{}
	host, port := getenv("swarmops_host"), getenv("swarmops_port")
	if host != "" || port != "" {
		var names, given []string
		for _, v := range []struct{ name, value string }{{"swarmops_host", host}, {"swarmops_port", port}} {
			if v.value != "" {
				names = append(names, v.name)
				given = append(given, fmt.Sprintf("%s=%q", v.name, v.value))
			}
		}
		if host == "" {
			host = "0.0.0.0"
		}
		if port == "" {
			port = "10130"
		}
		a["listen"] = alias{net.JoinHostPort(host, port), strings.Join(names, " and "), strings.Join(given, " ")}
	}
	if m := getenv("swarmops_swarmstoragemode"); m != "" {
		a["store"] = alias{strings.ToLower(m), "swarmops_swarmstoragemode", fmt.Sprintf("swarmops_swarmstoragemode=%q", m)}
	}
	if conn := getenv("swarmops_StorageConnection"); conn != "" {
		url := legacyRedisURL(conn)
		a["redis-url"] = alias{url, "swarmops_StorageConnection", fmt.Sprintf("swarmops_StorageConnection=%q", RedactURL(url))}
	}
	return a
}

// legacyRedisURL turns the original "redis://host:port:password" into a
// standard URL; anything else is passed on as is, to be validated.
func legacyRedisURL(s string) string {
	rest, ok := strings.CutPrefix(s, "redis://")
	if !ok {
		return s
	}
	parts := strings.SplitN(rest, ":", 3)
	if len(parts) != 3 || strings.ContainsAny(parts[1], "/@") {
		return s
	}
	u := url.URL{Scheme: "redis", Host: net.JoinHostPort(parts[0], parts[1]), Path: "/0"}
	if parts[2] != "" {
		u.User = url.UserPassword("", parts[2])
	}
	return u.String()
}

// validate checks settings against each other; refused names the keys
// already reported, which count as given here, so that a mistyped value is
// not also reported as missing.
func (c *Config) validate(refused map[string]bool) []string {
	var p []string
	if c.Store == "redis" && c.RedisURL == "" && len(c.RedisSentinels) == 0 {
		p = append(p, "SWARMOPS_STORE=redis needs SWARMOPS_REDIS_URL (redis://[:password@]host:6379/0) or SWARMOPS_REDIS_SENTINELS with SWARMOPS_REDIS_MASTER")
	}
	if len(c.RedisSentinels) > 0 && c.RedisMaster == "" {
		p = append(p, "SWARMOPS_REDIS_SENTINELS needs SWARMOPS_REDIS_MASTER (the master's name as the sentinels know it)")
	}
	if c.Store == "local" && c.DataDir == "" {
		p = append(p, "SWARMOPS_DATA_DIR must name a directory for the local store")
	}
	return append(p, c.validateSSO(refused)...)
}

// validateSSO checks the single sign-on settings against each other.
func (c *Config) validateSSO(refused map[string]bool) []string {
	var p []string
	oidc := c.OIDCIssuer != "" || refused["oidc-issuer"]
	header := c.AuthHeader != "" || refused["auth-header"]
	if oidc && c.OIDCClientID == "" && !refused["oidc-client-id"] {
		p = append(p, "SWARMOPS_OIDC_ISSUER needs SWARMOPS_OIDC_CLIENT_ID: set it to the client id registered with the identity provider")
	}
	if oidc && c.OIDCRedirectURL == "" && !refused["oidc-redirect-url"] && !refused["public-url"] {
		p = append(p, "SWARMOPS_OIDC_ISSUER needs SWARMOPS_PUBLIC_URL (the URL users reach SwarmOps at, e.g. https://swarmops.example.com; "+
			"the callback is then that URL + "+OIDCCallbackPath+") or SWARMOPS_OIDC_REDIRECT_URL")
	}
	if !oidc {
		var orphans []string
		for name, set := range map[string]bool{
			"SWARMOPS_OIDC_CLIENT_ID":     c.OIDCClientID != "" || refused["oidc-client-id"],
			"SWARMOPS_OIDC_CLIENT_SECRET": c.OIDCClientSecret != "",
			"SWARMOPS_OIDC_REDIRECT_URL":  c.OIDCRedirectURL != "" || refused["oidc-redirect-url"],
		} {
			if set {
				orphans = append(orphans, name)
			}
		}
		if len(orphans) > 0 {
			p = append(p, fmt.Sprintf("%s set but SWARMOPS_OIDC_ISSUER is missing: set SWARMOPS_OIDC_ISSUER to the identity provider's issuer URL "+
				"(e.g. https://login.example.com/realms/main), or unset %s", isAre(orphans), joinAnd(orphans)))
		}
	}
	if (oidc || header) && c.SSORoles.Empty() && !refused["oidc-role-map"] {
		var via []string
		if oidc {
			via = append(via, "SWARMOPS_OIDC_ISSUER")
		}
		if header {
			via = append(via, "SWARMOPS_AUTH_HEADER")
		}
		p = append(p, fmt.Sprintf("SWARMOPS_OIDC_ROLE_MAP is empty, so nobody could sign in through %s: "+
			"set it to group=role pairs, e.g. platform-admins=admin,ops=operator,*=viewer (\"*\" is every other user)", joinAnd(via)))
	}
	if !oidc && !header {
		var idle []string
		for _, v := range []struct {
			key, name, text string
		}{
			{"oidc-role-map", "SWARMOPS_OIDC_ROLE_MAP", c.SSORoles.String()},
			{"sso-allow", "SWARMOPS_SSO_ALLOW", c.SSOAllow.String()},
			{"sso-deny", "SWARMOPS_SSO_DENY", c.SSODeny.String()},
		} {
			if strings.TrimSpace(v.text) != "" || refused[v.key] {
				idle = append(idle, v.name)
			}
		}
		if len(idle) > 0 {
			p = append(p, fmt.Sprintf("%s set, which does nothing without single sign-on: set SWARMOPS_OIDC_ISSUER or SWARMOPS_AUTH_HEADER, or unset %s",
				isAre(idle), joinAnd(idle)))
		}
	}
	if header && len(c.TrustedProxies) == 0 && !refused["trusted-proxies"] {
		p = append(p, "SWARMOPS_AUTH_HEADER needs SWARMOPS_TRUSTED_PROXIES: the header is believed only from those addresses; "+
			"set it to the auth proxy's address or network, e.g. 10.0.0.5/32")
	}
	if (c.AuthGroupsHeader != "" || refused["auth-groups-header"]) && !header {
		p = append(p, "SWARMOPS_AUTH_GROUPS_HEADER needs SWARMOPS_AUTH_HEADER: set it to the header in which the auth proxy passes the user's name, e.g. Remote-User")
	}
	if !c.LocalLogin && !refused["local-login"] && !oidc && !header {
		p = append(p, "SWARMOPS_LOCAL_LOGIN=false with neither SWARMOPS_OIDC_ISSUER nor SWARMOPS_AUTH_HEADER set would let nobody sign in: "+
			"set one of them, or SWARMOPS_LOCAL_LOGIN=true (`swarmops user` manages the local users)")
	}
	return p
}

// joinAnd answers "A", "A and B" or "A, B and C", in sorted order.
func joinAnd(names []string) string {
	names = slices.Sorted(slices.Values(names))
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// isAre answers the names followed by "is" or "are".
func isAre(names []string) string {
	if len(names) == 1 {
		return names[0] + " is"
	}
	return joinAnd(names) + " are"
}

// String renders the configuration with secrets redacted, for the start-up
// log line.
func (c Config) String() string {
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		v := k.get(&c)
		if k.secret && v != "" {
			v = "<redacted>"
		}
		if k.name == "redis-url" && v != "" {
			v = RedactURL(v)
		}
		fmt.Fprintf(&b, "%s=%s", k.name, v)
	}
	return b.String()
}

// RedactURL answers what of a Redis URL may be shown: it is built from
// the parts known to hold no secret (scheme, host and port, database
// number, option names) rather than by taking the password out, so a
// password that a parser misreads ("#", "?" or "/" in it read as fragment,
// query or path) is never shown. Any credentials show as "xxxxx"; a part
// that is not what it should be shows as a placeholder.
func RedactURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || !isWord(scheme) {
		return "<unreadable URL>"
	}
	var b strings.Builder
	b.WriteString(scheme + "://")
	// Anything up to the last "@" is taken for credentials, wherever a
	// parser would put it.
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		b.WriteString("xxxxx@")
		rest = rest[at+1:]
	}
	hostport, rest, _ := strings.Cut(rest, "/")
	path, query := rest, ""
	if i := strings.IndexAny(hostport, "?#"); i >= 0 {
		hostport, path = hostport[:i], ""
	}
	path, query, _ = strings.Cut(path, "?")
	path, _, _ = strings.Cut(path, "#")
	query, _, _ = strings.Cut(query, "#")
	switch {
	case hostport == "":
	case safeHostPort(hostport):
		b.WriteString(hostport)
	default:
		b.WriteString("<host>")
	}
	switch {
	case path == "":
	case scheme == "unix" && strings.Trim(path, "/") != "" && !strings.ContainsFunc(path, notPathChar):
		b.WriteString("/" + path)
	case scheme != "unix" && isDigits(path):
		b.WriteString("/" + path)
	default:
		b.WriteString("/<path>")
	}
	var names []string
	for _, kv := range strings.Split(query, "&") {
		name, _, _ := strings.Cut(kv, "=")
		if name == "" {
			continue
		}
		if !isWord(name) {
			name = "<option>"
		}
		names = append(names, name+"=…")
	}
	if len(names) > 0 {
		b.WriteString("?" + strings.Join(names, "&"))
	}
	return b.String()
}

// safeHostPort reports whether s is a host (name, IPv4 or [IPv6]) with an
// optional numeric port, and nothing else.
func safeHostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = s, ""
		if strings.Contains(s, ":") && !strings.HasPrefix(s, "[") {
			return false
		}
	}
	if port != "" && !isDigits(port) {
		return false
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return host != "" && !strings.ContainsFunc(host, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == ':' || r == '_')
	})
}

func isDigits(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool { return r < '0' || r > '9' })
}

func isWord(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_')
	})
}

func notPathChar(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' || r == '/')
}

func parseBool(v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errors.New("expected true or false")
	}
	return b, nil
}

func parseDuration(v string, min time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, errors.New("expected a duration such as 10s, 5m or 12h")
	}
	if d < min {
		return 0, fmt.Errorf("must be at least %s", min)
	}
	return d, nil
}

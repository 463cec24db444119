package redis

import (
	"errors"
	"net/url"
	"strings"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// ConnOptions says how to reach Redis.
type ConnOptions struct {
	// URL is redis://[:password@]host:port/db, rediss://... for TLS or
	// unix:///path/to/socket?db=N. With Sentinels, only its password,
	// database and TLS are used.
	URL string
	// Password, when set, overrides the URL's.
	Password string
	// Sentinels are Sentinel host:port addresses; with them, Master names
	// the monitored master to follow.
	Sentinels []string
	Master    string
}

// Connect builds a client from o without contacting Redis, so that an
// instance whose Redis is down (or slow to answer) starts serving its
// liveness at once: calls fail with errs.ErrUnavailable until Redis
// answers (see Store.Ping). A Redis that refuses the credentials is told
// apart by CredentialsRefused, for the caller to stop: waiting cannot fix
// that. Error messages never contain the password.
func Connect(o ConnOptions) (goredis.UniversalClient, error) {
	opt := &goredis.Options{}
	if o.URL != "" {
		var err error
		if opt, err = goredis.ParseURL(o.URL); err != nil || urlMisread(o.URL, opt) {
			// Neither the URL nor the parser's text (which quotes parts
			// of it) is shown: either may hold the password.
			return nil, errors.New("redis url: not a valid Redis URL (redis://[:password@]host:port/db, rediss://... or unix:///path; " +
				"percent-encode special characters of the password: # ? / @ % as %23 %3F %2F %40 %25)")
		}
	} else if len(o.Sentinels) == 0 {
		return nil, errors.New("redis: a URL or Sentinel addresses are required")
	}
	if o.Password != "" {
		opt.Password = o.Password
	}
	// A call gives up when its context does (a request's deadline, a
	// readiness check's bound), even on a Redis that accepts connections
	// and never answers: go-redis otherwise keeps to its own timeouts
	// and retries.
	opt.ContextTimeoutEnabled = true

	if len(o.Sentinels) > 0 {
		if o.Master == "" {
			return nil, errors.New("redis: Sentinel mode needs the master's name")
		}
		return goredis.NewFailoverClient(&goredis.FailoverOptions{
			MasterName:    o.Master,
			SentinelAddrs: o.Sentinels,
			Username:      opt.Username,
			Password:      opt.Password,
			DB:            opt.DB,
			TLSConfig:     opt.TLSConfig,

			ContextTimeoutEnabled: opt.ContextTimeoutEnabled,
		}), nil
	}
	// Off, as go-redis has it for Sentinel clients: the handshake of this
	// Redis Enterprise feature fails on other servers, and its fallback
	// then writes the shared options from every pinned connection
	// (Client.Conn, used to WAIT for replicas) under a lock of that
	// connection's own: a data race in go-redis v9.23.
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return goredis.NewClient(opt), nil
}

// CredentialsRefused reports whether err, from a Store call or the client,
// says that Redis refused the configured credentials (no password, or a
// wrong one): unlike an outage, waiting cannot fix that.
func CredentialsRefused(err error) bool {
	return goredis.IsAuthError(err)
}

// urlMisread reports a URL that go-redis read other than it was meant: a
// password with an unencoded "#", "?", "/" or "@" turns into a fragment,
// query or path, and the client would then go to a default address
// without it.
func urlMisread(raw string, opt *goredis.Options) bool {
	if strings.Contains(raw, "#") {
		return true
	}
	u, err := url.Parse(raw)
	if err != nil {
		return true
	}
	return strings.Contains(raw, "@") && u.User == nil ||
		opt.Network == "tcp" && u.Hostname() == "" ||
		opt.Network == "unix" && u.Host != ""
}

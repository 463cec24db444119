package redis

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

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

// connectCheck bounds Connect's first contact with Redis.
const connectCheck = 3 * time.Second

// Connect builds a client from o. A Redis that does not answer yet is not
// an error (calls fail with errs.ErrUnavailable until it does, see
// Store.Ping), but one that refuses the credentials is: waiting cannot fix
// that. Error messages never contain the password.
func Connect(ctx context.Context, o ConnOptions) (goredis.UniversalClient, error) {
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

	var (
		c    goredis.UniversalClient
		addr = opt.Addr
	)
	if len(o.Sentinels) > 0 {
		if o.Master == "" {
			return nil, errors.New("redis: Sentinel mode needs the master's name")
		}
		addr = fmt.Sprintf("master %q via sentinels %s", o.Master, strings.Join(o.Sentinels, ","))
		c = goredis.NewFailoverClient(&goredis.FailoverOptions{
			MasterName:    o.Master,
			SentinelAddrs: o.Sentinels,
			Username:      opt.Username,
			Password:      opt.Password,
			DB:            opt.DB,
			TLSConfig:     opt.TLSConfig,
		})
	} else {
		// Off, as go-redis has it for Sentinel clients: the handshake of
		// this Redis Enterprise feature fails on other servers, and its
		// fallback then writes the shared options from every pinned
		// connection (Client.Conn, used to WAIT for replicas) under a
		// lock of that connection's own: a data race in go-redis v9.23.
		opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
		c = goredis.NewClient(opt)
	}

	ctx, cancel := context.WithTimeout(ctx, connectCheck)
	defer cancel()
	if err := c.Ping(ctx).Err(); goredis.IsAuthError(err) {
		c.Close()
		return nil, fmt.Errorf("redis at %s refused the credentials: %w", addr, err)
	}
	return c, nil
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

package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/swarmops/swarmops/internal/errs"
)

// failure translates the error of a call made through the transport kept
// under key into an errs kind, and drops that transport unless the
// registry simply answered no (not found, conflict). what says what was
// tried ("list tags of \"app\""); notFound is the message for a 404.
func (c *Client) failure(ctx context.Context, key string, err error, what, notFound string) error {
	e := c.classify(ctx, err, what, notFound)
	switch errs.KindOf(e) {
	case errs.ErrNotFound, errs.ErrConflict, errs.ErrInvalid:
	default:
		c.forget(key)
	}
	return e
}

func (c *Client) classify(ctx context.Context, err error, what, notFound string) error {
	if e, ok := errs.Public(err); ok {
		return e
	}
	cause := c.scrub(err)
	var te *transport.Error
	if errors.As(err, &te) {
		msg, from := c.message(te), c.source(te)
		switch te.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return errs.Engine(cause, "%s: the %s refused access with these credentials (%s); check the registry's user name and password", what, from, msg)
		case http.StatusNotFound:
			e := errs.NotFound("%s (the registry answered %s)", notFound, msg)
			e.Err = cause
			return e
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return errs.Unavailable(cause, "%s: the %s is unavailable (%d): %s; try again later", what, from, te.StatusCode, msg)
		}
		return errs.Engine(cause, "%s: the %s answered %d: %s", what, from, te.StatusCode, msg)
	}
	var pr *plainRealmError
	if errors.As(err, &pr) {
		return errs.Engine(cause, "%s: registry %s: %s", what, c.url, pr.Error())
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			return errs.Unavailable(cause, "%s: registry %s did not answer in time", what, c.url)
		}
		return fmt.Errorf("%s: %w", what, ctxErr)
	}
	if isNetwork(err) {
		return errs.Unavailable(cause, "%s: registry %s cannot be reached: %s", what, c.url, c.netMessage(err))
	}
	return errs.Engine(cause, "%s: registry %s answered something this client does not understand: %s", what, c.url, cause.Error())
}

// pingError translates a failed Ping: everything the admin can fix in the
// registration is errs.Invalid on the field at fault.
func (c *Client) pingError(ctx context.Context, err error) error {
	cause := c.scrub(err)
	var te *transport.Error
	if errors.As(err, &te) {
		msg := c.message(te)
		switch {
		case te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden:
			if c.anon {
				return errs.Invalid("username", "registry %s requires credentials: %s", c.url, msg).With(cause)
			}
			return errs.Invalid("password", "the %s refused the user name and password: %s", c.source(te), msg).With(cause)
		case te.Request != nil && !c.base.isRegistry(te.Request.URL):
			return errs.Invalid("url", "the %s answered %d: %s", c.source(te), te.StatusCode, msg).With(cause)
		}
		if len(te.Errors) > 0 {
			msg = fmt.Sprintf("%d %s (%s)", te.StatusCode, http.StatusText(te.StatusCode), msg)
		}
		return errs.Invalid("url", "%s is not a registry API v2: GET /v2/ answered %s; %s", c.url, msg, urlSyntax).With(cause)
	}
	var pr *plainRealmError
	if errors.As(err, &pr) {
		return errs.Invalid("url", "registry %s: %s", c.url, pr.Error()).With(cause)
	}
	if ctxErr := ctx.Err(); errors.Is(ctxErr, context.Canceled) {
		return fmt.Errorf("check registry %s: %w", c.url, ctxErr)
	}
	if isNetwork(err) || ctx.Err() != nil {
		return errs.Invalid("url", "registry %s cannot be reached: %s", c.url, c.netMessage(err)).With(cause)
	}
	return errs.Invalid("url", "registry %s: %s", c.url, cause.Error()).With(cause)
}

// source names who answered te: the registry, or its token service.
func (c *Client) source(te *transport.Error) string {
	if te.Request != nil && !c.base.isRegistry(te.Request.URL) {
		u := *te.Request.URL
		u.RawQuery = ""
		return fmt.Sprintf("token service %s of registry %s", u.Redacted(), c.url)
	}
	return "registry " + c.url.String()
}

// message answers the registry's own words in te: its error codes and
// messages, else the start of its answer.
func (c *Client) message(te *transport.Error) string {
	var parts []string
	for _, d := range te.Errors {
		s := string(d.Code)
		if d.Message != "" {
			s += ": " + d.Message
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		bare := *te
		bare.Request = nil // no method and URL: the caller says what was tried
		s := strings.TrimPrefix(bare.Error(), "unexpected status code ")
		s, _, _ = strings.Cut(s, " (HEAD responses have no body")
		parts = append(parts, s)
	}
	s := strings.Join(strings.Fields(strings.Join(parts, "; ")), " ")
	if r := []rune(s); len(r) > 300 {
		s = string(r[:300]) + "…"
	}
	return c.redactPassword(s)
}

// isNetwork reports whether err is a failure to talk to a server at all:
// dialing, TLS, a connection that broke.
func isNetwork(err error) bool {
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne)
}

// netMessage answers err's cause with a hint for TLS failures.
func (c *Client) netMessage(err error) string {
	msg := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		msg = ue.Err.Error()
	}
	var (
		verify *tls.CertificateVerificationError
		ua     x509.UnknownAuthorityError
		he     x509.HostnameError
		ci     x509.CertificateInvalidError
		rh     tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &verify), errors.As(err, &ua), errors.As(err, &he), errors.As(err, &ci):
		msg += " (give the PEM of the CA that signed the registry's certificate as ca, or turn on insecure_skip_verify)"
	case errors.As(err, &rh), strings.Contains(msg, "HTTP response to HTTPS client"):
		msg += " (the registry does not speak TLS on this port: use an http:// URL)"
	}
	return c.redactPassword(msg)
}

// scrubbed is an error whose text has the password removed.
type scrubbed struct {
	err error
	msg string
}

func (s *scrubbed) Error() string { return s.msg }
func (s *scrubbed) Unwrap() error { return s.err }

func (c *Client) scrub(err error) error {
	if err == nil {
		return nil
	}
	return &scrubbed{err: err, msg: c.redactPassword(err.Error())}
}

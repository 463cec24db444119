package errs

import (
	"errors"
	"fmt"
	"time"
)

// The kinds. Wrap them (or build an *Error) rather than returning them bare
// when there is something useful to say.
var (
	ErrInvalid      = errors.New("invalid input")
	ErrUnauthorized = errors.New("authentication required")
	ErrForbidden    = errors.New("permission denied")
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrLocked       = errors.New("locked by another operation")
	ErrRateLimited  = errors.New("too many requests")
	ErrUnavailable  = errors.New("service unavailable")
	ErrEngine       = errors.New("engine error")
)

// kinds lists the sentinels in the order KindOf tries them.
var kinds = []error{
	ErrInvalid, ErrUnauthorized, ErrForbidden, ErrNotFound, ErrConflict,
	ErrLocked, ErrRateLimited, ErrUnavailable, ErrEngine,
}

// Error is a failure whose Message may be shown to a client. Kind is one of
// the sentinels above; Err is the cause, kept for logs.
type Error struct {
	Kind       error
	Message    string
	Field      string         // the input field at fault, for ErrInvalid
	Details    map[string]any // extra public facts (never secrets)
	RetryAfter time.Duration  // for ErrLocked and ErrRateLimited
	// MaybeApplied marks a change whose outcome is unknown: the request
	// reached the engine and no answer came. A retry must not act again.
	MaybeApplied bool
	Err          error
}

func (e *Error) Error() string {
	msg := e.Message
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	if e.Err != nil {
		return msg + ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is this error's kind, so errors.Is(err,
// errs.ErrNotFound) holds for a wrapped public error.
func (e *Error) Is(target error) bool { return target == e.Kind }

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the sentinel err belongs to, or nil for an internal error.
func KindOf(err error) error {
	for _, k := range kinds {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}

// Public returns the outermost *Error in err's chain, if any.
func Public(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// Invalid reports bad input in field; message says what is accepted.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Kind: ErrInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFound reports an unknown object.
func NotFound(format string, args ...any) *Error {
	return &Error{Kind: ErrNotFound, Message: fmt.Sprintf(format, args...)}
}

// Conflict reports a name taken, a stale version or a refused state change.
func Conflict(format string, args ...any) *Error {
	return &Error{Kind: ErrConflict, Message: fmt.Sprintf(format, args...)}
}

// Forbidden reports a role too low for the action.
func Forbidden(format string, args ...any) *Error {
	return &Error{Kind: ErrForbidden, Message: fmt.Sprintf(format, args...)}
}

// Unauthorized reports missing or invalid credentials.
func Unauthorized(format string, args ...any) *Error {
	return &Error{Kind: ErrUnauthorized, Message: fmt.Sprintf(format, args...)}
}

// Locked reports that another operation holds the object's lock.
func Locked(retryAfter time.Duration, format string, args ...any) *Error {
	return &Error{Kind: ErrLocked, RetryAfter: retryAfter, Message: fmt.Sprintf(format, args...)}
}

// RateLimited reports too many attempts; retry after the given time.
func RateLimited(retryAfter time.Duration, format string, args ...any) *Error {
	return &Error{Kind: ErrRateLimited, RetryAfter: retryAfter, Message: fmt.Sprintf(format, args...)}
}

// Unavailable reports that a backend (store, every manager) cannot be
// reached. cause is kept for logs only.
func Unavailable(cause error, format string, args ...any) *Error {
	return &Error{Kind: ErrUnavailable, Err: cause, Message: fmt.Sprintf(format, args...)}
}

// Engine reports an error answered by a Docker engine; the engine's own text
// is public (it names objects, never secret data).
func Engine(cause error, format string, args ...any) *Error {
	return &Error{Kind: ErrEngine, Err: cause, Message: fmt.Sprintf(format, args...)}
}

// MaybeApplied reports a change whose outcome is unknown (sent, not
// answered): Unavailable, marked so that retries and idempotency replays
// treat it as possibly done.
func MaybeApplied(cause error, format string, args ...any) *Error {
	e := Unavailable(cause, format, args...)
	e.MaybeApplied = true
	return e
}

// IsMaybeApplied reports whether err says its change may have happened.
func IsMaybeApplied(err error) bool {
	e, ok := Public(err)
	return ok && e.MaybeApplied
}

// With returns a copy of e with cause attached.
func (e *Error) With(cause error) *Error {
	c := *e
	c.Err = cause
	return &c
}

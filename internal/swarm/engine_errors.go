package swarm

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/client"

	"github.com/swarmops/swarmops/internal/errs"
)

// maybeApplied is the error of a change whose outcome is unknown: the
// request was sent, no answer came. Idempotency keys stay used for it.
func maybeApplied(cause error, format string, args ...any) error {
	return errs.MaybeApplied(cause, format, args...)
}

// errNotManager marks an engine found (inside a call) to be no manager of
// the swarm any more, so the call moves on to the next endpoint.
var errNotManager = errors.New("the engine is not a swarm manager")

// failure says what a failed call tells about the engine it was sent to.
type failure int

const (
	answered   failure = iota // the engine answered (maybe with an error)
	notSent                   // the request never reached the engine
	notManager                // the engine is no longer a manager, or has no leader
	noAnswer                  // sent, but no answer came (timeout, reset)
)

// classify tells a failed call of kind apart by what it says of the
// engine: whether the request reached it and whether it may have acted.
func classify(err error, timedOut bool, kind callKind) failure {
	var ns *notSentError
	switch {
	case errors.As(err, &ns):
		return notSent
	case errors.Is(err, errNotManager):
		return notManager
	case timedOut:
		return noAnswer
	case errors.Is(err, errEngineRedirect):
		// The engine answered, with a redirect that was not followed.
		return answered
	case client.IsErrConnectionFailed(err):
		return noAnswer
	case cerrdefs.IsUnavailable(err):
		// A 503 is "not a swarm manager" (nothing done, try the next) or
		// a broken call between this manager and the leader, after
		// which a change may have been committed.
		if kind.writes() && !strings.Contains(err.Error(), "not a swarm manager") {
			return noAnswer
		}
		return notManager
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return noAnswer
	}
	return answered
}

// shortCause is err cut to its network part, for lists of failures.
func shortCause(err error, timedOut bool) string {
	if timedOut {
		return "no answer in time"
	}
	if pe, ok := errs.Public(err); ok && errors.Is(err, errEngineRedirect) {
		return pe.Message
	}
	s := err.Error()
	for _, cut := range []string{"dial tcp ", "dial unix "} {
		if i := strings.Index(s, cut); i >= 0 {
			s = s[i:]
		}
	}
	return boundText(s)
}

// maxEngineText bounds how much of an engine's error text an answer or a
// log line carries (the transport already cuts bodies past maxErrorBody).
const maxEngineText = 1024

// boundText is s cut to maxEngineText bytes, on a character boundary,
// saying how much was cut.
func boundText(s string) string {
	if len(s) <= maxEngineText {
		return s
	}
	cut := maxEngineText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d more bytes not shown)", s[:cut], len(s)-cut)
}

// boundedCause is an engine error whose text is bounded for logs; errors.Is
// and errors.As still see the engine's error beneath.
type boundedCause struct{ err error }

func (b boundedCause) Error() string { return boundText(b.err.Error()) }
func (b boundedCause) Unwrap() error { return b.err }

var daemonPrefix = regexp.MustCompile(`^Error response from daemon: `)

// engineMessage is the engine's own text of an error, bounded; ours when
// the error is one SwarmOps made of the answer (a refused redirect).
func engineMessage(err error) string {
	if pe, ok := errs.Public(err); ok {
		return boundText(pe.Message)
	}
	s := daemonPrefix.ReplaceAllString(err.Error(), "")
	s = strings.TrimPrefix(s, "rpc error: code = Unknown desc = ")
	return boundText(s)
}

// engineError translates an error the engine answered into an errs kind.
// Its message and the cause kept for logs are bounded.
func engineError(err error) error {
	msg := engineMessage(err)
	cause := boundedCause{err}
	switch {
	case cerrdefs.IsNotFound(err):
		return errs.NotFound("%s", msg).With(cause)
	case strings.Contains(msg, "update out of sequence"):
		return errs.Conflict("the object changed since its version was read; read it again and retry").With(cause)
	case cerrdefs.IsConflict(err) || cerrdefs.IsAlreadyExists(err):
		return errs.Conflict("%s", msg).With(cause)
	case cerrdefs.IsInvalidArgument(err):
		return errs.Invalid("", "%s", msg).With(cause)
	case cerrdefs.IsUnavailable(err):
		return errs.Unavailable(cause, "%s", msg)
	}
	return errs.Engine(cause, "%s", msg)
}

// lookupError names the object and the cluster when the engine knows no
// such object, and the id when a prefix or name is ambiguous.
func lookupError(err error, kind, id, cluster string) error {
	switch {
	case err == nil:
		return nil
	case isNotFound(err):
		return errs.NotFound("%s %q not found in cluster %q", kind, id, cluster)
	case cerrdefs.IsInvalidArgument(err) || strings.Contains(err.Error(), "ambiguous"):
		return errs.Invalid("id", "%s", engineMessage(err))
	}
	return err
}

// isNotFound reports whether err means the object does not exist.
func isNotFound(err error) bool {
	return errors.Is(err, errs.ErrNotFound) || cerrdefs.IsNotFound(err)
}

// isConflict reports whether err is a conflict of package errs.
func isConflict(err error) bool { return errs.KindOf(err) == errs.ErrConflict }

// refusedAsConflict turns the engine's refusals of a state change, which
// it answers as bad requests (failed preconditions: "in use", "last
// manager", "loss of quorum"), into conflicts: the request was well formed,
// the object's state is what stands in the way.
func refusedAsConflict(err error) error {
	pe, ok := errs.Public(err)
	if !ok || pe.Kind != errs.ErrInvalid || pe.Field != "" {
		return err
	}
	return errs.Conflict("%s", pe.Message).With(pe.Err)
}

// engineAnswered reports whether err is an answer of the engine (any
// status), rather than a failure to reach it. Unlike classify, it counts a
// 503 as an answer: the engine one talks to directly is not a manager
// among others, there is no other one to try.
func engineAnswered(err error) bool {
	var ns *notSentError
	return !errors.As(err, &ns) && !client.IsErrConnectionFailed(err) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

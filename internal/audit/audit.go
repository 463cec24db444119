package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// Actor is who acts in a context.
type Actor struct {
	User      string
	RequestID string
}

type actorKey struct{}

// WithActor returns ctx carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom answers the actor of ctx (zero when none was set).
func ActorFrom(ctx context.Context) Actor {
	a, _ := ctx.Value(actorKey{}).(Actor)
	return a
}

// Log appends audit records to the store.
type Log struct {
	store    store.Audit
	instance string
	now      func() time.Time
	// throttle, when the store has one, counts each principal's failed
	// and refused calls against budget, on every instance alike.
	throttle store.Throttle
	budget   atomic.Pointer[Budget]
}

// Budget bounds how many records of failed or refused calls one principal
// may write per window (fixed windows, aligned to the clock, the same on
// every instance). Past it, one record of action "audit.suppressed",
// written when the window ends, says how many more there were. Records of
// successful calls are never suppressed.
type Budget struct {
	PerPrincipal int
	Window       time.Duration
}

// DefaultBudget is 30 records of failed or refused calls per principal a
// minute.
var DefaultBudget = Budget{PerPrincipal: 30, Window: time.Minute}

// New makes a Log writing to st, stamping records with instance. When st
// is also a store.Throttle (every real store is), the budget of failed
// and refused calls (DefaultBudget) is counted there, shared by all
// instances.
func New(st store.Audit, instance string) *Log {
	l := &Log{store: st, instance: instance, now: time.Now}
	l.throttle, _ = st.(store.Throttle)
	l.SetBudget(DefaultBudget)
	return l
}

// SetBudget replaces the budget (instances sharing a store should agree
// on it); a PerPrincipal below 1 turns it off.
func (l *Log) SetBudget(b Budget) {
	if b.Window <= 0 {
		b.Window = DefaultBudget.Window
	}
	l.budget.Store(&b)
}

// Bounds of the fields of a record: a request can make any of them as
// long as it likes (a 3 MB service name is refused, and still recorded);
// the log keeps a prefix and says how much was cut.
const (
	maxErrorLen  = 512
	maxTargetLen = 256
	maxNameLen   = 128 // user, cluster, request id, instance
	maxActionLen = 64
)

// bound answers s cut to at most max bytes (on a rune boundary), with a
// mark saying how many bytes were cut.
func bound(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s…[%d bytes cut]", s[:cut], len(s)-cut)
}

// Record appends one record: action (noun.verb, e.g. "service.scale") on
// target in cluster, by user (the context's actor when empty), ending in
// err. Every field is bounded in size. A record of a failure counts
// against the user's Budget; past it, it is suppressed (and counted in
// the window's "audit.suppressed" record). A failure to append is logged
// with the whole record, so the trail survives in the logs when the store
// is down; the action itself already happened and is not undone. A nil
// Log records nothing.
func (l *Log) Record(ctx context.Context, user, action, cluster, target string, err error) {
	if l == nil {
		return
	}
	a := ActorFrom(ctx)
	if user == "" {
		user = a.User
	}
	r := store.AuditRecord{
		ID: newID(), Time: l.now().UTC(), User: bound(user, maxNameLen), Action: bound(action, maxActionLen),
		Cluster: bound(cluster, maxNameLen), Target: bound(target, maxTargetLen),
		RequestID: bound(a.RequestID, maxNameLen), Instance: bound(l.instance, maxNameLen), Result: "ok",
	}
	// The request may have been cancelled after acting; the record must
	// still be written.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err != nil {
		r.Result = "error"
		r.Error = errorText(err)
		if l.overBudget(wctx, r) {
			return
		}
	}
	l.append(ctx, wctx, r)
}

func (l *Log) append(ctx, wctx context.Context, r store.AuditRecord) {
	if aerr := l.store.AppendAudit(wctx, r); aerr != nil {
		zerolog.Ctx(ctx).Error().Err(aerr).Str("audit_action", r.Action).Str("audit_user", r.User).
			Str("audit_cluster", r.Cluster).Str("audit_target", r.Target).Str("audit_result", r.Result).
			Str("audit_error", r.Error).Msg("audit record not stored")
	}
}

// overBudget counts r, a failure, against its user's budget and reports
// whether it must be suppressed. The caller that goes first past the
// budget (the count is atomic across instances) writes the window's
// summary when the window ends. A store that cannot count lets the record
// through.
func (l *Log) overBudget(ctx context.Context, r store.AuditRecord) bool {
	b := *l.budget.Load()
	if l.throttle == nil || b.PerPrincipal < 1 {
		return false
	}
	n := r.Time.UnixNano() / int64(b.Window)
	start := time.Unix(0, n*int64(b.Window)).UTC()
	end := start.Add(b.Window)
	key := fmt.Sprintf("audit-budget:%d:%d:%s", b.Window.Milliseconds(), n, r.User)
	count, err := l.throttle.AddFailure(ctx, key, 2*b.Window)
	if err != nil || count <= b.PerPrincipal {
		return false
	}
	if count == b.PerPrincipal+1 {
		grace := min(time.Second, b.Window/4)
		sctx := context.WithoutCancel(ctx)
		time.AfterFunc(end.Sub(l.now())+grace, func() { l.summarize(sctx, key, r, b, start, end) })
	}
	return true
}

// summarize writes the record that stands for the window's suppressed
// records of r.User.
func (l *Log) summarize(ctx context.Context, key string, r store.AuditRecord, b Budget, start, end time.Time) {
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	total, err := l.throttle.Failures(wctx, key)
	if err != nil || total <= b.PerPrincipal {
		total = b.PerPrincipal + 1 // at least the one that started it
	}
	l.append(ctx, wctx, store.AuditRecord{
		ID: newID(), Time: l.now().UTC(), User: r.User, Action: "audit.suppressed",
		Target:    fmt.Sprintf("%d similar records suppressed", total-b.PerPrincipal),
		RequestID: r.RequestID, Instance: r.Instance, Result: "error",
		Error: fmt.Sprintf("failed or refused calls of %s from %s to %s past %d are not recorded one by one",
			r.User, start.Format(time.RFC3339), end.Format(time.RFC3339), b.PerPrincipal),
	})
}

// errorText is what an audit record says of a failure: the public message
// where there is one, the kind's text otherwise; never an internal cause,
// which is logged with the request id instead.
func errorText(err error) string {
	s := "internal error"
	if pe, ok := errs.Public(err); ok {
		s = pe.Message
		if pe.Field != "" {
			s = pe.Field + ": " + s
		}
	} else if k := errs.KindOf(err); k != nil {
		s = k.Error()
	}
	return bound(s, maxErrorLen)
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Query is an audit search as a client writes it.
type Query struct {
	Cluster, User, Action string
	// Since is an RFC 3339 time or a duration back from now ("1h").
	Since string
	// Limit is a number from 1 to 10000; "" means the store's default.
	Limit string
}

// Entry is an audit record as answers show it.
type Entry struct {
	ID        string
	Time      time.Time
	User      string
	Action    string
	Cluster   string
	Target    string
	RequestID string
	Instance  string
	Result    string // "ok" or "error"
	Error     string
}

// Search answers the records q selects, newest first.
func (l *Log) Search(ctx context.Context, q Query) ([]Entry, error) {
	f := store.AuditFilter{Cluster: q.Cluster, User: q.User, Action: q.Action}
	if q.Since != "" {
		t, err := time.Parse(time.RFC3339, q.Since)
		if err != nil {
			d, ok := backFromNow(q.Since)
			if !ok {
				return nil, errs.Invalid("since", "expected an RFC 3339 time (2026-01-02T15:04:05Z) or a duration back from now (90m, 1h, 7d)")
			}
			t = l.now().Add(-d)
		}
		f.Since = t
	}
	if q.Limit != "" {
		n, err := strconv.Atoi(q.Limit)
		if err != nil || n < 1 || n > 10000 {
			return nil, errs.Invalid("limit", "expected a number from 1 to 10000")
		}
		f.Limit = n
	}
	recs, err := l.store.ListAudit(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	out := make([]Entry, len(recs))
	for i, r := range recs {
		out[i] = Entry(r)
	}
	return out, nil
}

// backFromNow reads a positive Go duration ("90m", "1h") or a number of
// days ("7d"), which operators write and Go durations lack.
func backFromNow(s string) (time.Duration, bool) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		return time.Duration(days) * 24 * time.Hour, err == nil && days > 0 && days <= 3650
	}
	d, err := time.ParseDuration(s)
	return d, err == nil && d > 0
}

package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

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
}

// New makes a Log writing to st, stamping records with instance.
func New(st store.Audit, instance string) *Log {
	return &Log{store: st, instance: instance, now: time.Now}
}

// maxErrorLen bounds the error text kept per record.
const maxErrorLen = 512

// Record appends one record: action (noun.verb, e.g. "service.scale") on
// target in cluster, by user (the context's actor when empty), ending in
// err. A failure to append is logged with the whole record, so the trail
// survives in the logs when the store is down; the action itself already
// happened and is not undone. A nil Log records nothing.
func (l *Log) Record(ctx context.Context, user, action, cluster, target string, err error) {
	if l == nil {
		return
	}
	a := ActorFrom(ctx)
	if user == "" {
		user = a.User
	}
	r := store.AuditRecord{
		ID: newID(), Time: l.now().UTC(), User: user, Action: action, Cluster: cluster,
		Target: target, RequestID: a.RequestID, Instance: l.instance, Result: "ok",
	}
	if err != nil {
		r.Result = "error"
		r.Error = errorText(err)
	}
	// The request may have been cancelled after acting; the record must
	// still be written.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if aerr := l.store.AppendAudit(wctx, r); aerr != nil {
		zerolog.Ctx(ctx).Error().Err(aerr).Str("audit_action", r.Action).Str("audit_user", r.User).
			Str("audit_cluster", r.Cluster).Str("audit_target", r.Target).Str("audit_result", r.Result).
			Str("audit_error", r.Error).Msg("audit record not stored")
	}
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
	if len(s) > maxErrorLen {
		s = s[:maxErrorLen] + "…"
	}
	return s
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

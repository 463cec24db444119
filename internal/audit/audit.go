package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
// where there is one, the kind's text otherwise.
func errorText(err error) string {
	s := err.Error()
	if pe, ok := errs.Public(err); ok {
		s = pe.Error()
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

// List answers records matching f, newest first.
func (l *Log) List(ctx context.Context, f store.AuditFilter) ([]store.AuditRecord, error) {
	return l.store.ListAudit(ctx, f)
}

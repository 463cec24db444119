package audit

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/store"
)

// fakeAudit records appends; appendErr makes them fail.
type fakeAudit struct {
	got       []store.AuditRecord
	appendErr error
	filter    store.AuditFilter
}

func (f *fakeAudit) AppendAudit(_ context.Context, r store.AuditRecord) error {
	f.got = append(f.got, r)
	return f.appendErr
}

func (f *fakeAudit) ListAudit(_ context.Context, flt store.AuditFilter) ([]store.AuditRecord, error) {
	f.filter = flt
	return nil, nil
}

func TestRecord(t *testing.T) {
	st := &fakeAudit{}
	l := New(st, "i-1")
	ctx := WithActor(context.Background(), Actor{User: "alice", RequestID: "r-1"})
	l.Record(ctx, "", "service.scale", "prod", "web", nil)
	l.Record(ctx, "", "service.update", "prod", "web", errs.Invalid("ports[0]", "expected host:container").With(errors.New("cause with a secret")))
	l.Record(ctx, "bob", "auth.login", "", "bob", errors.New("redis at 10.0.0.1 said: password hunter2 wrong"))
	want := []string{"alice service.scale prod web r-1 i-1 ok ", "alice service.update prod web r-1 i-1 error ports[0]: expected host:container", "bob auth.login  bob r-1 i-1 error internal error"}
	if len(st.got) != len(want) {
		t.Fatalf("stored %d records, want %d: %+v", len(st.got), len(want), st.got)
	}
	for i, r := range st.got {
		got := strings.Join([]string{r.User, r.Action, r.Cluster, r.Target, r.RequestID, r.Instance, r.Result, r.Error}, " ")
		if got != want[i] {
			t.Errorf("record %d: %q, want %q", i, got, want[i])
		}
	}
}

func TestRecord_StoreDownIsLogged(t *testing.T) {
	var logs bytes.Buffer
	ctx := zerolog.New(&logs).WithContext(context.Background())
	l := New(&fakeAudit{appendErr: errors.New("redis down")}, "i-1")
	l.Record(ctx, "carol", "service.remove", "prod", "web", nil)
	for _, want := range []string{"audit record not stored", `"audit_action":"service.remove"`, `"audit_user":"carol"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s: %s", want, logs.String())
		}
	}
	var nilLog *Log
	nilLog.Record(ctx, "x", "y", "", "", nil) // a nil Log records nothing, and does not panic
}

func TestSearch(t *testing.T) {
	st := &fakeAudit{}
	l := New(st, "i-1")
	l.now = func() time.Time { return time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC) }
	ctx := context.Background()
	if _, err := l.Search(ctx, Query{User: "u", Action: "service.", Since: "1h", Limit: "50"}); err != nil {
		t.Fatal(err)
	}
	if f := st.filter; f.User != "u" || f.Action != "service." || f.Limit != 50 || !f.Since.Equal(time.Date(2026, 1, 2, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("filter %+v", f)
	}
	for _, q := range []Query{{Since: "yesterday"}, {Limit: "0"}, {Limit: "10001"}, {Limit: "x"}} {
		if _, err := l.Search(ctx, q); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("%+v: %v", q, err)
		}
	}
}

func TestBackFromNow(t *testing.T) {
	for in, want := range map[string]time.Duration{"90m": 90 * time.Minute, "1h": time.Hour, "7d": 7 * 24 * time.Hour, "1d": 24 * time.Hour} {
		if got, ok := backFromNow(in); !ok || got != want {
			t.Errorf("backFromNow(%q) = %v %v, want %v", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "0d", "-1d", "d", "7days", "0s", "-1h", "99999d", "yesterday"} {
		if _, ok := backFromNow(bad); ok {
			t.Errorf("backFromNow(%q) accepted", bad)
		}
	}
}

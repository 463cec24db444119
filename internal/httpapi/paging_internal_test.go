package httpapi

import (
	"encoding/base64"
	"errors"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/swarmops/swarmops/internal/errs"
)

// cutPage runs p.list on items inside a request to a bare fiber app with
// query, as a handler would: first pagingOf, then the cut.
func cutPage[T any](t *testing.T, o order[T], query string, items []T) (list[T], error) {
	t.Helper()
	var (
		out    list[T]
		outErr error
	)
	app := fiber.New()
	app.Get("/", func(c *fiber.Ctx) error {
		p, err := pagingOf(c, o)
		if err != nil {
			outErr = err
			return nil
		}
		out = p.list(c, items)
		return nil
	})
	resp, err := app.Test(httptest.NewRequest("GET", "/?"+query, nil))
	if err != nil {
		t.Fatalf("GET /?%s: %v", query, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return out, outErr
}

// walk pages through items limit at a time and answers the pages' items
// in turn, checking total and next_cursor on every page.
func walk[T any](t *testing.T, o order[T], limit string, items []T) []T {
	t.Helper()
	var got []T
	query := "limit=" + limit
	for range len(items) + 2 {
		l, err := cutPage(t, o, query, items)
		if err != nil {
			t.Fatalf("?%s: %v", query, err)
		}
		if l.Total != len(items) {
			t.Errorf("?%s: total %d, want %d", query, l.Total, len(items))
		}
		got = append(got, l.Items...)
		if l.NextCursor == "" {
			return got
		}
		if len(got) == len(items) {
			t.Errorf("?%s: next_cursor %q on the page holding the last item", query, l.NextCursor)
		}
		query = "limit=" + limit + "&cursor=" + l.NextCursor
	}
	t.Fatalf("paging %d items by %s does not end", len(items), limit)
	return nil
}

func TestPagingList_NoLimitAnswersEverything(t *testing.T) {
	items := []serviceSummaryDTO{{Name: "b", ID: "2"}, {Name: "a", ID: "1"}}
	l, err := cutPage(t, servicesOrder, "", items)
	if err != nil {
		t.Fatal(err)
	}
	want := []serviceSummaryDTO{{Name: "a", ID: "1"}, {Name: "b", ID: "2"}}
	if diff := cmp.Diff(l.Items, want); diff != "" || l.Total != 2 || l.NextCursor != "" {
		t.Errorf("no limit: total %d, next %q, items (-got +want):\n%s", l.Total, l.NextCursor, diff)
	}
	empty, err := cutPage(t, servicesOrder, "limit=5", []serviceSummaryDTO(nil))
	if err != nil || empty.Items == nil || len(empty.Items) != 0 || empty.Total != 0 || empty.NextCursor != "" {
		t.Errorf("an empty list by 5: %+v, %v; want items [], total 0, no next_cursor", empty, err)
	}
}

// TestPagingList_WalkEveryLimit: for every limit, the pages hold every item
// once, in the list's order, and only the last lacks next_cursor.
func TestPagingList_WalkEveryLimit(t *testing.T) {
	var items []networkDTO
	for _, n := range []string{"web", "db", "cache", "web", "api", "db", "zz", "a"} {
		items = append(items, networkDTO{Name: n, ID: n + "-" + strings.Repeat("x", len(items))})
	}
	want := slices.Clone(items)
	slices.SortFunc(want, func(a, b networkDTO) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	for _, limit := range []string{"1", "2", "3", "7", "8", "9", "1000"} {
		if diff := cmp.Diff(walk(t, networksOrder, limit, items), want); diff != "" {
			t.Errorf("limit %s (-got +want):\n%s", limit, diff)
		}
	}
}

// TestPagingList_TasksOrder: tasks page in docker service ps's order, by
// service, slot (as numbers: 10 after 9) and node, the newest first.
func TestPagingList_TasksOrder(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	want := []taskDTO{
		{ID: "t1", Service: "api", Slot: 2, NodeHostname: "n1", CreatedAt: t0.Add(time.Second)},
		{ID: "t2", Service: "api", Slot: 2, NodeHostname: "n1", CreatedAt: t0},
		{ID: "t3", Service: "api", Slot: 9, NodeHostname: "n1", CreatedAt: t0},
		{ID: "t4", Service: "api", Slot: 10, NodeHostname: "n0", CreatedAt: t0.Add(time.Nanosecond)},
		{ID: "t5", Service: "api", Slot: 10, NodeHostname: "n0", CreatedAt: t0},
		{ID: "t6", Service: "api", Slot: 10, NodeHostname: "n0", CreatedAt: t0.Add(-time.Hour)},
		{ID: "t7", Service: "web", Slot: 0, NodeHostname: "n0", CreatedAt: t0},
		{ID: "t8", Service: "web", Slot: 0, NodeHostname: "n2", CreatedAt: t0},
	}
	items := slices.Clone(want)
	slices.Reverse(items)
	for _, limit := range []string{"1", "3", "8"} {
		if diff := cmp.Diff(walk(t, tasksOrder, limit, items), want); diff != "" {
			t.Errorf("limit %s (-got +want):\n%s", limit, diff)
		}
	}
}

func TestPagingList_RevisionsNewestFirst(t *testing.T) {
	items := []stackRevisionDTO{{Revision: 9}, {Revision: 10}, {Revision: 1}, {Revision: 11}}
	want := []stackRevisionDTO{{Revision: 11}, {Revision: 10}, {Revision: 9}, {Revision: 1}}
	if diff := cmp.Diff(walk(t, revisionsOrder, "3", items), want); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}
}

// TestPagingList_CursorIsAPosition: a cursor names the last item answered, so
// items added or removed before or after it change neither what the next
// page starts at nor lead to repeats; a cursor past every item answers an
// empty last page.
func TestPagingList_CursorIsAPosition(t *testing.T) {
	svc := func(names ...string) []serviceSummaryDTO {
		var out []serviceSummaryDTO
		for _, n := range names {
			out = append(out, serviceSummaryDTO{Name: n, ID: "id-" + n})
		}
		return out
	}
	first, err := cutPage(t, servicesOrder, "limit=2", svc("b", "d", "f", "h"))
	if err != nil || first.NextCursor == "" {
		t.Fatalf("first page: %+v, %v", first, err)
	}
	// b (answered) and f (not yet) are gone; a, c (before the cursor) and
	// e (after it) are new.
	next, err := cutPage(t, servicesOrder, "limit=2&cursor="+first.NextCursor, svc("a", "c", "d", "e", "h"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(next.Items, svc("e", "h")); diff != "" || next.Total != 5 || next.NextCursor != "" {
		t.Errorf("after changes: total %d, next %q, items (-got +want):\n%s", next.Total, next.NextCursor, diff)
	}
	end, err := cutPage(t, servicesOrder, "cursor="+first.NextCursor, svc("a", "b"))
	if err != nil || len(end.Items) != 0 || end.Items == nil || end.Total != 2 || end.NextCursor != "" {
		t.Errorf("a cursor past the end: %+v, %v; want no items, total 2", end, err)
	}
	// Without limit, a cursor answers the rest.
	rest, err := cutPage(t, servicesOrder, "cursor="+first.NextCursor, svc("b", "d", "f", "h"))
	if diff := cmp.Diff(rest.Items, svc("f", "h")); err != nil || diff != "" || rest.NextCursor != "" {
		t.Errorf("cursor without limit: %v, next %q, (-got +want):\n%s", err, rest.NextCursor, diff)
	}
}

func TestEncodeCursor_RoundTrip(t *testing.T) {
	key := []string{"web", "", "ü/+=&?", `"quoted"`, "0000"}
	o := order[taskDTO]{name: "tasks", key: tasksOrder.key}
	c := encodeCursor(o, key)
	if strings.ContainsAny(c, "+/=&?%") {
		t.Errorf("cursor %q is not URL-safe as it is", c)
	}
	got, err := decodeCursor(o, c)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, key); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}
}

// TestPagingOf_BadParameters: each bad limit or cursor is an invalid-input
// error naming its field.
func TestPagingOf_BadParameters(t *testing.T) {
	b64 := base64.RawURLEncoding.EncodeToString
	svcCursor := encodeCursor(servicesOrder, []string{"web", "id"})
	tests := []struct{ name, query, field string }{
		{"limit zero", "limit=0", "limit"},
		{"limit negative", "limit=-1", "limit"},
		{"limit signed", "limit=+3", "limit"},
		{"limit over the bound", "limit=1001", "limit"},
		{"limit huge", "limit=99999999999999999999", "limit"},
		{"limit not a number", "limit=ten", "limit"},
		{"limit fraction", "limit=2.5", "limit"},
		{"cursor not base64url", "limit=2&cursor=%21%21", "cursor"},
		{"cursor padded base64", "cursor=" + base64.URLEncoding.EncodeToString([]byte(`["services","a","b"]`)), "cursor"},
		{"cursor not JSON", "cursor=" + b64([]byte("web")), "cursor"},
		{"cursor not a list of strings", "cursor=" + b64([]byte(`["services",1,2]`)), "cursor"},
		{"cursor too short", "cursor=" + b64([]byte(`["services","web"]`)), "cursor"},
		{"cursor too long", "cursor=" + b64([]byte(`["services","web","id","x"]`)), "cursor"},
		{"cursor of another list", "cursor=" + encodeCursor(networksOrder, []string{"web", "id"}), "cursor"},
		{"cursor over the length bound", "cursor=" + b64([]byte(`["services","`+strings.Repeat("w", maxCursor)+`","id"]`)), "cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cutPage(t, servicesOrder, tt.query, []serviceSummaryDTO{{Name: "a"}})
			var e *errs.Error
			if !errors.As(err, &e) || !errors.Is(err, errs.ErrInvalid) || e.Field != tt.field {
				t.Errorf("?%s: %v; want invalid input in %s", tt.query, err, tt.field)
			}
		})
	}
	if _, err := cutPage(t, servicesOrder, "limit=1000&cursor="+svcCursor, []serviceSummaryDTO{{Name: "a"}}); err != nil {
		t.Errorf("limit 1000 with a services cursor: %v", err)
	}
}

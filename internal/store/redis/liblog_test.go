package redis

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestLibraryLog_Bounded: go-redis's lines reach the sink at most once per
// period, each with the count of lines left out before it, without the
// library's "redis: " prefix.
func TestLibraryLog_Bounded(t *testing.T) {
	type line struct {
		Text    string
		LeftOut int
	}
	var got []line
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l := newLibraryLog(10*time.Second, func(s string, n int) { got = append(got, line{s, n}) }, func() time.Time { return now })
	ctx := context.Background()
	for i := range 26 { // 2.5 lines a second, for 10 s
		l.Printf(ctx, "redis: connection pool: failed to dial after %d attempts: %v", 5, fmt.Errorf("dial %d: connection refused", i))
		now = now.Add(400 * time.Millisecond)
	}
	now = now.Add(time.Minute)
	l.Printf(ctx, "redis: back: %s", "ok")
	want := []line{
		{"connection pool: failed to dial after 5 attempts: dial 0: connection refused", 0},
		{"connection pool: failed to dial after 5 attempts: dial 25: connection refused", 24},
		{"back: ok", 0},
	}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("lines (-got +want):\n%s", d)
	}
}

package redis

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// SetLibraryLog sends go-redis's own log lines, which it otherwise prints
// to stderr in a format of its own ("redis: <date> pool.go:770: ... dial
// tcp ...: connection refused", several a second while Redis is down), to
// emit instead: at most one line every every, with the number of lines
// left out since the previous one. go-redis has one logger per process:
// the last call wins.
func SetLibraryLog(every time.Duration, emit func(line string, leftOut int)) {
	goredis.SetLogger(newLibraryLog(every, emit, time.Now))
}

// libraryLog is go-redis's internal.Logging, bounded in rate.
type libraryLog struct {
	every time.Duration
	emit  func(line string, leftOut int)
	now   func() time.Time

	mu      sync.Mutex
	last    time.Time // when a line was last emitted
	leftOut int       // lines since then that were not
}

func newLibraryLog(every time.Duration, emit func(string, int), now func() time.Time) *libraryLog {
	return &libraryLog{every: every, emit: emit, now: now}
}

// Printf is go-redis's logging call.
func (l *libraryLog) Printf(_ context.Context, format string, args ...any) {
	l.mu.Lock()
	now := l.now()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.leftOut++
		l.mu.Unlock()
		return
	}
	n := l.leftOut
	l.last, l.leftOut = now, 0
	l.mu.Unlock()
	// go-redis starts most of its lines with "redis: "; the log says
	// where they come from in a field.
	l.emit(strings.TrimPrefix(fmt.Sprintf(format, args...), "redis: "), n)
}

package server

import (
	"io"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// logBuffer gathers the log's info and debug lines (the access log: one a
// request) while the instance serves, and writes them out together at
// most logFlushAfter later, or at once past logFlushSize: one write(2) a
// batch instead of one a request, which the profile of the throughput row
// showed at about 3% of the instance's CPU (and as many wake-ups of
// whatever reads the log). A warning or worse, or a line of no level,
// writes what waits and itself at once, in order. Stopping the batches
// (at the end of Serve, and Close) writes out what waits, so a shutdown
// loses no line; a process killed outright loses at most the last
// logFlushAfter of info lines.
type logBuffer struct {
	out io.Writer

	mu      sync.Mutex
	on      bool // batching: between start and stop
	buf     []byte
	pending bool // a flush is scheduled
	timer   *time.Timer
}

const (
	logFlushAfter = 50 * time.Millisecond
	logFlushSize  = 32 << 10
)

func newLogBuffer(out io.Writer) *logBuffer { return &logBuffer{out: out} }

// Write writes p at once (a line of no level).
func (b *logBuffer) Write(p []byte) (int, error) { return b.WriteLevel(zerolog.NoLevel, p) }

// WriteLevel keeps a line of level info or below for the next batch while
// batching, and writes anything else at once after what waits.
func (b *logBuffer) WriteLevel(level zerolog.Level, p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.on || level > zerolog.InfoLevel {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
		return b.out.Write(p)
	}
	b.buf = append(b.buf, p...)
	if len(b.buf) >= logFlushSize {
		return len(p), b.flushLocked()
	}
	if !b.pending {
		b.pending = true
		if b.timer == nil {
			b.timer = time.AfterFunc(logFlushAfter, b.flush)
		} else {
			b.timer.Reset(logFlushAfter)
		}
	}
	return len(p), nil
}

// start begins batching.
func (b *logBuffer) start() {
	b.mu.Lock()
	b.on = true
	b.mu.Unlock()
}

// stop ends batching and writes out what waits.
func (b *logBuffer) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.on = false
	_ = b.flushLocked()
}

func (b *logBuffer) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = false
	_ = b.flushLocked()
}

func (b *logBuffer) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.out.Write(b.buf)
	if cap(b.buf) > 4*logFlushSize { // after a burst, do not keep its size
		b.buf = nil
	} else {
		b.buf = b.buf[:0]
	}
	return err
}

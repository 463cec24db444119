package httpx

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/rs/zerolog"
)

// StreamItem is one message of a stream: for server-sent events, Event
// names it (empty: the default "message"); Data is one line of text or
// JSON.
type StreamItem struct {
	Event string
	Data  string
}

// Heartbeat is how often an idle stream writes a comment, so proxies keep
// the connection open and a vanished client is noticed.
var Heartbeat = 15 * time.Second

// WantsSSE reports whether the client asked for text/event-stream.
func WantsSSE(c *fiber.Ctx) bool {
	return strings.Contains(c.Get(fiber.HeaderAccept), "text/event-stream")
}

// Stream answers the items that produce sends, as server-sent events when
// sse, else as text/plain lines flushed as they come. produce runs in its
// own goroutine with a context that ends when the client goes away, the
// stream is done, or stopping ends (server shutdown); it must return then.
// The channel it writes to holds few items, so a slow client slows the
// producer (and the engine behind it) instead of filling memory.
func Stream(c *fiber.Ctx, stopping context.Context, sse bool, produce func(ctx context.Context, out chan<- StreamItem) error) error {
	if sse {
		c.Set(fiber.HeaderContentType, "text/event-stream")
		c.Set(fiber.HeaderCacheControl, "no-cache")
		c.Set("X-Accel-Buffering", "no") // nginx: do not buffer this answer
	} else {
		c.Set(fiber.HeaderContentType, "text/plain; charset=utf-8")
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(c.UserContext()))
	stopAfter := context.AfterFunc(stopping, cancel)
	items := make(chan StreamItem, 16)
	result := make(chan error, 1)
	go func() {
		defer close(items)
		defer func() {
			if r := recover(); r != nil {
				zerolog.Ctx(ctx).Error().Str("panic", fmt.Sprint(r)).Str("stack", string(debug.Stack())).Msg("stream producer panicked")
				result <- errors.New("stream producer panicked")
			}
		}()
		result <- produce(ctx, items)
	}()
	// Watch the connection itself, which says EOF as soon as the client
	// goes away; heartbeats only keep proxies from closing idle streams.
	stopWatch := watchClose(c, cancel)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer func() {
			stopWatch()
			stopAfter()
			cancel()
			for range items { // let the producer finish
			}
		}()
		beat := time.NewTicker(Heartbeat)
		defer beat.Stop()
		if sse {
			_, _ = w.WriteString(": stream open\n\n")
			if w.Flush() != nil {
				return
			}
		}
		for {
			select {
			case it, ok := <-items:
				if !ok {
					if err := <-result; err != nil && ctx.Err() == nil {
						writeEnd(w, sse, err)
					}
					return
				}
				writeItem(w, sse, it)
				// Flush per item only when no more are waiting.
				if len(items) == 0 && w.Flush() != nil {
					return
				}
			case <-beat.C:
				if sse {
					_, _ = w.WriteString(": ping\n\n")
				} else {
					continue // plain text has no comments; the next line tells
				}
				if w.Flush() != nil {
					return
				}
			case <-ctx.Done():
				if sse {
					_, _ = w.WriteString("event: end\ndata: server shutting down\n\n")
					_ = w.Flush()
				}
				return
			}
		}
	})
	return nil
}

// StreamLines answers the lines of rc (without their line ends) as Stream
// does, and closes rc when the stream ends or the client goes away, which
// also ends a read waiting on rc.
func StreamLines(c *fiber.Ctx, stopping context.Context, sse bool, rc io.ReadCloser) error {
	return Stream(c, stopping, sse, func(ctx context.Context, out chan<- StreamItem) error {
		defer rc.Close()
		stop := context.AfterFunc(ctx, func() { rc.Close() })
		defer stop()
		sc := bufio.NewScanner(rc)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			select {
			case out <- StreamItem{Data: sc.Text()}:
			case <-ctx.Done():
				return nil
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		return sc.Err()
	})
}

func writeItem(w *bufio.Writer, sse bool, it StreamItem) {
	if !sse {
		_, _ = w.WriteString(it.Data)
		_ = w.WriteByte('\n')
		return
	}
	if it.Event != "" {
		_, _ = w.WriteString("event: " + it.Event + "\n")
	}
	// EventSource ends lines at \r too: split there as well, or a log line
	// could forge events.
	for _, line := range lineBreaks.Split(it.Data, -1) {
		_, _ = w.WriteString("data: " + line + "\n")
	}
	_ = w.WriteByte('\n')
}

// writeEnd tells the client why a stream ended early.
func writeEnd(w *bufio.Writer, sse bool, err error) {
	_, body, _ := Classify(err)
	if sse {
		_, _ = w.WriteString("event: error\ndata: " + body.Message + "\n\n")
	} else {
		_, _ = w.WriteString("\n[stream ended: " + body.Message + "]\n")
	}
	_ = w.Flush()
}

var lineBreaks = regexp.MustCompile(`\r\n|\r|\n`)

// watchClose cancels a stream when its client closes the connection, and
// answers a function that stops watching; it must be called before the
// response is complete. The server reads nothing from a connection while
// it writes a response, so a read here sees only the client's EOF, or a
// request pipelined behind a stream, which no client should send: that
// ends the connection.
func watchClose(c *fiber.Ctx, cancel context.CancelFunc) (stop func()) {
	conn := c.Context().Conn()
	if conn == nil {
		return func() {}
	}
	var stopping atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		var b [1]byte
		n, _ := conn.Read(b[:])
		switch {
		case stopping.Load() && n == 0: // unblocked by stop
		case n > 0:
			_ = conn.Close()
			cancel()
		default:
			cancel()
		}
	}()
	return func() {
		stopping.Store(true)
		_ = conn.SetReadDeadline(time.Now())
		<-done
		// The server sets its own deadline before it reads the next request.
		_ = conn.SetReadDeadline(time.Time{})
	}
}

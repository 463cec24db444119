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

	"github.com/swarmops/swarmops/internal/errs"
)

// StreamItem is one message of a stream: for server-sent events, Event
// names it (empty: the default "message"); Data is one line of text or
// JSON.
type StreamItem struct {
	Event string
	Data  string
}

// StreamOptions say how a stream is answered and when it ends early.
type StreamOptions struct {
	// Stopping ends the stream when the server shuts down.
	Stopping context.Context
	// SSE answers server-sent events; otherwise text/plain lines.
	SSE bool
	// Recheck, when set, is called every StreamLimits.RecheckEvery while
	// the stream is open. An unauthorized or forbidden answer ends the stream at once,
	// any other error when the next check fails too (a store that blinks
	// does not cut every stream); the stream then ends with its reason:
	// "event: end" for server-sent events, a last "[stream ended: ...]"
	// line for text.
	Recheck func(ctx context.Context) error
}

// WantsSSE reports whether the client asked for text/event-stream.
func WantsSSE(c *fiber.Ctx) bool {
	return strings.Contains(c.Get(fiber.HeaderAccept), "text/event-stream")
}

// Why a stream ended, when it was not its producer's doing.
var (
	errShutdown   = errors.New("server shutting down")
	errClientGone = errors.New("client went away")
)

// Stream answers the items that produce sends, as server-sent events when
// o.SSE, else as text/plain lines flushed as they come. produce runs in its
// own goroutine with a context that ends when the client goes away, the
// stream is done, o.Stopping ends (server shutdown) or o.Recheck fails; it
// must return then. The channel it writes to holds few items, so a slow
// client slows the producer (and the engine behind it) instead of filling
// memory. The stream slot the request holds (AcquireStream) is given back
// when the stream ends.
func Stream(c *fiber.Ctx, o StreamOptions, produce func(ctx context.Context, out chan<- StreamItem) error) error {
	sse := o.SSE
	if sse {
		c.Set(fiber.HeaderContentType, "text/event-stream")
		c.Set(fiber.HeaderCacheControl, "no-cache")
		c.Set("X-Accel-Buffering", "no") // nginx: do not buffer this answer
	} else {
		c.Set(fiber.HeaderContentType, "text/plain; charset=utf-8")
	}
	slot, _ := c.Locals(localStreamSlot).(*streamSlot)
	limits := limitsOf(c)
	stopping := o.Stopping
	if stopping == nil {
		stopping = context.Background()
	}
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(c.UserContext()))
	stopAfter := context.AfterFunc(stopping, func() { cancel(errShutdown) })
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
	if o.Recheck != nil {
		go recheck(ctx, cancel, limits.RecheckEvery, o.Recheck)
	}
	// Watch the connection itself, which says EOF as soon as the client
	// goes away; heartbeats only keep proxies from closing idle streams.
	stopWatch := watchClose(c, func() { cancel(errClientGone) })
	conn := c.Context().Conn()
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer func() {
			stopWatch()
			stopAfter()
			cancel(nil)
			for range items { // let the producer finish
			}
			slot.release()
		}()
		// Each write may take limits.WriteTimeout; the server copies what
		// is flushed here to the connection, whose deadline this is.
		arm := func() {
			if conn != nil {
				_ = conn.SetWriteDeadline(time.Now().Add(limits.WriteTimeout))
			}
		}
		beat := time.NewTicker(limits.Heartbeat)
		defer beat.Stop()
		if sse {
			arm()
			_, _ = w.WriteString(": stream open\n\n")
			if w.Flush() != nil {
				return
			}
		}
		for {
			select {
			case it, ok := <-items:
				if !ok {
					err := <-result
					switch cause := context.Cause(ctx); {
					case ctx.Err() != nil && !errors.Is(cause, errClientGone) && cause != context.Canceled:
						arm()
						writeEnd(w, sse, "end", cause)
					case err != nil && ctx.Err() == nil:
						arm()
						writeEnd(w, sse, "error", err)
					}
					return
				}
				arm()
				writeItem(w, sse, it)
				// Flush per item only when no more are waiting.
				if len(items) == 0 && w.Flush() != nil {
					return
				}
			case <-beat.C:
				if !sse {
					continue // plain text has no comments; the next line tells
				}
				arm()
				_, _ = w.WriteString(": ping\n\n")
				if w.Flush() != nil {
					return
				}
			case <-ctx.Done():
				if cause := context.Cause(ctx); !errors.Is(cause, errClientGone) && cause != context.Canceled {
					arm()
					writeEnd(w, sse, "end", cause)
				}
				return
			}
		}
	})
	return nil
}

// recheck asks check every interval until ctx ends, and ends the stream
// (cancel, with the reason) when the caller may no longer read it.
func recheck(ctx context.Context, cancel context.CancelCauseFunc, every time.Duration, check func(context.Context) error) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	failed := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		cctx, stop := context.WithTimeout(ctx, every)
		err := check(cctx)
		stop()
		switch {
		case err == nil:
			failed = 0
			continue
		case ctx.Err() != nil:
			return
		}
		failed++
		zerolog.Ctx(ctx).Info().Err(err).Int("failed_checks", failed).Msg("stream: its caller's credential did not check out")
		if k := errs.KindOf(err); k == errs.ErrUnauthorized || k == errs.ErrForbidden || failed >= 2 {
			cancel(err)
			return
		}
	}
}

// StreamLines answers the lines of rc (without their line ends) as Stream
// does, and closes rc when the stream ends or the client goes away, which
// also ends a read waiting on rc.
func StreamLines(c *fiber.Ctx, o StreamOptions, rc io.ReadCloser) error {
	return Stream(c, o, func(ctx context.Context, out chan<- StreamItem) error {
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

// writeEnd tells the client why a stream ended early: as an event named
// event (error: the producer failed; end: the server ended it), or a last
// line of text.
func writeEnd(w *bufio.Writer, sse bool, event string, err error) {
	msg := errShutdown.Error()
	if !errors.Is(err, errShutdown) {
		_, body, _ := Classify(err)
		msg = body.Message
	}
	msg = lineBreaks.ReplaceAllString(msg, " ")
	if sse {
		_, _ = w.WriteString("event: " + event + "\ndata: " + msg + "\n\n")
	} else {
		_, _ = w.WriteString("\n[stream ended: " + msg + "]\n")
	}
	_ = w.Flush()
}

var lineBreaks = regexp.MustCompile(`\r\n|\r|\n`)

// watchClose calls gone when its client closes the connection, and
// answers a function that stops watching; it must be called before the
// response is complete. The server reads nothing from a connection while
// it writes a response, so a read here sees only the client's EOF, or a
// request pipelined behind a stream, which no client should send: that
// ends the connection.
func watchClose(c *fiber.Ctx, gone func()) (stop func()) {
	conn := c.Context().Conn()
	if conn == nil {
		return func() {}
	}
	// The deadline the server set to read the request would end the
	// watch, and with it the stream, ReadTimeout after the request came.
	_ = conn.SetReadDeadline(time.Time{})
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
			gone()
		default:
			gone()
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

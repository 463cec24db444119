package server

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/swarmops/swarmops/internal/testenv"
)

// TestLogBuffer: lines come out complete and in order, info lines of a
// serving instance in batches, anything else at once, and nothing waits
// once batching stops. No timing is asserted: a batch may go early.
func TestLogBuffer(t *testing.T) {
	out := &testenv.SyncBuffer{}
	b := newLogBuffer(out)
	log := zerolog.New(b)
	line := func(level, msg string) string { return `{"level":"` + level + `","message":"` + msg + `"}` + "\n" }
	mark := 0
	// written answers what was written since the last call.
	written := func() string {
		s := out.String()
		defer func() { mark = len(s) }()
		return s[mark:]
	}
	want := func(what, lines string) {
		t.Helper()
		if got := written(); got != lines {
			t.Fatalf("%s: written %q, want %q", what, got, lines)
		}
	}

	log.Info().Msg("a")
	want("before serving, a line is written at once", line("info", "a"))

	b.start()
	log.Info().Msg("b")
	log.Debug().Msg("c")
	log.Warn().Msg("d")
	want("a warning writes what waits, then itself", line("info", "b")+line("debug", "c")+line("warn", "d"))
	b.Write([]byte("plain\n"))
	want("a line of no level is written at once", "plain\n")

	log.Info().Msg("e")
	var got string
	testenv.Poll(t, 10*time.Second, "the batch to be written", func() error {
		if got += written(); got != line("info", "e") {
			return errors.New("not yet")
		}
		return nil
	})

	big := strings.Repeat("x", logFlushSize)
	log.Info().Msg(big)
	want("a batch past logFlushSize is written at once", line("info", big))

	log.Info().Msg("f")
	b.stop()
	got = written()
	if got != line("info", "f") {
		t.Fatalf("stopping: written %q, want what waited", got)
	}
	log.Info().Msg("g")
	want("after stopping, a line is written at once", line("info", "g"))
}

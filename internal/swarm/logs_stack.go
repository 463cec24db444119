package swarm

import (
	"bufio"
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/errs"
)

// maxStackLogServices bounds the services whose logs one stack log
// request streams: each is an open engine stream of its own.
const maxStackLogServices = 50

// stackLogHold is how long a followed stack log holds each line back to
// put lines that arrive close together in time order.
const stackLogHold = 250 * time.Millisecond

// maxStackLogBytes bounds the lines a stack log that is not followed
// keeps in memory to sort them; beyond it the oldest are left out.
const maxStackLogBytes = 64 << 20

// openStreams bounds the engine streams StackLogs opens at once.
const openStreams = 8

// StackLogs opens the logs of every service of a stack (its services carry
// StackLabel) merged into one text, each line tagged with its task and
// node as ServiceLogs tags them: "[timestamp ]web.2@node-1 | message".
// Tail and since are asked of each service's stream, which applies them
// as docker service logs does (the engine takes tail lines of each task).
//
// Each service's stream is asked for with timestamps, which order the
// lines and are cut off again unless o.Timestamps asks for them:
//   - Not following, every stream is read to its end and all lines are
//     sorted by time (lines of equal times keep their order). At most
//     64 MiB of lines are kept: past that the oldest are left out and a
//     first line says how many.
//   - Following, the end of the backlog cannot be known, so no total
//     order is possible: each line is held back 250ms and lines are let
//     out in time order, so the backlog (which arrives at once) and lines
//     that arrive close together come out ordered; a line arriving later
//     than that behind a newer one still comes out as it arrives.
//
// A stack of more than 50 services shows the logs of the first 50 by
// name, and a first line says so. The caller must Close the reader;
// closing ends every engine stream at once, even while the engines send
// nothing, and returns once the merging has stopped.
func (f *Fleet) StackLogs(ctx context.Context, cluster, stack string, o LogOptions) (io.ReadCloser, error) {
	lo, err := o.engine(f.now())
	if err != nil {
		return nil, err
	}
	lo.Timestamps = true // to order the lines
	c, err := f.cluster(ctx, cluster)
	if err != nil {
		return nil, err
	}
	mo := mergeOptions{timestamps: o.Timestamps, follow: o.Follow, hold: stackLogHold, maxBytes: maxStackLogBytes, now: f.now}
	var out io.ReadCloser
	_, err = f.do(ctx, c, stream, func(ctx context.Context, api Engine) error {
		if out != nil { // opened by an attempt that took too long
			_ = out.Close()
		}
		var err error
		out, err = openStackLogs(ctx, api, cluster, stack, lo, mo)
		return err
	})
	if err != nil && out != nil {
		_ = out.Close()
		out = nil
	}
	return out, err
}

// openStackLogs opens the streams of the stack's services on api with lo
// (which asks for timestamps) and merges them as mo says.
func openStackLogs(ctx context.Context, api Engine, cluster, stack string, lo container.LogsOptions, mo mergeOptions) (io.ReadCloser, error) {
	services, err := api.ServiceList(ctx, swarm.ServiceListOptions{Filters: filters.NewArgs(filters.Arg("label", StackLabel+"="+stack))})
	if err != nil {
		return nil, err
	}
	// The engine filters by the label; check, as a stack's lines must
	// never include another's.
	services = slices.DeleteFunc(services, func(s swarm.Service) bool { return s.Spec.Labels[StackLabel] != stack })
	if len(services) == 0 {
		return nil, errs.NotFound("stack %q has no services in cluster %q", stack, cluster)
	}
	slices.SortFunc(services, func(a, b swarm.Service) int { return cmp.Compare(a.Spec.Name, b.Spec.Name) })
	if len(services) > maxStackLogServices {
		mo.note = fmt.Sprintf("stack %q has %d services: these are the logs of the first %d by name (%s to %s); read the others' per service",
			stack, len(services), maxStackLogServices, services[0].Spec.Name, services[maxStackLogServices-1].Spec.Name)
		services = services[:maxStackLogServices]
	}
	srcs := make([]io.ReadCloser, len(services))
	failures := make([]error, len(services))
	var wg sync.WaitGroup
	sem := make(chan struct{}, openStreams)
	for i, s := range services {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			srcs[i], failures[i] = openServiceLogs(ctx, api, s, lo)
		}()
	}
	wg.Wait()
	var opened []io.ReadCloser
	var first error
	for i, err := range failures {
		switch {
		case err == nil:
			opened = append(opened, srcs[i])
		case isNotFound(err): // removed since the list: it has no logs to show
		case first == nil:
			first = err
		}
	}
	if first != nil {
		for _, rc := range opened {
			_ = rc.Close()
		}
		return nil, first
	}
	return mergeLogs(opened, mo), nil
}

// mergeOptions say how mergeLogs orders and shows lines.
type mergeOptions struct {
	timestamps bool          // keep each line's leading timestamp
	follow     bool          // reorder within hold instead of sorting everything
	hold       time.Duration // following: how long each line is held back
	maxBytes   int           // not following: the most bytes of lines kept (0: no limit)
	note       string        // a first line to show, if any
	now        func() time.Time
}

// logLine is one line of one source, with the time it starts with.
type logLine struct {
	at      time.Time
	src     int    // the source's index: lines of equal times keep source order
	seq     uint64 // arrival order within the source
	text    []byte // the line with its line end
	body    int    // where the text after the timestamp starts (0: no timestamp)
	arrived time.Time
}

func (l *logLine) before(m *logLine) bool {
	if c := l.at.Compare(m.at); c != 0 {
		return c < 0
	}
	if l.src != m.src {
		return l.src < m.src
	}
	return l.seq < m.seq
}

// lineHeap is a min-heap of lines by time.
type lineHeap []*logLine

func (h lineHeap) Len() int           { return len(h) }
func (h lineHeap) Less(i, j int) bool { return h[i].before(h[j]) }
func (h lineHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *lineHeap) Push(x any)        { *h = append(*h, x.(*logLine)) }
func (h *lineHeap) Pop() any {
	old := *h
	l := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return l
}

// mergedLogs is the reader of merged sources.
type mergedLogs struct {
	*io.PipeReader
	srcs []io.ReadCloser
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

// Close ends every source (which unblocks their reads), the merging and
// the reader, and returns once no goroutine of the merge runs.
func (m *mergedLogs) Close() error {
	m.once.Do(func() {
		close(m.stop)
		for _, rc := range m.srcs {
			_ = rc.Close()
		}
		_ = m.PipeReader.Close()
	})
	m.wg.Wait()
	return nil
}

// sourceEvent is a line of a source, or its end (with its error, if any).
// One channel carries both, so a source's end comes after its lines.
type sourceEvent struct {
	line *logLine
	end  bool
	err  error
}

// mergeLogs merges the lines of srcs, each line starting with an RFC 3339
// timestamp (a line without one takes the time of the line before it in
// its source), ordered as o says. Closing the answer closes every source.
func mergeLogs(srcs []io.ReadCloser, o mergeOptions) io.ReadCloser {
	if o.now == nil {
		o.now = time.Now
	}
	pr, pw := io.Pipe()
	m := &mergedLogs{PipeReader: pr, srcs: srcs, stop: make(chan struct{})}
	events := make(chan sourceEvent, 256)
	for i, rc := range srcs {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			err := readSource(i, rc, events, m.stop)
			select {
			case events <- sourceEvent{end: true, err: err}:
			case <-m.stop:
			}
		}()
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		mg := merger{o: o, w: pw, stop: m.stop}
		pw.CloseWithError(mg.run(len(srcs), events))
	}()
	return m
}

// readSource sends the lines of rc (source i) until it ends, answering
// its error (nil at its end or once stopped).
func readSource(i int, rc io.Reader, out chan<- sourceEvent, stop <-chan struct{}) error {
	br := bufio.NewReaderSize(rc, 64<<10)
	var last time.Time
	var seq uint64
	for {
		text, err := br.ReadBytes('\n')
		if len(text) > 0 {
			if text[len(text)-1] != '\n' {
				text = append(text, '\n') // a last line cut short
			}
			seq++
			l := &logLine{at: last, src: i, seq: seq, text: text, arrived: time.Now()}
			if at, body, ok := lineTime(text); ok {
				l.at, l.body, last = at, body, at
			}
			select {
			case out <- sourceEvent{line: l}:
			case <-stop:
				return nil
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			select {
			case <-stop:
				return nil // closed: not the source's failure
			default:
				return err
			}
		}
	}
}

// lineTime answers the timestamp a line starts with, and where the rest
// of the line starts.
func lineTime(line []byte) (time.Time, int, bool) {
	ts, _, ok := bytes.Cut(line, []byte(" "))
	if !ok {
		return time.Time{}, 0, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	return t, len(ts) + 1, err == nil
}

// merger orders the lines of n sources and writes them to w.
type merger struct {
	o    mergeOptions
	w    io.Writer
	stop <-chan struct{}
}

// run merges until every source has ended, answering the first source's
// error, if any; or until stopped or the writer fails, answering nil.
func (mg *merger) run(n int, in <-chan sourceEvent) error {
	if mg.o.note != "" {
		if err := mg.note(mg.o.note); err != nil {
			return nil
		}
	}
	if mg.o.follow {
		return mg.follow(n, in)
	}
	return mg.all(n, in)
}

// all reads every line, then writes them sorted by time, keeping the
// newest maxBytes of them.
func (mg *merger) all(n int, in <-chan sourceEvent) error {
	var h lineHeap
	var size, dropped int
	var cut *logLine // the newest line left out: older ones are left out too
	var first error
	for n > 0 {
		select {
		case ev := <-in:
			if ev.end {
				n--
				if first == nil {
					first = ev.err
				}
				continue
			}
			if cut != nil && !cut.before(ev.line) {
				dropped++
				continue
			}
			heap.Push(&h, ev.line)
			size += len(ev.line.text)
			for mg.o.maxBytes > 0 && size > mg.o.maxBytes {
				cut = heap.Pop(&h).(*logLine)
				size -= len(cut.text)
				dropped++
			}
		case <-mg.stop:
			return nil
		}
	}
	slices.SortFunc(h, func(a, b *logLine) int {
		if a.before(b) {
			return -1
		}
		return 1
	})
	if dropped > 0 {
		if err := mg.note(fmt.Sprintf("%d older lines left out: the logs exceed %d MiB; ask for fewer with tail or since", dropped, mg.o.maxBytes>>20)); err != nil {
			return nil
		}
	}
	for i, l := range h {
		if err := mg.write(l); err != nil {
			return nil
		}
		h[i] = nil // let it go
	}
	return first
}

// follow writes lines as they come, each held back for hold and let out
// in time order: the oldest line held goes out once held long enough.
func (mg *merger) follow(n int, in <-chan sourceEvent) error {
	var h lineHeap
	var first error
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for n > 0 {
		now := time.Now()
		for h.Len() > 0 && !now.Before(h[0].arrived.Add(mg.o.hold)) {
			if err := mg.write(heap.Pop(&h).(*logLine)); err != nil {
				return nil
			}
		}
		var due <-chan time.Time
		if h.Len() > 0 {
			timer.Reset(h[0].arrived.Add(mg.o.hold).Sub(now))
			due = timer.C
		}
		select {
		case ev := <-in:
			if ev.end {
				n--
				if first == nil {
					first = ev.err
				}
				continue
			}
			heap.Push(&h, ev.line)
		case <-due:
		case <-mg.stop:
			return nil
		}
	}
	for h.Len() > 0 { // every source has ended: nothing older can come
		if err := mg.write(heap.Pop(&h).(*logLine)); err != nil {
			return nil
		}
	}
	return first
}

// write writes l, without its timestamp unless asked for.
func (mg *merger) write(l *logLine) error {
	text := l.text
	if !mg.o.timestamps {
		text = text[l.body:]
	}
	_, err := mg.w.Write(text)
	return err
}

// note writes a line of SwarmOps's own, in the form of the others.
func (mg *merger) note(msg string) error {
	text := "swarmops | " + msg + "\n"
	if mg.o.timestamps {
		text = mg.o.now().UTC().Format(time.RFC3339Nano) + " " + text
	}
	_, err := io.WriteString(mg.w, text)
	return err
}

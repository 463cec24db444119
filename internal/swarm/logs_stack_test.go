package swarm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/swarmops/swarmops/internal/errs"
)

// ts answers the engine's timestamp of second s (and nanosecond n) of a
// fixed minute.
func ts(s, n int) string {
	return time.Date(2026, 11, 29, 10, 0, s, n, time.UTC).Format("2006-01-02T15:04:05.000000000Z07:00")
}

// src is a source of lines that ends at its end.
func src(lines ...string) io.ReadCloser {
	return io.NopCloser(strings.NewReader(strings.Join(lines, "")))
}

// noLeaks fails t if a goroutine started since ignore is still running.
func noLeaks(t *testing.T, ignore goleak.Option) {
	t.Helper()
	if err := goleak.Find(ignore); err != nil {
		t.Error(err)
	}
}

func TestStackLogs_MergeAll(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	for _, tc := range []struct {
		name string
		srcs func() []io.ReadCloser
		o    mergeOptions
		want []string
	}{
		{
			name: "ordered across services, timestamps cut off",
			srcs: func() []io.ReadCloser {
				return []io.ReadCloser{
					// One service's tasks come unordered: sorted too.
					src(ts(3, 0)+" api.1@n1 | c\n", ts(1, 0)+" api.2@n2 | a\n"),
					src(ts(2, 0)+" db.1@n1 | b\n", ts(4, 0)+" db.1@n1 | d"), // the last line has no line end
				}
			},
			want: []string{"api.2@n2 | a", "db.1@n1 | b", "api.1@n1 | c", "db.1@n1 | d"},
		},
		{
			name: "timestamps kept when asked for",
			srcs: func() []io.ReadCloser {
				return []io.ReadCloser{src(ts(2, 0) + " api.1@n1 | b\n"), src(ts(1, 5) + " db.1@n1 | a\n")}
			},
			o:    mergeOptions{timestamps: true},
			want: []string{ts(1, 5) + " db.1@n1 | a", ts(2, 0) + " api.1@n1 | b"},
		},
		{
			name: "equal times keep source order, then arrival order",
			srcs: func() []io.ReadCloser {
				return []io.ReadCloser{
					src(ts(1, 0)+" api.1@n1 | 1\n", ts(1, 0)+" api.1@n1 | 2\n"),
					src(ts(1, 0) + " db.1@n1 | 3\n"),
				}
			},
			want: []string{"api.1@n1 | 1", "api.1@n1 | 2", "db.1@n1 | 3"},
		},
		{
			name: "a line without a timestamp follows the one before it",
			srcs: func() []io.ReadCloser {
				return []io.ReadCloser{
					src(ts(1, 0)+" api.1@n1 | a\n", "not stamped\n", ts(3, 0)+" api.1@n1 | c\n"),
					src(ts(2, 0) + " db.1@n1 | b\n"),
				}
			},
			want: []string{"api.1@n1 | a", "not stamped", "db.1@n1 | b", "api.1@n1 | c"},
		},
		{
			name: "a note comes first",
			srcs: func() []io.ReadCloser { return []io.ReadCloser{src(ts(1, 0) + " api.1@n1 | a\n")} },
			o:    mergeOptions{note: "hello"},
			want: []string{"swarmops | hello", "api.1@n1 | a"},
		},
		{
			name: "over the byte limit the oldest are left out",
			srcs: func() []io.ReadCloser {
				// Each line is 45 bytes; 100 keep the newest two.
				return []io.ReadCloser{
					src(ts(1, 0)+" api.1@n1 | 1\n", ts(4, 0)+" api.1@n1 | 4\n", ts(2, 0)+" api.1@n1 | 2\n"),
					src(ts(3, 0)+" db.1@n1 | 3\n", ts(0, 0)+" db.1@n1 | 0\n"),
				}
			},
			o: mergeOptions{maxBytes: 90},
			want: []string{"swarmops | 3 older lines left out: the logs exceed 0 MiB; ask for fewer with tail or since",
				"db.1@n1 | 3", "api.1@n1 | 4"},
		},
		{
			name: "no sources",
			srcs: func() []io.ReadCloser { return nil },
			want: nil,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := mergeLogs(tc.srcs(), tc.o)
			b, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			rc.Close()
			var got []string
			if s := strings.TrimSuffix(string(b), "\n"); s != "" {
				got = strings.Split(s, "\n")
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
		})
	}
	noLeaks(t, ignore)
}

func TestStackLogs_MergeAllReportsASourceError(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	pr, pw := io.Pipe()
	go func() {
		_, _ = io.WriteString(pw, ts(2, 0)+" db.1@n1 | b\n")
		pw.CloseWithError(errors.New("engine went away"))
	}()
	rc := mergeLogs([]io.ReadCloser{src(ts(1, 0) + " api.1@n1 | a\n"), pr}, mergeOptions{})
	b, err := io.ReadAll(rc)
	rc.Close()
	if err == nil || err.Error() != "engine went away" {
		t.Errorf("error %v, want the source's", err)
	}
	if string(b) != "api.1@n1 | a\ndb.1@n1 | b\n" {
		t.Errorf("lines before the error: %q", b)
	}
	noLeaks(t, ignore)
}

// pipes answers n sources the test writes to.
func pipes(n int) ([]io.ReadCloser, []*io.PipeWriter) {
	rs := make([]io.ReadCloser, n)
	ws := make([]*io.PipeWriter, n)
	for i := range rs {
		rs[i], ws[i] = io.Pipe()
	}
	return rs, ws
}

// readLines delivers the lines of r until it ends.
func readLines(r io.Reader) <-chan string {
	out := make(chan string, 100)
	go func() {
		defer close(out)
		b := make([]byte, 0, 4096)
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			b = append(b, buf[:n]...)
			for {
				i := strings.IndexByte(string(b), '\n')
				if i < 0 {
					break
				}
				out <- string(b[:i])
				b = b[i+1:]
			}
			if err != nil {
				return
			}
		}
	}()
	return out
}

func next(t *testing.T, in <-chan string) string {
	t.Helper()
	select {
	case l, ok := <-in:
		if !ok {
			t.Fatal("the stream ended")
		}
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no line within 10s")
	}
	return ""
}

func TestStackLogs_FollowReordersWithinTheHold(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	rs, ws := pipes(2)
	rc := mergeLogs(rs, mergeOptions{follow: true, hold: 200 * time.Millisecond})
	out := readLines(rc)

	// Arriving close together, newer first: out in time order.
	start := time.Now()
	_, _ = io.WriteString(ws[0], ts(5, 0)+" api.1@n1 | second\n")
	_, _ = io.WriteString(ws[1], ts(4, 0)+" db.1@n1 | first\n")
	if got := []string{next(t, out), next(t, out)}; !cmp.Equal(got, []string{"db.1@n1 | first", "api.1@n1 | second"}) {
		t.Errorf("lines %q, want them in time order", got)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("lines out after %s, before the hold", d)
	}
	// Arriving after its neighbour went out: out as it comes.
	_, _ = io.WriteString(ws[1], ts(3, 0)+" db.1@n1 | late\n")
	if got := next(t, out); got != "db.1@n1 | late" {
		t.Errorf("line %q", got)
	}

	// Close ends every source while they send nothing, and the reader.
	closed := make(chan struct{})
	go func() { rc.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	for i, w := range ws {
		if _, err := io.WriteString(w, ts(9, 0)+" x | y\n"); !errors.Is(err, io.ErrClosedPipe) {
			t.Errorf("source %d still open after Close: %v", i, err)
		}
	}
	for range out { // the reader ends
	}
	noLeaks(t, ignore)
}

func TestStackLogs_FollowEndsWithItsSources(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	rs, ws := pipes(2)
	// A long hold: the ends of the sources let out what is held, in order.
	rc := mergeLogs(rs, mergeOptions{follow: true, hold: time.Hour, timestamps: true})
	_, _ = io.WriteString(ws[0], ts(2, 0)+" api.1@n1 | b\n")
	_, _ = io.WriteString(ws[1], ts(1, 0)+" db.1@n1 | a\n")
	ws[0].Close()
	ws[1].Close()
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if want := ts(1, 0) + " db.1@n1 | a\n" + ts(2, 0) + " api.1@n1 | b\n"; string(b) != want {
		t.Errorf("got %q, want %q", b, want)
	}
	noLeaks(t, ignore)
}

func TestStackLogs_CloseUnblocksAWaitingRead(t *testing.T) {
	for _, follow := range []bool{false, true} {
		t.Run(fmt.Sprintf("follow=%v", follow), func(t *testing.T) {
			ignore := goleak.IgnoreCurrent()
			rs, ws := pipes(3)
			rc := mergeLogs(rs, mergeOptions{follow: follow, hold: time.Millisecond})
			read := make(chan error)
			go func() {
				_, err := io.ReadAll(rc)
				read <- err
			}()
			_, _ = io.WriteString(ws[2], ts(1, 0)+" api.1@n1 | a\n")
			time.Sleep(20 * time.Millisecond) // let the read wait (if it did not, Close still must end it)
			rc.Close()
			select {
			case <-read:
			case <-time.After(5 * time.Second):
				t.Fatal("a read waiting on the merged logs did not end at Close")
			}
			for _, w := range ws {
				w.Close()
			}
			noLeaks(t, ignore)
		})
	}
}

// logsFake is an engine with services, their tasks and nodes, and each
// service's log text (the engine's framing, details and timestamps).
type logsFake struct {
	client.APIClient
	services []swarm.Service
	nodes    []swarm.Node
	tasks    []swarm.Task
	logs     map[string]string // service ID -> its lines, "ts details msg\n"
	failing  map[string]error  // service ID -> the error of its ServiceLogs

	mu      sync.Mutex
	asked   []container.LogsOptions
	streams []*io.PipeReader // the streams of following services, which stay open
	filter  string
}

func (f *logsFake) ServiceList(_ context.Context, o swarm.ServiceListOptions) ([]swarm.Service, error) {
	f.mu.Lock()
	f.filter = strings.Join(o.Filters.Get("label"), ",")
	f.mu.Unlock()
	return f.services, nil
}

func (f *logsFake) TaskList(context.Context, swarm.TaskListOptions) ([]swarm.Task, error) {
	return f.tasks, nil
}

func (f *logsFake) NodeList(context.Context, swarm.NodeListOptions) ([]swarm.Node, error) {
	return f.nodes, nil
}

func (f *logsFake) ServiceLogs(_ context.Context, id string, o container.LogsOptions) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, o)
	if err := f.failing[id]; err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		w := stdcopy.NewStdWriter(pw, stdcopy.Stdout)
		_, _ = io.WriteString(w, f.logs[id])
		if !o.Follow {
			pw.Close()
		}
	}()
	if o.Follow {
		f.streams = append(f.streams, pr)
	}
	return pr, nil
}

func stackFake() *logsFake {
	svc := func(id, name, stack string) swarm.Service {
		s := service(id, name)
		s.Spec.Labels = map[string]string{StackLabel: stack}
		return s
	}
	tsk := func(id, svc, nodeID string, slot int) swarm.Task {
		return swarm.Task{ID: id, ServiceID: svc, NodeID: nodeID, Slot: slot}
	}
	details := func(task, node string) string {
		return "com.docker.swarm.node.id=" + node + ",com.docker.swarm.service.id=x,com.docker.swarm.task.id=" + task
	}
	return &logsFake{
		services: []swarm.Service{svc("s-web", "shop_web", "shop"), svc("s-db", "shop_db", "shop"), svc("s-other", "other_web", "other")},
		nodes:    []swarm.Node{node("n1", "node-1"), node("n2", "node-2")},
		tasks:    []swarm.Task{tsk("t-web1", "s-web", "n1", 1), tsk("t-web2", "s-web", "n2", 2), tsk("t-db1", "s-db", "n2", 1)},
		logs: map[string]string{
			"s-web": ts(3, 0) + " " + details("t-web2", "n2") + " web 3\n" + ts(1, 0) + " " + details("t-web1", "n1") + " web 1\n",
			"s-db":  ts(2, 0) + " " + details("t-db1", "n2") + " db 2\n",
		},
	}
}

func TestStackLogs_OpensEveryServiceTagged(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	f := stackFake()
	lo := container.LogsOptions{Timestamps: true, Details: true, Tail: "7"}
	rc, err := openStackLogs(context.Background(), f, "prod", "shop", lo, mergeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if want := "shop_web.1@node-1 | web 1\nshop_db.1@node-2 | db 2\nshop_web.2@node-2 | web 3\n"; string(b) != want {
		t.Errorf("got %q, want %q", b, want)
	}
	if f.filter != StackLabel+"=shop" {
		t.Errorf("listed services by label %q", f.filter)
	}
	if len(f.asked) != 2 || f.asked[0] != lo || f.asked[1] != lo {
		t.Errorf("asked for logs with %+v, want twice %+v", f.asked, lo)
	}
	noLeaks(t, ignore)
}

func TestStackLogs_UnknownStackAndFailures(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	lo := container.LogsOptions{Timestamps: true, Details: true}
	_, err := openStackLogs(context.Background(), stackFake(), "prod", "nope", lo, mergeOptions{})
	if errs.KindOf(err) != errs.ErrNotFound || !strings.Contains(err.Error(), `stack "nope" has no services in cluster "prod"`) {
		t.Errorf("unknown stack: %v", err)
	}

	// A service removed since the list is left out.
	f := stackFake()
	f.failing = map[string]error{"s-db": errs.NotFound("gone")}
	rc, err := openStackLogs(context.Background(), f, "prod", "shop", lo, mergeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if want := "shop_web.1@node-1 | web 1\nshop_web.2@node-2 | web 3\n"; string(b) != want {
		t.Errorf("got %q, want %q", b, want)
	}

	// Any other failure fails the whole, and closes what was opened.
	f = stackFake()
	f.failing = map[string]error{"s-db": errors.New("boom")}
	lo.Follow = true
	if _, err := openStackLogs(context.Background(), f, "prod", "shop", lo, mergeOptions{follow: true}); err == nil || err.Error() != "boom" {
		t.Errorf("error %v, want boom", err)
	}
	for _, pr := range f.streams {
		if _, err := pr.Read(make([]byte, 1)); !errors.Is(err, io.ErrClosedPipe) {
			t.Errorf("a stream opened before the failure is still open: %v", err)
		}
	}
	noLeaks(t, ignore)
}

func TestStackLogs_FollowingCloseEndsEveryEngineStream(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	f := stackFake()
	lo := container.LogsOptions{Timestamps: true, Details: true, Follow: true}
	rc, err := openStackLogs(context.Background(), f, "prod", "shop", lo, mergeOptions{follow: true, hold: stackLogHold, timestamps: true})
	if err != nil {
		t.Fatal(err)
	}
	out := readLines(rc)
	var got []string
	for range 3 {
		got = append(got, next(t, out))
	}
	// The backlogs arrive together, within the hold: in time order.
	if want := []string{ts(1, 0) + " shop_web.1@node-1 | web 1", ts(2, 0) + " shop_db.1@node-2 | db 2", ts(3, 0) + " shop_web.2@node-2 | web 3"}; !cmp.Equal(got, want) {
		t.Errorf("lines %q, want %q", got, want)
	}
	rc.Close() // the engine streams send nothing any more
	for i, pr := range f.streams {
		if _, err := pr.Read(make([]byte, 1)); !errors.Is(err, io.ErrClosedPipe) {
			t.Errorf("engine stream %d open after Close: %v", i, err)
		}
	}
	for range out {
	}
	noLeaks(t, ignore)
}

func TestStackLogs_CapsTheServices(t *testing.T) {
	f := stackFake()
	f.services = nil
	for i := range maxStackLogServices + 3 {
		s := service(fmt.Sprintf("s%02d", i), fmt.Sprintf("big_s%02d", i))
		s.Spec.Labels = map[string]string{StackLabel: "big"}
		f.services = append(f.services, s)
	}
	rc, err := openStackLogs(context.Background(), f, "prod", "big", container.LogsOptions{Timestamps: true, Details: true}, mergeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if want := `swarmops | stack "big" has 53 services: these are the logs of the first 50 by name (big_s00 to big_s49); read the others' per service` + "\n"; string(b) != want {
		t.Errorf("got %q, want %q", b, want)
	}
	if len(f.asked) != maxStackLogServices {
		t.Errorf("opened %d streams, want %d", len(f.asked), maxStackLogServices)
	}
}

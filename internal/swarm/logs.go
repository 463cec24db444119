package swarm

import (
	"context"
	"io"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/swarmops/swarmops/internal/errs"
)

// LogOptions select a service's log lines, as docker service logs does.
type LogOptions struct {
	Tail       string // a number of lines or "all"; "" means all
	Since      string // RFC 3339 time, Unix seconds, or a duration back from now ("10m")
	Timestamps bool
	Follow     bool
}

func (o LogOptions) engine(now time.Time) (container.LogsOptions, error) {
	// Details make the engine name each line's task and node.
	lo := container.LogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: o.Timestamps, Follow: o.Follow, Tail: o.Tail, Details: true}
	if lo.Tail == "" {
		lo.Tail = "all"
	}
	if lo.Tail != "all" {
		if n, err := strconv.Atoi(lo.Tail); err != nil || n < 0 {
			return lo, errs.Invalid("tail", "expected a number of lines or all")
		}
	}
	if s := o.Since; s != "" {
		switch t, terr := time.Parse(time.RFC3339Nano, s); {
		case terr == nil:
			lo.Since = strconv.FormatInt(t.Unix(), 10)
		default:
			if d, err := time.ParseDuration(s); err == nil && d > 0 {
				lo.Since = strconv.FormatInt(now.Add(-d).Unix(), 10)
			} else if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
				lo.Since = s
			} else {
				return lo, errs.Invalid("since", "expected an RFC 3339 time, Unix seconds, or a duration back from now such as 10m")
			}
		}
	}
	return lo, nil
}

// ServiceLogs opens the merged log of a service's tasks as plain text, one
// line per entry (the engine's stdout/stderr framing removed), each tagged
// with its task and node as docker service logs does:
// "[timestamp ]web.2@node-1 | message". The caller must Close it; closing
// ends the engine stream at once, even while the engine has nothing to
// send.
func (f *Fleet) ServiceLogs(ctx context.Context, cluster, id string, o LogOptions) (io.ReadCloser, error) {
	lo, err := o.engine(f.now())
	if err != nil {
		return nil, err
	}
	c, err := f.cluster(ctx, cluster)
	if err != nil {
		return nil, err
	}
	var out io.ReadCloser
	// A stream opened by an attempt that then ran out of time is given
	// up for the next manager's: close it, or its goroutines wait forever
	// for a reader.
	closeOpened := func() {
		if out != nil {
			_ = out.Close()
			out = nil
		}
	}
	_, err = f.do(ctx, c, stream, func(ctx context.Context, api Engine) error {
		closeOpened()
		s, err := inspectService(ctx, api, cluster, id)
		if err != nil {
			return err
		}
		out, err = openServiceLogs(ctx, api, s, lo)
		return err
	})
	if err != nil {
		closeOpened()
		return nil, err
	}
	return out, nil
}

// openServiceLogs opens the tagged log stream of the inspected service s
// (ServiceLogs's lines). The stream lives as long as ctx or until closed.
func openServiceLogs(ctx context.Context, api Engine, s swarm.Service, lo container.LogsOptions) (io.ReadCloser, error) {
	// The names first: once the stream is open, nothing may fail before
	// it has a reader.
	names := &logNames{api: api, service: s, tasks: map[string]string{}, nodes: map[string]string{}, missed: map[string]bool{}}
	names.list(ctx)
	rc, err := api.ServiceLogs(ctx, s.ID, lo)
	if err != nil {
		return nil, err
	}
	if cs := s.Spec.TaskTemplate.ContainerSpec; cs == nil || !cs.TTY {
		rc = demux(rc) // a TTY's output comes unframed
	}
	return tagLines(context.WithoutCancel(ctx), rc, names, lo.Timestamps), nil
}

// demux strips the engine's stream framing from rc.
func demux(rc io.ReadCloser) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, rc)
		_ = rc.Close()
		pw.CloseWithError(err)
	}()
	return &demuxed{PipeReader: pr, src: rc}
}

type demuxed struct {
	*io.PipeReader
	src io.Closer
}

// Close ends both ends: the engine body (which unblocks a waiting read)
// and the pipe (which unblocks a waiting write).
func (d *demuxed) Close() error {
	_ = d.src.Close()
	return d.PipeReader.Close()
}

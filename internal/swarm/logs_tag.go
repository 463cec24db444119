package swarm

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
)

// logNames names the tasks and nodes that log lines come from, as docker
// service logs does: "web.2@node-1". It lists the service's tasks and the
// nodes once, and again (at most once a second) when a line names a task
// or node it does not know yet (a task started while following).
//
// One stream's pump goroutine alone uses it (after list, before the pump
// starts), so it needs no lock.
type logNames struct {
	api     Engine
	service swarm.Service

	tasks   map[string]string // task ID -> "web.2"
	nodes   map[string]string // node ID -> hostname
	missed  map[string]bool   // IDs listed again and still unknown: not again
	listed  time.Time
	relists int
}

// maxRelists bounds how often one stream lists tasks and nodes again.
const maxRelists = 600

func (n *logNames) list(ctx context.Context) {
	tasks, err := n.api.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", n.service.ID))})
	if err == nil {
		for _, t := range tasks {
			n.tasks[t.ID] = taskName(n.service.Spec.Name, t)
		}
	}
	nodes, err := n.api.NodeList(ctx, swarm.NodeListOptions{})
	if err == nil {
		for _, nd := range nodes {
			n.nodes[nd.ID] = nd.Description.Hostname
		}
	}
	n.listed = time.Now()
}

func taskName(service string, t swarm.Task) string {
	if t.Slot > 0 {
		return service + "." + strconv.Itoa(t.Slot)
	}
	return service + "." + t.NodeID[:min(len(t.NodeID), 12)] // a global service's task: one per node
}

// tag answers "web.2@node-1" for the engine's details of a line.
func (n *logNames) tag(ctx context.Context, details string) string {
	var taskID, nodeID string
	for _, kv := range strings.Split(details, ",") {
		k, v, _ := strings.Cut(kv, "=")
		if v, err := url.QueryUnescape(v); err == nil {
			switch k {
			case "com.docker.swarm.task.id":
				taskID = v
			case "com.docker.swarm.node.id":
				nodeID = v
			}
		}
	}
	task, okT := n.tasks[taskID]
	node, okN := n.nodes[nodeID]
	unknown := (!okT && !n.missed[taskID]) || (!okN && !n.missed[nodeID])
	if unknown && time.Since(n.listed) > time.Second && n.relists < maxRelists && ctx.Err() == nil {
		n.relists++
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		n.list(lctx)
		cancel()
		if task, okT = n.tasks[taskID]; !okT {
			n.missed[taskID] = true // a pruned task: its lines keep their ID
		}
		if node, okN = n.nodes[nodeID]; !okN {
			n.missed[nodeID] = true
		}
	}
	if !okT {
		task = n.service.Spec.Name + "." + taskID[:min(len(taskID), 12)]
	}
	if !okN {
		node = nodeID[:min(len(nodeID), 12)]
	}
	return task + "@" + node
}

// tagLines rewrites the engine's lines "[timestamp ]details message" into
// "[timestamp ]web.2@node-1 | message".
func tagLines(ctx context.Context, rc io.ReadCloser, names *logNames, timestamps bool) io.ReadCloser {
	ctx, cancel := context.WithCancel(ctx) // ends the lookups when the reader closes
	pr, pw := io.Pipe()
	go func() {
		defer cancel()
		defer rc.Close()
		br := bufio.NewReaderSize(rc, 64<<10)
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				if _, werr := pw.Write(tagLine(ctx, line, names, timestamps)); werr != nil {
					return
				}
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
		}
	}()
	return &demuxed{PipeReader: pr, src: closer(func() error { cancel(); return rc.Close() })}
}

// closer is a func as an io.Closer.
type closer func() error

func (c closer) Close() error { return c() }

func tagLine(ctx context.Context, line []byte, names *logNames, timestamps bool) []byte {
	var ts []byte
	rest := line
	if timestamps {
		var ok bool
		if ts, rest, ok = bytes.Cut(line, []byte(" ")); !ok {
			return line
		}
	}
	details, msg, ok := bytes.Cut(rest, []byte(" "))
	if !ok || !bytes.Contains(details, []byte("com.docker.swarm.")) {
		return line // not a line with details: pass it as it came
	}
	var out bytes.Buffer
	if timestamps {
		out.Write(ts)
		out.WriteByte(' ')
	}
	out.WriteString(names.tag(ctx, string(details)))
	out.WriteString(" | ")
	out.Write(msg)
	return out.Bytes()
}

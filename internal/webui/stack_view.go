package webui

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/swarm"
)

// What the stack pages show, made from the domain's answers: words and
// classes decided here so templates stay plain.

// stackRow is a row of the stacks list.
type stackRow struct {
	swarm.StackState
	Badge badge
	Meter string // "", warn, bad
}

func stackRows(states []swarm.StackState) []stackRow {
	rows := make([]stackRow, len(states))
	for i, s := range states {
		r := stackRow{StackState: s, Badge: badge{Word: s.State, Class: stateClass(s.State)}}
		switch s.State {
		case "failed":
			r.Badge.Title = fmt.Sprintf("%d of %d services failed", s.Failed, s.Services)
			r.Meter = "bad"
		case "updating":
			r.Badge.Title = fmt.Sprintf("%d of %d services on their way", s.Updating, s.Services)
			r.Meter = "warn"
		default:
			r.Badge.Title = "every service runs its current spec"
		}
		rows[i] = r
	}
	return rows
}

// convRow is one service of a stack's convergence report.
type convRow struct {
	swarm.ServiceConvergence
	Badge    badge
	Meter    string
	Update   *badge
	Note     string // the update's message, unless the badge says it
	Problems []taskProblem
}

// taskProblem is a task error, once for the times a slot failed alike
// (a task retried on the same node fails the same way each time).
type taskProblem struct {
	swarm.TaskError
	Times int
}

// taskProblems collapses errors (newest first) of the same task, node
// and message into the newest of them.
func taskProblems(errs []swarm.TaskError) []taskProblem {
	var out []taskProblem
	at := map[[3]string]int{}
	for _, e := range errs {
		key := [3]string{e.Task, e.Node, e.Error}
		if i, ok := at[key]; ok {
			out[i].Times++
			continue
		}
		at[key] = len(out)
		out = append(out, taskProblem{TaskError: e, Times: 1})
	}
	return out
}

func convRows(c swarm.Convergence) []convRow {
	rows := make([]convRow, len(c.Services))
	for i, s := range c.Services {
		r := convRow{ServiceConvergence: s, Update: updateBadge(s.UpdateStatus), Problems: taskProblems(s.Errors)}
		if r.Update != nil && s.UpdateStatus.Message != r.Update.Word {
			r.Note = s.UpdateStatus.Message
		}
		switch s.State {
		case "converged":
			r.Badge = badge{Word: fmt.Sprintf("converged %d/%d", s.Running, s.Desired), Class: "state-good", Title: "every desired task runs the current spec"}
		case "updating":
			r.Badge = badge{Word: fmt.Sprintf("updating %d of %d", s.Running, s.Desired), Class: "state-warn", Title: "tasks of the current spec are starting"}
			r.Meter = "warn"
		default:
			r.Badge = badge{Word: "failed", Class: "state-bad", Title: fmt.Sprintf("%d of %d tasks of the current spec run", s.Running, s.Desired)}
			r.Meter = "bad"
		}
		rows[i] = r
	}
	return rows
}

// revisionRow is a row of a stack's revisions.
type revisionRow struct {
	swarm.StackRevision
	Out    swarm.RevisionOutcome
	Latest bool
}

func revisionRows(revs []swarm.StackRevision) []revisionRow {
	rows := make([]revisionRow, len(revs))
	for i, r := range revs {
		rows[i] = revisionRow{StackRevision: r, Out: r.Outcome()}
	}
	slices.SortFunc(rows, func(a, b revisionRow) int { return cmp.Compare(b.Revision, a.Revision) })
	if len(rows) > 0 {
		rows[0].Latest = true
	}
	return rows
}

// defaultDiff answers the revisions a diff compares unless told: the one
// before the newest, and the newest (0, 0 with fewer than two).
func defaultDiff(revs []swarm.StackRevision) (from, to int) {
	if len(revs) < 2 {
		return 0, 0
	}
	nums := make([]int, len(revs))
	for i, r := range revs {
		nums[i] = r.Revision
	}
	slices.Sort(nums)
	return nums[len(nums)-2], nums[len(nums)-1]
}

type stackDetailView struct {
	Base
	swarm.StackDetail
	Gone       bool // no object carries the stack's label; its revisions are kept
	State      badge
	Conv       []convRow
	Images     map[string]string // service ID -> image
	TaskTable  TaskTable
	Path       string
	RemoveNote string
	Revisions  []revisionRow
	History    string // why no revisions can be shown ("" when they can)
	DiffFrom   int
	DiffTo     int
	LogPane
}

func stackDetailPage(b Base, d swarm.StackDetail, gone, all bool) stackDetailView {
	b.Title = d.Name
	p := stackDetailView{Base: b, StackDetail: d, Gone: gone, Conv: convRows(d.Convergence),
		Path: b.ClusterPath("/stacks/" + url.PathEscape(d.Name))}
	p.LogsURL = "/api/v1/clusters/" + url.PathEscape(b.Cluster.Name) + "/stacks/" + url.PathEscape(d.Name) + "/logs"
	p.LogsLabel = "Merged log of stack " + d.Name
	p.TaskTable = taskTable(b, p.Path, slices.Clone(d.Tasks), all, true, "The tasks appear here as swarm schedules them.")
	p.Images = make(map[string]string, len(d.Services))
	for _, s := range d.Services {
		p.Images[s.ID] = s.Image
	}
	switch st := d.Convergence.State; {
	case gone:
		p.State = badge{Word: "removed", Class: "state-off", Title: "no service, network, secret or config carries its label"}
	case st == "failed":
		p.State = badge{Word: st, Class: stateClass(st), Title: "a service failed to run its current spec"}
	case st == "updating":
		p.State = badge{Word: st, Class: stateClass(st), Title: "services are on their way to their current specs"}
	default:
		p.State = badge{Word: "converged", Class: "state-good", Title: "every service runs its current spec"}
	}
	p.RemoveNote = removeNote(d)
	return p
}

// removeNote is the confirmation of a removal: what goes, by name.
func removeNote(d swarm.StackDetail) string {
	var services, networks, secrets, configs []string
	for _, s := range d.Services {
		services = append(services, s.Name)
	}
	for _, n := range d.Networks {
		networks = append(networks, n.Name)
	}
	for _, s := range d.Secrets {
		secrets = append(secrets, s.Name)
	}
	for _, c := range d.Configs {
		configs = append(configs, c.Name)
	}
	parts := slices.DeleteFunc([]string{
		count(len(services), "service", services), count(len(networks), "network", networks),
		count(len(secrets), "secret", secrets), count(len(configs), "config", configs),
	}, func(s string) bool { return s == "" })
	what := "nothing"
	switch len(parts) {
	case 0:
	case 1:
		what = parts[0]
	default:
		what = strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
	}
	return fmt.Sprintf("Remove stack %s? This removes its %s; their tasks stop. Its revisions are kept, to deploy again.", d.Name, what)
}

// diffLine is a line of a unified diff with its class (stacks.css).
type diffLine struct{ Class, Text string }

// diffLines classes the lines of unified diffs: file headers (a "---"
// line followed by a "+++" one), hunk headers, added, removed, context.
func diffLines(text string) []diffLine {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if text == "" {
		return nil
	}
	out := make([]diffLine, 0, len(lines))
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "--- ") && i+1 < len(lines) && strings.HasPrefix(lines[i+1], "+++ "):
			out = append(out, diffLine{"d-file", l}, diffLine{"d-file", lines[i+1]})
			i++
		case strings.HasPrefix(l, "@@"):
			out = append(out, diffLine{"d-hunk", l})
		case strings.HasPrefix(l, "+"):
			out = append(out, diffLine{"d-add", l})
		case strings.HasPrefix(l, "-"):
			out = append(out, diffLine{"d-del", l})
		case strings.HasPrefix(l, `\`):
			out = append(out, diffLine{"d-note", l})
		default:
			out = append(out, diffLine{"d-ctx", l})
		}
	}
	return out
}

// stackLogTail reads the last lines of a stack's merged log for the page
// itself (the log viewer streams its own), as logTail does a service's.
func stackLogTail(ctx context.Context, fleet *swarm.Fleet, cluster, name string) (lines []string, problem string) {
	return readLogTail(ctx, func(ctx context.Context) (io.ReadCloser, error) {
		return fleet.StackLogs(ctx, cluster, name, swarm.LogOptions{Tail: fmt.Sprint(logTailLines)})
	})
}

// readLogTail reads the last logTailLines lines of the log open opens,
// within a few seconds; a failure is said in words rather than failing
// the page.
func readLogTail(ctx context.Context, open func(ctx context.Context) (io.ReadCloser, error)) (lines []string, problem string) {
	ctx, cancel := context.WithTimeout(ctx, 4*time.Second)
	defer cancel()
	rc, err := open(ctx)
	if err != nil {
		if pe, ok := errs.Public(err); ok {
			return nil, pe.Message
		}
		return nil, "the engine did not answer"
	}
	defer rc.Close()
	stop := context.AfterFunc(ctx, func() { rc.Close() })
	defer stop()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > logTailLines {
		lines = lines[len(lines)-logTailLines:]
	}
	if ctx.Err() != nil {
		return lines, "the engine took longer than 4 s; these lines may not be the last ones"
	}
	if err := sc.Err(); err != nil {
		return lines, "the log stream broke off: " + publicMessage(err)
	}
	return lines, ""
}

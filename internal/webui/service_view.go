package webui

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	sw "github.com/swarmops/swarmops/internal/swarm"
	"github.com/swarmops/swarmops/internal/swarm/form"
)

// What the service pages show, made from the domain's answers: words and
// classes decided here so templates stay plain.

// badge is a state as a coloured word.
type badge struct {
	Word, Class, Title string
}

// replicaBadge says how a service's tasks are doing: running of desired.
func replicaBadge(s sw.ServiceSummary) (b badge, meter string) {
	r := s.Replicas
	b.Word = fmt.Sprintf("%d/%d", r.Running, r.Desired)
	switch {
	case r.Desired == 0:
		b.Class, b.Title, meter = "state-off", "no task wanted", ""
		b.Word += " scaled to 0"
	case r.Running >= r.Desired:
		b.Class, b.Title, meter = "state-good", "every task runs", ""
		b.Word += " running"
	case r.Running == 0:
		b.Class, b.Title, meter = "state-bad", "no task runs", "bad"
		b.Word += " down"
	default:
		b.Class, b.Title, meter = "state-warn", "some tasks do not run", "warn"
		b.Word += " running"
	}
	return b, meter
}

// updateBadge names the state of a service's last rolling update; nil
// when it never had one.
func updateBadge(u *sw.UpdateStatus) *badge {
	if u == nil || u.State == "" {
		return nil
	}
	b := &badge{Title: u.Message}
	switch u.State {
	case "updating":
		b.Word, b.Class = "updating", "state-warn"
	case "paused":
		b.Word, b.Class = "update paused", "state-bad"
	case "completed":
		b.Word, b.Class = "update completed", "state-good"
	case "rollback_started":
		b.Word, b.Class = "rolling back", "state-warn"
	case "rollback_paused":
		b.Word, b.Class = "rollback paused", "state-bad"
	case "rollback_completed":
		b.Word, b.Class = "rolled back", "state-warn"
	default:
		b.Word, b.Class = strings.ReplaceAll(u.State, "_", " "), stateClass(u.State)
	}
	return b
}

// updating reports whether an update or rollback is under way.
func updating(u *sw.UpdateStatus) bool {
	return u != nil && (u.State == "updating" || u.State == "rollback_started")
}

// serviceRow is a row of the services list.
type serviceRow struct {
	sw.ServiceSummary
	Replicas badge
	Meter    string // "", warn, bad
	Update   *badge
}

func serviceRows(list []sw.ServiceSummary) []serviceRow {
	rows := make([]serviceRow, len(list))
	for i, s := range list {
		b, m := replicaBadge(s)
		rows[i] = serviceRow{ServiceSummary: s, Replicas: b, Meter: m, Update: updateBadge(s.UpdateStatus)}
	}
	return rows
}

// taskView is a row of a service's tasks.
type taskView struct {
	sw.Task
	Current bool // desired to run; otherwise history (shut down)
}

// TaskTable is the tasks table of a service's or a stack's page: the
// tasks newest first, shut-down ones only on request.
type TaskTable struct {
	Rows        []taskView
	Hidden      int    // shut-down tasks not shown
	All         bool   // shut-down tasks shown
	Path        string // the page's path, for the toggle
	ClusterPath string // "/c/{cluster}", for the links
	WithService bool   // a column naming each task's service
	Empty       string // what to say when there is no task
}

func taskTable(b Base, path string, tasks []sw.Task, all, withService bool, empty string) TaskTable {
	t := TaskTable{All: all, Path: path, ClusterPath: b.ClusterPath(""), WithService: withService, Empty: empty}
	t.Rows, t.Hidden = taskViews(tasks, all)
	return t
}

// taskViews answers the tasks newest first, and how many are history.
func taskViews(tasks []sw.Task, all bool) (rows []taskView, hidden int) {
	sort.SliceStable(tasks, func(i, j int) bool {
		if !tasks[i].CreatedAt.Equal(tasks[j].CreatedAt) {
			return tasks[i].CreatedAt.After(tasks[j].CreatedAt)
		}
		return tasks[i].Slot < tasks[j].Slot
	})
	for _, t := range tasks {
		cur := t.Current()
		if !cur && !all {
			hidden++
			continue
		}
		rows = append(rows, taskView{Task: t, Current: cur})
	}
	return rows, hidden
}

// kv is one row of a card.
type kv struct{ Key, Value string }

// specCard is one part of a service's spec, in words.
type specCard struct {
	Title string
	Items []string // a list, in the form's syntax
	Rows  []kv     // or key/value rows
	None  string   // what to say when empty
}

func deref[T any](p *T) (v T) {
	if p != nil {
		v = *p
	}
	return v
}

func list(p *[]string) []string { return deref(p) }

func mapItems(p *map[string]string) []string {
	if p == nil {
		return nil
	}
	return strings.Split(labelText(*p), "\n")
}

// rows keeps the rows whose value is set.
func rows(pairs ...kv) []kv {
	var out []kv
	for _, p := range pairs {
		if p.Value != "" {
			out = append(out, p)
		}
	}
	return out
}

// specCards shows the spec the way the form writes it, so what a reader
// sees is what the edit form holds.
func specCards(d sw.ServiceDetail) []specCard {
	f := d.Form
	cards := []specCard{
		{Title: "Published ports", Items: d.Summary.Ports, None: "No port is published."},
		{Title: "Networks", Items: list(f.Networks), None: "No network."},
		{Title: "Mounts", Items: list(f.Mounts), None: "No mount."},
		{Title: "Environment", Items: list(f.Env), None: "No variable set here (the image's own apply)."},
		{Title: "Secrets", Items: list(f.Secrets), None: "No secret."},
		{Title: "Configs", Items: list(f.Configs), None: "No config."},
		{Title: "Labels", Items: mapItems(f.Labels), None: "No label."},
		{Title: "Container labels", Items: mapItems(f.ContainerLabels), None: "No container label."},
		{Title: "Placement", Items: append(prefix("constraint ", list(f.Constraints)), prefix("prefer ", list(f.PlacementPrefs))...),
			None: "Any node."},
		{Title: "Container", None: "The image's defaults.", Rows: rows(
			kv{"Command", strings.Join(list(f.Command), " ")},
			kv{"Arguments", strings.Join(list(f.Args), " ")},
			kv{"Working dir", deref(f.Workdir)},
			kv{"User", deref(f.User)},
			kv{"Hostname", deref(f.Hostname)},
			kv{"Stop grace", deref(f.StopGracePeriod)},
			kv{"Read-only", yes(deref(f.ReadOnly))},
		)},
	}
	r := deref(f.Resources)
	cards = append(cards, specCard{Title: "Resources", None: "No limit or reservation.", Rows: rows(
		kv{"CPU limit", deref(r.LimitCPUs)}, kv{"Memory limit", deref(r.LimitMemory)},
		kv{"CPU reservation", deref(r.ReserveCPUs)}, kv{"Memory reservation", deref(r.ReserveMemory)},
	)})
	cards = append(cards,
		updateCard("Rolling updates", f.UpdateConfig),
		updateCard("Rollbacks", f.RollbackConfig))
	rp := deref(f.RestartPolicy)
	cards = append(cards, specCard{Title: "Restart policy", None: "The engine's default (any).", Rows: rows(
		kv{"Condition", deref(rp.Condition)}, kv{"Delay", deref(rp.Delay)},
		kv{"Max attempts", num(rp.MaxAttempts)}, kv{"Window", deref(rp.Window)},
	)})
	hc := deref(f.Healthcheck)
	cards = append(cards, specCard{Title: "Healthcheck", None: "The image's own.", Rows: rows(
		kv{"Test", strings.Join(list(hc.Test), " ")}, kv{"Interval", deref(hc.Interval)},
		kv{"Timeout", deref(hc.Timeout)}, kv{"Retries", num(hc.Retries)}, kv{"Start period", deref(hc.StartPeriod)},
	)})
	return cards
}

func updateCard(title string, u *form.UpdateConfig) specCard {
	c := specCard{Title: title, None: "The engine's defaults (one task at a time, pause on failure)."}
	if u == nil {
		return c
	}
	c.Rows = rows(
		kv{"Parallelism", num(u.Parallelism)}, kv{"Delay", deref(u.Delay)},
		kv{"On failure", deref(u.FailureAction)}, kv{"Order", deref(u.Order)},
		kv{"Monitor", deref(u.Monitor)}, kv{"Max failure ratio", num(u.MaxFailureRatio)},
	)
	return c
}

func num[T uint64 | int | float32](p *T) string {
	if p == nil {
		return ""
	}
	return fmt.Sprint(*p)
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return ""
}

func prefix(p string, items []string) []string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = p + s
	}
	return out
}

// LogPane is a page's log viewer: the server-rendered tail (so it works
// without JavaScript) and the API stream logs.js follows.
type LogPane struct {
	LogsURL     string // the API's log stream
	LogsLabel   string // what the log is, for screen readers
	Logs        []string
	LogsProblem string
}

// logTailLines is how many lines the page shows without JavaScript.
const logTailLines = 100

// logTail reads the last lines of a service's log for the page itself
// (the log viewer streams its own), within a few seconds; a failure is
// said in words rather than failing the page.
func logTail(ctx context.Context, fleet *sw.Fleet, cluster, id string) (lines []string, problem string) {
	return readLogTail(ctx, func(ctx context.Context) (io.ReadCloser, error) {
		return fleet.ServiceLogs(ctx, cluster, id, sw.LogOptions{Tail: fmt.Sprint(logTailLines)})
	})
}

package bench

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/swarmops/swarmops/internal/testenv"
)

// row is one line of the table: SwarmOps's figure against the
// reference's, their ratio (value) and its goal.
type row struct {
	name      string
	ours, ref float64 // medians (ms, req/s) or, without reference, the value (MB)
	value     float64 // the ratio, or the value of a row without reference
	goal      float64
	atMost    bool // the goal is an upper bound (else a lower one)
	noRatio   bool // a row without reference: value is ours, in unit
	unit      string
	context   string
}

func (r row) pass() bool {
	if r.atMost {
		if r.noRatio {
			return r.value < r.goal
		}
		return r.value <= r.goal
	}
	return r.value >= r.goal
}

type table struct {
	header []string
	rows   []row
	notes  []string
}

func (tab *table) add(r row) { tab.rows = append(tab.rows, r) }

func (tab *table) note(format string, args ...any) {
	tab.notes = append(tab.notes, fmt.Sprintf(format, args...))
}

func figure(v float64, unit string) string {
	switch unit {
	case "ms":
		return fmt.Sprintf("%.2f ms", v)
	case "req/s":
		return fmt.Sprintf("%.0f req/s", v)
	case "MB":
		return fmt.Sprintf("%.1f MB", v)
	}
	return fmt.Sprintf("%g %s", v, unit)
}

func (tab *table) String() string {
	var b strings.Builder
	b.WriteString("\n=== SwarmOps performance table (issue 16) ===\n")
	for _, h := range tab.header {
		b.WriteString(h + "\n")
	}
	b.WriteString("\n")
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "row\tSwarmOps\treference\tratio\tgoal\tresult\tcontext")
	fmt.Fprintln(w, "---\t--------\t---------\t-----\t----\t------\t-------")
	for _, r := range tab.rows {
		ref, ratio, goal := figure(r.ref, r.unit), fmt.Sprintf("%.2f", r.value), ""
		switch {
		case r.noRatio:
			ref, ratio, goal = "-", "-", fmt.Sprintf("< %s", figure(r.goal, r.unit))
		case r.atMost:
			goal = fmt.Sprintf("<= %.2f", r.goal)
		default:
			goal = fmt.Sprintf(">= %.2f", r.goal)
		}
		result := "over"
		if r.pass() {
			result = "pass"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.name, figure(r.ours, r.unit), ref, ratio, goal, result, r.context)
	}
	_ = w.Flush()
	if len(tab.notes) > 0 {
		b.WriteString("\nnotes:\n")
		for _, n := range tab.notes {
			b.WriteString("  - " + n + "\n")
		}
	}
	return b.String()
}

// machine describes this machine for the table's header.
func machine() []string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	mem := ""
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				var kb int64
				fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
				mem = fmt.Sprintf(", %.1f GB RAM", float64(kb)/(1<<20))
				break
			}
		}
		f.Close()
	}
	return []string{
		fmt.Sprintf("machine: %d cores, %s%s, Linux %s, %s %s/%s", runtime.NumCPU(), model, mem,
			strings.TrimSpace(string(kernel)), runtime.Version(), runtime.GOOS, runtime.GOARCH),
		"timing: medians of alternating requests (order swapped every pair) on keep-alive connections, after a warm-up; ratio = SwarmOps / reference",
	}
}

// alternate calls a and b in turns, n times each after warm calls each,
// swapping their order every pair, and answers their medians.
func alternate(warm, n int, a, b func() time.Duration) (time.Duration, time.Duration) {
	for range warm {
		a()
		b()
	}
	m := testenv.Alternate(testenv.Rounds(n), a, b)
	return m[0], m[1]
}

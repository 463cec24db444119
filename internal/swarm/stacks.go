package swarm

import (
	"cmp"
	"slices"
)

// StackSummary is a stack as its services carry it: a stack is the
// StackLabel on services (as docker stack deploy sets it), not a record
// of its own.
type StackSummary struct {
	Name     string
	Services int
	Desired  uint64 // tasks, summed over the services
	Running  uint64
}

// StacksOf groups services by their stack, sorted by name; services of no
// stack are left out.
func StacksOf(services []ServiceSummary) []StackSummary {
	var out []StackSummary
	at := map[string]int{}
	for _, s := range services {
		if s.Stack == "" {
			continue
		}
		i, ok := at[s.Stack]
		if !ok {
			i = len(out)
			at[s.Stack] = i
			out = append(out, StackSummary{Name: s.Stack})
		}
		out[i].Services++
		out[i].Desired += s.Replicas.Desired
		out[i].Running += s.Replicas.Running
	}
	slices.SortFunc(out, func(a, b StackSummary) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Selects reports whether the filter keeps s: its name and labels, and
// its stack when one is asked for.
func (sf ServiceFilter) Selects(s ServiceSummary) bool {
	return sf.Match(s.Name, s.Labels) && (sf.Stack == "" || s.Stack == sf.Stack)
}

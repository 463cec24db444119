package swarm

import (
	"strings"

	"github.com/swarmops/swarmops/internal/errs"
)

// Filter selects objects of a list: Q is a substring of the name, Labels
// must all be present (an empty value matches any value).
type Filter struct {
	Q      string
	Labels map[string]string
}

// ParseLabelFilters reads "k=v" or "k" strings (the ?label= query) into
// a label filter.
func ParseLabelFilters(raw []string) (map[string]string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(raw))
	for _, s := range raw {
		k, v, _ := strings.Cut(s, "=")
		if k == "" {
			return nil, errs.Invalid("label", "expected key=value or key, got %q", s)
		}
		out[k] = v
	}
	return out, nil
}

// Match reports whether an object of that name and labels is selected:
// its name contains Q whatever the case, and it has every label.
func (f Filter) Match(name string, labels map[string]string) bool {
	if f.Q != "" && !strings.Contains(strings.ToLower(name), strings.ToLower(f.Q)) {
		return false
	}
	for k, v := range f.Labels {
		got, ok := labels[k]
		if !ok || (v != "" && got != v) {
			return false
		}
	}
	return true
}

package config

import (
	"fmt"
	"slices"
	"strings"
)

// notSettings are SWARMOPS_* names that are not settings of the process
// but are read by the repository's own files: compose.yaml and stack.yaml
// (by docker, when deploying) and the tests. Set in a shell that also
// starts swarmops, they are not mistakes.
var notSettings = []string{"SWARMOPS_IMAGE", "SWARMOPS_REPLICAS", "SWARMOPS_SUBNET", "SWARMOPS_SCREENSHOTS", "SWARMOPS_PREVIOUS_REF"}

// notSettingPrefixes are the prefixes of the tests' own variables.
var notSettingPrefixes = []string{"SWARMOPS_TEST"}

// knownVariables answers every variable a key is read from.
func knownVariables() []string {
	var names []string
	for _, k := range keys {
		names = append(names, k.envName())
		if k.secret {
			names = append(names, k.envName()+"_FILE")
		}
	}
	return names
}

// unknownVariables answers a warning for each SWARMOPS_* variable of
// environ (NAME=value) that no key reads, naming the closest known name
// when one is close: a typo (SWARMOPS_REDIS_ULR) must not pass silently.
func unknownVariables(environ []string) []string {
	known := knownVariables()
	var out []string
	seen := map[string]bool{}
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "SWARMOPS_") || seen[name] || slices.Contains(known, name) || slices.Contains(notSettings, name) ||
			slices.ContainsFunc(notSettingPrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
			continue
		}
		seen[name] = true
		out = append(out, unknownWarning(name, known))
	}
	slices.Sort(out)
	return out
}

// unknownWarning says that name is not a setting, and what was likely
// meant.
func unknownWarning(name string, known []string) string {
	const ignored = " is not a SwarmOps setting and is ignored"
	if base, ok := strings.CutSuffix(name, "_FILE"); ok && slices.Contains(known, base) {
		var files []string
		for _, k := range known {
			if strings.HasSuffix(k, "_FILE") {
				files = append(files, k)
			}
		}
		return fmt.Sprintf("%s%s: only secrets are read from files (%s); set %s itself", name, ignored, strings.Join(files, ", "), base)
	}
	best, bestDist := "", -1
	for _, k := range known {
		if d := editDistance(name, k); bestDist < 0 || d < bestDist {
			best, bestDist = k, d
		}
	}
	// Close: a few typed characters off, in proportion to the name.
	if suffix := len(name) - len("SWARMOPS_"); bestDist <= max(2, suffix/3) {
		return fmt.Sprintf("%s%s; did you mean %s?", name, ignored, best)
	}
	return fmt.Sprintf("%s%s (swarmops serve -h lists the settings)", name, ignored)
}

// editDistance answers the optimal string alignment distance of a and b:
// insertions, deletions, substitutions and transpositions of neighbours
// (ULR for URL) count one each.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

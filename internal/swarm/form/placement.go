package form

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"

	"github.com/docker/docker/api/types/swarm"
)

const (
	constraintSyntax = `expected "<key>==<value>" or "<key>!=<value>" with key node.id, node.hostname, node.ip, ` +
		`node.role, node.platform.os, node.platform.arch, node.labels.<label> or engine.labels.<label>`
	preferenceSyntax = `expected "spread=node.labels.<label>" or "spread=engine.labels.<label>"`
)

const (
	nodeLabelPrefix   = "node.labels."
	engineLabelPrefix = "engine.labels."
)

// The patterns swarmkit's constraint parser enforces; the CLI passes
// constraints through unchecked, and the engine refuses them with a reason
// that names no field.
var (
	constraintKey   = regexp.MustCompile(`^(?i)[a-z_][a-z0-9\-_.]+$`)
	constraintValue = regexp.MustCompile(`^(?i)[a-z0-9:\-_\s\.\*\(\)\?\+\[\]\\\^\$\|\/]+$`)
)

// checkConstraint accepts what swarmkit parses and can also match: a key it
// knows (an unknown key parses but matches no node, leaving tasks pending
// forever), and for node.role and node.ip a value that can match.
func checkConstraint(s string) error {
	key, value, ok := strings.Cut(s, "==")
	if !ok {
		key, value, ok = strings.Cut(s, "!=")
	}
	if !ok {
		return errors.New("no == or != operator")
	}
	key, value = strings.TrimSpace(key), strings.TrimSpace(value)
	if !constraintKey.MatchString(key) {
		return fmt.Errorf("key %s is malformed", quoteInput(key))
	}
	if !constraintValue.MatchString(value) {
		return fmt.Errorf(`value %s is malformed (letters, digits, spaces and :-_.*()?+[]\^$|/ are allowed)`, quoteInput(value))
	}
	switch k := strings.ToLower(key); {
	case k == "node.role":
		if !strings.EqualFold(value, "manager") && !strings.EqualFold(value, "worker") {
			return fmt.Errorf("node.role is manager or worker, not %s", quoteInput(value))
		}
	case k == "node.ip":
		if net.ParseIP(value) == nil {
			if _, _, err := net.ParseCIDR(value); err != nil {
				return fmt.Errorf("node.ip takes an address or a CIDR network, not %s", quoteInput(value))
			}
		}
	case k == "node.id", k == "node.hostname", k == "node.platform.os", k == "node.platform.arch":
	case isLabelKey(k):
	default:
		return fmt.Errorf("unknown key %s", quoteInput(key))
	}
	return nil
}

// isLabelKey reports whether k (lowercased) names a node or engine label.
func isLabelKey(k string) bool {
	for _, prefix := range []string{nodeLabelPrefix, engineLabelPrefix} {
		if len(k) > len(prefix) && strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// parsePreference reads a --placement-pref item. Swarm only spreads, and
// only over node or engine labels; it ignores any other descriptor.
func parsePreference(s string) (swarm.PlacementPreference, error) {
	strategy, descriptor, ok := strings.Cut(s, "=")
	if !ok {
		return swarm.PlacementPreference{}, errors.New("no strategy")
	}
	if strategy != "spread" {
		return swarm.PlacementPreference{}, fmt.Errorf("unsupported strategy %s (only spread is)", quoteInput(strategy))
	}
	if !isLabelKey(strings.ToLower(descriptor)) {
		return swarm.PlacementPreference{}, fmt.Errorf("can't spread over %s", quoteInput(descriptor))
	}
	return swarm.PlacementPreference{Spread: &swarm.SpreadOver{SpreadDescriptor: descriptor}}, nil
}

// applyPlacement sets constraints and preferences. A spec without
// placement gets one only when there is something to place by.
func (a *applier) applyPlacement(constraints, prefs *[]string) {
	t := &a.spec.TaskTemplate
	if constraints != nil {
		var valid []string
		for i, c := range *constraints {
			if err := checkConstraint(c); err != nil {
				a.invalid(fmt.Sprintf("constraints[%d]", i), "%v; %s", err, constraintSyntax)
				continue
			}
			valid = append(valid, c)
		}
		if t.Placement != nil || len(valid) > 0 {
			t.Placement = cmp.Or(t.Placement, &swarm.Placement{})
			t.Placement.Constraints = valid
		}
	}
	if prefs != nil {
		var valid []swarm.PlacementPreference
		for i, s := range *prefs {
			pref, err := parsePreference(s)
			if err != nil {
				a.invalid(fmt.Sprintf("placement_prefs[%d]", i), "%v; %s", err, preferenceSyntax)
				continue
			}
			valid = append(valid, pref)
		}
		if t.Placement != nil || len(valid) > 0 {
			t.Placement = cmp.Or(t.Placement, &swarm.Placement{})
			t.Placement.Preferences = valid
		}
	}
}

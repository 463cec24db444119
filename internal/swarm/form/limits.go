package form

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The size limits of a form. They are checked before any item is parsed,
// so that what a request costs to refuse is bounded by its length, not by
// what its items expand to: a ports item "0-65535:0-65535" would otherwise
// be expanded into 65536 ports, and checked pairwise by the CLI's parser,
// before anything says it is wrong.
const (
	// MaxListItems is how many items each list of the form may hold
	// (env, command, args, healthcheck.test, secrets, configs), and how
	// many entries each label map may hold.
	MaxListItems = 1000
	// MaxPlacementItems bounds mounts, networks, constraints and
	// placement_prefs, which a service has a few of. ports may hold up to
	// MaxPorts items: FromSpec writes one item per published port.
	MaxPlacementItems = 100
	// MaxItemBytes bounds one item in the CLI's syntax (ports, mounts,
	// networks, secrets, configs, constraints, placement_prefs) and a
	// label key.
	MaxItemBytes = 4096
	// MaxValueBytes bounds one free-text item (an env item, a command or
	// args word, a label value, a healthcheck word).
	MaxValueBytes = 64 << 10
	// MaxPortRange is how many ports one ports item may span
	// ("8000-8999:8000-8999" spans 1000).
	MaxPortRange = 1024
	// MaxPorts bounds the ports of one form, ranges expanded.
	MaxPorts = 4096
)

// listLimit is one list field and its bounds.
type listLimit struct {
	field    string
	items    *[]string
	maxItems int
	maxBytes int
}

// checkSizes refuses a form that holds more items than a field takes, or
// an item longer than its field's limit. It reads lengths only, so it
// costs the same whatever the items say. Every violation is reported, the
// first as the error.
func (f *Service) checkSizes() error {
	a := &applier{}
	lists := []listLimit{
		{"env", f.Env, MaxListItems, MaxValueBytes},
		{"command", f.Command, MaxListItems, MaxValueBytes},
		{"args", f.Args, MaxListItems, MaxValueBytes},
		{"secrets", f.Secrets, MaxListItems, MaxItemBytes},
		{"configs", f.Configs, MaxListItems, MaxItemBytes},
		{"ports", f.Ports, MaxPorts, MaxItemBytes},
		{"mounts", f.Mounts, MaxPlacementItems, MaxItemBytes},
		{"networks", f.Networks, MaxPlacementItems, MaxItemBytes},
		{"constraints", f.Constraints, MaxPlacementItems, MaxItemBytes},
		{"placement_prefs", f.PlacementPrefs, MaxPlacementItems, MaxItemBytes},
	}
	if f.Healthcheck != nil {
		lists = append(lists, listLimit{"healthcheck.test", f.Healthcheck.Test, MaxListItems, MaxValueBytes})
	}
	for _, l := range lists {
		a.checkList(l)
	}
	a.checkLabels("labels", f.Labels)
	a.checkLabels("container_labels", f.ContainerLabels)
	return a.err()
}

func (a *applier) checkList(l listLimit) {
	if l.items == nil {
		return
	}
	if n := len(*l.items); n > l.maxItems {
		a.invalid(l.field, "at most %d items, got %d", l.maxItems, n)
		return
	}
	for i, item := range *l.items {
		if len(item) > l.maxBytes {
			a.invalid(fmt.Sprintf("%s[%d]", l.field, i), "at most %d bytes per item, got %d", l.maxBytes, len(item))
		}
	}
}

func (a *applier) checkLabels(field string, m *map[string]string) {
	if m == nil {
		return
	}
	if n := len(*m); n > MaxListItems {
		a.invalid(field, "at most %d labels, got %d", MaxListItems, n)
		return
	}
	for k, v := range *m {
		if len(k) > MaxItemBytes {
			a.invalid(field, "a label key may have at most %d bytes, got %d (%s)", MaxItemBytes, len(k), quoteInput(k))
		}
		if len(v) > MaxValueBytes {
			a.invalid(field, "label %s: a value may have at most %d bytes, got %d", quoteInput(k), MaxValueBytes, len(v))
		}
	}
}

// Validate checks what the form says on its own, before any spec or lock
// is at hand: the sizes of its lists, then the syntax of every item. A
// form Validate refuses, Apply refuses too; what depends on the spec it is
// applied to (a mode change, a reservation above the current limit) is
// left to Apply. Validate never calls a Refs.
func (f *Service) Validate() error {
	if err := f.checkSizes(); err != nil {
		return err
	}
	// A scratch spec: the parsers write into it, nothing reads it.
	a := &applier{}
	a.applyForm(f)
	return a.err()
}

// longPortSyntax is the docker CLI's test for --publish's long syntax
// (unanchored, as the CLI has it).
var longPortSyntax = regexp.MustCompile(`\w+=\w+(,\w+=\w+)*`)

// portCount checks the numbers of a short-syntax ports item before the
// CLI's parser expands its ranges, and answers how many ports it makes.
// A long-syntax item is one port; its parser expands nothing.
func portCount(s string) (int, error) {
	if longPortSyntax.MatchString(s) {
		return 1, nil
	}
	spec, proto, hasProto := strings.Cut(s, "/")
	if hasProto {
		switch strings.ToLower(proto) {
		case "tcp", "udp", "sctp":
		default:
			return 0, fmt.Errorf("protocol %s is not tcp, udp or sctp", quoteInput(proto))
		}
	}
	published, target, hasPublished := strings.Cut(spec, ":")
	if !hasPublished {
		target, published = published, ""
	}
	if strings.Contains(target, ":") {
		return 0, errors.New("a host address can't be given: swarm publishes a port on every address of the node")
	}
	tLo, tHi, err := portRange(target)
	if err != nil {
		return 0, fmt.Errorf("target %w", err)
	}
	if tLo == 0 {
		return 0, errors.New("the target port must be 1-65535")
	}
	n := tHi - tLo + 1
	if published != "" {
		pLo, pHi, err := portRange(published)
		if err != nil {
			return 0, fmt.Errorf("published %w", err)
		}
		pn := pHi - pLo + 1
		switch {
		case n == 1:
			n = pn // one target published on any port of the range
		case pn != n:
			return 0, fmt.Errorf("the published range has %d ports and the target range %d; give ranges of the same size", pn, n)
		}
	}
	if n > MaxPortRange {
		return 0, fmt.Errorf("a ports item may span at most %d ports, this one spans %d", MaxPortRange, n)
	}
	return n, nil
}

// portRange reads "80" or "8000-8099".
func portRange(s string) (lo, hi int, err error) {
	first, last, isRange := strings.Cut(s, "-")
	if lo, err = portNumber(first); err != nil {
		return 0, 0, err
	}
	hi = lo
	if isRange {
		if hi, err = portNumber(last); err != nil {
			return 0, 0, err
		}
		if hi < lo {
			return 0, 0, fmt.Errorf("range %s ends before it starts", quoteInput(s))
		}
	}
	return lo, hi, nil
}

func portNumber(s string) (int, error) {
	if s == "" || len(s) > 5 || !allDigits(s) {
		return 0, fmt.Errorf("port %s is not a number from 0 to 65535", quoteInput(s))
	}
	n, _ := strconv.Atoi(s)
	if n > 65535 {
		return 0, fmt.Errorf("port %s is not a number from 0 to 65535", quoteInput(s))
	}
	return n, nil
}

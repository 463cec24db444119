package form

import (
	"fmt"
	"math"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/docker/go-units"
)

// Accepted syntaxes, quoted in error messages so a user can fix the input
// without reading the docs.
const (
	durationSyntax   = `expected a Go duration like "10s", "1m30s" or "500ms"`
	cpusSyntax       = `expected a decimal number of CPUs like "0.5" or "2" (at most 9 decimals), or "" for none`
	memorySyntax     = `expected a size like "256M", "1g" or "512k" (a bare number is bytes), or "" for none`
	envSyntax        = `expected "KEY=value" with a non-empty KEY without spaces`
	labelSyntax      = `expected a non-empty key without spaces`
	serviceNameRules = `expected 1 to 63 letters, digits, "-" or "_", starting and ending with a letter or digit`
	pathSyntax       = `expected an absolute path like "/srv/app" (or "C:\app" on Windows nodes)`
)

// quoteInput quotes s for an error message, shortened so that a huge input
// doesn't come back whole.
func quoteInput(s string) string {
	short := truncate(s)
	if short == s {
		return strconv.Quote(s)
	}
	return strconv.Quote(strings.TrimSuffix(short, "...")) + "..."
}

// truncate shortens s to about 80 bytes, on a rune boundary.
func truncate(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// parseDuration parses a Go duration that is not negative, as the CLI's
// duration flags do.
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s, got %s", durationSyntax, quoteInput(s))
	}
	if d < 0 {
		return 0, fmt.Errorf("%s, got %s: must not be negative", durationSyntax, quoteInput(s))
	}
	return d, nil
}

// formatDuration renders d so that parseDuration reads it back exactly.
func formatDuration(d time.Duration) string { return d.String() }

// maxWholeCPUs keeps NanoCPUs inside an int64.
const maxWholeCPUs = math.MaxInt64 / 1_000_000_000

// parseCPUs reads a decimal CPU count into nano CPUs; "" is 0 (no limit).
// The CLI's own parser takes any rational ("1/2", "1e3"); the contract
// promises decimals, and this parser can't be made to work hard by a huge
// exponent.
func parseCPUs(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	bad := fmt.Errorf("%s, got %s", cpusSyntax, quoteInput(s))
	whole, frac, _ := strings.Cut(s, ".")
	if !allDigits(whole) || !allDigits(frac) || whole+frac == "" {
		return 0, bad
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > 9 {
		return 0, bad
	}
	var w int64
	if whole != "" {
		var err error
		w, err = strconv.ParseInt(whole, 10, 64)
		if err != nil || w > maxWholeCPUs {
			return 0, bad
		}
	}
	var f int64
	if frac != "" {
		f, _ = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
	}
	nano := w*1e9 + f
	if nano < 0 { // w == maxWholeCPUs with a large fraction
		return 0, bad
	}
	return nano, nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// formatCPUs renders nano CPUs as the shortest decimal parseCPUs reads back.
func formatCPUs(nano int64) string {
	if nano == 0 {
		return ""
	}
	s := strconv.FormatInt(nano/1e9, 10)
	if frac := nano % 1e9; frac != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%09d", frac), "0")
	}
	return s
}

// parseMemory reads a size like "256M" (binary units, as docker's --memory
// does); "" is 0 (no limit).
func parseMemory(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := units.RAMInBytes(s)
	// A size beyond int64 wraps around in go-units' float conversion.
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s, got %s", memorySyntax, quoteInput(s))
	}
	return n, nil
}

// formatMemory renders bytes in the largest binary unit that divides them,
// so parseMemory reads the exact number back ("256M", "1536K", "1000").
func formatMemory(n int64) string {
	if n == 0 {
		return ""
	}
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// checkEnv accepts "KEY=value". The CLI also takes a bare "KEY" to copy the
// client's variable, which means nothing on a server.
func checkEnv(s string) error {
	key, _, ok := strings.Cut(s, "=")
	if !ok || key == "" || strings.IndexFunc(key, unicode.IsSpace) >= 0 {
		return fmt.Errorf("%s, got %s", envSyntax, quoteInput(s))
	}
	return nil
}

func checkLabelKey(k string) error {
	if k == "" || strings.IndexFunc(k, unicode.IsSpace) >= 0 {
		return fmt.Errorf("%s, got %s", labelSyntax, quoteInput(k))
	}
	return nil
}

// serviceName is swarmkit's rule for service names (a DNS label component).
var serviceName = regexp.MustCompile(`^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$`)

func checkServiceName(s string) error {
	if len(s) > 63 || !serviceName.MatchString(s) {
		return fmt.Errorf("%s, got %s", serviceNameRules, quoteInput(s))
	}
	return nil
}

var windowsAbs = regexp.MustCompile(`^[a-zA-Z]:[\\/]`)

// isAbsPath accepts absolute paths of Linux and of Windows nodes; the engine
// on the node is what finally judges.
func isAbsPath(p string) bool {
	return path.IsAbs(p) || windowsAbs.MatchString(p)
}

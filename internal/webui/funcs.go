package webui

import (
	"fmt"
	"html/template"
	"net/url"
	"strings"
	"time"

	"github.com/docker/go-units"
)

// stateClasses maps every state word SwarmOps shows to one class of the
// palette: good (green), warn (amber), bad (red), off (grey). A word not
// listed is info (blue), so a new engine state is visible, not hidden.
var stateClasses = map[string]string{
	// good
	"running": "good", "healthy": "good", "ready": "good", "converged": "good", "completed": "good",
	"complete": "good", "active": "good", "reachable": "good", "leader": "good", "ok": "good",
	"rollback_completed": "warn",
	// warn
	"updating": "warn", "starting": "warn", "pending": "warn", "degraded": "warn", "electing": "warn",
	"new": "warn", "allocated": "warn", "assigned": "warn", "accepted": "warn", "preparing": "warn",
	"rollback_started": "warn", "unknown": "warn", "stale": "warn",
	// bad
	"failed": "bad", "rejected": "bad", "down": "bad", "unreachable": "bad", "no_quorum": "bad",
	"orphaned": "bad", "disconnected": "bad", "error": "bad", "rollback_paused": "bad",
	// off
	"shutdown": "off", "paused": "off", "pause": "off", "drain": "off", "drained": "off", "remove": "off",
}

// stateClass answers the CSS class of a state word ("state-good").
func stateClass(state string) string {
	if c, ok := stateClasses[strings.ToLower(state)]; ok {
		return "state-" + c
	}
	return "state-info"
}

// ago says how long ago t was, as an operator reads it ("3 min ago").
func ago(now time.Time) func(t time.Time) string {
	return func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		d := now.Sub(t)
		switch {
		case d < -time.Minute:
			return "in " + roughly(-d)
		case d < 10*time.Second:
			return "just now"
		}
		return roughly(d) + " ago"
	}
}

func roughly(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

// byteSize says a size as people read it ("1.5KiB"); n is any integer.
func byteSize(n any) string {
	var f float64
	switch v := n.(type) {
	case int:
		f = float64(v)
	case int64:
		f = float64(v)
	case int32:
		f = float64(v)
	case uint:
		f = float64(v)
	case uint32:
		f = float64(v)
	case uint64:
		f = float64(v)
	case float64:
		f = v
	default:
		panic(fmt.Sprintf("bytes of a %T", n))
	}
	return units.BytesSize(f)
}

// utc is the exact time, shown on hover.
func utc(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// meterClass answers the width class (w0..w100) of part of whole.
func meterClass(part, whole uint64) string {
	if whole == 0 {
		return "w0"
	}
	p := min(part*10/whole, 10)
	return fmt.Sprintf("w%d", p*10)
}

func funcs(a *assets, now func() time.Time, rows *rowCache) template.FuncMap {
	return template.FuncMap{
		"row":        rows.row,
		"static":     a.url,
		"stateClass": stateClass,
		"ago":        func(t time.Time) string { return ago(now())(t) },
		"utc":        utc,
		"iso":        func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"join":       strings.Join,
		"lines":      func(s []string) string { return strings.Join(s, "\n") },
		"bytes":      byteSize,
		"cpus":       func(n float64) string { return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", n), "0"), ".") },
		"meter":      meterClass,
		"seg":        url.PathEscape,
		"query":      url.QueryEscape,
		"short":      func(id string) string { return id[:min(len(id), 12)] },
		"add":        func(a, b int) int { return a + b },
		"u64":        func(n int) uint64 { return uint64(max(n, 0)) },
		"navlink": func(current, key, label, href string) navLink {
			return navLink{Href: href, Label: label, Current: current == key}
		},
		"empty": func(title, text string) emptyState { return emptyState{title, text} },
		"rowof": func(page, row any) objectRow { return objectRow{P: page, R: row} },
		"tls": func(errors map[string]string, ca, cert string, keyGiven bool, mode string) tlsInputs {
			return tlsInputs{Errors: errors, CA: ca, Cert: cert, KeyGiven: keyGiven, Mode: mode}
		},
		"deleterow": func(csrf, action, kind, name, note string) deleteRow {
			return deleteRow{CSRF: csrf, Action: action, Kind: kind, Name: name, Note: note}
		},
		"pem": func(t tlsInputs, part, label, file, value string) pemView {
			return pemView{Part: part, Label: label, File: file, Value: value, KeyGiven: t.KeyGiven, Error: t.Errors["tls."+part]}
		},
	}
}

// tlsInputs is what the tlsfields partial shows: the PEM text typed so far
// (never a key) and the errors of the tls fields.
type tlsInputs struct {
	Errors   map[string]string
	CA, Cert string
	KeyGiven bool
	Mode     string // new, replace, optional
}

// Invalid reports whether any TLS field has an error.
func (t tlsInputs) Invalid() bool {
	return t.Errors["tls"] != "" || t.Errors["tls.ca"] != "" || t.Errors["tls.cert"] != "" || t.Errors["tls.key"] != ""
}

// pemView is one PEM file input of tlsfields.
type pemView struct {
	Part, Label, File, Value, Error string
	KeyGiven                        bool
}

type navLink struct {
	Href, Label string
	Current     bool
}

type emptyState struct{ Title, Text string }

// deleteRow is a row's delete button (the deleterow partial).
type deleteRow struct{ CSRF, Action, Kind, Name, Note string }

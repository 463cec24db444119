package webui

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/swarmops/swarmops/internal/errs"
)

// Form reading and form errors shared by every page with a form.

// labelText writes labels (or any map) as the textareas show them:
// KEY=VALUE lines sorted by key.
func labelText(labels map[string]string) string {
	keys := slices.Sorted(maps.Keys(labels))
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = k + "=" + labels[k]
	}
	return strings.Join(lines, "\n")
}

// parseLabelLines reads KEY=VALUE lines, skipping blank ones, for field.
// It answers an empty map for no lines, so an edit can remove every label.
func parseLabelLines(field, text string) (map[string]string, error) {
	out := map[string]string{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, errs.Invalid(field, "line %d: expected KEY=VALUE, got %q", i+1, line)
		}
		if _, dup := out[k]; dup {
			return nil, errs.Invalid(field, "line %d: label %q is given twice", i+1, k)
		}
		out[k] = strings.TrimSpace(v)
	}
	return out, nil
}

// nonEmptyLines answers the trimmed lines of text that are not blank.
func nonEmptyLines(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// formText is a textarea's value with the CRLF line ends browsers send
// turned into LF, as the text was typed.
func formText(c *fiber.Ctx, name string) string {
	return strings.ReplaceAll(c.FormValue(name), "\r\n", "\n")
}

// uploaded answers the content of the file input name, or nil when no
// file was chosen; a file over limit bytes is invalid input in field.
func uploaded(c *fiber.Ctx, name, field string, limit int64) ([]byte, error) {
	fh, err := c.FormFile(name)
	switch {
	case errors.Is(err, fasthttp.ErrMissingFile), errors.Is(err, fasthttp.ErrNoMultipartForm):
		return nil, nil // no file: the text field counts
	case err != nil:
		return nil, errs.Invalid(field, "the upload could not be read (%v); choose the file again", err)
	case fh.Size == 0:
		return nil, nil
	}
	if fh.Size > limit {
		return nil, errs.Invalid(field, "the file %q has %d bytes; at most %d KiB are taken", fh.Filename, fh.Size, limit>>10)
	}
	f, err := fh.Open()
	if err != nil {
		return nil, fmt.Errorf("read uploaded %s: %w", field, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit))
	if err != nil {
		return nil, fmt.Errorf("read uploaded %s: %w", field, err)
	}
	return b, nil
}

// indexRE finds the item index of a list field's name ("ports[2]").
var indexRE = regexp.MustCompile(`^([a-z_.]+)\[(\d+)\]$`)

// itemRefRE finds a mention of another item in a message ("ports[0]").
var itemRefRE = regexp.MustCompile(`\b([a-z_]+)\[(\d+)\]`)

// fieldProblems maps a validation error to messages by input name: an
// item of a list field ("ports[2]") goes to its list's textarea as "line
// 3: ...", several fields (the domain's details.fields) each to its own.
// A field that input does not know (input nil: every field is an input)
// goes to "", the summary. It answers nil for an error that is not about
// the input.
func fieldProblems(err error, input func(name string) bool) map[string]string {
	pe, ok := errs.Public(err)
	if !ok || !errors.Is(err, errs.ErrInvalid) {
		return nil
	}
	given := map[string]string{}
	if fields, ok := pe.Details["fields"].(map[string]string); ok {
		maps.Copy(given, fields)
	}
	if len(given) == 0 {
		given[pe.Field] = pe.Message
	}
	type item struct {
		index int
		msg   string
	}
	byField := map[string][]item{}
	for name, msg := range given {
		msg = itemRefRE.ReplaceAllStringFunc(msg, func(m string) string {
			n, _ := strconv.Atoi(itemRefRE.FindStringSubmatch(m)[2])
			return fmt.Sprintf("line %d", n+1)
		})
		if m := indexRE.FindStringSubmatch(name); m != nil {
			n, _ := strconv.Atoi(m[2])
			byField[m[1]] = append(byField[m[1]], item{n, fmt.Sprintf("line %d: %s", n+1, msg)})
			continue
		}
		if input != nil && !input(name) {
			name = ""
		}
		byField[name] = append(byField[name], item{-1, msg})
	}
	out := make(map[string]string, len(byField))
	for name, items := range byField {
		sort.Slice(items, func(i, j int) bool { return items[i].index < items[j].index })
		msgs := make([]string, len(items))
		for i, it := range items {
			msgs[i] = it.msg
		}
		out[name] = strings.Join(msgs, "; ")
	}
	return out
}

// formProblems answers what a form shows when the domain refused it: a
// validation error beside its field (400), a conflict (409: a name taken,
// a stale version) beside conflictField ("" is the summary at the top).
// Any other error is a page of its own (ok false).
func formProblems(err error, conflictField string) (problems map[string]string, status int, ok bool) {
	if p := fieldProblems(err, nil); p != nil {
		return p, fiber.StatusBadRequest, true
	}
	if pe, public := errs.Public(err); public && errors.Is(err, errs.ErrConflict) {
		return map[string]string{conflictField: pe.Message}, fiber.StatusConflict, true
	}
	return nil, 0, false
}

package webui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/httpx"
	"github.com/swarmops/swarmops/internal/swarm/form"
)

// The service form as HTML inputs: every field of form.Service, named as
// the API names it ("ports", "resources.limit_cpus"), lists one value per
// line, maps as KEY=value lines. Values travel as one string per field,
// which is what a textarea or input holds; bind turns them into the JSON
// the API would take, so the form is decoded by the same strict decoder.

// Kinds of inputs.
const (
	kindText   = "text"   // a string
	kindUint   = "uint"   // a whole number >= 0
	kindInt    = "int"    // a whole number
	kindFloat  = "float"  // a decimal number
	kindLines  = "lines"  // a list, one value per line
	kindMap    = "map"    // a map, KEY=value per line
	kindSelect = "select" // a string from Options
	kindCheck  = "check"  // a bool
)

type formOption struct{ Value, Label string }

// formValues are the form's inputs, one string per field name.
type formValues map[string]string

// postedValues reads the service form's fields present in the request
// body. A field that is absent (a disabled input) was not given; for a
// checkbox, a hidden "false" before it says it was.
func postedValues(c *fiber.Ctx) formValues {
	args := c.Request().PostArgs()
	v := formValues{}
	for name, f := range serviceFields {
		got := args.PeekMulti(name)
		if len(got) == 0 {
			continue
		}
		if f.Kind == kindCheck {
			v[name] = ""
			for _, g := range got {
				if string(g) == "true" {
					v[name] = "true"
				}
			}
			continue
		}
		v[name] = string(got[len(got)-1])
	}
	return v
}

// lineItems splits a textarea into its non-empty lines.
func lineItems(s string, raw bool) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimRight(l, "\r")
		if strings.TrimSpace(l) == "" {
			continue
		}
		if !raw {
			l = strings.TrimSpace(l)
		}
		out = append(out, l)
	}
	return out
}

// jsonValue converts one input into the JSON value the API takes.
func jsonValue(f formField, s string) (any, error) {
	switch f.Kind {
	case kindLines:
		items := lineItems(s, f.Raw)
		if items == nil {
			items = []string{}
		}
		return items, nil
	case kindMap:
		m := map[string]string{}
		for _, l := range lineItems(s, false) {
			k, v, _ := strings.Cut(l, "=")
			m[strings.TrimSpace(k)] = v
		}
		return m, nil
	case kindCheck:
		return s == "true", nil
	case kindUint:
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("expected a whole number, 0 or more, got %q", s)
		}
		return n, nil
	case kindInt:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("expected a whole number, got %q", s)
		}
		return n, nil
	case kindFloat:
		n, err := strconv.ParseFloat(strings.TrimSpace(s), 32)
		if err != nil {
			return nil, fmt.Errorf("expected a decimal number such as 0.2, got %q", s)
		}
		return n, nil
	}
	return strings.TrimSpace(s), nil
}

// empty reports whether an input holds nothing, so a create leaves the
// field out.
func (f formField) empty(s string) bool {
	if f.Kind == kindCheck {
		return s != "true"
	}
	return strings.TrimSpace(s) == ""
}

// bind turns the given values into a form.Service through the API's own
// strict JSON decoding. A value that is no number is reported on its
// field, as the domain reports its own findings.
func bind(v formValues) (form.Service, map[string]string) {
	var fm form.Service
	body := map[string]any{}
	problems := map[string]string{}
	for name, s := range v {
		f := serviceFields[name]
		val, err := jsonValue(f, s)
		if err != nil {
			problems[name] = err.Error()
			continue
		}
		parent, leaf, nested := strings.Cut(name, ".")
		if !nested {
			body[name] = val
			continue
		}
		sub, ok := body[parent].(map[string]any)
		if !ok {
			sub = map[string]any{}
			body[parent] = sub
		}
		sub[leaf] = val
	}
	if len(problems) > 0 {
		return fm, problems
	}
	raw, err := json.Marshal(body)
	if err == nil {
		err = httpx.DecodeStrict(raw, &fm)
	}
	if err != nil {
		return fm, fieldProblems(err, isServiceField)
	}
	return fm, nil
}

// createValues keeps the inputs a create gives: every non-empty one.
func createValues(v formValues) formValues {
	out := formValues{}
	for name, s := range v {
		if !serviceFields[name].empty(s) {
			out[name] = s
		}
	}
	return out
}

// changedValues keeps the inputs an edit changed from cur, the values of
// the service as it was read: a PATCH then touches only those, and what
// the form cannot express stays as it is. Numbers cannot be cleared, so an
// emptied number is left alone.
func changedValues(posted, cur formValues) (formValues, map[string]string) {
	out := formValues{}
	problems := map[string]string{}
	for name, s := range posted {
		f := serviceFields[name]
		if f.Option {
			if !f.empty(s) {
				out[name] = s
			}
			continue
		}
		if f.Fixed && s == "" {
			continue
		}
		canon, err := canonical(f, s)
		if err != nil {
			problems[name] = err.Error()
			continue
		}
		if canon == cur[name] {
			continue
		}
		if canon == "" && (f.Kind == kindUint || f.Kind == kindInt || f.Kind == kindFloat) {
			continue
		}
		out[name] = s
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return out, nil
}

// canonical is an input as valuesOf writes it, so that an untouched input
// compares equal to the service's value whatever spaces or order it has.
func canonical(f formField, s string) (string, error) {
	if f.empty(s) {
		return "", nil
	}
	val, err := jsonValue(f, s)
	if err != nil {
		return "", err
	}
	return valueString(f, val), nil
}

// valueString writes a JSON value as its input holds it.
func valueString(f formField, v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "true"
		}
		return ""
	case []string:
		return strings.Join(x, "\n")
	case []any:
		items := make([]string, len(x))
		for i, it := range x {
			items[i] = fmt.Sprint(it)
		}
		return strings.Join(items, "\n")
	case map[string]string:
		return labelText(x)
	case map[string]any:
		m := make(map[string]string, len(x))
		for k, it := range x {
			m[k] = fmt.Sprint(it)
		}
		return labelText(m)
	case uint64:
		return strconv.FormatUint(x, 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		if f.Kind == kindFloat {
			return strconv.FormatFloat(x, 'g', -1, 32)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		if f.Kind == kindFloat {
			n, _ := x.Float64()
			return strconv.FormatFloat(n, 'g', -1, 32)
		}
		return x.String()
	}
	return fmt.Sprint(v)
}

// valuesOf writes a form as the inputs show it: what an edit page starts
// from.
func valuesOf(fm form.Service) formValues {
	raw, _ := json.Marshal(fm)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var body map[string]any
	_ = dec.Decode(&body)
	v := formValues{}
	for name, f := range serviceFields {
		parent, leaf, nested := strings.Cut(name, ".")
		val := body[parent]
		if nested {
			sub, _ := val.(map[string]any)
			val = sub[leaf]
		}
		if s := valueString(f, val); s != "" {
			v[name] = s
		}
	}
	return v
}

// isServiceField reports whether name is an input of the service form.
func isServiceField(name string) bool {
	_, ok := serviceFields[name]
	return ok
}

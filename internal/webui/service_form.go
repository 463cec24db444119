package webui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/errs"
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

// formField is one input of the service form.
type formField struct {
	Name    string // the API's field name, dotted for nested objects
	Label   string
	Kind    string
	Help    template.HTML
	Options []formOption
	// Placeholder shows an example in an empty input.
	Placeholder string
	// Raw keeps spaces at the ends of list items (env, command, args).
	Raw bool
	// Fixed fields cannot change once a service exists (mode).
	Fixed bool
	// Option marks a request option rather than part of the spec.
	Option bool
}

// formSection is a fieldset of the form.
type formSection struct {
	Legend string
	Grid   bool // small inputs two to a row
	// Hint, when set, folds the section under its legend and this hint
	// while none of its fields holds a value or an error.
	Hint   string
	Fields []formField
}

var codeRE = regexp.MustCompile("`([^`]*)`")

// help renders help text, with `docker CLI syntax` in code.
func help(s string) template.HTML {
	esc := template.HTMLEscapeString(s)
	return template.HTML(codeRE.ReplaceAllString(esc, "<code>$1</code>")) //nolint:gosec // escaped above; constants only
}

func opts(values ...string) []formOption {
	out := make([]formOption, len(values))
	for i, v := range values {
		label := v
		if v == "" {
			label = "(engine default)"
		}
		out[i] = formOption{v, label}
	}
	return out
}

// updateFields are update_config's or rollback_config's inputs.
func updateFields(prefix, flag string, actions ...string) []formField {
	return []formField{
		{Name: prefix + ".parallelism", Label: "Parallelism", Kind: kindUint, Placeholder: "1",
			Help: help("Tasks changed at once; 0 is all at once. `--" + flag + "-parallelism 1`")},
		{Name: prefix + ".delay", Label: "Delay", Kind: kindText, Placeholder: "10s",
			Help: help("Pause between batches. `--" + flag + "-delay 10s`")},
		{Name: prefix + ".failure_action", Label: "On failure", Kind: kindSelect, Options: opts(actions...),
			Help: help("`--" + flag + "-failure-action " + strings.Join(actions[1:], "|") + "`")},
		{Name: prefix + ".order", Label: "Order", Kind: kindSelect, Options: opts("", "stop-first", "start-first"),
			Help: help("`--" + flag + "-order stop-first|start-first`")},
		{Name: prefix + ".monitor", Label: "Monitor", Kind: kindText, Placeholder: "5s",
			Help: help("How long each task is watched for failure. `--" + flag + "-monitor 5s`")},
		{Name: prefix + ".max_failure_ratio", Label: "Max failure ratio", Kind: kindFloat, Placeholder: "0",
			Help: help("Fraction of tasks that may fail, 0 to 1. `--" + flag + "-max-failure-ratio 0.2`")},
	}
}

// serviceFormSections is the whole form, in the order it is shown.
var serviceFormSections = []formSection{
	{Legend: "Service", Fields: []formField{
		{Name: "name", Label: "Name", Kind: kindText, Placeholder: "web",
			Help: help("1 to 63 letters, digits, - or _. Empty: the engine picks one. Cannot change once the service exists. `--name web`")},
		{Name: "image", Label: "Image", Kind: kindText, Placeholder: "nginx:1.27",
			Help: help("Required. `nginx:1.27`, `registry.example.com/team/app:v2`, `app@sha256:<digest>`")},
		{Name: "mode", Label: "Mode", Kind: kindSelect, Fixed: true, Options: []formOption{{"replicated", "replicated"}, {"global", "global (one task per node)"}},
			Help: help("Cannot change once the service exists. `--mode replicated|global`")},
		{Name: "replicas", Label: "Replicas", Kind: kindUint, Placeholder: "1",
			Help: help("Replicated services only. `--replicas 3`")},
	}},
	{Legend: "Container", Fields: []formField{
		{Name: "command", Label: "Command (entrypoint)", Kind: kindLines, Raw: true, Placeholder: "/app/server",
			Help: help("Replaces the image's ENTRYPOINT, one word per line. `--entrypoint /app/server`")},
		{Name: "args", Label: "Arguments", Kind: kindLines, Raw: true, Placeholder: "--port\n8080",
			Help: help("Replaces the image's CMD, one word per line: the words after the image in `docker service create IMAGE arg...`")},
		{Name: "env", Label: "Environment", Kind: kindLines, Raw: true, Placeholder: "LOG_LEVEL=info",
			Help: help("One `KEY=value` per line. `-e LOG_LEVEL=info`")},
		{Name: "workdir", Label: "Working directory", Kind: kindText, Placeholder: "/app",
			Help: help("An absolute path. `--workdir /app`")},
		{Name: "user", Label: "User", Kind: kindText, Placeholder: "1000:1000",
			Help: help("`--user 1000:1000` or `--user www-data`")},
		{Name: "hostname", Label: "Hostname", Kind: kindText, Placeholder: "{{.Service.Name}}-{{.Task.Slot}}",
			Help: help("`--hostname web-{{.Task.Slot}}` (Go templates as in the CLI)")},
		{Name: "stop_grace_period", Label: "Stop grace period", Kind: kindText, Placeholder: "10s",
			Help: help("Time between SIGTERM and SIGKILL. `--stop-grace-period 10s`")},
		{Name: "read_only", Label: "Read-only root filesystem", Kind: kindCheck,
			Help: help("`--read-only`")},
	}},
	{Legend: "Network", Fields: []formField{
		{Name: "ports", Label: "Published ports", Kind: kindLines, Placeholder: "8080:80\nmode=host,target=80,published=8081",
			Help: help("One per line. `-p 8080:80`, `-p 53:53/udp`, `-p mode=host,target=80,published=8081`")},
		{Name: "networks", Label: "Networks", Kind: kindLines, Placeholder: "backend",
			Help: help("One per line, by name. `--network backend` or `--network name=backend,alias=web`")},
	}},
	{Legend: "Storage", Fields: []formField{
		{Name: "mounts", Label: "Mounts", Kind: kindLines, Placeholder: "type=volume,src=data,dst=/data",
			Help: help("One per line. `--mount type=volume,src=data,dst=/data`, `--mount type=bind,src=/srv,dst=/srv,readonly`, `--mount type=tmpfs,dst=/tmp`")},
	}},
	{Legend: "Secrets and configs", Hint: "files from swarm secrets and configs", Fields: []formField{
		{Name: "secrets", Label: "Secrets", Kind: kindLines, Placeholder: "source=db_pw,target=/run/secrets/db_pw",
			Help: help("One per line. `--secret db_pw` or `--secret source=db_pw,target=/run/secrets/db_pw,mode=0400`")},
		{Name: "configs", Label: "Configs", Kind: kindLines, Placeholder: "source=app_cfg,target=/etc/app.conf",
			Help: help("One per line. `--config source=app_cfg,target=/etc/app.conf`")},
	}},
	{Legend: "Labels", Hint: "service and container labels", Fields: []formField{
		{Name: "labels", Label: "Service labels", Kind: kindMap, Placeholder: "team=payments",
			Help: help("One `key=value` per line. `--label team=payments`. Stack labels are kept unless you set them.")},
		{Name: "container_labels", Label: "Container labels", Kind: kindMap, Placeholder: "logging=json",
			Help: help("One `key=value` per line. `--container-label logging=json`")},
	}},
	{Legend: "Placement", Hint: "constraints and preferences", Fields: []formField{
		{Name: "constraints", Label: "Constraints", Kind: kindLines, Placeholder: "node.role==worker",
			Help: help("One per line. `--constraint node.role==worker`, `--constraint node.labels.zone!=b`")},
		{Name: "placement_prefs", Label: "Placement preferences", Kind: kindLines, Placeholder: "spread=node.labels.zone",
			Help: help("One per line. `--placement-pref spread=node.labels.zone`")},
	}},
	{Legend: "Resources", Hint: "CPU and memory limits and reservations", Grid: true, Fields: []formField{
		{Name: "resources.limit_cpus", Label: "CPU limit", Kind: kindText, Placeholder: "0.5", Help: help("`--limit-cpu 0.5`")},
		{Name: "resources.limit_memory", Label: "Memory limit", Kind: kindText, Placeholder: "256M", Help: help("`--limit-memory 256M`")},
		{Name: "resources.reserve_cpus", Label: "CPU reservation", Kind: kindText, Placeholder: "0.25", Help: help("`--reserve-cpu 0.25`")},
		{Name: "resources.reserve_memory", Label: "Memory reservation", Kind: kindText, Placeholder: "128M", Help: help("`--reserve-memory 128M`")},
	}},
	{Legend: "Rolling updates", Hint: "how an update replaces tasks", Grid: true, Fields: updateFields("update_config", "update", "", "pause", "continue", "rollback")},
	{Legend: "Rollbacks", Hint: "how a rollback replaces tasks", Grid: true, Fields: updateFields("rollback_config", "rollback", "", "pause", "continue")},
	{Legend: "Restart policy", Hint: "when swarm restarts a task", Grid: true, Fields: []formField{
		{Name: "restart_policy.condition", Label: "Condition", Kind: kindSelect, Options: opts("", "none", "on-failure", "any"),
			Help: help("`--restart-condition none|on-failure|any`")},
		{Name: "restart_policy.delay", Label: "Delay", Kind: kindText, Placeholder: "5s", Help: help("`--restart-delay 5s`")},
		{Name: "restart_policy.max_attempts", Label: "Max attempts", Kind: kindUint, Placeholder: "0",
			Help: help("0 is no limit. `--restart-max-attempts 3`")},
		{Name: "restart_policy.window", Label: "Window", Kind: kindText, Placeholder: "1m", Help: help("`--restart-window 1m`")},
	}},
	{Legend: "Healthcheck", Hint: "overrides the image's HEALTHCHECK", Grid: true, Fields: []formField{
		{Name: "healthcheck.test", Label: "Test", Kind: kindLines, Raw: true, Placeholder: "CMD\n/app/server\nhealthcheck",
			Help: help("One word per line: `CMD` then the program and its arguments, `CMD-SHELL` then a shell command (`--health-cmd`), or `NONE` to disable. Empty: the image's own.")},
		{Name: "healthcheck.interval", Label: "Interval", Kind: kindText, Placeholder: "10s", Help: help("`--health-interval 10s`")},
		{Name: "healthcheck.timeout", Label: "Timeout", Kind: kindText, Placeholder: "3s", Help: help("`--health-timeout 3s`")},
		{Name: "healthcheck.retries", Label: "Retries", Kind: kindInt, Placeholder: "3", Help: help("`--health-retries 3`")},
		{Name: "healthcheck.start_period", Label: "Start period", Kind: kindText, Placeholder: "30s", Help: help("`--health-start-period 30s`")},
	}},
	{Legend: "Request", Fields: []formField{
		{Name: "resolve_image", Label: "Ask the registry for the image's digest", Kind: kindCheck, Option: true,
			Help: help("Off: the image is used as written, without asking a registry (`--no-resolve-image`). On: it is pinned to its registry digest.")},
	}},
}

// fieldView is an input as the page shows it.
type fieldView struct {
	formField
	Value, Error string
	Locked       bool // shown, not changeable
	Numeric      bool
	Rows         int
}

type sectionView struct {
	Legend, Hint string
	Grid         bool
	Open         bool // shown unfolded
	Fields       []fieldView
}

// formView fills the form's sections with values and messages.
func formView(v formValues, problems map[string]string, edit bool) []sectionView {
	out := make([]sectionView, len(serviceFormSections))
	for i, s := range serviceFormSections {
		out[i] = sectionView{Legend: s.Legend, Hint: s.Hint, Grid: s.Grid, Open: s.Hint == ""}
		for _, f := range s.Fields {
			fv := fieldView{formField: f, Value: v[f.Name], Error: problems[f.Name],
				Locked:  edit && (f.Fixed || f.Name == "name"),
				Numeric: f.Kind == kindUint || f.Kind == kindInt || f.Kind == kindFloat,
				Rows:    min(max(3, strings.Count(v[f.Name], "\n")+2), 20)}
			out[i].Fields = append(out[i].Fields, fv)
			if fv.Error != "" || !f.empty(fv.Value) {
				out[i].Open = true
			}
		}
	}
	return out
}

// serviceFields is every field of the form by name.
var serviceFields = func() map[string]formField {
	m := map[string]formField{}
	for _, s := range serviceFormSections {
		for _, f := range s.Fields {
			m[f.Name] = f
		}
	}
	return m
}()

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
		return fm, fieldErrors(err)
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
		return mapLines(x)
	case map[string]any:
		m := make(map[string]string, len(x))
		for k, it := range x {
			m[k] = fmt.Sprint(it)
		}
		return mapLines(m)
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

func mapLines(m map[string]string) string {
	keys := slices.Sorted(maps.Keys(m))
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = k + "=" + m[k]
	}
	return strings.Join(lines, "\n")
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

// indexRE finds the item index of a list field's name ("ports[2]").
var indexRE = regexp.MustCompile(`^([a-z_.]+)\[(\d+)\]$`)

// itemRefRE finds a mention of another item in a message ("ports[0]").
var itemRefRE = regexp.MustCompile(`\b([a-z_]+)\[(\d+)\]`)

// fieldErrors maps a validation error to messages by input name: list
// items' errors go to their list's textarea, with the line they are on.
// It answers nil for an error that is not about the input.
func fieldErrors(err error) map[string]string {
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
			sub := itemRefRE.FindStringSubmatch(m)
			n, _ := strconv.Atoi(sub[2])
			return fmt.Sprintf("line %d", n+1)
		})
		if m := indexRE.FindStringSubmatch(name); m != nil {
			n, _ := strconv.Atoi(m[2])
			byField[m[1]] = append(byField[m[1]], item{n, fmt.Sprintf("line %d: %s", n+1, msg)})
			continue
		}
		if _, known := serviceFields[name]; !known {
			name = "" // not an input's: the summary shows it
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

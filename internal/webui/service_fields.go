package webui

import (
	"html/template"
	"regexp"
	"strings"
)

// This file lays out the service form: its sections and inputs, in the
// order shown, with the docker CLI syntax as help; service_form.go turns
// their values into a form.Service and back.

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

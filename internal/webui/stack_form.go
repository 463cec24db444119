package webui

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/stack"
	"github.com/swarmops/swarmops/internal/swarm"
)

// The stack deploy form: a compose file pasted or uploaded, the stack's
// name, env values, the files the compose file names (secrets and
// configs), and the deploy options.

type stackFormPage struct {
	Base
	Values stackValues
	Files  []stackFile
	Errors map[string]string
	// Update says the form updates a stack that exists (?name=);
	// FromRevision is the revision it was filled from (0: none).
	Update       bool
	FromRevision int
	Action       string
	Cancel       string
}

// stackValues are the form's inputs as typed.
type stackValues struct {
	Name, Compose, Env string
	Prune              bool
	ResolveImage       string
}

// stackFile is one file row: the path as the compose file names it, and
// its content (typed, or uploaded; never sent back to the page after a
// post, and never filled in for a file used as a secret).
type stackFile struct {
	Index   int
	Path    string
	Content string
	Secret  bool
}

// stackFileRows is how many empty file rows the form offers beyond the
// filled ones (JavaScript adds more on demand), and maxStackFiles how many
// rows a post may have.
const (
	stackFileRows = 2
	maxStackFiles = 50
	// maxComposeBytes bounds an uploaded compose file, maxStackFileBytes
	// each uploaded secret or config file.
	maxComposeBytes   = 1 << 20
	maxStackFileBytes = 512 << 10
)

// stackFields are the form's inputs a domain error can be shown beside.
var stackFields = map[string]bool{"name": true, "compose": true, "env": true, "files": true, "prune": true, "resolve_image": true}

func (u *UI) renderStackForm(c *fiber.Ctx, status int, p stackFormPage) error {
	p.Action = p.ClusterPath("/stacks")
	p.Cancel = p.Action
	if p.Update {
		p.Title = "Update stack " + p.Values.Name
		p.Cancel = p.ClusterPath("/stacks/" + url.PathEscape(p.Values.Name))
	}
	// Number the rows, and offer empty ones to fill.
	for range stackFileRows {
		p.Files = append(p.Files, stackFile{})
	}
	for i := range p.Files {
		p.Files[i].Index = i
	}
	return u.tpl.render(c, status, "stacks_form", p)
}

// valuesOfRevision fills the form from a revision: its compose file, env
// and options; its files by path, with the content of the plain ones.
func valuesOfRevision(name string, r swarm.StackRevision) (stackValues, []stackFile) {
	o := r.DeployOptions()
	v := stackValues{Name: name, Compose: r.Compose, Env: labelText(r.Env), Prune: o.Prune, ResolveImage: o.ResolveImage}
	if v.ResolveImage == "" {
		v.ResolveImage = "always"
	}
	var files []stackFile
	for _, f := range r.Files {
		row := stackFile{Path: f.Name, Secret: f.Secret}
		if f.Content != nil && !f.Secret {
			row.Content = *f.Content
		}
		files = append(files, row)
	}
	return v, files
}

// bindStack reads the posted form (url-encoded, or multipart with the
// uploads) into p, as typed, and into the deploy it asks for. Input the
// domain cannot judge (an env line, an upload) answers problems by input;
// err is an upload that could not be read.
func bindStack(c *fiber.Ctx, p *stackFormPage) (d swarm.StackDeploy, problems map[string]string, err error) {
	v := stackValues{Name: strings.TrimSpace(c.FormValue("name")), Compose: formText(c, "compose"), Env: formText(c, "env"),
		Prune: c.FormValue("prune") == "true", ResolveImage: c.FormValue("resolve_image")}
	problems = map[string]string{}
	compose, uerr := uploaded(c, "compose_file", "compose", maxComposeBytes)
	if pe, ok := errs.Public(uerr); ok && errors.Is(uerr, errs.ErrInvalid) {
		problems[pe.Field] = pe.Message
	} else if uerr != nil {
		return d, nil, uerr
	} else if compose != nil {
		v.Compose = strings.ReplaceAll(string(compose), "\r\n", "\n") // shown as the text it was
	}
	if strings.TrimSpace(v.Compose) == "" && problems["compose"] == "" {
		problems["compose"] = "paste a compose file, or choose one to upload"
	}
	env, eerr := parseEnvLines(v.Env)
	if pe, ok := errs.Public(eerr); ok {
		problems[pe.Field] = pe.Message
	}
	files, rows, ferr := postedFiles(c)
	if pe, ok := errs.Public(ferr); ok && errors.Is(ferr, errs.ErrInvalid) {
		problems[pe.Field] = pe.Message
	} else if ferr != nil {
		return d, nil, ferr
	}
	p.Values, p.Files = v, rows
	if len(problems) > 0 {
		return d, problems, nil
	}
	return swarm.StackDeploy{Name: v.Name, Source: stack.Source{Compose: v.Compose, Env: env, Files: files},
		Prune: v.Prune, ResolveImage: v.ResolveImage}, nil, nil
}

// parseEnvLines reads KEY=value lines (docker's --env-file syntax without
// comments' values): blank lines and lines starting with # are skipped;
// the value is kept as typed, spaces and all.
func parseEnvLines(text string) (map[string]string, error) {
	out := map[string]string{}
	for i, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		k, val, ok := strings.Cut(strings.TrimLeft(line, " \t"), "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, errs.Invalid("env", "line %d: expected KEY=value, got %q", i+1, trimmed)
		}
		if _, dup := out[k]; dup {
			return nil, errs.Invalid("env", "line %d: %s is given twice", i+1, k)
		}
		out[k] = val
	}
	return out, nil
}

// postedFiles reads the file rows ("file.N.path", "file.N.content",
// "file.N.upload"): an upload wins over the typed content, and a row with
// an upload but no path takes "./<file name>". Rows come back with their
// paths only: a file's content (it may be a secret) is never sent back
// to the page.
func postedFiles(c *fiber.Ctx) (files map[string]string, rows []stackFile, err error) {
	files = map[string]string{}
	for i := range maxStackFiles + 1 {
		key := fmt.Sprintf("file.%d.", i)
		path, content := strings.TrimSpace(c.FormValue(key+"path")), formText(c, key+"content")
		up, err := uploaded(c, key+"upload", "files", maxStackFileBytes)
		if err != nil {
			return nil, nil, err
		}
		if up != nil {
			content = string(up)
			if path == "" {
				path = "./" + uploadName(c, key+"upload")
			}
		}
		if path == "" && content == "" {
			if !hasField(c, key+"path") {
				break // the last row
			}
			continue
		}
		if i == maxStackFiles {
			return nil, nil, errs.Invalid("files", "at most %d files are taken", maxStackFiles)
		}
		rows = append(rows, stackFile{Path: path})
		if path == "" {
			return nil, rows, errs.Invalid("files", "file %d has content but no path: give the path the compose file names it by (./db_password.txt)", i+1)
		}
		if content == "" {
			return nil, rows, errs.Invalid("files", "the file %s has no content: type it or choose the file (file contents are never kept by this page)", path)
		}
		if _, dup := files[path]; dup {
			return nil, rows, errs.Invalid("files", "the file %s is given twice", path)
		}
		files[path] = content
	}
	return files, rows, nil
}

// uploadName is the name the browser gave an uploaded file.
func uploadName(c *fiber.Ctx, field string) string {
	fh, err := c.FormFile(field)
	if err != nil {
		return "upload"
	}
	return fh.Filename
}

// hasField reports whether the post has a field of that name at all.
func hasField(c *fiber.Ctx, name string) bool {
	if c.Request().PostArgs().Has(name) {
		return true
	}
	mf, err := c.MultipartForm()
	if err != nil {
		return false
	}
	_, ok := mf.Value[name]
	return ok
}

// stackFormError turns a refused deploy into messages beside the inputs:
// a bad value (400), a conflict (409), host access the caller may not
// give (403, beside the compose file). Anything else is the error page.
func stackFormError(err error) (map[string]string, int, error) {
	if p := fieldProblems(err, func(name string) bool { return stackFields[name] }); p != nil {
		return p, fiber.StatusBadRequest, nil
	}
	if p, status, ok := formProblems(err, ""); ok {
		return p, status, nil
	}
	if pe, ok := errs.Public(err); ok && errors.Is(err, errs.ErrForbidden) && stackFields[pe.Field] {
		return map[string]string{pe.Field: pe.Message}, fiber.StatusForbidden, nil
	}
	return nil, 0, err
}

// deployedMessage says what a deploy or rollback did, as the flash of the
// stack's page: the services created, updated, unchanged and removed, and
// the warnings (the flash is then a warning).
func deployedMessage(what string, out swarm.StackDeployed) (kind, msg string) {
	s := out.Services
	var b strings.Builder
	b.WriteString(what)
	if out.Revision > 0 {
		fmt.Fprintf(&b, " as revision %d", out.Revision)
	}
	fmt.Fprintf(&b, ": %s, %s, %d unchanged, %s.", named("created", s.Created), named("updated", s.Updated),
		len(s.Unchanged), named("removed", s.Removed))
	kind = "ok"
	if len(out.Warnings) > 0 {
		kind = "warn"
		b.WriteString(" Warnings: " + strings.Join(out.Warnings, "; "))
	}
	msg = b.String()
	if len(msg) > maxFlash {
		n := maxFlash
		for n > 0 && !utf8.RuneStart(msg[n]) {
			n--
		}
		msg = msg[:n] + "…"
	}
	return kind, msg
}

// maxFlash keeps a flash within what a cookie holds.
const maxFlash = 1500

// named is "2 created (a, b)", or "0 created".
func named(verb string, names []string) string {
	if len(names) == 0 {
		return "0 " + verb
	}
	return fmt.Sprintf("%d %s (%s)", len(names), verb, strings.Join(names, ", "))
}

// removedText says what a removal removed.
func removedText(r stack.Removed) string {
	parts := []string{count(len(r.Services), "service", r.Services), count(len(r.Networks), "network", r.Networks),
		count(len(r.Secrets), "secret", r.Secrets), count(len(r.Configs), "config", r.Configs)}
	return strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), ", ")
}

// count is "2 services (a, b)", "" for none.
func count(n int, noun string, names []string) string {
	if n == 0 {
		return ""
	}
	if n != 1 {
		noun += "s"
	}
	return fmt.Sprintf("%d %s (%s)", n, noun, strings.Join(names, ", "))
}

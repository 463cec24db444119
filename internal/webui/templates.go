package webui

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/net/html"
)

// templates holds every page, parsed once at start: a missing or broken
// template fails the start, not a request.
type templates struct {
	pages map[string]*template.Template // "services_list" -> layout + page
}

func parseTemplates(fsys fs.FS, funcs template.FuncMap) (*templates, error) {
	layout, err := template.New("layout").Funcs(funcs).ParseFS(fsys, "templates/layout/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout templates: %w", err)
	}
	names, err := fs.Glob(fsys, "templates/pages/*.html")
	if err != nil {
		return nil, err
	}
	t := &templates{pages: map[string]*template.Template{}}
	for _, n := range names {
		clone, err := layout.Clone()
		if err != nil {
			return nil, err
		}
		page, err := clone.ParseFS(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", n, err)
		}
		if page.Lookup("content") == nil {
			return nil, fmt.Errorf("%s defines no \"content\" template", n)
		}
		t.pages[strings.TrimSuffix(path.Base(n), ".html")] = page
	}
	return t, nil
}

// render executes a page into a buffer first, so a template error is a
// clean 500 and never half a page.
func (t *templates) render(c *fiber.Ctx, status int, name string, data any) error {
	page, ok := t.pages[name]
	if !ok {
		return fmt.Errorf("no page template %q", name)
	}
	var buf bytes.Buffer
	if err := page.ExecuteTemplate(&buf, "base", data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	out := buf.Bytes()
	if w, ok := data.(interface{ Waits() string }); ok {
		if why := w.Waits(); why != "" {
			out = disableMutations(out, why)
		}
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(out)
}

// ---- Rows rendered once ----

// A big table re-rendered on every live update (300 services) costs
// html/template about a microsecond an action: most of the page's time.
// Rows whose data says when they change (rowKeyer) are rendered once per
// distinct key and kept; the page then costs what its changed rows do.
// A page calls {{row "name" $ .}}: template "name" (defined in any page,
// its name unique) runs with .P the page and .R the row.

// rowKeyer is a row that says, as a string, everything its template
// shows of it at time now: the same key, the same HTML.
type rowKeyer interface {
	RowKey(now time.Time) string
}

// rowScoper is a page that says what of it a row template may show: the
// cluster and the user's role (Base answers them).
type rowScoper interface {
	rowScope() string
}

func (b Base) rowScope() string {
	cluster := ""
	if b.Cluster != nil {
		cluster = b.Cluster.Name
	}
	return cluster + "\x00" + string(b.User.Role)
}

// maxRows bounds the rows kept (a few MB); past it the cache starts
// again empty.
const maxRows = 4000

type rowCache struct {
	now   func() time.Time
	pages map[string]*template.Template // set once parsed
	mu    sync.Mutex
	named map[string]*template.Template // row template by name
	kept  map[string]template.HTML
}

func newRowCache(now func() time.Time) *rowCache {
	return &rowCache{now: now, named: map[string]*template.Template{}, kept: map[string]template.HTML{}}
}

// rowData is what a row template gets.
type rowData struct{ P, R any }

// row renders row template name for row r of page p, or answers the HTML
// kept for the same key.
func (rc *rowCache) row(name string, p, r any) (template.HTML, error) {
	key := ""
	if k, ok := r.(rowKeyer); ok {
		if s, ok := p.(rowScoper); ok {
			key = name + "\x00" + s.rowScope() + "\x00" + k.RowKey(rc.now())
		}
	}
	rc.mu.Lock()
	if h, ok := rc.kept[key]; ok && key != "" {
		rc.mu.Unlock()
		return h, nil
	}
	t := rc.named[name]
	if t == nil {
		for _, page := range rc.pages {
			if t = page.Lookup(name); t != nil {
				rc.named[name] = t
				break
			}
		}
	}
	rc.mu.Unlock()
	if t == nil {
		return "", fmt.Errorf("no row template %q", name)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, rowData{P: p, R: r}); err != nil {
		return "", err
	}
	h := template.HTML(buf.String()) // html/template escaped it
	if key != "" {
		rc.mu.Lock()
		if len(rc.kept) >= maxRows {
			clear(rc.kept)
		}
		rc.kept[key] = h
		rc.mu.Unlock()
	}
	return h, nil
}

// RowKey says everything the services table shows of a service: the
// engine's version of it changes with its spec and update status, the
// task counts come from elsewhere, and the time since its last update
// is shown in words.
func (r serviceRow) RowKey(now time.Time) string {
	u := ""
	if s := r.ServiceSummary.UpdateStatus; s != nil {
		u = s.State + "\x00" + s.Message
	}
	return r.ID + "\x00" + strconv.FormatUint(r.Version, 10) + "\x00" + r.Name + "\x00" +
		strconv.FormatUint(r.ServiceSummary.Replicas.Running, 10) + "/" + strconv.FormatUint(r.ServiceSummary.Replicas.Desired, 10) +
		"\x00" + u + "\x00" + ago(now)(r.UpdatedAt) + "\x00" + r.UpdatedAt.UTC().Format(time.RFC3339Nano)
}

// disableMutations disables, in the page's main element, every button
// that would change the swarm, writing why beside it: the submit buttons
// of its POST forms (a select that submits its form on change too) and
// the links to the forms that create or edit (…/new, …/edit, …/join, or
// marked data-mutates). The page works so without JavaScript; what
// changes nothing (GET forms, other links, the top bar) is left as it is.
func disableMutations(page []byte, why string) []byte {
	z := html.NewTokenizer(bytes.NewReader(page))
	var out bytes.Buffer
	out.Grow(len(page) + 2048)
	title := why // startTag escapes attribute values
	short := html.EscapeString(waitsElecting)
	reason := `<span class="waits-reason">` + short + `</span>`
	var inMain, inPost bool
	closing := "" // the end tag after which, or before which, the reason goes
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return out.Bytes()
		}
		raw := z.Raw()
		switch tt {
		case html.EndTagToken:
			name, _ := z.TagName()
			tag := string(name)
			if tag == closing {
				if tag == "button" || tag == "a" {
					out.WriteString(reason)
				}
				closing = ""
			}
			switch tag {
			case "main":
				inMain = false
			case "form":
				inPost = false
			}
			out.Write(raw)
			continue
		case html.StartTagToken, html.SelfClosingTagToken:
		default:
			out.Write(raw)
			continue
		}
		raw = bytes.Clone(raw) // TagName lower-cases the tokenizer's buffer
		name, more := z.TagName()
		tag := string(name)
		attrs := map[string]string{}
		var order []string
		for more {
			var k, v []byte
			k, v, more = z.TagAttr()
			if _, dup := attrs[string(k)]; !dup {
				order = append(order, string(k))
			}
			attrs[string(k)] = string(v)
		}
		disable := false
		switch {
		case tag == "main":
			inMain = true
			if _, ok := attrs["data-waits"]; !ok {
				order = append(order, "data-waits")
			}
			attrs["data-waits"] = why
			out.Write(startTag(tag, attrs, order))
			continue
		case !inMain:
		case tag == "form":
			inPost = strings.EqualFold(attrs["method"], "post") && attrs["action"] != "/logout"
		case inPost && tag == "button" && attrs["type"] != "button" && attrs["type"] != "reset":
			disable, closing = true, "button"
		case inPost && tag == "input" && attrs["type"] == "submit":
			disable, closing = true, "input"
		case inPost && tag == "select":
			_, autosubmit := attrs["data-autosubmit"]
			disable = autosubmit
		case tag == "a" && mutatingLink(attrs):
			delete(attrs, "href")
			attrs["aria-disabled"] = "true"
			disable, closing = true, "a"
		}
		if !disable {
			out.Write(raw)
			continue
		}
		if tag != "a" {
			attrs["disabled"] = ""
		}
		attrs["title"] = title
		attrs["class"] = strings.TrimSpace(attrs["class"] + " waits")
		for _, k := range []string{"disabled", "title", "class", "aria-disabled"} {
			if _, ok := attrs[k]; ok && !slices.Contains(order, k) {
				order = append(order, k)
			}
		}
		out.Write(startTag(tag, attrs, order))
		if closing == "input" {
			out.WriteString(reason)
			closing = ""
		}
	}
}

// mutatingLink reports whether a link's attributes lead to a form that
// changes the swarm.
func mutatingLink(attrs map[string]string) bool {
	if _, ok := attrs["data-mutates"]; ok {
		return true
	}
	href, ok := attrs["href"]
	if !ok || !strings.Contains(" "+attrs["class"]+" ", " button ") {
		return false
	}
	path, _, _ := strings.Cut(href, "?")
	return strings.HasSuffix(path, "/new") || strings.HasSuffix(path, "/edit") || strings.HasSuffix(path, "/join")
}

// startTag writes a start tag with attrs in order (attrs left out of
// order are dropped).
func startTag(tag string, attrs map[string]string, order []string) []byte {
	var b bytes.Buffer
	b.WriteString("<" + tag)
	for _, k := range order {
		v, ok := attrs[k]
		if !ok {
			continue
		}
		b.WriteString(" " + k + `="` + html.EscapeString(v) + `"`)
	}
	b.WriteString(">")
	return b.Bytes()
}

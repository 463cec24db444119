package webui

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
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
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Status(status).Send(buf.Bytes())
}

package webui

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/httpx"
	"github.com/swarmops/swarmops/internal/registry"
)

// Registries: admins register them, viewers browse their repositories and
// tags, operators delete tags.

// Page sizes of the browsing pages (?n= changes them, 1 to 1000 as in
// the API). A tag costs a manifest and a config read, so fewer.
const (
	repoPageSize = 50
	tagPageSize  = 25
)

// registries answers the registries domain; an instance without it
// answers 503.
func (u *UI) registries() (*registry.Service, error) {
	if u.Registries == nil {
		return nil, errs.Unavailable(nil, "registries are not available on this instance")
	}
	return u.Registries, nil
}

// registryPath is the page of a registry plus rest.
func registryPath(name, rest string) string { return "/registries/" + url.PathEscape(name) + rest }

// tagsPath is the tags page of repo, from last (the first page when "").
func tagsPath(name, repo, last string, n int) string {
	q := url.Values{"repo": {repo}}
	if last != "" {
		q.Set("last", last)
	}
	if n != 0 {
		q.Set("n", strconv.Itoa(n))
	}
	return registryPath(name, "/tags?"+q.Encode())
}

// registryView is a registration as the pages show it.
type registryView struct{ registry.Summary }

// transportNote is how a registration reaches its registry, as a badge.
type transportNote struct{ Word, Class, Title, Sub string }

// Transport says how the registry is reached: plain HTTP, TLS without
// verification, or verified TLS (with its own CA or the system's).
func (r registryView) Transport() transportNote {
	switch {
	case strings.HasPrefix(r.URL, "http://"):
		return transportNote{"plain HTTP", "state-warn", "credentials and images travel unencrypted", ""}
	case r.InsecureSkipVerify:
		return transportNote{"not verified", "state-bad", "TLS, but the registry's certificate is not checked (insecure_skip_verify)", ""}
	case r.CA:
		return transportNote{"verified", "state-good", "TLS, the certificate checked against the CA bundle given", "own CA"}
	}
	return transportNote{"verified", "state-good", "TLS, the certificate checked against the system's CAs", "system CAs"}
}

type registryListPage struct {
	Base
	Rows []registryView
}

// registryList lists the registrations; it asks no registry.
func (u *UI) registryList(c *fiber.Ctx) error {
	regs, err := u.registries()
	if err != nil {
		return err
	}
	b, err := u.base(c, "Registries", "registries", "")
	if err != nil {
		return err
	}
	list, err := regs.List(ctx(c))
	if err != nil {
		return err
	}
	p := registryListPage{Base: b, Rows: make([]registryView, len(list))}
	for i, r := range list {
		p.Rows[i] = registryView{r}
	}
	return u.tpl.render(c, fiber.StatusOK, "registries_list", p)
}

// registryForm is the register and edit form as typed: never a password.
type registryForm struct {
	Name, URL, Username string
	InsecureSkipVerify  bool
	CA                  string // PEM given (by file or pasted)
	RemoveCA            bool   // edit: drop the CA bundle
}

type registryFormPage struct {
	Base
	Edit    bool
	Current registry.Summary // edit: the registration as stored
	Form    registryForm
	Errors  map[string]string
}

// registryInputs are the form's inputs: an error on another field (the
// secret key) goes to the summary.
var registryInputs = map[string]bool{"name": true, "url": true, "username": true, "password": true, "insecure_skip_verify": true, "ca": true}

// registryProblems answers what the form shows for a refused
// registration: the field at fault (400), a host or name taken (409).
func registryProblems(err error) (map[string]string, int, bool) {
	if p := fieldProblems(err, func(name string) bool { return registryInputs[name] }); p != nil {
		return p, fiber.StatusBadRequest, true
	}
	if pe, ok := errs.Public(err); ok && errors.Is(err, errs.ErrConflict) {
		field := "name"
		if strings.Contains(pe.Message, "already serves") {
			field = "url"
		}
		return map[string]string{field: pe.Message}, fiber.StatusConflict, true
	}
	return nil, 0, false
}

func (u *UI) registryNew(c *fiber.Ctx) error {
	if _, err := u.registries(); err != nil {
		return err
	}
	return u.renderRegistryForm(c, fiber.StatusOK, registryFormPage{})
}

func (u *UI) renderRegistryForm(c *fiber.Ctx, status int, p registryFormPage) error {
	title := "Register a registry"
	if p.Edit {
		title = "Edit registry " + p.Current.Name
	}
	b, err := u.base(c, title, "registries", "")
	if err != nil {
		return err
	}
	p.Base = b
	return u.tpl.render(c, status, "registries_form", p)
}

// bindRegistry reads the form into what it shows again and the domain's
// input. In an edit, an empty password keeps the stored one, unless the
// user name is emptied too (anonymous access); an empty CA keeps the
// stored bundle unless remove_ca is checked.
func bindRegistry(c *fiber.Ctx, edit bool) (registryForm, registry.Input, error) {
	f := registryForm{
		Name: strings.TrimSpace(c.FormValue("name")), URL: strings.TrimSpace(c.FormValue("url")),
		Username: strings.TrimSpace(c.FormValue("username")), InsecureSkipVerify: c.FormValue("insecure_skip_verify") == "on",
		CA: strings.TrimSpace(formText(c, "ca")), RemoveCA: c.FormValue("remove_ca") == "on",
	}
	in := registry.Input{Username: &f.Username, InsecureSkipVerify: &f.InsecureSkipVerify}
	if !edit {
		in.Name = f.Name // an edit names the registry by its path
	}
	if f.URL != "" || edit {
		in.URL = &f.URL // none: the domain says it is required
	}
	switch pw := c.FormValue("password"); {
	case pw != "" || !edit:
		in.Password = &pw
	case f.Username == "":
		in.Password = &pw // no user name and no password: anonymous
	}
	file, err := uploaded(c, "ca_file", "ca", 64<<10)
	if err != nil {
		return f, in, err
	}
	if len(file) > 0 {
		f.CA = strings.TrimSpace(string(file))
	}
	switch {
	case f.CA != "":
		in.CA = &f.CA
	case f.RemoveCA && edit:
		none := ""
		in.CA = &none
	}
	return f, in, nil
}

func (u *UI) registryCreate(c *fiber.Ctx) error {
	regs, err := u.registries()
	if err != nil {
		return err
	}
	f, in, err := bindRegistry(c, false)
	if err == nil {
		var s registry.Summary
		if s, err = regs.Create(ctx(c), in); err == nil {
			return redirect(c, registryPath(s.Name, ""), "ok", "Registered registry %s (%s): it answered %s.", s.Name, s.Host, credentialsWord(s))
		}
	}
	problems, status, ok := registryProblems(err)
	if !ok {
		return err
	}
	return u.renderRegistryForm(c, status, registryFormPage{Form: f, Errors: problems})
}

// credentialsWord says how a registry was reached.
func credentialsWord(s registry.Summary) string {
	if s.Username == "" {
		return "without credentials"
	}
	return "to user " + s.Username
}

func (u *UI) registryEdit(c *fiber.Ctx) error {
	regs, err := u.registries()
	if err != nil {
		return err
	}
	cur, err := regs.Get(ctx(c), c.Params("name"))
	if err != nil {
		return err
	}
	f := registryForm{Name: cur.Name, URL: cur.URL, Username: cur.Username, InsecureSkipVerify: cur.InsecureSkipVerify}
	return u.renderRegistryForm(c, fiber.StatusOK, registryFormPage{Edit: true, Current: cur, Form: f})
}

func (u *UI) registryUpdate(c *fiber.Ctx) error {
	regs, err := u.registries()
	if err != nil {
		return err
	}
	name := c.Params("name")
	f, in, err := bindRegistry(c, true)
	f.Name = name
	if err == nil {
		var s registry.Summary
		if s, err = regs.Update(ctx(c), name, in); err == nil {
			return redirect(c, registryPath(s.Name, ""), "ok", "Saved registry %s: it answered %s.", s.Name, credentialsWord(s))
		}
	}
	problems, status, ok := registryProblems(err)
	if !ok {
		return err
	}
	cur, gerr := regs.Get(ctx(c), name)
	if gerr != nil {
		return gerr
	}
	return u.renderRegistryForm(c, status, registryFormPage{Edit: true, Current: cur, Form: f, Errors: problems})
}

func (u *UI) registryDelete(c *fiber.Ctx) error {
	regs, err := u.registries()
	if err != nil {
		return err
	}
	name := c.Params("name")
	if err := regs.Delete(ctx(c), name); err != nil {
		return err
	}
	return redirect(c, "/registries", "ok", "Forgot registry %s; its images are untouched.", name)
}

type registryDetailPage struct {
	Base
	Reg   registryView
	Q     string
	Last  string // the page starts after this repository ("" for the first)
	N     int    // the page size asked for (0: the default)
	Repos []string
	Next  string // the last repository shown, when more follow
	// BrowseError says why the repositories could not be listed.
	BrowseError string
}

// pageURL answers this page from last.
func (p registryDetailPage) pageURL(last string) string {
	q := url.Values{}
	if p.Q != "" {
		q.Set("q", p.Q)
	}
	if last != "" {
		q.Set("last", last)
	}
	if p.N != 0 {
		q.Set("n", strconv.Itoa(p.N))
	}
	if len(q) == 0 {
		return registryPath(p.Reg.Name, "")
	}
	return registryPath(p.Reg.Name, "?"+q.Encode())
}

// NextURL is the following page, keeping the filter.
func (p registryDetailPage) NextURL() string { return p.pageURL(p.Next) }

// FirstURL is the first page, keeping the filter.
func (p registryDetailPage) FirstURL() string { return p.pageURL("") }

// TagsURL is the tags page of repo.
func (p registryDetailPage) TagsURL(repo string) string { return tagsPath(p.Reg.Name, repo, "", 0) }

// registryDetail shows a registration and a page of its repositories
// (names containing q, after last). A registry that cannot be listed
// leaves the registration shown, with the reason and the status.
func (u *UI) registryDetail(c *fiber.Ctx) error {
	regs, err := u.registries()
	if err != nil {
		return err
	}
	name := c.Params("name")
	n, err := httpx.PageSize(c)
	if err != nil {
		return err
	}
	b, err := u.base(c, name, "registries", "")
	if err != nil {
		return err
	}
	p := registryDetailPage{Base: b, Q: strings.TrimSpace(c.Query("q")), Last: c.Query("last"), N: n}
	if p.Reg.Summary, err = regs.Get(ctx(c), name); err != nil {
		return err
	}
	size := n
	if size == 0 {
		size = repoPageSize
	}
	page, err := regs.Repositories(ctx(c), name, p.Q, p.Last, size)
	if err != nil {
		status, body, _ := httpx.Classify(err)
		if status < 500 && !errors.Is(err, errs.ErrNotFound) {
			return err
		}
		p.BrowseError = body.Message
		return u.tpl.render(c, status, "registries_detail", p)
	}
	p.Repos, p.Next = page.Names, page.Next
	return u.tpl.render(c, fiber.StatusOK, "registries_detail", p)
}

// tagRow is a tag as the tags page shows it.
type tagRow struct {
	registry.Tag
	// Others are the other tags on the same digest (in the whole
	// repository), which a delete takes along; Known says they were all
	// found.
	Others []string
	Known  bool
}

// PlatformNames answers os/arch[/variant] of each platform.
func (r tagRow) PlatformNames() []string {
	out := make([]string, 0, len(r.Platforms))
	for _, p := range r.Platforms {
		s := p.OS + "/" + p.Architecture
		if p.OS == "" && p.Architecture == "" {
			s = "unknown"
		}
		if p.Variant != "" {
			s += "/" + p.Variant
		}
		out = append(out, s)
	}
	return out
}

// ConfirmText is the delete confirmation, naming every tag that goes.
func (r tagRow) ConfirmText(repo string) string {
	head := fmt.Sprintf("Delete tag %s of %s? Its manifest %s is deleted", r.Tag.Tag, repo, shortDigest(r.Digest))
	switch {
	case !r.Known:
		return head + ", and with it every other tag on that digest: the next page lists them."
	case len(r.Others) == 0:
		return head + "; no other tag points at it. Running services keep their image; new pulls of it fail."
	}
	return head + fmt.Sprintf(", and with it %s on the same digest: %s. Running services keep their image; new pulls of them fail.",
		plural(len(r.Others), "other tag"), strings.Join(r.Others, ", "))
}

// ConfirmButton is the dialog's button, naming the tags that go.
func (r tagRow) ConfirmButton() string {
	switch {
	case !r.Known:
		return "Continue"
	case len(r.Others) <= 3:
		return "Delete " + strings.Join(append([]string{r.Tag.Tag}, r.Others...), ", ")
	}
	return fmt.Sprintf("Delete %s and %d more", r.Tag.Tag, len(r.Others))
}

// shortDigest is sha256: and 12 hex digits.
func shortDigest(d string) string {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok {
		return d[:min(len(d), 19)]
	}
	return alg + ":" + hex[:min(len(hex), 12)]
}

type registryTagsPage struct {
	Base
	Reg  registry.Summary
	Repo string
	Last string
	N    int
	Rows []tagRow
	Next string
}

// NextURL is the following page of tags.
func (p registryTagsPage) NextURL() string { return tagsPath(p.Reg.Name, p.Repo, p.Next, p.N) }

// FirstURL is the first page of tags.
func (p registryTagsPage) FirstURL() string { return tagsPath(p.Reg.Name, p.Repo, "", p.N) }

// registryTags shows a page of a repository's tags. For a user who may
// delete tags it also reads which other tags share each digest across the
// whole repository (registry.Service.TagIndex: one listing of the tag
// names, and a HEAD for each tag not on this page).
func (u *UI) registryTags(c *fiber.Ctx) error {
	regs, err := u.registries()
	if err != nil {
		return err
	}
	name := c.Params("name")
	repo := strings.TrimSpace(c.Query("repo"))
	if repo == "" {
		return c.Redirect(registryPath(name, ""), fiber.StatusSeeOther)
	}
	n, err := httpx.PageSize(c)
	if err != nil {
		return err
	}
	b, err := u.base(c, repo, "registries", "")
	if err != nil {
		return err
	}
	p := registryTagsPage{Base: b, Repo: repo, Last: c.Query("last"), N: n}
	if p.Reg, err = regs.Get(ctx(c), name); err != nil {
		return err
	}
	size := n
	if size == 0 {
		size = tagPageSize
	}
	page, err := regs.Tags(ctx(c), name, repo, p.Last, size)
	if err != nil {
		return err
	}
	p.Next = page.Next
	// The page's own tags by digest; whoever may delete also gets the
	// whole repository's (without it, the confirmation page names them).
	known := make(map[string]string, len(page.Tags))
	idx := registry.TagIndex{ByDigest: map[string][]string{}}
	for _, t := range page.Tags {
		known[t.Tag] = t.Digest
		idx.ByDigest[t.Digest] = append(idx.ByDigest[t.Digest], t.Tag)
	}
	if b.Can("registry.write") && len(page.Tags) > 0 {
		if whole, err := regs.TagIndex(ctx(c), name, repo, known); err == nil {
			idx = whole
		} else {
			// The confirmation page will name them; say why not here.
			u.Log.Debug().Err(err).Str("registry", name).Str("repository", repo).Msg("tags on the same digests not read")
		}
	}
	for _, t := range page.Tags {
		p.Rows = append(p.Rows, tagRow{Tag: t, Others: idx.Others(t.Digest, t.Tag), Known: idx.Complete})
	}
	return u.tpl.render(c, fiber.StatusOK, "registries_tags", p)
}

type tagDeletePage struct {
	Base
	Reg     registry.Summary
	Repo    string
	Tag     string
	Preview registry.Deleted
}

// Others are the tags other than the one asked for.
func (p tagDeletePage) Others() []string {
	var out []string
	for _, t := range p.Preview.Tags {
		if t != p.Tag {
			out = append(out, t)
		}
	}
	return out
}

// TagsURL is the tags page the delete was asked from.
func (p tagDeletePage) TagsURL() string { return tagsPath(p.Reg.Name, p.Repo, "", 0) }

// registryTagDelete deletes a tag's manifest, and so every tag on its
// digest, once confirmed (confirm=yes, which the dialog adds); without
// it, it answers a page naming every tag that would go, with the button
// that confirms.
func (u *UI) registryTagDelete(c *fiber.Ctx) error {
	regs, err := u.registries()
	if err != nil {
		return err
	}
	name := c.Params("name")
	repo, tag := strings.TrimSpace(c.FormValue("repo")), strings.TrimSpace(c.FormValue("tag"))
	back := tagsPath(name, repo, "", 0)
	if c.FormValue("confirm") != "yes" {
		b, err := u.base(c, "Delete tag "+tag, "registries", "")
		if err != nil {
			return err
		}
		p := tagDeletePage{Base: b, Repo: repo, Tag: tag}
		if p.Reg, err = regs.Get(ctx(c), name); err != nil {
			return err
		}
		if p.Preview, err = regs.DeletePreview(ctx(c), name, repo, tag); err != nil {
			return err
		}
		return u.tpl.render(c, fiber.StatusOK, "registries_tag_delete", p)
	}
	d, err := regs.DeleteTag(ctx(c), name, repo, tag)
	if err != nil {
		if pe, ok := errs.Public(err); ok && (errors.Is(err, errs.ErrConflict) || errors.Is(err, errs.ErrNotFound)) {
			return redirect(c, back, "error", "Nothing was deleted: %s", pe.Message)
		}
		return err
	}
	return redirect(c, back, "ok", "Deleted manifest %s of %s, and with it %s: %s.",
		shortDigest(d.Digest), repo, plural(len(d.Tags), "tag"), listSome(d.Tags, 20))
}

// listSome joins up to max items, saying how many more there are.
func listSome(items []string, max int) string {
	if len(items) <= max {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:max], ", ") + fmt.Sprintf(" and %d more", len(items)-max)
}

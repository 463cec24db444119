package webui_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/testenv"
)

// rgStart starts a registry that asks for basic auth, an instance and a
// browser logged in as admin.
func rgStart(t *testing.T, user string) (*testenv.Registry, *apitest.Instance, *apitest.Client, *browser) {
	t.Helper()
	reg := testenv.StartRegistryWith(t, testenv.RegistryOptions{User: user, Password: "pw-" + user + "-secret"})
	in, b := startUI(t)
	return reg, in, in.Admin(t), b
}

// rgRegister registers reg as name through the API.
func rgRegister(t *testing.T, admin *apitest.Client, reg *testenv.Registry, name string) {
	t.Helper()
	admin.MustDo(http.MethodPost, "/api/v1/registries",
		map[string]any{"name": name, "url": reg.URL, "username": reg.User, "password": reg.Password}, nil, 201)
}

// rgTags answers the tags of repo read from the registry itself, sorted.
func rgTags(t *testing.T, reg *testenv.Registry, repo string) []string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, reg.URL+"/v2/"+repo+"/tags/list", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(reg.User, reg.Password)
	resp, err := (&http.Client{Timeout: 10 * time.Second, Transport: reg.Transport()}).Do(req)
	if err != nil {
		t.Fatalf("list the tags of %s: %v", repo, err)
	}
	defer resp.Body.Close()
	var out struct{ Tags []string }
	if resp.StatusCode == http.StatusNotFound {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("list the tags of %s: %d %v", repo, resp.StatusCode, err)
	}
	slices.Sort(out.Tags)
	return out.Tags
}

// rgRows answers the text of the first cell of each row of table sel.
func rgRows(b *browser, sel string) []string {
	b.t.Helper()
	var out []string
	b.eval(`Array.from(document.querySelectorAll(`+fmt.Sprintf("%q", sel+" tbody tr")+`)).map(r => r.cells[0].querySelector("strong").textContent.trim())`, &out)
	return out
}

// rgAttr answers attribute attr of the element sel ("" when none).
func rgAttr(b *browser, sel, attr string) string {
	b.t.Helper()
	var s string
	b.eval(fmt.Sprintf(`(() => { const el = document.querySelector(%q); return el ? (el.getAttribute(%q) || "") : ""; })()`, sel, attr), &s)
	return s
}

// TestRegistryPages_Register: a wrong password is refused under the
// password field with 400 and nothing stored, and the password never
// comes back; the right one registers the registry, which the list shows
// (user, password set, no password); an edit with an empty password keeps
// the stored one; forgetting it asks first, naming it.
func TestRegistryPages_Register(t *testing.T) {
	t.Parallel()
	reg, in, admin, b := rgStart(t, "rp-user")
	wrong := reg.Password + "-wrong"

	b.open("/registries")
	b.waitText(`main`, "No registries registered yet", 5*time.Second)
	b.run("open the form", chromedp.Click(`a[href="/registries/new"]`, chromedp.ByQuery), chromedp.WaitVisible(`#f-url`, chromedp.ByQuery))
	b.run("register with a wrong password",
		chromedp.SetValue(`#f-name`, "rp", chromedp.ByQuery),
		chromedp.SetValue(`#f-url`, reg.URL, chromedp.ByQuery),
		chromedp.SetValue(`#f-username`, reg.User, chromedp.ByQuery),
		chromedp.SetValue(`#f-password`, wrong, chromedp.ByQuery),
		chromedp.Click(`form[action="/registries"] button.primary`, chromedp.ByQuery),
	)
	b.waitText(`#f-password ~ .field-error`, "refused the user name and password", 15*time.Second)
	if n := b.count(`.field.invalid #f-password`); n != 1 {
		t.Errorf("the password field is not marked invalid")
	}
	if got := clValue(b, `#f-url`); got != reg.URL {
		t.Errorf("the form lost the address: %q", got)
	}
	if got := clValue(b, `#f-password`); got != "" {
		t.Errorf("the password input holds %q after the error", got)
	}
	if html := clHTML(b); strings.Contains(html, wrong) {
		t.Errorf("the page shows the password typed")
	}
	b.screenshot("registry_form_error")
	b.forgive(400)
	// The status, and nothing stored.
	resp, body := postForm(t, noRedirect(admin), in.URL+"/registries", url.Values{"csrf_token": {admin.CSRF},
		"name": {"rp"}, "url": {reg.URL}, "username": {reg.User}, "password": {wrong}})
	if resp.StatusCode != 400 || strings.Contains(body, wrong) {
		t.Errorf("a wrong password answered %d (password in the page: %v), want 400 without it", resp.StatusCode, strings.Contains(body, wrong))
	}
	var list struct {
		Items []struct {
			Name, Username string
			PasswordSet    bool `json:"password_set"`
		}
	}
	admin.MustDo(http.MethodGet, "/api/v1/registries", nil, &list, 200)
	if len(list.Items) != 0 {
		t.Fatalf("a refused registration was stored: %+v", list.Items)
	}

	b.run("register with the right password",
		chromedp.SetValue(`#f-password`, reg.Password, chromedp.ByQuery),
		chromedp.Click(`form[action="/registries"] button.primary`, chromedp.ByQuery),
	)
	b.waitText(`.flash-ok`, "Registered registry rp ("+reg.Addr+"): it answered to user "+reg.User, 15*time.Second)
	admin.MustDo(http.MethodGet, "/api/v1/registries", nil, &list, 200)
	if len(list.Items) != 1 || list.Items[0].Username != reg.User || !list.Items[0].PasswordSet {
		t.Fatalf("stored %+v; want rp with its user and a password", list.Items)
	}
	b.open("/registries")
	b.waitText(`#registry-rp`, reg.User, 5*time.Second)
	b.waitText(`#registry-rp`, "set", 5*time.Second)
	b.waitText(`#registry-rp`, "plain HTTP", 5*time.Second)
	if html := clHTML(b); strings.Contains(html, reg.Password) {
		t.Errorf("the list shows the password")
	}
	b.screenshot("registries")

	// Edit: the password is never put back; empty keeps it.
	b.run("edit", chromedp.Click(`#registry-rp a[href="/registries/rp/edit"]`, chromedp.ByQuery), chromedp.WaitVisible(`#f-password`, chromedp.ByQuery))
	b.waitText(`#f-password ~ .help`, "Leave this empty to keep it", 5*time.Second)
	if got := clValue(b, `#f-password`); got != "" || strings.Contains(clHTML(b), reg.Password) {
		t.Errorf("the edit form holds the password (%q)", got)
	}
	b.run("save with a wrong password",
		chromedp.SetValue(`#f-password`, wrong, chromedp.ByQuery),
		chromedp.Click(`form[action="/registries/rp"] button.primary`, chromedp.ByQuery),
	)
	b.waitText(`#f-password ~ .field-error`, "refused the user name and password", 15*time.Second)
	if got := clValue(b, `#f-password`); got != "" {
		t.Errorf("the password input holds %q after the error", got)
	}
	b.forgive(400)
	b.run("save with the password left empty", chromedp.Click(`form[action="/registries/rp"] button.primary`, chromedp.ByQuery))
	b.waitText(`.flash-ok`, "Saved registry rp: it answered to user "+reg.User, 15*time.Second)
	// The stored password still works.
	admin.MustDo(http.MethodGet, "/api/v1/registries/rp/repositories", nil, nil, 200)

	// Forget, after a confirmation naming it.
	b.run("ask to forget", chromedp.Click(`.titlerow form[action="/registries/rp/delete"] button`, chromedp.ByQuery))
	b.waitText(`#confirm-text`, "Forget registry rp? Its images are untouched", 5*time.Second)
	b.run("confirm", chromedp.Click(`[data-dialog-ok]`, chromedp.ByQuery))
	b.waitText(`.flash-ok`, "Forgot registry rp; its images are untouched.", 10*time.Second)
	admin.MustDo(http.MethodGet, "/api/v1/registries", nil, &list, 200)
	if len(list.Items) != 0 {
		t.Errorf("still registered: %+v", list.Items)
	}
	b.clean("registry pages")
}

// TestRegistryPages_Browse: repositories page by page (Next page carries
// last= and keeps the filter), the filter, and tags with digest, size,
// created time and platforms, paged likewise.
func TestRegistryPages_Browse(t *testing.T) {
	t.Parallel()
	reg, _, admin, b := rgStart(t, "rb-user")
	for i := 1; i <= 5; i++ {
		reg.PushRandom(t, fmt.Sprintf("team/app-%d", i), "1.0")
	}
	reg.PushRandom(t, "other/tool", "1.0")
	single := reg.PushRandom(t, "team/app-1", "v1", "latest")
	multi := reg.PushRandomIndex(t, "team/app-1", "multi")
	rgRegister(t, admin, reg, "rb")

	b.open("/registries/rb?n=2")
	b.waitText(`#registration`, reg.Addr, 5*time.Second)
	if got := rgRows(b, "#repositories"); !slices.Equal(got, []string{"other/tool", "team/app-1"}) {
		t.Errorf("first page: %q", got)
	}
	b.screenshot("registry_repos")
	next := rgAttr(b, "#next-page", "href")
	if u, err := url.Parse(next); err != nil || u.Query().Get("last") != "team/app-1" || u.Query().Get("n") != "2" {
		t.Fatalf("Next page links to %q; want last=team/app-1 and n=2", next)
	}
	b.run("next page", chromedp.Click(`#next-page`, chromedp.ByQuery))
	b.waitText(`#repositories`, "team/app-3", 10*time.Second)
	if got := rgRows(b, "#repositories"); !slices.Equal(got, []string{"team/app-2", "team/app-3"}) {
		t.Errorf("second page: %q", got)
	}

	// The filter: only matching names, and paging keeps it.
	b.open("/registries/rb?n=2")
	b.run("filter", chromedp.SetValue(`#repo-q`, "APP", chromedp.ByQuery), chromedp.Click(`.toolbar button`, chromedp.ByQuery))
	b.waitText(`#repositories`, "team/app-2", 10*time.Second)
	if got := rgRows(b, "#repositories"); !slices.Equal(got, []string{"team/app-1", "team/app-2"}) {
		t.Errorf("filtered first page: %q", got)
	}
	next = rgAttr(b, "#next-page", "href")
	if u, err := url.Parse(next); err != nil || u.Query().Get("q") != "APP" || u.Query().Get("last") != "team/app-2" {
		t.Fatalf("filtered Next page links to %q; want q=APP and last=team/app-2", next)
	}
	b.run("filtered next page", chromedp.Click(`#next-page`, chromedp.ByQuery))
	b.waitText(`#repositories`, "team/app-4", 10*time.Second)
	b.run("last filtered page", chromedp.Click(`#next-page`, chromedp.ByQuery))
	b.waitText(`#repositories`, "team/app-5", 10*time.Second)
	if got := rgRows(b, "#repositories"); !slices.Equal(got, []string{"team/app-5"}) || b.count("#next-page") != 0 {
		t.Errorf("last filtered page: %q, %d Next links", got, b.count("#next-page"))
	}
	b.open("/registries/rb?q=nothing-matches")
	b.waitText(`main`, "No repository matches", 5*time.Second)

	// Tags: digest (short, whole in the title and the copied text), size,
	// created, platforms.
	b.open("/registries/rb")
	b.run("open a repository", chromedp.Click(`#repositories a[href*="team%2Fapp-1"]`, chromedp.ByQuery))
	b.waitText(`#tags`, "multi", 10*time.Second)
	if got := rgRows(b, "#tags"); !slices.Equal(got, []string{"1.0", "latest", "multi", "v1"}) {
		t.Errorf("tags: %q", got)
	}
	if got := rgAttr(b, `[id="tag-multi"] code.digest`, "title"); got != multi {
		t.Errorf("multi's digest title %q, want %s", got, multi)
	}
	if got := rgAttr(b, `[id="tag-v1"] code.digest`, "title"); got != single {
		t.Errorf("v1's digest title %q, want %s", got, single)
	}
	var visible float64
	b.eval(`document.querySelector('[id="tag-v1"] code.digest').getBoundingClientRect().width / document.querySelector('[id="tag-v1"] code.digest').scrollWidth`, &visible)
	if visible >= 0.6 {
		t.Errorf("the digest shows %.0f%% of itself; want it short", visible*100)
	}
	b.waitText(`[id="tag-multi"]`, "linux/amd64", 5*time.Second)
	b.waitText(`[id="tag-multi"]`, "linux/arm64/v8", 5*time.Second)
	b.waitText(`[id="tag-v1"]`, "linux/amd64", 5*time.Second)
	b.waitText(`[id="tag-v1"]`, "same as latest", 5*time.Second)
	b.waitText(`[id="tag-v1"]`, "just now", 5*time.Second)
	if size := b.text(`[id="tag-v1"] td.num`); !strings.HasSuffix(size, "KiB") && !strings.HasSuffix(size, "B") {
		t.Errorf("v1's size reads %q", size)
	}
	b.screenshot("registry_tags_browse")

	// Tags paged.
	b.open("/registries/rb/tags?repo=team/app-1&n=3")
	if got := rgRows(b, "#tags"); !slices.Equal(got, []string{"1.0", "latest", "multi"}) {
		t.Errorf("first page of tags: %q", got)
	}
	b.run("next page of tags", chromedp.Click(`#next-page`, chromedp.ByQuery))
	b.waitText(`#tags`, "v1", 10*time.Second)
	if got := rgRows(b, "#tags"); !slices.Equal(got, []string{"v1"}) {
		t.Errorf("second page of tags: %q", got)
	}
	b.clean("browsing")

	// A registry that stops answering: the registration is still shown,
	// with the reason, and the status says so.
	if err := reg.Stop(); err != nil {
		t.Fatal(err)
	}
	if st := b.open("/registries/rb"); st != 503 {
		t.Errorf("a registry that does not answer: status %d, want 503", st)
	}
	b.waitText(`#browse-error`, "cannot be reached", 5*time.Second)
	b.waitText(`#registration`, reg.User, 5*time.Second)
	b.expect(503)
}

// TestRegistryPages_DeleteTag: a tag whose digest carries another tag
// (found across the repository, not on the page shown) is deleted after a
// confirmation naming the other tag, and both leave the registry; without
// the dialog, the POST answers a confirmation page listing them and
// deletes nothing until its own button is pressed.
func TestRegistryPages_DeleteTag(t *testing.T) {
	t.Parallel()
	reg, _, admin, b := rgStart(t, "rd-user")
	const repo = "team/del"
	reg.PushRandom(t, repo, "a", "b")
	reg.PushRandom(t, repo, "c")
	reg.PushRandom(t, repo, "d", "e")
	rgRegister(t, admin, reg, "rd")

	// The page shows a only; the confirmation still names b.
	b.open("/registries/rd/tags?repo=" + url.QueryEscape(repo) + "&n=1")
	if got := rgRows(b, "#tags"); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("first page: %q", got)
	}
	if got := rgAttr(b, `[id="tag-a"] form`, "data-confirm"); !strings.Contains(got, "with it 1 other tag on the same digest: b.") {
		t.Errorf("a's confirmation says %q; want it to name b", got)
	}
	b.run("ask to delete a", chromedp.Click(`[id="tag-a"] form button`, chromedp.ByQuery))
	b.waitText(`#confirm-text`, "Delete tag a of "+repo+"?", 5*time.Second)
	b.waitText(`#confirm-text`, "other tag on the same digest: b.", 5*time.Second)
	b.waitText(`[data-dialog-ok]`, "Delete a, b", 5*time.Second)
	b.screenshot("registry_tags")
	b.run("confirm", chromedp.Click(`[data-dialog-ok]`, chromedp.ByQuery))
	b.waitText(`.flash-ok`, "and with it 2 tags: a, b.", 15*time.Second)
	if got := rgTags(t, reg, repo); !slices.Equal(got, []string{"c", "d", "e"}) {
		t.Fatalf("the registry has %q after deleting a; want c, d, e", got)
	}

	// Without the dialog (no JavaScript): a confirmation page first.
	b.open("/registries/rd/tags?repo=" + url.QueryEscape(repo))
	b.waitText(`#tags`, "e", 5*time.Second)
	b.eval(`document.querySelector('[id="tag-d"] form').removeAttribute("data-confirm"); true`, nil)
	b.run("delete d without the dialog", chromedp.Click(`[id="tag-d"] form button`, chromedp.ByQuery))
	b.waitText(`#delete-tags`, "same digest", 10*time.Second)
	if got := b.text(`#delete-tags`); !strings.Contains(got, repo+":d") || !strings.Contains(got, repo+":e") || strings.Contains(got, ":c") {
		t.Errorf("the confirmation page lists %q; want d and e only", got)
	}
	if got := rgTags(t, reg, repo); !slices.Equal(got, []string{"c", "d", "e"}) {
		t.Fatalf("the confirmation page deleted something: the registry has %q", got)
	}
	b.screenshot("registry_tag_delete")
	b.run("delete from the confirmation page", chromedp.Click(`#delete-confirm button.danger`, chromedp.ByQuery))
	b.waitText(`.flash-ok`, "and with it 2 tags: d, e.", 15*time.Second)
	if got := rgTags(t, reg, repo); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("the registry has %q; want c only", got)
	}
	if got := rgRows(b, "#tags"); !slices.Equal(got, []string{"c"}) {
		t.Errorf("the tags page lists %q after the delete", got)
	}
	b.clean("tag delete")
}

// TestRegistryPages_Viewer: a viewer browses without a register, edit,
// forget or delete button, gets 403 on the admin forms, and a tag delete
// posted anyway answers 403 and deletes nothing.
func TestRegistryPages_Viewer(t *testing.T) {
	t.Parallel()
	reg, in, admin, _ := rgStart(t, "rv-user")
	const repo = "team/view"
	reg.PushRandom(t, repo, "1", "2")
	rgRegister(t, admin, reg, "rv")
	viewer := in.UserWithRole(t, admin, "rv-vic", "viewer")
	v := newBrowser(t, in.URL)
	v.login("rv-vic", "password-rv-vic")

	v.open("/registries")
	v.waitText(`#registry-rv`, "rv", 5*time.Second)
	if n := v.count(`a[href="/registries/new"], a[href$="/edit"], main form[method="post"]`); n != 0 {
		t.Errorf("a viewer sees %d register, edit or forget buttons on the list", n)
	}
	v.open("/registries/rv")
	v.waitText(`#repositories`, repo, 10*time.Second)
	if n := v.count(`a[href$="/edit"], main form[method="post"]`); n != 0 {
		t.Errorf("a viewer sees %d edit or forget buttons on the registry", n)
	}
	v.open("/registries/rv/tags?repo=" + url.QueryEscape(repo))
	v.waitText(`#tags`, "2", 10*time.Second)
	if n := v.count(`main form[method="post"]`); n != 0 {
		t.Errorf("a viewer sees %d delete buttons on the tags", n)
	}
	for _, p := range []string{"/registries/new", "/registries/rv/edit"} {
		if st := v.open(p); st != 403 {
			t.Errorf("a viewer on %s: %d, want 403", p, st)
		}
	}
	v.forgive(403)
	v.clean("a viewer's registry pages")

	hc := noRedirect(viewer)
	for path, form := range map[string]url.Values{
		"/registries/rv/tags/delete": {"repo": {repo}, "tag": {"1"}, "confirm": {"yes"}},
		"/registries/rv/delete":      {},
		"/registries":                {"name": {"rv2"}, "url": {reg.URL}},
	} {
		form.Set("csrf_token", viewer.CSRF)
		if resp, body := postForm(t, hc, in.URL+path, form); resp.StatusCode != 403 || !strings.Contains(body, "Not allowed for your role") {
			t.Errorf("a viewer's POST %s: %d, want the 403 page", path, resp.StatusCode)
		}
	}
	if got := rgTags(t, reg, repo); !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("the viewer's POST changed the registry: %q", got)
	}
	admin.MustDo(http.MethodGet, "/api/v1/registries/rv", nil, nil, 200)
}

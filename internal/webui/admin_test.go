package webui_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/testenv"
)

// TestAudit_Filters: after some changes, filtering by an action prefix and
// a user shows their rows (a refused one as an error) and only them; a
// filter the domain refuses is shown beside its input.
func TestAudit_Filters(t *testing.T) {
	in, b := startUI(t)
	admin := in.Admin(t)
	admin.MustDo(http.MethodPost, "/api/v1/users", map[string]string{"username": "aud-op", "password": "password-aud-op", "role": "operator"}, nil, 201)
	admin.MustDo(http.MethodPatch, "/api/v1/users/aud-op", map[string]string{"role": "viewer"}, nil, 200)
	admin.MustDo(http.MethodPost, "/api/v1/users", map[string]string{"username": "aud-op", "password": "password-aud-op"}, nil, 409)
	admin.MustDo(http.MethodPost, "/api/v1/tokens", map[string]string{"name": "aud-tok"}, nil, 201)
	op := in.UserWithRole(t, admin, "aud-op2", "operator")
	op.MustDo(http.MethodPost, "/api/v1/users", map[string]string{"username": "aud-nope", "password": "password-aud-nope"}, nil, 403)

	b.open("/audit")
	b.waitText(`#audit`, "token.create", 5*time.Second)
	b.run("filter by action prefix and user",
		chromedp.SetValue(`#f-action`, "user.", chromedp.ByQuery),
		chromedp.SetValue(`#f-user`, "admin", chromedp.ByQuery),
		chromedp.SetValue(`#f-since`, "1h", chromedp.ByQuery),
		chromedp.Click(`form.filters button.primary`, chromedp.ByQuery),
	)
	// The filters travel in the URL, so a filtered view can be shared.
	testenv.Poll(t, 10*time.Second, "the filtered page", func() error {
		var loc string
		b.run("read the location", chromedp.Location(&loc))
		if u, err := url.Parse(loc); err != nil || u.Query().Get("action") != "user." || u.Query().Get("user") != "admin" {
			return fmt.Errorf("at %s", loc)
		}
		return nil
	})
	b.waitText(`#audit`, "user.update", 10*time.Second)
	var rows [][]string
	b.eval(`Array.from(document.querySelectorAll('#audit tbody tr')).map(r => Array.from(r.cells).map(c => c.textContent.trim()))`, &rows)
	// Columns: time, user, action, cluster, target, result, error, request id, instance.
	var creates, updates, refused int
	for _, r := range rows {
		if r[1] != "admin" || !strings.HasPrefix(r[2], "user.") {
			t.Errorf("row %q passed the filters user=admin action=user.", r)
		}
		switch {
		case r[2] == "user.create" && r[4] == "aud-op" && r[5] == "ok":
			creates++
		case r[2] == "user.create" && r[4] == "aud-op" && r[5] == "error" && r[6] != "":
			refused++
		case r[2] == "user.update" && r[4] == "aud-op" && r[5] == "ok":
			updates++
		}
		if r[7] == "" || r[8] == "" {
			t.Errorf("row %q has no request id or instance", r)
		}
	}
	if creates != 1 || updates != 1 || refused != 1 {
		t.Errorf("rows %q: want one create, one update and one refused create of aud-op", rows)
	}
	if n := b.count(`#audit tbody tr.problem .badge.state-bad`); n != 1 {
		t.Errorf("%d error rows with a red badge, want 1", n)
	}
	b.screenshot("audit")

	// Another user's refused attempt, by user.
	b.open("/audit?user=aud-op2&action=access.denied&since=7d")
	b.waitText(`#audit`, "POST /api/v1/users", 5*time.Second)
	if n := b.count(`#audit tbody tr`); n != 1 {
		t.Errorf("aud-op2's denied attempts: %d rows, want 1", n)
	}

	// Filters the domain refuses: beside their inputs, with status 400.
	if status := b.open("/audit?since=yesterday"); status != 400 {
		t.Errorf("a bad since answered %d, want 400", status)
	}
	b.waitText(`#f-since ~ .field-error`, "expected an RFC 3339 time", 5*time.Second)
	if got := clValue(b, `#f-since`); got != "yesterday" {
		t.Errorf("the since filter shows %q, want what was typed", got)
	}
	b.open("/audit?limit=0")
	b.waitText(`#f-limit ~ .field-error`, "from 1 to 10000", 5*time.Second)
	if n := b.count(`#audit`); n != 0 {
		t.Errorf("a refused filter still shows a table")
	}
	b.forgive(400)
	b.clean("audit page")
}

// userJSON is a user as the API answers it.
type userJSON struct {
	Username string `json:"username"`
	Role     string `json:"role"`
}

func apiUsers(t *testing.T, admin *apitest.Client) map[string]string {
	t.Helper()
	var list struct {
		Items []userJSON `json:"items"`
	}
	admin.MustDo(http.MethodGet, "/api/v1/users", nil, &list, 200)
	out := map[string]string{}
	for _, u := range list.Items {
		out[u.Username] = u.Role
	}
	return out
}

// TestUsers_CreateRolePasswordDelete: an operator is made through the
// form, becomes a viewer, gets a new password (which ends its sessions)
// and is deleted after the confirmation; the last admin cannot be
// demoted, and the page says why.
func TestUsers_CreateRolePasswordDelete(t *testing.T) {
	in, b := startUI(t)
	admin := in.Admin(t)
	const name = "ui-op"

	b.open("/users")
	if got := clValue(b, `#f-role`); got != "viewer" {
		t.Errorf("the role select starts at %q, want viewer", got)
	}
	// Too short a password: beside the password, nothing created.
	b.run("create with a short password",
		chromedp.SetValue(`#f-username`, name, chromedp.ByQuery),
		chromedp.SetValue(`#f-password`, "short", chromedp.ByQuery),
		chromedp.SetValue(`#f-role`, "operator", chromedp.ByQuery),
		chromedp.Click(`form[action="/users"] button.primary`, chromedp.ByQuery),
	)
	b.waitText(`#f-password ~ .field-error`, "must be at least 8 characters", 10*time.Second)
	if got := clValue(b, `#f-username`); got != name {
		t.Errorf("the form lost the username: %q", got)
	}
	if _, ok := apiUsers(t, admin)[name]; ok {
		t.Fatalf("a refused create made the user")
	}
	b.run("create an operator",
		chromedp.SetValue(`#f-password`, "password-ui-op-1", chromedp.ByQuery),
		chromedp.SetValue(`#f-role`, "operator", chromedp.ByQuery),
		chromedp.Click(`form[action="/users"] button.primary`, chromedp.ByQuery),
	)
	b.waitText(`.flash-ok`, "Created user "+name+" with role operator", 10*time.Second)
	b.waitText(`#user-`+name, "operator", 5*time.Second)
	if role := apiUsers(t, admin)[name]; role != "operator" {
		t.Fatalf("%s has role %q, want operator", name, role)
	}
	b.screenshot("users")

	// Change the role.
	b.run("make it a viewer",
		chromedp.SetValue(`#role-`+name, "viewer", chromedp.ByQuery),
		chromedp.Click(`#user-`+name+` form:has(select) button`, chromedp.ByQuery),
	)
	b.waitText(`.flash-ok`, name+" is now viewer", 10*time.Second)
	if role := apiUsers(t, admin)[name]; role != "viewer" {
		t.Fatalf("%s has role %q, want viewer", name, role)
	}

	// Set the password: its sessions end, the new password works.
	session := in.Login(t, name, "password-ui-op-1")
	session.MustDo(http.MethodGet, "/api/v1/auth/me", nil, nil, 200)
	b.run("set a password",
		chromedp.SetValue(`#password-`+name, "password-ui-op-2", chromedp.ByQuery),
		chromedp.Click(`#user-`+name+` form:has(input[type=password]) button`, chromedp.ByQuery),
	)
	b.waitText(`.flash-ok`, "Set a new password for "+name+"; their sessions ended.", 10*time.Second)
	session.MustDo(http.MethodGet, "/api/v1/auth/me", nil, nil, 401)
	in.Login(t, name, "password-ui-op-2").MustDo(http.MethodGet, "/api/v1/auth/me", nil, nil, 200)

	// The last admin cannot be demoted: the page says so, in words.
	b.run("demote the last admin",
		chromedp.SetValue(`#role-admin`, "viewer", chromedp.ByQuery),
		chromedp.Click(`#user-admin form:has(select) button`, chromedp.ByQuery),
	)
	b.waitText(`.flash-error`, `Nothing was changed for admin: "admin" is the last admin; make another admin first`, 10*time.Second)
	b.waitText(`#user-admin .rowerror`, "last admin", 5*time.Second)
	if role := apiUsers(t, admin)["admin"]; role != "admin" {
		t.Fatalf("the last admin became %q", role)
	}
	b.screenshot("users_last_admin")

	// Delete, after the confirmation that names the user.
	b.open("/users")
	b.run("ask to delete", chromedp.Click(`#user-`+name+` form[action$="/delete"] button`, chromedp.ByQuery))
	b.waitText(`#confirm-text`, "Delete user "+name+"? Their sessions and API tokens end at once.", 5*time.Second)
	b.run("confirm", chromedp.Click(`[data-dialog-ok]`, chromedp.ByQuery))
	b.waitText(`.flash-ok`, "Deleted user "+name, 10*time.Second)
	if _, ok := apiUsers(t, admin)[name]; ok {
		t.Fatalf("%s is still there", name)
	}
	if n := b.count(`#user-` + name); n != 0 {
		t.Errorf("the page still lists %s", name)
	}
	b.forgive(400, 409)
	b.clean("users page")
}

// TestTokens_ShownOnceUseRevoke: a token made through the form is shown
// once, on the answer to the POST (not stored by the browser), works
// against the API, is gone from the page on the next visit, and stops
// working once revoked.
func TestTokens_ShownOnceUseRevoke(t *testing.T) {
	in, b := startUI(t)
	admin := in.Admin(t)

	b.open("/tokens")
	b.run("bad name",
		chromedp.SetValue(`#f-name`, "bad name!", chromedp.ByQuery),
		chromedp.Click(`form[action="/tokens"] button.primary`, chromedp.ByQuery),
	)
	b.waitText(`#f-name ~ .field-error`, "expected 1-64 letters", 10*time.Second)
	b.run("create a token",
		chromedp.SetValue(`#f-name`, "ui-ci", chromedp.ByQuery),
		chromedp.SetValue(`#f-expires_in`, "720h", chromedp.ByQuery),
		chromedp.Click(`form[action="/tokens"] button.primary`, chromedp.ByQuery),
	)
	b.waitText(`.newtoken`, "it is not shown again", 10*time.Second)
	text := strings.TrimSpace(b.text(`#new-token`))
	if !strings.HasPrefix(text, auth.TokenPrefix) {
		t.Fatalf("the page shows %q as the token", text)
	}
	b.waitText(`#token-ui-ci`, "in 29 days", 5*time.Second)
	b.screenshot("tokens_created")

	bearer := (&apitest.Client{Base: in.URL, HTTP: &http.Client{Timeout: 30 * time.Second}, Token: text}).For(t)
	var me struct {
		User struct{ Username string } `json:"user"`
		Via  string                    `json:"via"`
	}
	bearer.MustDo(http.MethodGet, "/api/v1/auth/me", nil, &me, 200)
	if me.User.Username != "admin" || me.Via != "token" {
		t.Errorf("the token authenticates as %+v", me)
	}
	bearer.MustDo(http.MethodGet, "/api/v1/clusters", nil, nil, 200)

	// The next visit does not show it.
	b.open("/tokens")
	b.waitText(`#token-ui-ci`, "ui-ci", 5*time.Second)
	if n := b.count(`#new-token`); n != 0 || strings.Contains(clHTML(b), text) {
		t.Errorf("the token text is shown again")
	}

	// The answer that shows a token is not stored by the browser.
	resp, body, err := admin.Raw(http.MethodPost, "/tokens", strings.NewReader("name=ui-raw&expires_in="),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if err != nil || resp.StatusCode != 200 || !strings.Contains(body, "it is not shown again") {
		t.Fatalf("POST /tokens: %v %v", resp, err)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("the page with a new token has Cache-Control %q, want no-store", cc)
	}

	// Revoke, after the confirmation.
	b.run("ask to revoke", chromedp.Click(`#token-ui-ci form button`, chromedp.ByQuery))
	b.waitText(`#confirm-text`, "Revoke token ui-ci? Scripts that use it stop working at once.", 5*time.Second)
	b.run("confirm", chromedp.Click(`[data-dialog-ok]`, chromedp.ByQuery))
	b.waitText(`.flash-ok`, "Revoked token ui-ci", 10*time.Second)
	if n := b.count(`#token-ui-ci`); n != 0 {
		t.Errorf("the revoked token is still listed")
	}
	bearer.MustDo(http.MethodGet, "/api/v1/auth/me", nil, nil, 401)
	b.forgive(400)
	b.clean("tokens page")
}

// TestAdminPages_Viewer: a viewer gets the 403 page on /users and /audit,
// sees clusters without any admin button or join token, and keeps its own
// tokens page.
func TestAdminPages_Viewer(t *testing.T) {
	sw := testenv.SharedSwarm(t)
	in := apitest.Start(t, apitest.Config(t))
	admin := in.Admin(t)
	admin.MustDo(http.MethodPost, "/api/v1/clusters", map[string]any{"name": "ui-view", "endpoint": sw.Managers[0].Endpoint}, nil, 201)
	admin.MustDo(http.MethodPost, "/api/v1/users", map[string]string{"username": "ui-vic", "password": "password-ui-vic", "role": "viewer"}, nil, 201)
	b := newBrowser(t, in.URL)
	b.login("ui-vic", "password-ui-vic")

	for _, p := range []string{"/users", "/audit", "/clusters/new", "/clusters/init", "/clusters/ui-view/edit"} {
		if status := b.open(p); status != 403 {
			t.Errorf("a viewer on %s: %d, want 403", p, status)
		}
		b.waitText(`.errorpage`, "Not allowed for your role", 5*time.Second)
		b.waitText(`.errorpage`, "Your role is viewer", 5*time.Second)
	}
	if status := b.open("/clusters"); status != 200 {
		t.Fatalf("a viewer on /clusters: %d", status)
	}
	b.waitText(`#cluster-ui-view`, "ui-view", 5*time.Second)
	if n := b.count(`a[href="/clusters/new"], a[href="/clusters/init"]`); n != 0 {
		t.Errorf("a viewer sees %d Register/Init buttons", n)
	}
	if n := b.count(`.sidenav a[href="/users"], .sidenav a[href="/audit"]`); n != 0 {
		t.Errorf("a viewer's navigation links to users or audit")
	}
	b.open("/clusters/ui-view")
	b.waitText(`#health-status`, "healthy", 30*time.Second)
	if n := b.count(`#join-tokens, a[href$="/edit"], form[action$="/delete"], form[action$="/refresh"]`); n != 0 {
		t.Errorf("a viewer sees %d admin parts on the cluster page", n)
	}
	if status := b.open("/tokens"); status != 200 {
		t.Errorf("a viewer on /tokens: %d", status)
	}
	b.forgive(403)
	b.clean("a viewer's pages")
}

// TestUserTokens_ListRevoke: a token a user made through the API shows on
// the users page (with when it was created, expires and was last used);
// revoking it there, after a confirmation naming the token and the user,
// makes it answer 401.
func TestUserTokens_ListRevoke(t *testing.T) {
	in, b := startUI(t)
	admin := in.Admin(t)
	const user, token = "ut-ops", "ut-deploy"
	op := in.UserWithRole(t, admin, user, "operator")
	bearer := op.WithToken(token)
	bearer.MustDo(http.MethodGet, "/api/v1/auth/me", nil, nil, 200)
	op.MustDo(http.MethodPost, "/api/v1/tokens", map[string]string{"name": "ut-short", "expires_in": "720h"}, nil, 201)

	b.open("/users")
	row := `[id="utok-` + user + `-` + token + `"]`
	b.waitText(row, token, 5*time.Second)
	b.waitText(row, user, 5*time.Second)
	b.waitText(row, "just now", 5*time.Second) // created, and last used
	b.waitText(`[id="utok-`+user+`-ut-short"]`, "in 29 days", 5*time.Second)
	b.waitText(`#user-`+user+` td.num`, "2", 5*time.Second)
	var cells []string
	b.eval(`Array.from(document.querySelector('`+row+`').cells).map(c => c.textContent.trim())`, &cells)
	// Columns: user, token, created, expires, last used.
	if len(cells) < 5 || cells[3] != "never" || cells[4] != "just now" {
		t.Errorf("the token's row reads %q; want it never expiring, used just now", cells)
	}
	b.screenshot("users_tokens")
	b.run("ask to revoke", chromedp.Click(row+` form button`, chromedp.ByQuery))
	b.waitText(`#confirm-text`, "Revoke token "+token+" of user "+user+"? Scripts that use it stop working at once.", 5*time.Second)
	b.run("confirm", chromedp.Click(`[data-dialog-ok]`, chromedp.ByQuery))
	b.waitText(`.flash-ok`, "Revoked token "+token+" of "+user+": it no longer authenticates.", 10*time.Second)
	if n := b.count(row); n != 0 {
		t.Errorf("the revoked token is still listed")
	}
	bearer.MustDo(http.MethodGet, "/api/v1/auth/me", nil, nil, 401)
	var list struct{ Items []struct{ Name string } }
	admin.MustDo(http.MethodGet, "/api/v1/users/"+user+"/tokens", nil, &list, 200)
	if len(list.Items) != 1 || list.Items[0].Name != "ut-short" {
		t.Errorf("the user's tokens after the revoke: %+v; want ut-short only", list.Items)
	}
	// A token that is not there: the error page, nothing else revoked.
	resp, _ := postForm(t, noRedirect(admin), in.URL+"/users/"+user+"/tokens/"+token+"/delete", url.Values{"csrf_token": {admin.CSRF}})
	if resp.StatusCode != 404 {
		t.Errorf("revoking a revoked token: %d, want 404", resp.StatusCode)
	}
	b.clean("users page tokens")
}

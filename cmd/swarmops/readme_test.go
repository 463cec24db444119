package main_test

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/testenv"
)

// readmeSection answers README's text from the heading line to the next
// heading of the same level.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README has no %q", heading)
	}
	rest := readme[i+1+len(heading):]
	level := heading[:strings.Index(heading, " ")+1]
	if j := strings.Index(rest, "\n"+level); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// shellCommand answers the first command of README text that begins with
// prefix and contains want, with its continuation lines (ending in \ or |,
// or up to the line closing a $( ), as a script.
func shellCommand(t *testing.T, text, prefix, want string) string {
	t.Helper()
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], prefix) {
			continue
		}
		cmd := []string{lines[i]}
		open := strings.Count(lines[i], "$(") > strings.Count(lines[i], ")")
		for strings.HasSuffix(cmd[len(cmd)-1], "\\") || strings.HasSuffix(cmd[len(cmd)-1], "|") || open {
			i++
			if i >= len(lines) {
				t.Fatalf("README: the command beginning %q does not end", prefix)
			}
			cmd = append(cmd, lines[i])
			if open && strings.HasSuffix(lines[i], ")") {
				open = false
			}
		}
		if script := strings.Join(cmd, "\n"); strings.Contains(script, want) {
			return script
		}
	}
	t.Fatalf("README: no command beginning %q with %q", prefix, want)
	return ""
}

// TestREADME_FirstSteps runs README's first steps against a real instance:
// the login line sets $CSRF, and the token line then creates a token with
// it. A token asked for with an Idempotency-Key is refused, as the README
// says.
func TestREADME_FirstSteps(t *testing.T) {
	testenv.Require(t, "curl", "curl")
	section := readmeSection(t, "## First steps with the API")
	loginCmd := shellCommand(t, section, "CSRF=$(curl", "/api/v1/auth/login")
	token := shellCommand(t, section, `curl -s -b jar -H "X-CSRF-Token: $CSRF"`, "/api/v1/tokens")

	p := serve(t, "SWARMOPS_DATA_DIR="+t.TempDir(), "SWARMOPS_AUTOREGISTER=false")
	var pw string
	testenv.Poll(t, 10*time.Second, "the admin password on standard error", func() error {
		m := regexp.MustCompile(`created user admin with the random password (\S+) `).FindStringSubmatch(p.stderr.String())
		if m == nil {
			return os.ErrNotExist
		}
		pw = m[1]
		return nil
	})
	addr := strings.TrimPrefix(p.url, "http://")
	script := strings.ReplaceAll(loginCmd+"\n"+`test -n "$CSRF" || { echo "CSRF is empty"; exit 1; }`+"\n"+token, "localhost:10130", addr)
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = t.TempDir()
	cmd.Env = env("PW=" + pw)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"token":"sot_`) {
		t.Fatalf("README's first steps:\n%s\n-> %v\n%s", script, err, out)
	}

	s := login(t, p.url, "admin", pw)
	req, _ := http.NewRequest(http.MethodPost, p.url+"/api/v1/tokens", strings.NewReader(`{"name":"again","expires_in":"1h"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", s.csrf)
	req.Header.Set("Idempotency-Key", "k1")
	resp, err := s.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("POST /api/v1/tokens with Idempotency-Key: %s, want 400", resp.Status)
	}
	if api := readmeSection(t, "## The API"); !strings.Contains(api, "`POST /api/v1/tokens` (the new token's text) and\n`POST .../join-tokens/rotate`") {
		t.Errorf("README's API section does not say which routes refuse Idempotency-Key")
	}
}

// TestREADME_ListFilters: README's table of list filters names every list
// route of the OpenAPI document with exactly the query parameters it takes.
func TestREADME_ListFilters(t *testing.T) {
	section := readmeSection(t, "## The API")
	i := strings.Index(section, "| list | filters it takes |")
	if i < 0 {
		t.Fatal("README's API section has no table of list filters")
	}
	readme := map[string][]string{}
	for _, row := range strings.Split(section[i:], "\n")[2:] {
		if !strings.HasPrefix(row, "|") {
			break
		}
		cells := strings.Split(row, "|")
		filters := []string{}
		if strings.TrimSpace(cells[2]) != "none" {
			for _, m := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(strings.Split(cells[2], "(")[0], -1) {
				filters = append(filters, m[1])
			}
		}
		for _, m := range regexp.MustCompile("`GET ([^`]+)`").FindAllStringSubmatch(cells[1], -1) {
			path := strings.Replace(m[1], "...", "/api/v1/clusters/{cluster}", 1)
			readme[path] = slices.Sorted(slices.Values(filters))
		}
	}

	p := serve(t, "SWARMOPS_DATA_DIR="+t.TempDir(), "SWARMOPS_AUTOREGISTER=false", "SWARMOPS_ADMIN_PASSWORD=admin-password-1")
	resp, err := http.Get(p.url + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct{ In, Name string }
			Responses  map[string]struct {
				Content map[string]struct {
					Schema struct {
						Ref string `json:"$ref"`
					}
				}
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	api := map[string][]string{}
	for path, ops := range doc.Paths {
		get, ok := ops["get"]
		ref := get.Responses["200"].Content["application/json"].Schema.Ref
		if !ok || !regexp.MustCompile(`/schemas/(List|Page)[A-Z]`).MatchString(ref) {
			continue
		}
		params := []string{}
		for _, prm := range get.Parameters {
			if prm.In == "query" {
				params = append(params, prm.Name)
			}
		}
		api[path] = slices.Sorted(slices.Values(params))
	}
	if len(api) < 10 {
		t.Fatalf("only %d list routes in the OpenAPI document: %v", len(api), api)
	}
	for path, params := range api {
		got, ok := readme[path]
		switch {
		case !ok:
			t.Errorf("README's table of list filters lacks GET %s (it takes %v)", path, params)
		case !slices.Equal(got, params):
			t.Errorf("README: GET %s takes %v; the API: %v", path, got, params)
		}
	}
	for path := range readme {
		if _, ok := api[path]; !ok {
			t.Errorf("README's table of list filters names GET %s, which is no list of the API", path)
		}
	}
}

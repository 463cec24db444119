package httpapi_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/config"
	"github.com/swarmops/swarmops/internal/testenv"
)

type registryAnswer struct {
	Name, URL, Host, Username string
	PasswordSet               bool `json:"password_set"`
}

type tagAnswer struct {
	Tag, Digest string
	Size        int64
	Created     *time.Time
	Platforms   []struct{ OS, Architecture string }
}

type tagPage struct {
	Items []tagAnswer
	Next  string
}

// TestRegistries_RegisterBrowseDeployDelete registers a registry with
// htpasswd auth, browses it, deploys a global service from it on every
// node of the shared swarm (none of which holds the image or any
// credentials), deletes a tag, and looks for the password in every
// answer, in the audit records and in the debug-level logs.
func TestRegistries_RegisterBrowseDeployDelete(t *testing.T) {
	t.Parallel()
	sw := testenv.SharedSwarm(t)
	mark := make([]byte, 10)
	_, _ = rand.Read(mark)
	password := "rg-pass-" + hex.EncodeToString(mark)
	reg := testenv.StartRegistryWith(t, testenv.RegistryOptions{User: "rg-user", Password: password, Bridge: true})
	debug := func(c *config.Config) { c.LogLevel = "debug" }
	in := apitest.Start(t, apitest.Config(t, debug))
	admin := &recorder{c: waitingClient(in.Admin(t))}
	operator := &recorder{c: waitingClient(in.UserWithRole(t, admin.c, "rg-operator", "operator"))}
	viewer := &recorder{c: in.UserWithRole(t, admin.c, "rg-viewer", "viewer")}
	register(t, admin.c, "rg", sw.Managers[0].Endpoint)

	t.Run("a wrong password is refused with the registry's words", func(t *testing.T) {
		status, text := admin.Do(http.MethodPost, "/api/v1/registries",
			map[string]any{"name": "rg", "url": reg.URL, "username": "rg-user", "password": password + "-wrong"}, nil)
		e := apitest.ParseError(t, text)
		if status != 400 || e.Error.Details["field"] != "password" || !strings.Contains(strings.ToLower(e.Error.Message), "authentication required") {
			t.Fatalf("status %d, %+v; want 400 on password with the registry's message", status, e)
		}
	})
	t.Run("an address nothing answers is refused", func(t *testing.T) {
		status, text := admin.Do(http.MethodPost, "/api/v1/registries",
			map[string]any{"name": "rg", "url": fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))}, nil)
		if e := apitest.ParseError(t, text); status != 400 || e.Error.Details["field"] != "url" {
			t.Fatalf("status %d, %+v; want 400 on url", status, e)
		}
	})
	var list struct{ Items []registryAnswer }
	viewer.MustDo(http.MethodGet, "/api/v1/registries", nil, &list, 200)
	if len(list.Items) != 0 {
		t.Fatalf("refused registrations were stored: %+v", list.Items)
	}

	// An image only the registry holds: pushed from one node, then every
	// node forgets it and the credentials.
	m := sw.Managers[0]
	repo := "team/rg-hello-" + hex.EncodeToString(mark[:4])
	ref := reg.Addr + "/" + repo
	m.Docker(t, "login", "-u", "rg-user", "-p", password, reg.Addr)
	m.Docker(t, "tag", testenv.HelloImage1, ref+":1")
	m.Docker(t, "tag", testenv.HelloImage1, ref+":same")
	m.Docker(t, "push", ref+":1")
	m.Docker(t, "push", ref+":same")
	m.Docker(t, "logout", reg.Addr)
	forget := func() {
		for _, n := range sw.Nodes() {
			for _, tag := range []string{"1", "same"} {
				_, _ = n.Client().ImageRemove(context.Background(), ref+":"+tag, image.RemoveOptions{})
			}
		}
	}
	forget()
	t.Cleanup(forget)

	t.Run("without a registration the nodes cannot pull", func(t *testing.T) {
		name := "rg-noauth-" + hex.EncodeToString(mark[:4])
		removeAfter(t, m, name)
		var ch changedWithReport
		operator.MustDo(http.MethodPost, "/api/v1/clusters/rg/services?wait=90s",
			map[string]any{"name": name, "image": ref + ":1", "replicas": 1}, &ch, 201)
		c := ch.mustBe(t, "failed")
		said := fmt.Sprint(c.Services[0].Errors)
		if !strings.Contains(said, "No such image: "+ref+":1") || !strings.Contains(said, "could not pull") {
			t.Fatalf("failed with %s; want the engine's error with what it means", said)
		}
	})
	forget()

	var created registryAnswer
	admin.MustDo(http.MethodPost, "/api/v1/registries",
		map[string]any{"name": "rg", "url": reg.URL, "username": "rg-user", "password": password}, &created, 201)
	if created.Host != reg.Addr || !created.PasswordSet || created.Username != "rg-user" {
		t.Fatalf("registered %+v; want host %s with a password set", created, reg.Addr)
	}
	wantStatus(t, admin.c, http.MethodPost, "/api/v1/registries",
		map[string]any{"name": "rg-again", "url": reg.URL, "username": "rg-user", "password": password}, 409, "already serves")
	var got registryAnswer
	viewer.MustDo(http.MethodGet, "/api/v1/registries/rg", nil, &got, 200)
	if got != created {
		t.Fatalf("GET /api/v1/registries/rg = %+v, want what registering answered: %+v", got, created)
	}

	t.Run("browse", func(t *testing.T) {
		var repos struct {
			Items []struct{ Name string }
			Next  string
		}
		viewer.MustDo(http.MethodGet, "/api/v1/registries/rg/repositories?q="+url.QueryEscape("RG-HELLO"), nil, &repos, 200)
		if len(repos.Items) != 1 || repos.Items[0].Name != repo {
			t.Fatalf("repositories matching rg-hello: %+v; want %s", repos.Items, repo)
		}
		var tags tagPage
		viewer.MustDo(http.MethodGet, "/api/v1/registries/rg/repositories/"+repo+"/tags", nil, &tags, 200)
		if len(tags.Items) != 2 || tags.Items[0].Digest == "" || tags.Items[0].Digest != tags.Items[1].Digest || tags.Items[0].Size <= 0 {
			t.Fatalf("tags %+v; want 1 and same on one digest with a size", tags.Items)
		}
		// The repository path may be escaped as one segment, too.
		viewer.MustDo(http.MethodGet, "/api/v1/registries/rg/repositories/"+url.PathEscape(repo)+"/tags", nil, &tags, 200)
		wantStatus(t, viewer.c, http.MethodGet, "/api/v1/registries/rg/repositories/team/rg-none/tags", nil, 404)
		wantStatus(t, viewer.c, http.MethodGet, "/api/v1/registries/rg-none/repositories", nil, 404, "rg-none")
	})

	t.Run("a global service pulls with the stored credentials on every node", func(t *testing.T) {
		name := "rg-svc-" + hex.EncodeToString(mark[:4])
		removeAfter(t, m, name)
		var ch changedWithReport
		operator.MustDo(http.MethodPost, "/api/v1/clusters/rg/services?wait=120s",
			map[string]any{"name": name, "image": ref + ":1", "mode": "global", "resolve_image": true}, &ch, 201)
		ch.mustBe(t, "converged")
		s := inspect(t, m, name)
		if img := s.Spec.TaskTemplate.ContainerSpec.Image; !strings.HasPrefix(img, ref+":1@sha256:") {
			t.Errorf("image %q; want it pinned to its digest", img)
		}
		tasks, err := m.Client().TaskList(context.Background(), swarm.TaskListOptions{
			Filters: filters.NewArgs(filters.Arg("service", name), filters.Arg("desired-state", "running"))})
		if err != nil {
			t.Fatal(err)
		}
		nodes := map[string]bool{}
		for _, task := range tasks {
			if task.Status.State == swarm.TaskStateRunning {
				nodes[task.NodeID] = true
			}
		}
		if len(nodes) != len(sw.Nodes()) {
			t.Fatalf("running on %d nodes, want all %d: %+v", len(nodes), len(sw.Nodes()), tasks)
		}
	})

	t.Run("an operator deletes a tag and every tag on its digest goes", func(t *testing.T) {
		wantStatus(t, viewer.c, http.MethodDelete, "/api/v1/registries/rg/repositories/"+repo+"/tags/same", nil, 403, "operator")
		var gone struct {
			Digest string
			Tags   []string
		}
		operator.MustDo(http.MethodDelete, "/api/v1/registries/rg/repositories/"+repo+"/tags/same", nil, &gone, 200)
		if gone.Digest == "" || strings.Join(gone.Tags, ",") != "1,same" {
			t.Fatalf("deleted %+v; want the digest with tags 1 and same", gone)
		}
		testenv.Poll(t, 10*time.Second, "the deleted tags to leave the list", func() error {
			var tags tagPage
			if status, text := viewer.Do(http.MethodGet, "/api/v1/registries/rg/repositories/"+repo+"/tags", nil, &tags); status != 200 {
				return fmt.Errorf("status %d: %s", status, text)
			}
			if len(tags.Items) != 0 {
				return fmt.Errorf("still listed: %+v", tags.Items)
			}
			return nil
		})
	})

	t.Run("a change is checked before it is stored", func(t *testing.T) {
		wantBadField(t, admin.c, http.MethodPatch, "/api/v1/registries/rg", map[string]any{"password": password + "-new"}, "password")
		wantBadField(t, admin.c, http.MethodPatch, "/api/v1/registries/rg", map[string]any{"name": "rg-renamed"}, "name")
		// The stored credentials still work.
		viewer.MustDo(http.MethodGet, "/api/v1/registries/rg/repositories", nil, nil, 200)
		var changed registryAnswer
		admin.MustDo(http.MethodPatch, "/api/v1/registries/rg", map[string]any{"username": "rg-user", "password": password}, &changed, 200)
		if !changed.PasswordSet || changed.URL != reg.URL {
			t.Fatalf("changed to %+v", changed)
		}
	})

	admin.MustDo(http.MethodDelete, "/api/v1/registries/rg", nil, nil, 204)
	wantStatus(t, viewer.c, http.MethodGet, "/api/v1/registries/rg", nil, 404)
	for action, target := range map[string]string{"registry.create": "rg", "registry.update": "rg", "registry.tag.delete": "rg/" + repo + ":same", "registry.delete": "rg"} {
		if !auditHas(t, admin.c, "", action, target) {
			t.Errorf("no audit record of %s", action)
		}
	}

	var audit any
	admin.MustDo(http.MethodGet, "/api/v1/audit?limit=1000", nil, &audit, 200)
	encoded := base64.StdEncoding.EncodeToString([]byte("rg-user:" + password))
	for _, r := range []*recorder{admin, operator, viewer} {
		for _, a := range r.answers {
			if strings.Contains(a, password) || strings.Contains(a, encoded) {
				t.Fatalf("an answer carries the password: %s", a)
			}
		}
	}
	if logs := in.Logs.String(); strings.Contains(logs, password) || strings.Contains(logs, encoded) {
		t.Fatal("the logs carry the password")
	}
}

// TestRegistries_PasswordNeedsTheKeyInRedisMode: without
// SWARMOPS_SECRET_KEY a password is refused before the registry is asked.
func TestRegistries_PasswordNeedsTheKeyInRedisMode(t *testing.T) {
	t.Parallel()
	in := apitest.Start(t, apitest.Config(t, apitest.WithRedis(testenv.Redis(t).URL(0), fmt.Sprintf("rgkey-%d:", time.Now().UnixNano()))))
	admin := in.Admin(t)
	status, text := admin.Do(http.MethodPost, "/api/v1/registries", map[string]any{
		"name": "rk", "url": fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t)), "username": "u", "password": "p"}, nil)
	if e := apitest.ParseError(t, text); status != 400 || e.Error.Details["field"] != "SWARMOPS_SECRET_KEY" {
		t.Fatalf("status %d, %+v; want 400 naming SWARMOPS_SECRET_KEY", status, e)
	}
	var list struct{ Items []registryAnswer }
	admin.MustDo(http.MethodGet, "/api/v1/registries", nil, &list, 200)
	if len(list.Items) != 0 {
		t.Fatalf("stored: %+v", list.Items)
	}
}

package server_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/testenv"
)

// TestCredentialChangesHoldOnEveryInstance: authenticating a request
// reads the session with its user in one round trip to Redis, and
// decodes what it read through a memo of record texts; neither may let a
// credential outlive its change. A change made through instance A is
// refused by instance B at the very next request, with no retry, however
// often B has just answered that credential: logout, a new password, a
// lower role, the user removed, an API token revoked, a user's tokens and
// sessions revoked.
func TestCredentialChangesHoldOnEveryInstance(t *testing.T) {
	r := testenv.Redis(t)
	prefix := fmt.Sprintf("creds-%d:", time.Now().UnixNano())
	a := apitest.Start(t, apitest.Config(t, apitest.WithRedis(r.URL(0), prefix)))
	b := apitest.Start(t, apitest.Config(t, apitest.WithRedis(r.URL(0), prefix)))
	admin := a.Admin(t)

	// user makes a user of role on A and answers its session, logged in on
	// A, as a client of A and as a client of B.
	user := func(name, role string) (onA, onB *apitest.Client) {
		t.Helper()
		admin.MustDo(http.MethodPost, "/api/v1/users", map[string]string{"username": name, "password": "password-" + name, "role": role}, nil, 201)
		onA = a.Login(t, name, "password-"+name)
		// Cookies are the host's, whatever the port: the same jar on B.
		onB = (&apitest.Client{Base: b.URL, HTTP: onA.HTTP, CSRF: onA.CSRF}).For(t)
		return onA, onB
	}
	// warm asks B for path a few times, all answered.
	warm := func(c *apitest.Client, path string) {
		t.Helper()
		for range 3 {
			c.MustDo(http.MethodGet, path, nil, nil, 200)
		}
	}

	t.Run("logout", func(t *testing.T) {
		onA, onB := user("cc-logout", "viewer")
		warm(onB, "/api/v1/clusters")
		onA.MustDo(http.MethodPost, "/api/v1/auth/logout", nil, nil, 204)
		onB.MustDo(http.MethodGet, "/api/v1/clusters", nil, nil, 401)
	})
	t.Run("new password", func(t *testing.T) {
		_, onB := user("cc-password", "viewer")
		warm(onB, "/api/v1/clusters")
		admin.MustDo(http.MethodPatch, "/api/v1/users/cc-password", map[string]string{"password": "another-password"}, nil, 200)
		onB.MustDo(http.MethodGet, "/api/v1/clusters", nil, nil, 401)
	})
	t.Run("lower role", func(t *testing.T) {
		_, onB := user("cc-role", "admin")
		warm(onB, "/api/v1/users")
		admin.MustDo(http.MethodPatch, "/api/v1/users/cc-role", map[string]string{"role": "viewer"}, nil, 200)
		onB.MustDo(http.MethodGet, "/api/v1/users", nil, nil, 403)
		onB.MustDo(http.MethodGet, "/api/v1/clusters", nil, nil, 200)
	})
	t.Run("user removed", func(t *testing.T) {
		onA, onB := user("cc-removed", "viewer")
		token := onA.WithToken("cc-removed-token")
		tokenOnB := (&apitest.Client{Base: b.URL, HTTP: &http.Client{Timeout: time.Minute}, Token: token.Token}).For(t)
		warm(onB, "/api/v1/clusters")
		warm(tokenOnB, "/api/v1/clusters")
		admin.MustDo(http.MethodDelete, "/api/v1/users/cc-removed", nil, nil, 204)
		onB.MustDo(http.MethodGet, "/api/v1/clusters", nil, nil, 401)
		tokenOnB.MustDo(http.MethodGet, "/api/v1/clusters", nil, nil, 401)
	})
	t.Run("token revoked", func(t *testing.T) {
		onA, _ := user("cc-token", "viewer")
		token := onA.WithToken("cc-token-1")
		tokenOnB := (&apitest.Client{Base: b.URL, HTTP: &http.Client{Timeout: time.Minute}, Token: token.Token}).For(t)
		warm(tokenOnB, "/api/v1/clusters")
		onA.MustDo(http.MethodDelete, "/api/v1/tokens/cc-token-1", nil, nil, 204)
		tokenOnB.MustDo(http.MethodGet, "/api/v1/clusters", nil, nil, 401)
	})
	t.Run("tokens and sessions revoked", func(t *testing.T) {
		onA, onB := user("cc-revoke", "operator")
		token := onA.WithToken("cc-revoke-1")
		tokenOnB := (&apitest.Client{Base: b.URL, HTTP: &http.Client{Timeout: time.Minute}, Token: token.Token}).For(t)
		warm(onB, "/api/v1/clusters")
		warm(tokenOnB, "/api/v1/clusters")
		admin.MustDo(http.MethodPatch, "/api/v1/users/cc-revoke", map[string]any{"revoke_tokens": true}, nil, 200)
		onB.MustDo(http.MethodGet, "/api/v1/clusters", nil, nil, 401)
		tokenOnB.MustDo(http.MethodGet, "/api/v1/clusters", nil, nil, 401)
	})
}

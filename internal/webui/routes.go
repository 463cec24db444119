package webui

import (
	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/httpauth"
	"github.com/swarmops/swarmops/internal/httpx"
)

// page is one route of the web UI: how it is reached, who may use it, and
// which API routes it does the work of (so a test can find API routes
// without a UI counterpart).
type page struct {
	Method  string
	Path    string
	Perm    *auth.Permission // nil: no login needed
	Handler fiber.Handler
	API     []string // "POST /api/v1/clusters/:cluster/services"
}

func perm(p auth.Permission) *auth.Permission { return &p }

// routes is every page of the UI.
func (u *UI) routes() []page {
	const (
		get, post = fiber.MethodGet, fiber.MethodPost
		cl        = "/c/:cluster"
		api       = "/api/v1/clusters/:cluster"
	)
	return []page{
		// Session.
		{get, "/login", nil, u.loginForm, nil},
		{post, "/login", nil, u.login, []string{"POST /api/v1/auth/login"}},
		{get, "/logout", perm(auth.Authenticated), u.logoutForm, nil},
		{post, "/logout", perm(auth.Authenticated), u.logout, []string{"POST /api/v1/auth/logout"}},

		// Fleet and cluster context.
		{get, "/", perm(auth.ClusterRead), u.fleet, nil},
		{get, "/switch", perm(auth.ClusterRead), u.switchCluster, nil},
		{get, cl, perm(auth.ClusterRead), u.clusterHome, nil},

		// Clusters.
		{get, "/clusters", perm(auth.ClusterRead), u.clusterList, nil},
		{get, "/clusters/new", perm(auth.ClusterManage), u.clusterNew, nil},
		{post, "/clusters", perm(auth.ClusterManage), u.clusterCreate, []string{"POST /api/v1/clusters"}},
		{get, "/clusters/init", perm(auth.ClusterManage), u.clusterInitForm, nil},
		{post, "/clusters/init", perm(auth.ClusterManage), u.clusterInit, []string{"POST /api/v1/clusters/init"}},
		{get, "/clusters/:cluster", perm(auth.ClusterRead), u.clusterDetail, []string{"GET " + api + "/join-tokens"}},
		{get, "/clusters/:cluster/edit", perm(auth.ClusterManage), u.clusterEdit, nil},
		{post, "/clusters/:cluster", perm(auth.ClusterManage), u.clusterUpdate, []string{"PATCH " + api}},
		{post, "/clusters/:cluster/refresh", perm(auth.ClusterManage), u.clusterRefresh, []string{"POST " + api + "/refresh"}},
		{post, "/clusters/:cluster/delete", perm(auth.ClusterManage), u.clusterDelete, []string{"DELETE " + api}},
		{post, "/clusters/:cluster/join-tokens/rotate", perm(auth.JoinTokens), u.clusterRotateToken, []string{"POST " + api + "/join-tokens/rotate"}},

		// Services.
		{get, cl + "/services", perm(auth.ServiceRead), u.serviceList, nil},
		{get, cl + "/services/new", perm(auth.ServiceWrite), u.serviceNew, nil},
		{post, cl + "/services", perm(auth.ServiceWrite), u.serviceCreate, []string{"POST " + api + "/services"}},
		{get, cl + "/services/:id", perm(auth.ServiceRead), u.serviceDetail, []string{"GET " + api + "/services/:id/logs", "GET " + api + "/services/:id/nginx"}},
		{get, cl + "/services/:id/edit", perm(auth.ServiceWrite), u.serviceEdit, nil},
		{post, cl + "/services/:id", perm(auth.ServiceWrite), u.serviceUpdate, []string{"PATCH " + api + "/services/:id"}},
		{post, cl + "/services/:id/scale", perm(auth.ServiceWrite), u.serviceScale, []string{"POST " + api + "/services/:id/scale"}},
		{post, cl + "/services/:id/image", perm(auth.ServiceWrite), u.serviceImage, []string{"POST " + api + "/services/:id/image"}},
		{post, cl + "/services/:id/rollback", perm(auth.ServiceWrite), u.serviceRollback, []string{"POST " + api + "/services/:id/rollback"}},
		{post, cl + "/services/:id/redeploy", perm(auth.ServiceWrite), u.serviceRedeploy, []string{"POST " + api + "/services/:id/redeploy"}},
		{post, cl + "/services/:id/delete", perm(auth.ServiceWrite), u.serviceDelete, []string{"DELETE " + api + "/services/:id"}},

		// Stacks.
		{get, cl + "/stacks", perm(auth.StackRead), u.stackList, nil},
		{get, cl + "/stacks/new", perm(auth.StackWrite), u.stackNew, nil},
		{post, cl + "/stacks", perm(auth.StackWrite), u.stackDeploy, []string{"POST " + api + "/stacks"}},
		{get, cl + "/stacks/:name", perm(auth.StackRead), u.stackDetail, []string{"GET " + api + "/stacks/:name/logs"}},
		{get, cl + "/stacks/:name/diff", perm(auth.StackRead), u.stackDiff, nil},
		{post, cl + "/stacks/:name/rollback", perm(auth.StackWrite), u.stackRollback, []string{"POST " + api + "/stacks/:name/rollback"}},
		{post, cl + "/stacks/:name/delete", perm(auth.StackWrite), u.stackRemove, []string{"DELETE " + api + "/stacks/:name"}},

		// Nodes.
		{get, cl + "/nodes", perm(auth.NodeRead), u.nodeList, nil},
		{get, cl + "/nodes/join", perm(auth.NodeManage), u.nodeJoinForm, nil},
		{post, cl + "/nodes/join", perm(auth.NodeManage), u.nodeJoin, []string{"POST " + api + "/nodes/join"}},
		{post, cl + "/nodes/leave", perm(auth.NodeManage), u.nodeLeave, []string{"POST " + api + "/nodes/leave"}},
		{get, cl + "/nodes/:id", perm(auth.NodeRead), u.nodeDetail, nil},
		{post, cl + "/nodes/:id/availability", perm(auth.NodeUpdate), u.nodeAvailability, []string{"PATCH " + api + "/nodes/:id"}},
		{post, cl + "/nodes/:id/labels", perm(auth.NodeUpdate), u.nodeLabels, []string{"PATCH " + api + "/nodes/:id"}},
		{post, cl + "/nodes/:id/role", perm(auth.NodeManage), u.nodeRole, []string{"PATCH " + api + "/nodes/:id"}},
		{post, cl + "/nodes/:id/delete", perm(auth.NodeManage), u.nodeDelete, []string{"DELETE " + api + "/nodes/:id"}},

		// Tasks, networks, secrets, configs.
		{get, cl + "/tasks", perm(auth.TaskRead), u.taskList, nil},
		{get, cl + "/networks", perm(auth.NetworkRead), u.networkList, nil},
		{post, cl + "/networks", perm(auth.NetworkWrite), u.networkCreate, []string{"POST " + api + "/networks"}},
		{post, cl + "/networks/:id/delete", perm(auth.NetworkWrite), u.networkDelete, []string{"DELETE " + api + "/networks/:id"}},
		{get, cl + "/secrets", perm(auth.SecretRead), u.secretList, nil},
		{post, cl + "/secrets", perm(auth.SecretWrite), u.secretCreate, []string{"POST " + api + "/secrets"}},
		{post, cl + "/secrets/:id/delete", perm(auth.SecretWrite), u.secretDelete, []string{"DELETE " + api + "/secrets/:id"}},
		{get, cl + "/configs", perm(auth.ConfigRead), u.configList, nil},
		{post, cl + "/configs", perm(auth.ConfigWrite), u.configCreate, []string{"POST " + api + "/configs"}},
		{get, cl + "/configs/:id", perm(auth.ConfigRead), u.configDetail, nil},
		{post, cl + "/configs/:id/delete", perm(auth.ConfigWrite), u.configDelete, []string{"DELETE " + api + "/configs/:id"}},

		// Registries: admins register, operators delete tags, viewers browse.
		{get, "/registries", perm(auth.RegistryRead), u.registryList, nil},
		{get, "/registries/new", perm(auth.RegistryManage), u.registryNew, nil},
		{post, "/registries", perm(auth.RegistryManage), u.registryCreate, []string{"POST /api/v1/registries"}},
		{get, "/registries/:name", perm(auth.RegistryRead), u.registryDetail, nil},
		{get, "/registries/:name/edit", perm(auth.RegistryManage), u.registryEdit, nil},
		{post, "/registries/:name", perm(auth.RegistryManage), u.registryUpdate, []string{"PATCH /api/v1/registries/:name"}},
		{post, "/registries/:name/delete", perm(auth.RegistryManage), u.registryDelete, []string{"DELETE /api/v1/registries/:name"}},
		{get, "/registries/:name/tags", perm(auth.RegistryRead), u.registryTags, nil},
		{post, "/registries/:name/tags/delete", perm(auth.RegistryWrite), u.registryTagDelete, []string{"DELETE /api/v1/registries/:name/repositories/+/tags/:tag"}},

		// Search across every cluster.
		{get, "/search", perm(auth.ClusterRead), u.search, nil},

		// Audit, users, tokens.
		{get, "/audit", perm(auth.AuditRead), u.auditList, nil},
		{get, "/users", perm(auth.UserManage), u.userList, nil},
		{post, "/users", perm(auth.UserManage), u.userCreate, []string{"POST /api/v1/users"}},
		{post, "/users/:username", perm(auth.UserManage), u.userUpdate, []string{"PATCH /api/v1/users/:username"}},
		{post, "/users/:username/delete", perm(auth.UserManage), u.userDelete, []string{"DELETE /api/v1/users/:username"}},
		{post, "/users/:username/tokens/:name/delete", perm(auth.UserManage), u.userTokenDelete, []string{"DELETE /api/v1/users/:username/tokens/:name"}},
		{get, "/tokens", perm(auth.OwnTokens), u.tokenList, nil},
		{post, "/tokens", perm(auth.OwnTokens), u.tokenCreate, []string{"POST /api/v1/tokens"}},
		{post, "/tokens/:name/delete", perm(auth.OwnTokens), u.tokenDelete, []string{"DELETE /api/v1/tokens/:name"}},
	}
}

// PageInfo describes a page for tests.
type PageInfo struct {
	Method, Path string
	Perm         *auth.Permission
	API          []string
}

// Pages lists every page of the UI.
func (u *UI) Pages() []PageInfo {
	rs := u.routes()
	out := make([]PageInfo, len(rs))
	for i, r := range rs {
		out[i] = PageInfo{Method: r.Method, Path: r.Path, Perm: r.Perm, API: r.API}
	}
	return out
}

// Register adds the static files and every page to app. Call it after the
// API's routes, so /api/ keeps its JSON answers.
func (u *UI) Register(app *fiber.App) {
	app.Get("/static/:hash/*", u.assets.serve)
	for _, r := range u.routes() {
		handlers := []fiber.Handler{secureHeaders, u.catch, clusterParam}
		if r.Perm != nil {
			// A page starts by listing the clusters (base): with the session.
			handlers = append(handlers, httpauth.ReadClustersAhead, u.guard.Authenticate, u.guard.RequirePerm(*r.Perm))
		}
		handlers = append(handlers, r.Handler)
		app.Add(r.Method, r.Path, handlers...)
	}
	// Anything else is a page that does not exist.
	app.Use(secureHeaders, u.catch, func(c *fiber.Ctx) error {
		return fiber.NewError(fiber.StatusNotFound, "There is no page at "+c.Path()+".")
	})
}

// clusterParam records the page's cluster for the access log.
func clusterParam(c *fiber.Ctx) error {
	if name := c.Params("cluster"); name != "" {
		httpx.SetCluster(c, name)
	}
	return c.Next()
}

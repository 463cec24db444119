package httpapi

import (
	"github.com/gofiber/fiber/v2"

	"github.com/swarmops/swarmops/internal/auth"
)

// route is one entry of the API: how it is reached, who may call it, and
// what the OpenAPI document says of it.
type route struct {
	Method  string
	Path    string           // fiber syntax: /clusters/:cluster
	Perm    *auth.Permission // nil: no authentication
	Handler fiber.Handler
	Summary string
	Query   []string // documented query parameters
	Body    any      // request body type, nil when none
	Answer  any      // success body type; nil: none; text: a string
	Status  int      // success status; 200 when 0
}

func perm(p auth.Permission) *auth.Permission { return &p }

// text marks a route answering text rather than JSON: its value names the
// content types the answer may have.
type text string

const (
	plain      text = "text/plain"
	sse        text = "text/event-stream"
	plainOrSSE text = "text/plain text/event-stream" // SSE when Accept asks for it
	promText   text = "text/plain"                   // the Prometheus text format, version 0.0.4
)

// routes is every route of the API.
func (a *API) routes() []route {
	const (
		get, post, patch, del = fiber.MethodGet, fiber.MethodPost, fiber.MethodPatch, fiber.MethodDelete
		cl                    = "/api/v1/clusters/:cluster"
		rg                    = "/api/v1/registries/:name"
	)
	return []route{
		// Health and meta.
		{get, "/healthz", nil, a.healthz, "Liveness: the process serves", nil, nil, statusDTO{}, 0},
		{get, "/readyz", nil, a.readyz, "Readiness: the store answers and the instance is not draining", nil, nil, statusDTO{}, 0},
		{get, "/metrics", nil, a.metrics, "Prometheus metrics", nil, nil, promText, 0},
		{get, "/api/v1/openapi.json", nil, a.openapi, "This document", nil, nil, map[string]any{}, 0},
		{get, "/api/v1/version", nil, a.version, "Build and store of this instance", nil, nil, versionDTO{}, 0},

		// Auth, tokens, users.
		{post, "/api/v1/auth/login", nil, a.login, "Log in; sets the session cookie", nil, loginReq{}, loginDTO{}, 0},
		{post, "/api/v1/auth/logout", perm(auth.Authenticated), a.logout, "End this session on every instance", nil, nil, nil, 204},
		{get, "/api/v1/auth/me", perm(auth.Authenticated), a.me, "The current user", nil, nil, meDTO{}, 0},
		{get, "/api/v1/auth/providers", nil, a.providers, "Which sign-in methods are on", nil, nil, providersDTO{}, 0},
		{get, "/api/v1/auth/oidc/login", nil, a.oidcLogin, "Start an OpenID Connect sign-in: redirects to the provider, then back to next (a local path)", []string{"next"}, nil, nil, 302},
		{get, "/api/v1/auth/oidc/callback", nil, a.oidcCallback, "Complete an OpenID Connect sign-in on any instance: sets the session cookie and redirects to next", []string{"state", "code", "error", "error_description"}, nil, nil, 303},
		{get, "/api/v1/tokens", perm(auth.OwnTokens), a.listTokens, "Own API tokens", []string{"limit", "cursor"}, nil, list[tokenDTO]{}, 0},
		{post, "/api/v1/tokens", perm(auth.OwnTokens), a.createToken, "Create an API token; its text is answered once", nil, tokenReq{}, newTokenDTO{}, 201},
		{del, "/api/v1/tokens/:name", perm(auth.OwnTokens), a.deleteToken, "Revoke an own API token", nil, nil, nil, 204},
		{get, "/api/v1/users", perm(auth.UserManage), a.listUsers, "Users", []string{"limit", "cursor"}, nil, list[userDTO]{}, 0},
		{post, "/api/v1/users", perm(auth.UserManage), a.createUser, "Create a user", nil, userReq{}, userDTO{}, 201},
		{patch, "/api/v1/users/:username", perm(auth.UserManage), a.updateUser, "Change a user's role or password (a new password ends their sessions), or revoke their tokens and sessions (revoke_tokens)", nil, userPatch{}, userDTO{}, 0},
		{del, "/api/v1/users/:username", perm(auth.UserManage), a.deleteUser, "Remove a user with their sessions and tokens", nil, nil, nil, 204},
		{get, "/api/v1/users/:username/tokens", perm(auth.UserManage), a.listUserTokens, "A user's API tokens (never their texts)", []string{"limit", "cursor"}, nil, list[tokenDTO]{}, 0},
		{del, "/api/v1/users/:username/tokens/:name", perm(auth.UserManage), a.deleteUserToken, "Revoke one of a user's API tokens", nil, nil, nil, 204},

		// Clusters.
		{get, "/api/v1/clusters", perm(auth.ClusterRead), a.listClusters, "Registered clusters", []string{"health", "q", "label", "limit", "cursor"}, nil, list[clusterDTO]{}, 0},
		{post, "/api/v1/clusters", perm(auth.ClusterManage), a.createCluster, "Register a swarm by a manager's endpoint", nil, clusterReq{}, clusterDTO{}, 201},
		{post, "/api/v1/clusters/init", perm(auth.ClusterManage), a.initCluster, "Run swarm init on an engine and register the new swarm", nil, initReq{}, clusterDTO{}, 201},
		{get, cl, perm(auth.ClusterRead), a.getCluster, "A cluster with its health", nil, nil, clusterDTO{}, 0},
		{patch, cl, perm(auth.ClusterManage), a.updateCluster, "Change endpoints, TLS, labels or the default mark", nil, clusterPatch{}, clusterDTO{}, 0},
		{del, cl, perm(auth.ClusterManage), a.deleteCluster, "Forget a cluster (the swarm is untouched)", nil, nil, nil, 204},
		{post, cl + "/refresh", perm(auth.ClusterManage), a.refreshCluster, "Re-discover the swarm's managers", nil, nil, clusterDTO{}, 0},
		{get, cl + "/health", perm(auth.ClusterRead), a.clusterHealth, "Probe the cluster now", nil, nil, healthDTO{}, 0},
		{get, cl + "/join-tokens", perm(auth.JoinTokens), a.joinTokens, "Join tokens and a manager address", nil, nil, joinTokensDTO{}, 0},
		{post, cl + "/join-tokens/rotate", perm(auth.JoinTokens), a.rotateJoinToken, "Replace the worker or manager join token", nil, rotateReq{}, joinTokensDTO{}, 0},

		// Services.
		{get, cl + "/services", perm(auth.ServiceRead), a.listServices, "Services with task counts", []string{"stack", "q", "label", "limit", "cursor"}, nil, list[serviceSummaryDTO]{}, 0},
		{post, cl + "/services", perm(auth.ServiceWrite), a.createService, "Create a service from the service form; wait (body or query, up to 5m) answers with its convergence", []string{"wait"}, serviceCreate{}, changedDTO{}, 201},
		{get, cl + "/services/:id", perm(auth.ServiceRead), a.getService, "A service: the engine's object, its summary, the form that reproduces it and its convergence", nil, nil, serviceDetailDTO{}, 0},
		{patch, cl + "/services/:id", perm(auth.ServiceWrite), a.updateService, "Change the fields given; the rest of the spec is kept (version: 409 when stale); wait answers with its convergence", []string{"wait"}, servicePatch{}, changedDTO{}, 0},
		{post, cl + "/services/:id/scale", perm(auth.ServiceWrite), a.scaleService, "Set the replica count; wait answers with its convergence", []string{"wait"}, scaleReq{}, changedDTO{}, 0},
		{post, cl + "/services/:id/image", perm(auth.ServiceWrite), a.setServiceImage, "Rolling upgrade to an image or a tag; wait answers with its convergence", []string{"wait"}, imageReq{}, changedDTO{}, 0},
		{post, cl + "/services/:id/rollback", perm(auth.ServiceWrite), a.rollbackService, `Back to the previous spec; wait (query, or an optional body {"wait":"90s"}) answers with its convergence`, []string{"wait"}, nil, changedDTO{}, 0},
		{post, cl + "/services/:id/redeploy", perm(auth.ServiceWrite), a.redeployService, `Replace every task with the same spec; wait (query, or an optional body {"wait":"90s"}) answers with its convergence`, []string{"wait"}, nil, changedDTO{}, 0},
		{del, cl + "/services/:id", perm(auth.ServiceWrite), a.deleteService, "Remove a service", nil, nil, nil, 204},
		{get, cl + "/services/:id/tasks", perm(auth.TaskRead), a.serviceTasks, "The service's tasks, like /tasks?service={id}", []string{"node", "state", "limit", "cursor"}, nil, list[taskDTO]{}, 0},
		{get, cl + "/services/:id/logs", perm(auth.ServiceRead), a.serviceLogs, "The service's merged task logs; text/event-stream when asked for", []string{"tail", "since", "timestamps", "follow"}, nil, plainOrSSE, 0},
		{get, cl + "/services/:id/nginx", perm(auth.ServiceRead), a.serviceNginx, "nginx upstream and server block for the running tasks' published ports", []string{"server_name", "listen"}, nil, plain, 0},

		// Stacks: services, networks, secrets and configs carrying the
		// com.docker.stack.namespace label, as docker stack deploy makes them.
		{get, cl + "/stacks", perm(auth.StackRead), a.listStacks, "Stacks with their task counts (deployed by SwarmOps or the docker CLI)", []string{"limit", "cursor"}, nil, list[stackSummaryDTO]{}, 0},
		{post, cl + "/stacks", perm(auth.StackWrite), a.deployStack, "Deploy or update a stack from a compose file, as docker stack deploy -c does; wait reports convergence", []string{"wait"}, stackDeployReq{}, stackDeployedDTO{}, 0},
		{get, cl + "/stacks/:name", perm(auth.StackRead), a.getStack, "A stack: services, tasks, networks, secrets, configs and convergence", nil, nil, stackDetailDTO{}, 0},
		{del, cl + "/stacks/:name", perm(auth.StackWrite), a.removeStack, "Remove a stack as docker stack rm does; its history stays", nil, nil, stackRemovedDTO{}, 0},
		{get, cl + "/stacks/:name/revisions", perm(auth.StackRead), a.stackRevisions, "The stack's deploys through SwarmOps, newest first", []string{"limit", "cursor"}, nil, list[stackRevisionDTO]{}, 0},
		{get, cl + "/stacks/:name/revisions/:n", perm(auth.StackRead), a.stackRevision, "One deploy: compose file, env and files (values for operators; secret files never)", nil, nil, stackRevisionDTO{}, 0},
		{get, cl + "/stacks/:name/revisions/:n/diff", perm(auth.StackRead), a.stackDiff, "Unified diff of two revisions' compose files", []string{"to"}, nil, plain, 0},
		{post, cl + "/stacks/:name/rollback", perm(auth.StackWrite), a.rollbackStack, "Redeploy a revision (pruning services added since), stored as a new revision", []string{"wait"}, stackRollbackReq{}, stackDeployedDTO{}, 0},
		{get, cl + "/stacks/:name/logs", perm(auth.StackRead), a.stackLogs, "Every service's logs merged by time, lines tagged service.slot@node", []string{"tail", "since", "timestamps", "follow"}, nil, plainOrSSE, 0},

		// Events.
		{get, cl + "/events", perm(auth.EventRead), a.events, "Server-sent events of the cluster's services, nodes, tasks, networks, secrets and configs", nil, nil, sse, 0},

		// Nodes.
		{get, cl + "/nodes", perm(auth.NodeRead), a.listNodes, "Nodes with their running task counts", []string{"q", "label", "limit", "cursor"}, nil, list[nodeDTO]{}, 0},
		{post, cl + "/nodes/join", perm(auth.NodeManage), a.joinNode, "Tell an engine to join this swarm; answers the node once listed", nil, nodeJoinReq{}, nodeDTO{}, 0},
		{post, cl + "/nodes/leave", perm(auth.NodeManage), a.leaveNode, "Tell an engine to leave this swarm (remove: also drop it from the node list)", nil, nodeLeaveReq{}, nodeLeftDTO{}, 0},
		{get, cl + "/nodes/:id", perm(auth.NodeRead), a.getNode, "A node: the engine's object and its summary", nil, nil, nodeDetailDTO{}, 0},
		{patch, cl + "/nodes/:id", perm(auth.NodeUpdate), a.updateNode, "Change availability or labels (operator) or role (admin)", nil, nodePatch{}, nodeDTO{}, 0},
		{del, cl + "/nodes/:id", perm(auth.NodeManage), a.removeNode, "Remove a node from the node list (demote a manager first)", []string{"force"}, nil, nil, 204},

		// Tasks.
		{get, cl + "/tasks", perm(auth.TaskRead), a.listTasks, "Tasks, named by service and node", []string{"service", "node", "state", "limit", "cursor"}, nil, list[taskDTO]{}, 0},

		// Networks.
		{get, cl + "/networks", perm(auth.NetworkRead), a.listNetworks, "Swarm-scoped networks", []string{"q", "label", "limit", "cursor"}, nil, list[networkDTO]{}, 0},
		{post, cl + "/networks", perm(auth.NetworkWrite), a.createNetwork, "Create an overlay network", nil, networkCreateReq{}, networkDTO{}, 201},
		{get, cl + "/networks/:id", perm(auth.NetworkRead), a.getNetwork, "A network: the engine's object and its summary", nil, nil, networkDetailDTO{}, 0},
		{del, cl + "/networks/:id", perm(auth.NetworkWrite), a.removeNetwork, "Remove a network no service uses", nil, nil, nil, 204},

		// Secrets.
		{get, cl + "/secrets", perm(auth.SecretRead), a.listSecrets, "Secrets (metadata only)", []string{"q", "label", "limit", "cursor"}, nil, list[secretDTO]{}, 0},
		{post, cl + "/secrets", perm(auth.SecretWrite), a.createSecret, "Create a secret from data or data_base64; the value is never answered", nil, secretCreateReq{}, secretDTO{}, 201},
		{get, cl + "/secrets/:id", perm(auth.SecretRead), a.getSecret, "A secret's metadata and the engine's object (without data)", nil, nil, secretDetailDTO{}, 0},
		{del, cl + "/secrets/:id", perm(auth.SecretWrite), a.removeSecret, "Remove a secret no service uses", nil, nil, nil, 204},

		// Configs.
		{get, cl + "/configs", perm(auth.ConfigRead), a.listConfigs, "Configs", []string{"q", "label", "limit", "cursor"}, nil, list[configDTO]{}, 0},
		{post, cl + "/configs", perm(auth.ConfigWrite), a.createConfig, "Create a config from data (text) or data_base64", nil, configCreateReq{}, configDTO{}, 201},
		{get, cl + "/configs/:id", perm(auth.ConfigRead), a.getConfig, "A config with its data and the engine's object", nil, nil, configDetailDTO{}, 0},
		{del, cl + "/configs/:id", perm(auth.ConfigWrite), a.removeConfig, "Remove a config no service uses", nil, nil, nil, 204},

		// Registries: private image registries, their repositories and tags.
		{get, "/api/v1/registries", perm(auth.RegistryRead), a.listRegistries, "Registered private registries (never their passwords)", []string{"limit", "cursor"}, nil, list[registryDTO]{}, 0},
		{post, "/api/v1/registries", perm(auth.RegistryManage), a.createRegistry, "Register a registry once it answers /v2/ with the credentials; the password is stored encrypted", nil, registryReq{}, registryDTO{}, 201},
		{get, rg, perm(auth.RegistryRead), a.getRegistry, "A registration (never its password)", nil, nil, registryDTO{}, 0},
		{patch, rg, perm(auth.RegistryManage), a.updateRegistry, "Change a registration's address, credentials or TLS; the registry is checked again", nil, registryReq{}, registryDTO{}, 0},
		{del, rg, perm(auth.RegistryManage), a.deleteRegistry, "Forget a registry (its images are untouched)", nil, nil, nil, 204},
		{get, rg + "/repositories", perm(auth.RegistryRead), a.listRepositories, "The registry's repositories a page at a time; q filters by name; next is the following page's last", []string{"q", "last", "n"}, nil, page[repositoryDTO]{}, 0},
		{get, rg + "/repositories/+/tags", perm(auth.RegistryRead), a.listTags, "A repository's tags with digest, size, created time and platforms, a page at a time", []string{"last", "n"}, nil, page[tagDTO]{}, 0},
		{del, rg + "/repositories/+/tags/:tag", perm(auth.RegistryWrite), a.deleteTag, "Delete the manifest a tag points at; every tag on the same digest goes with it and is listed", nil, nil, tagsDeletedDTO{}, 0},

		// Audit.
		{get, "/api/v1/audit", perm(auth.AuditRead), a.listAudit, "Audit records, newest first", []string{"cluster", "user", "action", "since", "limit"}, nil, list[auditDTO]{}, 0},
	}
}

// Register adds every route to app.
func (a *API) Register(app *fiber.App) {
	for _, r := range a.routes() {
		handlers := []fiber.Handler{clusterParam}
		if clustersFirst[r.Method+" "+r.Path] {
			handlers = append(handlers, readClustersAhead)
		}
		if r.Perm != nil {
			handlers = append(handlers, a.guard.Authenticate, a.guard.RequirePerm(*r.Perm), a.idempotent)
		}
		handlers = append(handlers, r.Handler)
		app.Add(r.Method, r.Path, handlers...)
	}
	app.Use("/api/", func(c *fiber.Ctx) error {
		return fiber.NewError(fiber.StatusNotFound, "no route "+c.Method()+" "+c.Path()+"; see /api/v1/openapi.json")
	})
}

// RouteInfo describes a route for tests and documentation.
type RouteInfo struct {
	Method, Path, Summary string
	Perm                  *auth.Permission
}

// Routes lists every route of the API.
func (a *API) Routes() []RouteInfo {
	rs := a.routes()
	out := make([]RouteInfo, len(rs))
	for i, r := range rs {
		out[i] = RouteInfo{Method: r.Method, Path: r.Path, Summary: r.Summary, Perm: r.Perm}
	}
	return out
}

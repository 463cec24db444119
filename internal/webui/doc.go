// Package webui serves the web UI: server-rendered pages over the same
// domain calls as the REST API, so every action has the same roles, locks,
// audit and errors. routes.go lists every page with the permission it
// needs and the API routes it does the work of; handlers bind a form, make
// one domain call, then redirect (post/redirect/get) or re-render the form
// with the field's error beside its input. Pages are typed structs sharing
// Base (user, cluster, CSRF token, flash); templates and static files are
// embedded from web/, parsed once at start, and static files are served
// under content-hashed URLs.
//
// Forms work without JavaScript; web/static/app.js adds confirmation
// dialogs, live updates over the cluster's event stream (one stream per
// tab, closed while the tab is hidden) and the log viewer. A strict
// Content-Security-Policy allows no inline script or style.
//
// webui imports fiber, httpauth, httpx and the domain packages; never
// internal/store (internal/server's TestLayers holds that).
package webui

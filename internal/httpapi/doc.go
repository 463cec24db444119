// Package httpapi serves the REST API under /api/v1 (plus /healthz, /readyz
// and /metrics) as ../shared/API.md fixes it. routes.go lists every route
// with the permission it needs; handlers bind, validate, make one domain
// call and render a DTO. The OpenAPI document is built from the same route
// table, so it cannot forget a route.
//
// Authentication, roles and CSRF come from httpauth, shared with the web
// UI. httpapi imports fiber and the domain packages, never internal/store
// (its records hold TLS keys and password hashes; the domain answers view
// types without them): internal/server's TestLayers holds that. Nothing
// imports httpapi but internal/server and the tests.
package httpapi

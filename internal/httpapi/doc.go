// Package httpapi serves the REST API under /api/v1 (plus /healthz, /readyz
// and /metrics) as ../shared/API.md fixes it. routes.go lists every route
// with the permission it needs; handlers bind, validate, make one domain
// call and render a DTO. The OpenAPI document is built from the same route
// table, so it cannot forget a route.
//
// httpapi imports fiber and the domain packages; nothing imports httpapi
// but cmd/swarmops and its tests.
package httpapi

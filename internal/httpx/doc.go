// Package httpx is the fiber plumbing shared by the API and the web UI:
// the one error handler that maps errs kinds to statuses and the contract's
// JSON shape, request ids, the per-request context (request id, zerolog
// logger, audit actor), the access log, panic recovery, the client address
// behind trusted proxies, and strict JSON binding that names the field at
// fault.
//
// httpx may import fiber; the domain packages never import httpx.
package httpx

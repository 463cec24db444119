// Package httpx is the fiber plumbing shared by the API and the web UI:
// the one error handler that maps errs kinds to statuses and the contract's
// JSON shape, request ids, the per-request context (request id, zerolog
// logger, audit actor), the access log, panic recovery, the client address
// and scheme behind trusted proxies, the headers every answer carries,
// strict JSON binding that names the field at fault, and streams (event
// and log streams: their limits, write deadlines, and the periodic check
// that their caller may still read them).
//
// Routing is strict and case-sensitive: a path names one route.
//
// httpx may import fiber; the domain packages never import httpx.
package httpx

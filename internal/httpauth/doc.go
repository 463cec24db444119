// Package httpauth is the fiber side of authentication, shared by every
// transport (the REST API and the web UI): it finds the caller by API token
// or session cookie, checks the session's CSRF token on mutating requests
// (from a header or a form field), refuses roles that lack a route's
// permission (auditing refused changes), and sets and clears the session
// cookie. Who may do what is decided by package auth; this package only
// carries it over HTTP.
//
// httpauth imports auth, audit, errs and httpx; never a store, the Docker
// client or a transport.
package httpauth

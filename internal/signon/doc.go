// Package signon holds the ways to sign in without a SwarmOps password:
// an OpenID Connect relying party (authorization code flow with PKCE,
// its state in the shared store so any instance completes what another
// began) and the user and groups headers of a trusted auth proxy. Both
// apply the same sso.Policy and hand the user to internal/auth, which
// keeps SSO users apart from local ones.
//
// signon is domain: it imports no transport and no store backend.
package signon

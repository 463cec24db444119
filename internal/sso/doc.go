// Package sso holds who single sign-on lets in and with which role: the
// group-to-role map and the allow and deny lists that both OIDC and the
// trusted auth-proxy header apply. It is a leaf (it imports nothing of
// SwarmOps), so configuration can validate its syntax at start.
package sso

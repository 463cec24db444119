package signon

// Methods are the sign-in methods an instance offers besides API tokens.
type Methods struct {
	// Password is the password form and POST /api/v1/auth/login.
	Password bool
	// OIDC is the OpenID Connect provider's sign-in; nil when off.
	OIDC *OIDC
	// Header is the trusted auth proxy's; nil when off.
	Header *Header
}

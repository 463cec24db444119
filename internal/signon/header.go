package signon

import (
	"context"
	"strings"

	"github.com/swarmops/swarmops/internal/auth"
	"github.com/swarmops/swarmops/internal/sso"
)

// Header signs in the users an auth proxy (oauth2-proxy, Authelia, nginx
// auth_request) names in request headers. The transport believes the
// headers only from trusted proxies.
type Header struct {
	// UserHeader and GroupsHeader are the headers' names (GroupsHeader
	// may be empty: no groups, only the "*" entry of the role map).
	UserHeader, GroupsHeader string
	Policy                   sso.Policy
	Auth                     *auth.Service
}

// Principal answers who the proxy says is calling, with the role their
// groups earn, or why they are refused.
func (h *Header) Principal(ctx context.Context, user, groups string) (auth.Principal, error) {
	id := sso.Identity{Username: strings.TrimSpace(user), Groups: splitGroups(groups)}
	if strings.Contains(id.Username, "@") {
		id.Email = id.Username
	}
	role, why := h.Policy.Decide(id)
	x := auth.ExternalUser{Method: auth.MethodHeader, Username: id.Username, Role: auth.Role(role)}
	return h.Auth.HeaderPrincipal(ctx, x, why)
}

// splitGroups reads a groups header: comma-separated, as oauth2-proxy and
// Authelia send it.
func splitGroups(s string) []string {
	var out []string
	for _, g := range strings.Split(s, ",") {
		if g = strings.TrimSpace(g); g != "" {
			out = append(out, g)
		}
	}
	return out
}

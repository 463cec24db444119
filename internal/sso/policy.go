package sso

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// Roles, lowest first; the same names as internal/auth's.
var roles = []string{"viewer", "operator", "admin"}

func rank(role string) int { return slices.Index(roles, role) + 1 }

// RoleMap maps identity-provider groups to SwarmOps roles. A user gets the
// highest role among their groups' entries and the "*" entry; with no
// matching entry and no "*", no role at all.
type RoleMap struct {
	groups   map[string]string
	fallback string
	text     string
}

// ParseRoleMap reads "group=role,group=role,*=role". Group names are
// matched exactly (Keycloak's full paths such as /platform/admins work);
// they may hold any character but a comma. Roles are viewer, operator or
// admin. Empty entries (a trailing comma) are skipped, as in a List.
func ParseRoleMap(s string) (RoleMap, error) {
	m := RoleMap{groups: map[string]string{}, text: s}
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		eq := strings.LastIndex(entry, "=")
		if eq <= 0 {
			return RoleMap{}, fmt.Errorf("entry %d %q: expected group=role, e.g. platform-admins=admin,ops=operator,*=viewer", i+1, entry)
		}
		group, role := strings.TrimSpace(entry[:eq]), strings.TrimSpace(entry[eq+1:])
		if rank(role) == 0 {
			return RoleMap{}, fmt.Errorf("entry %d %q: role %q: expected viewer, operator or admin", i+1, entry, role)
		}
		if group == "" {
			return RoleMap{}, fmt.Errorf("entry %d %q: the group name is empty", i+1, entry)
		}
		if group == "*" {
			if m.fallback != "" {
				return RoleMap{}, fmt.Errorf("entry %d %q: \"*\" is given twice", i+1, entry)
			}
			m.fallback = role
			continue
		}
		if _, dup := m.groups[group]; dup {
			return RoleMap{}, fmt.Errorf("entry %d %q: group %q is given twice", i+1, entry, group)
		}
		m.groups[group] = role
	}
	return m, nil
}

// Empty reports whether the map grants nothing to anyone.
func (m RoleMap) Empty() bool { return len(m.groups) == 0 && m.fallback == "" }

// String answers the map as it was given.
func (m RoleMap) String() string { return m.text }

// Role answers the role groups earn, and false when none does.
func (m RoleMap) Role(groups []string) (string, bool) {
	best := m.fallback
	for _, g := range groups {
		if r, ok := m.groups[g]; ok && rank(r) > rank(best) {
			best = r
		}
	}
	return best, best != ""
}

// List is an allow or deny list: usernames, email addresses and @domains
// (which match every email address of that domain), compared without
// regard to case.
type List struct {
	names   map[string]bool // usernames and full email addresses
	domains map[string]bool // without the "@"
	text    string
}

// ParseList reads a comma-separated list such as "alice,bob@example.com,@example.org".
func ParseList(s string) (List, error) {
	l := List{names: map[string]bool{}, domains: map[string]bool{}, text: s}
	for _, e := range strings.Split(s, ",") {
		e = strings.ToLower(strings.TrimSpace(e))
		switch {
		case e == "":
		case strings.HasPrefix(e, "@"):
			d := e[1:]
			if d == "" || strings.Contains(d, "@") || strings.ContainsFunc(d, unicode.IsSpace) || !strings.Contains(d, ".") && d != "localhost" {
				return List{}, fmt.Errorf("%q: expected a user name, an email address or @domain (e.g. @example.com)", e)
			}
			l.domains[d] = true
		case strings.ContainsFunc(e, unicode.IsSpace):
			return List{}, fmt.Errorf("%q: expected a user name, an email address or @domain, with no spaces", e)
		default:
			l.names[e] = true
		}
	}
	return l, nil
}

// Empty reports whether the list names nobody.
func (l List) Empty() bool { return len(l.names) == 0 && len(l.domains) == 0 }

// String answers the list as it was given.
func (l List) String() string { return l.text }

// Match reports whether the user (by name, or by email address or its
// domain) is on the list.
func (l List) Match(username, email string) bool {
	username, email = strings.ToLower(username), strings.ToLower(email)
	if l.names[username] || email != "" && l.names[email] {
		return true
	}
	if at := strings.LastIndex(email, "@"); at >= 0 && l.domains[email[at+1:]] {
		return true
	}
	// A username that is itself an address (Authelia, Azure AD UPNs).
	if at := strings.LastIndex(username, "@"); at >= 0 && l.domains[username[at+1:]] {
		return true
	}
	return false
}

// Policy is who single sign-on lets in, with which role.
type Policy struct {
	Roles RoleMap
	Allow List
	Deny  List
}

// Refusal kinds, for the audit log and the login page.
var (
	ErrDenied     = errors.New("on the deny list")
	ErrNotAllowed = errors.New("not on the allow list")
	ErrUnmapped   = errors.New("no group maps to a role")
)

// Identity is what a sign-on method learned of a user.
type Identity struct {
	Username string
	Email    string
	Groups   []string
}

// Decide answers the identity's role, or why it is refused (ErrDenied,
// ErrNotAllowed or ErrUnmapped, wrapped with the details). The deny list
// wins over the allow list and over any group.
func (p Policy) Decide(id Identity) (string, error) {
	if p.Deny.Match(id.Username, id.Email) {
		return "", fmt.Errorf("%s: %w", id.Username, ErrDenied)
	}
	if !p.Allow.Empty() && !p.Allow.Match(id.Username, id.Email) {
		return "", fmt.Errorf("%s: %w", id.Username, ErrNotAllowed)
	}
	role, ok := p.Roles.Role(id.Groups)
	if !ok {
		return "", fmt.Errorf("%s (groups %s): %w", id.Username, describeGroups(id.Groups), ErrUnmapped)
	}
	return role, nil
}

func describeGroups(g []string) string {
	if len(g) == 0 {
		return "none"
	}
	const most = 10
	if len(g) > most {
		return strings.Join(g[:most], ", ") + fmt.Sprintf(" and %d more", len(g)-most)
	}
	return strings.Join(g, ", ")
}

package sso

import (
	"errors"
	"strings"
	"testing"
)

func mustRoleMap(t *testing.T, s string) RoleMap {
	t.Helper()
	m, err := ParseRoleMap(s)
	if err != nil {
		t.Fatalf("ParseRoleMap(%q): %v", s, err)
	}
	return m
}

func mustList(t *testing.T, s string) List {
	t.Helper()
	l, err := ParseList(s)
	if err != nil {
		t.Fatalf("ParseList(%q): %v", s, err)
	}
	return l
}

func TestParseRoleMap_Accepted(t *testing.T) {
	tests := []struct {
		name, text string
		empty      bool
	}{
		{"empty", "", true},
		{"blank", "  ", true},
		{"one group", "platform-admins=admin", false},
		{"several with fallback", "platform-admins=admin, ops = operator ,*=viewer", false},
		{"fallback only", "*=viewer", false},
		{"keycloak path", "/platform/admins=admin", false},
		{"group holding =", "cn=admins=admin", false},
		{"trailing comma", "ops=operator,", false},
		{"only commas", " , ,", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := mustRoleMap(t, tc.text)
			if m.Empty() != tc.empty {
				t.Errorf("Empty() = %v, want %v", m.Empty(), tc.empty)
			}
			if m.String() != tc.text {
				t.Errorf("String() = %q, want the text as given, %q", m.String(), tc.text)
			}
		})
	}
}

func TestParseRoleMap_Refused(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"no equals", "platform-admins", `entry 1 "platform-admins": expected group=role`},
		{"no group", "=admin", `entry 1 "=admin": expected group=role`},
		{"blank group", "ops=operator, =admin", `entry 2 "=admin": expected group=role`},
		{"unknown role", "ops=root", `entry 1 "ops=root": role "root": expected viewer, operator or admin`},
		{"role in capitals", "ops=Admin", `role "Admin": expected viewer, operator or admin`},
		{"empty role", "ops=", `role "": expected viewer, operator or admin`},
		{"group twice", "ops=viewer,ops=admin", `entry 2 "ops=admin": group "ops" is given twice`},
		{"fallback twice", "*=viewer,*=admin", `entry 2 "*=admin": "*" is given twice`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseRoleMap(tc.text)
			if err == nil {
				t.Fatalf("ParseRoleMap(%q) = %v, want an error", tc.text, m)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseRoleMap(%q) error = %q, want it to contain %q", tc.text, err, tc.want)
			}
		})
	}
}

func TestRoleMap_Role(t *testing.T) {
	withFallback := "platform-admins=admin,ops=operator,/dev/team=viewer,*=viewer"
	withoutFallback := "platform-admins=admin,ops=operator,auditors=viewer"
	tests := []struct {
		name, roleMap string
		groups        []string
		want          string
		ok            bool
	}{
		{"one group", withoutFallback, []string{"ops"}, "operator", true},
		{"highest wins, admin last", withoutFallback, []string{"auditors", "ops", "platform-admins"}, "admin", true},
		{"highest wins, admin first", withoutFallback, []string{"platform-admins", "auditors", "ops"}, "admin", true},
		{"unknown groups ignored", withoutFallback, []string{"sales", "ops"}, "operator", true},
		{"no match without *", withoutFallback, []string{"sales"}, "", false},
		{"no groups without *", withoutFallback, nil, "", false},
		{"groups match exactly", withoutFallback, []string{"OPS", "Platform-Admins", " ops"}, "", false},
		{"* when nothing matches", withFallback, []string{"sales"}, "viewer", true},
		{"* when no groups", withFallback, nil, "viewer", true},
		{"a group above *", withFallback, []string{"ops"}, "operator", true},
		{"path group", withFallback, []string{"/dev/team"}, "viewer", true},
		{"* above its groups", "auditors=viewer,*=operator", []string{"auditors"}, "operator", true},
		{"empty map", "", []string{"ops"}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := mustRoleMap(t, tc.roleMap).Role(tc.groups)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Role(%q) = %q, %v; want %q, %v", tc.groups, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestRoleMap_ZeroValueGrantsNothing(t *testing.T) {
	var m RoleMap
	if !m.Empty() {
		t.Error("the zero RoleMap is not Empty")
	}
	if role, ok := m.Role([]string{"admins"}); ok {
		t.Errorf("the zero RoleMap grants %q", role)
	}
}

func TestParseList_Accepted(t *testing.T) {
	tests := []struct {
		name, text string
		empty      bool
	}{
		{"empty", "", true},
		{"commas only", " , ,", true},
		{"names", "alice, bob", false},
		{"email", "bob@example.com", false},
		{"domain", "@example.com", false},
		{"localhost domain", "@localhost", false},
		{"mixed", "alice,Bob@Example.com,@example.org,", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := mustList(t, tc.text)
			if l.Empty() != tc.empty {
				t.Errorf("Empty() = %v, want %v", l.Empty(), tc.empty)
			}
			if l.String() != tc.text {
				t.Errorf("String() = %q, want the text as given, %q", l.String(), tc.text)
			}
		})
	}
}

func TestParseList_Refused(t *testing.T) {
	for _, text := range []string{
		"@",                // no domain
		"@example",         // no dot
		"@a@example.com",   // two @
		"@exam ple.com",    // a space in the domain
		"@exam\tple.com",   // a tab in the domain
		"alice smith",      // a space in a name
		"alice,bob\tjones", // a tab in a name
		"bob\njones@x.org", // a newline in an address
		"alice,@,bob",      // an empty domain among names
	} {
		t.Run(text, func(t *testing.T) {
			l, err := ParseList(text)
			if err == nil {
				t.Fatalf("ParseList(%q) = %v, want an error", text, l)
			}
			if !strings.Contains(err.Error(), "expected a user name, an email address or @domain") {
				t.Errorf("ParseList(%q) error = %q, want it to say what is expected", text, err)
			}
		})
	}
}

func TestList_Match(t *testing.T) {
	l := "alice, Bob@Example.com, @corp.example.org"
	tests := []struct {
		name, username, email string
		want                  bool
	}{
		{"name", "alice", "", true},
		{"name in capitals", "ALICE", "", true},
		{"name with another address", "alice", "someone@elsewhere.net", true},
		{"email", "robert", "bob@example.com", true},
		{"email in capitals", "robert", "BOB@EXAMPLE.COM", true},
		{"email of the domain", "carol", "carol@corp.example.org", true},
		{"email of the domain in capitals", "carol", "Carol@CORP.Example.ORG", true},
		{"username that is an address of the domain", "dave@corp.example.org", "", true},
		{"username that is a listed address", "bob@example.com", "", true},
		{"subdomain is another domain", "erin", "erin@eu.corp.example.org", false},
		{"parent domain is another domain", "erin", "erin@example.org", false},
		{"domain as a suffix of another", "erin", "erin@evilcorp.example.org", false},
		{"other address of a listed address's domain", "frank", "frank@example.com", false},
		{"name part of a listed address", "bob", "", false},
		{"stranger", "mallory", "mallory@evil.example", false},
		{"nobody", "", "", false},
	}
	list := mustList(t, l)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := list.Match(tc.username, tc.email); got != tc.want {
				t.Errorf("Match(%q, %q) = %v, want %v", tc.username, tc.email, got, tc.want)
			}
		})
	}
}

func TestPolicy_Decide(t *testing.T) {
	roles := "platform-admins=admin,ops=operator,*=viewer"
	tests := []struct {
		name            string
		roles           string
		allow, deny     string
		id              Identity
		want            string
		wantErr         error
		wantErrContains string
	}{
		{name: "no lists, group role", roles: roles,
			id: Identity{Username: "alice", Groups: []string{"ops"}}, want: "operator"},
		{name: "no lists, fallback role", roles: roles,
			id: Identity{Username: "alice"}, want: "viewer"},
		{name: "highest of several groups", roles: roles,
			id: Identity{Username: "alice", Groups: []string{"ops", "platform-admins"}}, want: "admin"},
		{name: "allowed by name", roles: roles, allow: "alice,bob",
			id: Identity{Username: "Alice", Groups: []string{"ops"}}, want: "operator"},
		{name: "allowed by domain", roles: roles, allow: "@example.com",
			id: Identity{Username: "alice", Email: "alice@example.com"}, want: "viewer"},
		{name: "allowed by a username that is an address", roles: roles, allow: "@example.com",
			id: Identity{Username: "alice@Example.com"}, want: "viewer"},
		{name: "not on the allow list", roles: roles, allow: "bob,@example.com",
			id:      Identity{Username: "alice", Email: "alice@example.org", Groups: []string{"platform-admins"}},
			wantErr: ErrNotAllowed, wantErrContains: "alice: not on the allow list"},
		{name: "denied by name", roles: roles, deny: "alice",
			id:      Identity{Username: "alice", Groups: []string{"platform-admins"}},
			wantErr: ErrDenied, wantErrContains: "alice: on the deny list"},
		{name: "denied by email in capitals", roles: roles, deny: "ALICE@EXAMPLE.COM",
			id: Identity{Username: "alice", Email: "alice@example.com"}, wantErr: ErrDenied},
		{name: "deny wins over allow by name", roles: roles, allow: "alice", deny: "alice",
			id: Identity{Username: "alice", Groups: []string{"platform-admins"}}, wantErr: ErrDenied},
		{name: "deny by address wins over allow by domain", roles: roles, allow: "@example.com", deny: "mallory@example.com",
			id: Identity{Username: "mallory", Email: "mallory@example.com"}, wantErr: ErrDenied},
		{name: "deny by domain wins over allow by name", roles: roles, allow: "mallory", deny: "@evil.example",
			id: Identity{Username: "mallory", Email: "mallory@evil.example"}, wantErr: ErrDenied},
		{name: "deny by domain of a username that is an address", roles: roles, deny: "@evil.example",
			id: Identity{Username: "mallory@evil.example"}, wantErr: ErrDenied},
		{name: "deny list names someone else", roles: roles, deny: "mallory,@evil.example",
			id: Identity{Username: "alice", Email: "alice@example.com", Groups: []string{"ops"}}, want: "operator"},
		{name: "no group maps and no *", roles: "platform-admins=admin",
			id:      Identity{Username: "alice", Groups: []string{"ops", "sales"}},
			wantErr: ErrUnmapped, wantErrContains: "alice (groups ops, sales): no group maps to a role"},
		{name: "no groups and no *", roles: "platform-admins=admin",
			id:      Identity{Username: "alice"},
			wantErr: ErrUnmapped, wantErrContains: "(groups none)"},
		{name: "empty role map lets no one in", roles: "",
			id: Identity{Username: "alice", Groups: []string{"platform-admins"}}, wantErr: ErrUnmapped},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Policy{Roles: mustRoleMap(t, tc.roles), Allow: mustList(t, tc.allow), Deny: mustList(t, tc.deny)}
			got, err := p.Decide(tc.id)
			if tc.wantErr == nil {
				if err != nil || got != tc.want {
					t.Fatalf("Decide(%+v) = %q, %v; want %q", tc.id, got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || got != "" {
				t.Fatalf("Decide(%+v) = %q, %v; want no role and %v", tc.id, got, err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErrContains) {
				t.Errorf("Decide(%+v) error = %q, want it to contain %q", tc.id, err, tc.wantErrContains)
			}
		})
	}
}

func TestPolicy_DecideListsManyGroupsShortly(t *testing.T) {
	groups := make([]string, 12)
	for i := range groups {
		groups[i] = "g" + string(rune('a'+i))
	}
	p := Policy{Roles: mustRoleMap(t, "admins=admin")}
	_, err := p.Decide(Identity{Username: "alice", Groups: groups})
	if !errors.Is(err, ErrUnmapped) {
		t.Fatalf("Decide() error = %v, want ErrUnmapped", err)
	}
	if want := "ga, gb, gc, gd, ge, gf, gg, gh, gi, gj and 2 more"; !strings.Contains(err.Error(), want) {
		t.Errorf("Decide() error = %q, want it to contain %q", err, want)
	}
}

package auth

import "fmt"

// Role is a user's rank. Each role holds every permission of the ones
// below it.
type Role string

const (
	Viewer   Role = "viewer"
	Operator Role = "operator"
	Admin    Role = "admin"
)

// ParseRole accepts viewer, operator or admin.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case Viewer, Operator, Admin:
		return r, nil
	}
	return "", fmt.Errorf("role %q: expected viewer, operator or admin", s)
}

func (r Role) rank() int {
	switch r {
	case Viewer:
		return 1
	case Operator:
		return 2
	case Admin:
		return 3
	}
	return 0
}

// Permission is what a route or a domain call needs.
type Permission struct {
	Name string
	min  Role
}

func (p Permission) String() string { return p.Name }

// MinRole answers the lowest role holding p.
func (p Permission) MinRole() Role { return p.min }

// The permissions. Reads of everything but secrets' data and join tokens
// are the viewer's; changes to workloads the operator's; membership,
// credentials and users the admin's.
var (
	Authenticated  = Permission{"authenticated", Viewer}
	ClusterRead    = Permission{"cluster.read", Viewer}
	ClusterManage  = Permission{"cluster.manage", Admin}
	JoinTokens     = Permission{"cluster.join_tokens", Admin}
	NodeRead       = Permission{"node.read", Viewer}
	NodeUpdate     = Permission{"node.update", Operator} // availability and labels
	NodeManage     = Permission{"node.manage", Admin}    // role, join, leave, remove
	ServiceRead    = Permission{"service.read", Viewer}
	ServiceWrite   = Permission{"service.write", Operator}
	TaskRead       = Permission{"task.read", Viewer}
	NetworkRead    = Permission{"network.read", Viewer}
	NetworkWrite   = Permission{"network.write", Operator}
	SecretRead     = Permission{"secret.read", Viewer} // metadata only; data is never readable
	SecretWrite    = Permission{"secret.write", Operator}
	ConfigRead     = Permission{"config.read", Viewer}
	ConfigWrite    = Permission{"config.write", Operator}
	StackRead      = Permission{"stack.read", Viewer}
	StackWrite     = Permission{"stack.write", Operator}
	EventRead      = Permission{"event.read", Viewer}
	RegistryRead   = Permission{"registry.read", Viewer}
	RegistryWrite  = Permission{"registry.write", Operator} // delete tags
	RegistryManage = Permission{"registry.manage", Admin}
	UserManage     = Permission{"user.manage", Admin}
	AuditRead      = Permission{"audit.read", Admin}
	OwnTokens      = Permission{"token.own", Viewer}
)

// Can reports whether r holds p.
func (r Role) Can(p Permission) bool { return r.rank() > 0 && r.rank() >= p.min.rank() }

// permissions lists every permission by name.
var permissions = func() map[string]Permission {
	m := map[string]Permission{}
	for _, p := range []Permission{
		Authenticated, ClusterRead, ClusterManage, JoinTokens, NodeRead, NodeUpdate, NodeManage,
		ServiceRead, ServiceWrite, TaskRead, NetworkRead, NetworkWrite, SecretRead, SecretWrite,
		ConfigRead, ConfigWrite, StackRead, StackWrite, EventRead, RegistryRead, RegistryWrite,
		RegistryManage, UserManage, AuditRead, OwnTokens,
	} {
		m[p.Name] = p
	}
	return m
}()

// PermissionByName answers the permission named name ("service.write").
func PermissionByName(name string) (Permission, bool) {
	p, ok := permissions[name]
	return p, ok
}

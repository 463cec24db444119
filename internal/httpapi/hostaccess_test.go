package httpapi_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/apitest"
	"github.com/swarmops/swarmops/internal/config"
	"github.com/swarmops/swarmops/internal/testenv"
)

// allowedBindPath is the SWARMOPS_OPERATOR_BIND_PATHS of these tests.
const allowedBindPath = "/srv/swarmops-allowed"

// hostAccessCluster answers an instance that allows operators binds under
// allowedBindPath, with the shared swarm registered as cluster, and its
// admin and operator.
func hostAccessCluster(t *testing.T, cluster string) (*testenv.Node, *apitest.Client, *apitest.Client) {
	t.Helper()
	sw := testenv.SharedSwarm(t)
	in := apitest.Start(t, apitest.Config(t, func(c *config.Config) { c.OperatorBindPaths = []string{allowedBindPath} }))
	admin := in.Admin(t)
	register(t, admin, cluster, sw.Managers[0].Endpoint)
	op := in.UserWithRole(t, admin, cluster+"-operator", "operator")
	return sw.Managers[0], admin, op
}

func wantNoService(t *testing.T, m *testenv.Node, name string) {
	t.Helper()
	if _, _, err := m.Client().ServiceInspectWithRaw(context.Background(), name, swarm.ServiceInspectOptions{}); err == nil {
		_ = m.Client().ServiceRemove(context.Background(), name)
		t.Errorf("a refused create made service %s", name)
	}
}

// TestHostAccess_Services: an operator's service that reaches the host —
// a bind mount, a local volume whose options bind or mount a host path,
// the host network — is refused with 403 naming the field, and nothing is
// made; a bind under SWARMOPS_OPERATOR_BIND_PATHS is allowed, but not a
// sibling of it nor a ".." out of it; an admin may do all of it.
func TestHostAccess_Services(t *testing.T) {
	m, admin, op := hostAccessCluster(t, "ha")
	base := "/api/v1/clusters/ha/services"
	refused := []struct {
		name  string
		form  map[string]any
		field string
	}{
		{"engine socket", map[string]any{"mounts": []string{"type=bind,source=/var/run/docker.sock,target=/var/run/docker.sock"}}, "mounts[0]"},
		{"host root", map[string]any{"mounts": []string{"type=volume,source=ha-data,target=/data", "type=bind,source=/,target=/host"}}, "mounts[1]"},
		{"volume bound to a host path", map[string]any{"mounts": []string{"type=volume,source=ha-etc,target=/etc-host,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=/etc"}}, "mounts[0]"},
		{"volume mounting a host device", map[string]any{"mounts": []string{"type=volume,source=ha-dev,target=/disk,volume-opt=type=ext4,volume-opt=device=/dev/sda1"}}, "mounts[0]"},
		{"host network", map[string]any{"networks": []string{"host"}}, "networks[0]"},
		{"sibling of the allowed path", map[string]any{"mounts": []string{"type=bind,source=" + allowedBindPath + "-evil,target=/x"}}, "mounts[0]"},
		{"dot-dot out of the allowed path", map[string]any{"mounts": []string{"type=bind,source=" + allowedBindPath + "/../../etc,target=/x"}}, "mounts[0]"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			form := map[string]any{"name": "ha-op", "image": testenv.HelloImage1, "replicas": 0}
			for k, v := range tt.form {
				form[k] = v
			}
			status, text := op.Do(http.MethodPost, base, form, nil)
			wantRefused(t, "operator's create", status, text, 403, tt.field, "host access")
			wantNoService(t, m, "ha-op")

			form["name"] = "ha-admin"
			admin.MustDo(http.MethodPost, base, form, nil, 201)
			removeAfter(t, m, "ha-admin")
			_ = m.Client().ServiceRemove(context.Background(), "ha-admin")
		})
	}

	t.Run("allowed bind path", func(t *testing.T) {
		op.MustDo(http.MethodPost, base, map[string]any{"name": "ha-allowed", "image": testenv.HelloImage1, "replicas": 0,
			"mounts": []string{"type=bind,source=" + allowedBindPath + "/data,target=/data,readonly", "type=bind,source=" + allowedBindPath + ",target=/all"}}, nil, 201)
		removeAfter(t, m, "ha-allowed")
		// A PATCH can't add what a create can't.
		before := inspect(t, m, "ha-allowed").Version.Index
		status, text := op.Do(http.MethodPatch, base+"/ha-allowed", map[string]any{"mounts": []string{"type=bind,source=/var/run/docker.sock,target=/s"}}, nil)
		wantRefused(t, "operator's PATCH adding a bind", status, text, 403, "mounts[0]", "host access", allowedBindPath)
		if after := inspect(t, m, "ha-allowed").Version.Index; after != before {
			t.Errorf("a refused PATCH moved the service from version %d to %d", before, after)
		}
	})
}

// TestHostAccess_AdminsService: an admin's service with host access keeps
// what runs with it the admin's: an operator may scale, redeploy and roll
// it back (to a spec that was the admin's) and remove its host access, but
// not change its image or anything else while it has it.
func TestHostAccess_AdminsService(t *testing.T) {
	m, admin, op := hostAccessCluster(t, "hb")
	base := "/api/v1/clusters/hb/services/hb-agent"
	admin.MustDo(http.MethodPost, "/api/v1/clusters/hb/services", map[string]any{"name": "hb-agent", "image": testenv.HelloImage1, "replicas": 0,
		"mounts": []string{"type=bind,source=/var/run/docker.sock,target=/var/run/docker.sock"}}, nil, 201)
	removeAfter(t, m, "hb-agent")

	before := inspect(t, m, "hb-agent").Version.Index
	status, text := op.Do(http.MethodPatch, base, map[string]any{"env": []string{"A=1"}}, nil)
	wantRefused(t, "operator's PATCH", status, text, 403, "mounts[0]", "host access")
	status, text = op.Do(http.MethodPost, base+"/image", map[string]any{"image": testenv.HelloImage2}, nil)
	wantRefused(t, "operator's image change", status, text, 403, "mounts[0]", "host access")
	if after := inspect(t, m, "hb-agent").Version.Index; after != before {
		t.Fatalf("refused changes moved the service from version %d to %d", before, after)
	}

	op.MustDo(http.MethodPost, base+"/scale", map[string]any{"replicas": 0}, nil, 200)
	op.MustDo(http.MethodPost, base+"/redeploy", nil, nil, 200)
	admin.MustDo(http.MethodPatch, base, map[string]any{"labels": map[string]string{"by": "admin"}}, nil, 200)
	op.MustDo(http.MethodPost, base+"/rollback", nil, nil, 200)
	if s := inspect(t, m, "hb-agent"); len(s.Spec.TaskTemplate.ContainerSpec.Mounts) != 1 {
		t.Fatalf("after the rollback: mounts %+v", s.Spec.TaskTemplate.ContainerSpec.Mounts)
	}
	// Taking host access away is an operator's right.
	op.MustDo(http.MethodPatch, base, map[string]any{"mounts": []string{}}, nil, 200)
	op.MustDo(http.MethodPost, base+"/image", map[string]any{"image": testenv.HelloImage2}, nil, 200)
}

// TestHostAccess_Stacks: the same rule holds for compose files, on the
// specs the stack's services would get: an operator's deploy of a file
// with a bind, a volume whose driver options bind a host path, the host
// network or an added capability is refused with 403 before anything is
// made; an admin may deploy them, an operator may not roll back to such
// a revision; binds under the allowed path are an operator's.
func TestHostAccess_Stacks(t *testing.T) {
	m, admin, op := hostAccessCluster(t, "hs")
	base := "/api/v1/clusters/hs/stacks"
	compose := func(file string) string {
		b, err := os.ReadFile(filepath.Join("..", "stack", "testdata", "hostaccess", file))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	deploy := func(name, file string) map[string]any {
		return map[string]any{"name": name, "compose": compose(file), "resolve_image": "never"}
	}
	removeStack := func(name string) {
		t.Cleanup(func() { admin.Do(http.MethodDelete, base+"/"+name, nil, nil) })
	}
	for _, tt := range []struct{ name, file, says string }{
		{"hs-bind", "bind-socket.yml", "service hs-bind_agent: volumes: a bind mount of host path /var/run/docker.sock"},
		{"hs-volume", "volume-bind.yml", "volumes: a volume binding host path /etc"},
		{"hs-hostnet", "host-network.yml", "networks: the host network"},
		{"hs-cap", "cap-add.yml", "cap_add: capability CAP_SYS_ADMIN"},
		{"hs-escape", "escape-bind.yml", "volumes: a bind mount of host path"},
	} {
		t.Run(tt.file, func(t *testing.T) {
			name := tt.name
			status, text := op.Do(http.MethodPost, base, deploy(name, tt.file), nil)
			wantRefused(t, "operator's deploy", status, text, 403, "compose", tt.says)
			list, err := m.Client().ServiceList(context.Background(), swarm.ServiceListOptions{Filters: filters.NewArgs(filters.Arg("label", "com.docker.stack.namespace="+name))})
			if err != nil || len(list) != 0 {
				t.Fatalf("a refused deploy left services %v (%v)", list, err)
			}
		})
	}

	// An admin's stack with host access: its revision is the admin's to
	// redeploy.
	removeStack("hs-admin")
	admin.MustDo(http.MethodPost, base, deploy("hs-admin", "bind-socket.yml"), nil, 200)
	admin.MustDo(http.MethodPost, base, deploy("hs-admin", "allowed-bind.yml"), nil, 200)
	status, text := op.Do(http.MethodPost, base+"/hs-admin/rollback", map[string]any{"revision": 1}, nil)
	wantRefused(t, "operator's rollback to the admin's revision", status, text, 403, "compose", "host access")
	if s := inspect(t, m, "hs-admin_app"); len(s.Spec.TaskTemplate.ContainerSpec.Mounts) != 1 {
		t.Errorf("a refused rollback changed the stack's service: %+v", s.Spec.TaskTemplate.ContainerSpec.Mounts)
	}

	removeStack("hs-allowed")
	op.MustDo(http.MethodPost, base, deploy("hs-allowed", "allowed-bind.yml"), nil, 200)
}

package swarm

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
)

func TestTagLines(t *testing.T) {
	names := &logNames{
		service: swarm.Service{ID: "svc1", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "web"}}},
		tasks:   map[string]string{"task1": "web.2"},
		nodes:   map[string]string{"node1": "n1"},
		missed:  map[string]bool{},
		listed:  time.Now(), relists: maxRelists, // no engine to ask
	}
	const d1 = "com.docker.swarm.node.id=node1,com.docker.swarm.service.id=svc1,com.docker.swarm.task.id=task1"
	const d2 = "com.docker.swarm.node.id=nodeunknown12345,com.docker.swarm.service.id=svc1,com.docker.swarm.task.id=taskunknown12345"
	for _, tc := range []struct {
		name, in, want string
		timestamps     bool
	}{
		{"known", d1 + " hello world\n", "web.2@n1 | hello world\n", false},
		{"timestamps", "2026-11-29T10:00:00.000000001Z " + d1 + " hello\n", "2026-11-29T10:00:00.000000001Z web.2@n1 | hello\n", true},
		{"unknown task and node", d2 + " x\n", "web.taskunknown1@nodeunknown1 | x\n", false},
		{"no details: as it came", "plain line\n", "plain line\n", false},
		{"empty message", d1 + " \n", "web.2@n1 | \n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := tagLines(context.Background(), io.NopCloser(strings.NewReader(tc.in)), names, tc.timestamps)
			b, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("got %q, want %q", b, tc.want)
			}
		})
	}
}

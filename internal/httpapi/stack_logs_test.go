package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"go.uber.org/goleak"

	sw "github.com/swarmops/swarmops/internal/swarm"
	"github.com/swarmops/swarmops/internal/testenv"
)

// createStackService creates a service of stack as docker stack deploy
// labels it, printing five numbered lines at start.
func createStackService(t *testing.T, n *testenv.Node, stack, name string, replicas uint64) {
	t.Helper()
	spec := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: stack + "_" + name, Labels: map[string]string{sw.StackLabel: stack}},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{
			Image: testenv.HelloImage1, Env: []string{"HELLO_LINES=5"},
			Labels: map[string]string{sw.StackLabel: stack},
		}},
		Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
	}
	if _, err := n.Client().ServiceCreate(context.Background(), spec, swarm.ServiceCreateOptions{QueryRegistry: false}); err != nil {
		t.Fatalf("create service %s: %v", spec.Name, err)
	}
	removeAfter(t, n, spec.Name)
}

// taskTags answers the tags "web.2@node-1" of a service's running tasks.
func taskTags(n *testenv.Node, service string) ([]string, error) {
	ctx := context.Background()
	tasks, err := n.Client().TaskList(ctx, swarm.TaskListOptions{
		Filters: filters.NewArgs(filters.Arg("service", service), filters.Arg("desired-state", "running")),
	})
	if err != nil {
		return nil, err
	}
	var tags []string
	for _, task := range tasks {
		node, _, err := n.Client().NodeInspectWithRaw(ctx, task.NodeID)
		if err != nil {
			return nil, err
		}
		tags = append(tags, fmt.Sprintf("%s.%d@%s", service, task.Slot, node.Description.Hostname))
	}
	slices.Sort(tags)
	return tags, nil
}

var stackLogLine = regexp.MustCompile(`^(\S+) (\S+) \| (.*)$`)

func TestStackLogs(t *testing.T) {
	swm, admin := quietCluster(t, "sl") // only the connection can tell a client left
	m := swm.Managers[0]
	const stack = "stlg"
	createStackService(t, m, stack, "api", 1)
	createStackService(t, m, stack, "web", 2)
	logs := "/api/v1/clusters/sl/stacks/" + stack + "/logs"

	// Every task's five lines, each line tagged with its task and node.
	var want []string
	testenv.Poll(t, 2*time.Minute, "five lines of every task of the stack", func() error {
		var tags []string
		for _, s := range []string{"stlg_api", "stlg_web"} {
			st, err := taskTags(m, s)
			if err != nil {
				return err
			}
			tags = append(tags, st...)
		}
		if len(tags) != 3 {
			return fmt.Errorf("running tasks %q", tags)
		}
		status, text := admin.Do(http.MethodGet, logs+"?tail=all", nil, nil)
		if status != 200 {
			return fmt.Errorf("%d %q", status, text)
		}
		for _, tag := range tags {
			if !strings.Contains(text, tag+" | line 5\n") {
				return fmt.Errorf("no line 5 of %s in %q", tag, text)
			}
		}
		want = tags
		return nil
	})

	text := admin.MustDo(http.MethodGet, logs+"?tail=all&timestamps=true", nil, nil, 200)
	var last time.Time
	seen := map[string]int{}
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		p := stackLogLine.FindStringSubmatch(line)
		if p == nil {
			t.Errorf("line %q is not \"timestamp service.slot@node | message\"", line)
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, p[1])
		if err != nil {
			t.Errorf("line %q: timestamp: %v", line, err)
			continue
		}
		if at.Before(last) {
			t.Errorf("line %q comes after a line of %s", line, last.Format(time.RFC3339Nano))
		}
		last = at
		if strings.HasPrefix(p[3], "line ") {
			seen[p[2]]++
		}
	}
	for _, tag := range want {
		if seen[tag] != 5 {
			t.Errorf("%d numbered lines of %s, want 5; logs:\n%s", seen[tag], tag, text)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("numbered lines of %v, want of %q", seen, want)
	}

	// Tail applies to each service's stream as the engine applies it (to
	// each task: one line of each of the three here); without timestamps,
	// lines start with their tag.
	text = admin.MustDo(http.MethodGet, logs+"?tail=1", nil, nil, 200)
	tail := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(tail) != len(want) {
		t.Errorf("tail=1: %q, want one line of each of %q", text, want)
	}
	for _, line := range tail {
		if !strings.HasPrefix(line, "stlg_") || !strings.Contains(line, " | hello: listening") {
			t.Errorf("tail=1: line %q, want the last line of a task, without timestamp", line)
		}
	}

	for _, q := range []string{"tail=many", "since=yesterday", "follow=perhaps", "timestamps=2"} {
		if status, text := admin.Do(http.MethodGet, logs+"?"+q, nil, nil); status != 400 {
			t.Errorf("logs?%s: %d %s", q, status, text)
		}
	}
	admin.MustDo(http.MethodGet, "/api/v1/clusters/sl/stacks/stlg-none/logs", nil, nil, 404)
	admin.MustDo(http.MethodGet, "/api/v1/clusters/nope/stacks/"+stack+"/logs", nil, nil, 404)

	// Following streams the lines; when the client goes away, the engine
	// streams and every goroutine behind them end.
	for _, sse := range []bool{true, false} {
		t.Run(fmt.Sprintf("follow sse=%v", sse), func(t *testing.T) {
			ignore := goleak.IgnoreCurrent()
			resp, cancel := openStream(t, admin, logs+"?follow=true&tail=all", sse)
			ct, prefix := "text/plain; charset=utf-8", ""
			if sse {
				ct, prefix = "text/event-stream", "data: "
			}
			if got := resp.Header.Get("Content-Type"); got != ct {
				t.Errorf("Content-Type %q, want %q", got, ct)
			}
			in := lines(resp.Body)
			missing := map[string]bool{}
			for _, tag := range want {
				missing[prefix+tag+" | line 5"] = true
			}
			deadline := time.After(30 * time.Second)
			for len(missing) > 0 {
				select {
				case l, ok := <-in:
					if !ok {
						t.Fatalf("stream ended; still missing %v", missing)
					}
					delete(missing, l)
				case <-deadline:
					t.Fatalf("no %v within 30s", missing)
				}
			}
			cancel()
			resp.Body.Close()
			testenv.Poll(t, 20*time.Second, "no goroutine left from the log streams", func() error {
				return goleak.Find(ignore,
					goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).getCh.func1"),
					goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).workerFunc"),
					goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
					goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
					goleak.IgnoreAnyFunction("internal/poll.runtime_pollWait"))
			})
		})
	}
}

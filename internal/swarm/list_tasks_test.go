package swarm

import (
	"context"
	"errors"
	"testing"

	"github.com/docker/docker/api/types/swarm"
)

// failingList is a listFake whose calls of one kind fail.
type failingList struct {
	*listFake
	failing string
	err     error
}

func (f failingList) ServiceList(ctx context.Context, o swarm.ServiceListOptions) ([]swarm.Service, error) {
	if f.failing == "ServiceList" {
		return nil, f.err
	}
	return f.listFake.ServiceList(ctx, o)
}

func (f failingList) NodeList(ctx context.Context, o swarm.NodeListOptions) ([]swarm.Node, error) {
	if f.failing == "NodeList" {
		return nil, f.err
	}
	return f.listFake.NodeList(ctx, o)
}

func (f failingList) TaskList(ctx context.Context, o swarm.TaskListOptions) ([]swarm.Task, error) {
	if f.failing == "TaskList" {
		return nil, f.err
	}
	return f.listFake.TaskList(ctx, o)
}

// TestListTasks_AnyCallFails: the list fails with the error of whichever
// of its calls failed, filtered or not.
func TestListTasks_AnyCallFails(t *testing.T) {
	for _, failing := range []string{"ServiceList", "NodeList", "TaskList"} {
		for _, tf := range []TaskFilter{{}, {Service: "api"}, {Node: "w1"}} {
			boom := errors.New("boom " + failing)
			_, err := listTasks(context.Background(), failingList{taskFixture(), failing, boom}, "prod", tf, nil)
			if !errors.Is(err, boom) {
				t.Errorf("%s failing, %+v: %v", failing, tf, err)
			}
		}
	}
}

// TestListNodes_TaskListFails: a failed count fails the list.
func TestListNodes_TaskListFails(t *testing.T) {
	boom := errors.New("boom")
	f := failingList{&listFake{nodes: []swarm.Node{node("n1", "a")}}, "TaskList", boom}
	if _, err := listKnownNodes(context.Background(), f, Filter{}, []string{"n1"}); !errors.Is(err, boom) {
		t.Errorf("got %v", err)
	}
}

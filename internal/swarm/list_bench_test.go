package swarm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
)

// Benchmarks of the list path's own work on answers shaped as the
// engine's (issue 16): 10,000 pending tasks of 1,000 services, as the
// performance table's load. The end-to-end benchmark against a real
// engine is internal/httpapi's BenchmarkListOverhead.

func benchEngineAnswers(b *testing.B, services, replicas int) (sdata, tdata []byte) {
	b.Helper()
	t0 := time.Date(2026, 11, 30, 10, 8, 16, 143324487, time.UTC)
	id := func(kind string, i int) string { return fmt.Sprintf("%s%024d", kind, i)[:25] }
	var ss []swarm.Service
	var ts []swarm.Task
	for i := range services {
		n := uint64(replicas)
		s := swarm.Service{ID: id("s", i)}
		s.Version.Index = uint64(49 + i)
		s.CreatedAt, s.UpdatedAt = t0, t0
		s.Spec.Name = fmt.Sprintf("bench-%04d", i)
		s.Spec.Labels = map[string]string{"bench": "1"}
		s.Spec.TaskTemplate = swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{Image: "swarmops-test/hello:1", Isolation: "default"},
			Placement:     &swarm.Placement{Constraints: []string{"node.labels.bench-none==1"}},
			Runtime:       "container",
		}
		s.Spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &n}
		s.ServiceStatus = &swarm.ServiceStatus{DesiredTasks: n}
		ss = append(ss, s)
		for r := range replicas {
			t := swarm.Task{ID: id("t", i*replicas+r), ServiceID: s.ID, Slot: r + 1, DesiredState: swarm.TaskStateRunning}
			t.Version.Index = uint64(900 + i)
			t.CreatedAt, t.UpdatedAt = t0.Add(time.Duration(r)*time.Millisecond), t0.Add(time.Second)
			t.Annotations.Labels = map[string]string{}
			t.Spec = swarm.TaskSpec{ContainerSpec: s.Spec.TaskTemplate.ContainerSpec, Placement: s.Spec.TaskTemplate.Placement}
			t.Status = swarm.TaskStatus{Timestamp: t0, State: swarm.TaskStatePending, Message: "pending task scheduling",
				Err: "no suitable node (scheduling constraints not satisfied on 1 node)", PortStatus: swarm.PortStatus{}}
			ts = append(ts, t)
		}
	}
	// The engine answers in the order of IDs, random for these.
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(ts), func(i, j int) { ts[i], ts[j] = ts[j], ts[i] })
	var err error
	if sdata, err = json.Marshal(ss); err != nil {
		b.Fatal(err)
	}
	if tdata, err = json.Marshal(ts); err != nil {
		b.Fatal(err)
	}
	return sdata, tdata
}

func BenchmarkListRead(b *testing.B) {
	sdata, tdata := benchEngineAnswers(b, 1000, 10)
	b.Run("tasks-docker", func(b *testing.B) {
		b.SetBytes(int64(len(tdata)))
		for b.Loop() {
			var v []swarm.Task
			if err := json.NewDecoder(bytes.NewReader(tdata)).Decode(&v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tasks", func(b *testing.B) {
		b.SetBytes(int64(len(tdata)))
		for b.Loop() {
			if _, err := readItems(tdata, readTaskRow); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tasks-running", func(b *testing.B) {
		b.SetBytes(int64(len(tdata)))
		for b.Loop() {
			if _, err := readItems(tdata, readRunningTask); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("services-docker", func(b *testing.B) {
		b.SetBytes(int64(len(sdata)))
		for b.Loop() {
			var v []swarm.Service
			if err := json.NewDecoder(bytes.NewReader(sdata)).Decode(&v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("services", func(b *testing.B) {
		b.SetBytes(int64(len(sdata)))
		for b.Loop() {
			if _, err := readItems(sdata, readServiceSummary); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkListTasksRows(b *testing.B) {
	sdata, tdata := benchEngineAnswers(b, 1000, 10)
	rows, err := readItems(tdata, readTaskRow)
	if err != nil {
		b.Fatal(err)
	}
	names, err := readItems(sdata, readServiceName)
	if err != nil {
		b.Fatal(err)
	}
	nodes := []swarm.Node{node("n1", "host-1")}
	b.Run("name-sort", func(b *testing.B) {
		for b.Loop() {
			nameTasks([][]Task{append([]Task(nil), rows...)}, names, nodes, "")
		}
	})
	named := nameTasks([][]Task{append([]Task(nil), rows...)}, names, nodes, "")
	b.Run("write", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = buf[:0]
			for i := range named {
				if buf, err = named[i].AppendJSON(buf); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("write-encoding-json", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(named); err != nil {
				b.Fatal(err)
			}
		}
	})
}

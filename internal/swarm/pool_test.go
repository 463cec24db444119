package swarm

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"

	"github.com/swarmops/swarmops/internal/testenv"
)

// TestPool_FirstCallsOfASharedClient: the first calls of a new pooled
// client, made at once by many requests, settle its API version once and
// race on nothing (under -race, the docker client's own lazy negotiation
// writes the version while a filtered list reads it); an engine that does
// not answer fails ready as not sent, so that another manager is tried.
func TestPool_FirstCallsOfASharedClient(t *testing.T) {
	sw := testenv.SharedSwarm(t)
	p := NewPool(3 * time.Second)
	t.Cleanup(p.Close)
	api, err := p.Client(sw.Managers[0].Endpoint, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	overlay := filters.NewArgs(filters.Arg("driver", "overlay"))
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			if err := p.ready(ctx, api); err != nil {
				errc <- err
				return
			}
			var err error
			if i%2 == 0 {
				_, err = api.NetworkList(ctx, network.ListOptions{Filters: overlay})
			} else {
				_, err = api.ServiceList(ctx, swarm.ServiceListOptions{})
			}
			if err != nil {
				errc <- err
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Errorf("a first call failed: %v", err)
	}
	if v := api.ClientVersion(); v == "" {
		t.Error("no API version settled")
	}

	// An endpoint nothing listens on: not sent, so the next is tried.
	down, err := p.Client("tcp://127.0.0.1:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	err = p.ready(ctx, down)
	if err == nil || classify(err, false, write) != notSent {
		t.Errorf("ready of a closed port: %v (want a not-sent failure)", err)
	}
}

// TestPool_WaitingForAHangingEngine: while one caller's ping of a new
// client hangs, another that gives up waiting for it reports nothing sent
// (a write may then go to another manager, not "may have been applied").
func TestPool_WaitingForAHangingEngine(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var held []net.Conn
	var mu sync.Mutex
	go func() { // accept, never answer
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	p := NewPool(time.Second)
	t.Cleanup(p.Close)
	api, err := p.Client("tcp://"+ln.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		first <- p.ready(ctx, api)
	}()
	// The first caller holds the gate once its ping has reached the engine.
	testenv.Poll(t, 5*time.Second, "the first caller's ping to reach the hanging engine", func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(held) == 0 {
			return fmt.Errorf("no connection yet")
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = p.ready(ctx, api)
	if err == nil || classify(err, true, write) != notSent {
		t.Errorf("the waiting caller: %v (want a not-sent failure)", err)
	}
	if err := <-first; err == nil || classify(err, true, write) != notSent {
		t.Errorf("the caller whose ping hung: %v (want a not-sent failure)", err)
	}
}

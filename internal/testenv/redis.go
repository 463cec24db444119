package testenv

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// RedisServer is a private redis-server on a loopback port.
type RedisServer struct {
	Addr     string // 127.0.0.1:port
	Password string
	dir      string
	args     []string
	mu       sync.Mutex
	proc     *Process
}

// URL answers the redis:// URL for database db.
func (r *RedisServer) URL(db int) string {
	if r.Password != "" {
		return fmt.Sprintf("redis://:%s@%s/%d", r.Password, r.Addr, db)
	}
	return fmt.Sprintf("redis://%s/%d", r.Addr, db)
}

var (
	sharedRedisOnce sync.Once
	sharedRedis     *RedisServer
	sharedRedisErr  error
)

// Redis answers a redis-server shared by every test of this process. Give
// each test its own key prefix; never stop this one (see NewRedis).
func Redis(t testing.TB) *RedisServer {
	t.Helper()
	Require(t, "redis-server", "redis-server")
	dir := BaseDir(t)
	sharedRedisOnce.Do(func() {
		sharedRedis, sharedRedisErr = startRedis(filepath.Join(dir, "redis-shared"), "")
		if sharedRedisErr == nil {
			atExit(func() { _ = sharedRedis.Stop() })
		}
	})
	if sharedRedisErr != nil {
		t.Fatalf("testenv: %v", sharedRedisErr)
	}
	return sharedRedis
}

// NewRedis starts a redis-server of the test's own, with password (if not
// empty) and append-only persistence, which it may stop and start again on
// the same address. It is stopped when the test ends.
func NewRedis(t testing.TB, password string) *RedisServer {
	t.Helper()
	Require(t, "redis-server", "redis-server")
	r, err := startRedis(SubDir(t, "redis"), password)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { _ = r.Stop() })
	return r
}

func startRedis(dir, password string) (*RedisServer, error) {
	if err := mkdirAll(dir); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &RedisServer{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Password: password, dir: dir}
	r.args = []string{
		"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir,
		"--save", "", "--appendonly", "yes", "--protected-mode", "no",
		"--daemonize", "no", "--logfile", "",
	}
	if password != "" {
		r.args = append(r.args, "--requirepass", password)
	}
	return r, r.Start()
}

// Start (re)starts the server on its address and waits until it accepts
// connections.
func (r *RedisServer) Start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc != nil && r.proc.Running() {
		return nil
	}
	p, err := startProcess("redis-server", filepath.Join(r.dir, "redis.log"), exec.Command("redis-server", r.args...))
	if err != nil {
		return err
	}
	r.proc = p
	if err := waitTCP(r.Addr, 10*time.Second, p); err != nil {
		return fmt.Errorf("redis-server on %s: %w; log: %s", r.Addr, err, tail(p.Log, 2000))
	}
	return nil
}

// Stop stops the server and waits for it to exit.
func (r *RedisServer) Stop() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc == nil {
		return nil
	}
	return r.proc.Stop(10 * time.Second)
}

// Kill stops the server with SIGKILL.
func (r *RedisServer) Kill() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc == nil {
		return nil
	}
	return r.proc.Kill()
}

// RedisCounts are counters of a Redis's INFO stats.
type RedisCounts struct {
	Commands int64 // total_commands_processed: a script's own commands count too
	Reads    int64 // total_reads_processed: requests read from clients, round trips
}

// RedisStats answers rdb's server's counts; the INFO that reads them is
// one more command and one more read.
func RedisStats(t testing.TB, rdb *goredis.Client) RedisCounts {
	t.Helper()
	info, err := rdb.Info(context.Background(), "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	var c RedisCounts
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch k {
		case "total_commands_processed":
			dst = &c.Commands
		case "total_reads_processed":
			dst = &c.Reads
		default:
			continue
		}
		if *dst, err = strconv.ParseInt(v, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	if c.Commands == 0 || c.Reads == 0 {
		t.Fatal("no total_commands_processed or total_reads_processed in INFO stats")
	}
	return c
}

package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Nginx is a private nginx whose prefix directory holds its config, pid
// file, logs and temp files.
type Nginx struct {
	Dir  string // prefix: nginx.conf, error.log, access.log, tmp/
	Port int    // the free loopback port that {{PORT}} stands for
	Addr string // 127.0.0.1:Port
	URL  string // http://Addr

	mu   sync.Mutex
	proc *Process
}

// NginxConf answers a complete nginx.conf whose http block holds http
// (server and upstream blocks), with everything nginx writes under
// {{DIR}}. Workers run as root because the prefix is inside the test's
// private (0700) directory.
//
//	testenv.StartNginx(t, testenv.NginxConf(`server {
//		listen 127.0.0.1:{{PORT}};
//		location / { proxy_pass http://127.0.0.1:8080; }
//	}`))
func NginxConf(http string) string {
	return `user root root;
worker_processes 1;
pid {{DIR}}/nginx.pid;
error_log {{DIR}}/error.log notice;
events { worker_connections 256; }
http {
	access_log {{DIR}}/access.log;
	client_body_temp_path {{DIR}}/tmp/body;
	proxy_temp_path {{DIR}}/tmp/proxy;
	fastcgi_temp_path {{DIR}}/tmp/fastcgi;
	uwsgi_temp_path {{DIR}}/tmp/uwsgi;
	scgi_temp_path {{DIR}}/tmp/scgi;
` + http + `
}
`
}

// StartNginx writes config as Dir/nginx.conf, with "{{DIR}}" replaced by
// the prefix directory and "{{PORT}}" by a free loopback port, which the
// config must listen on (see NginxConf). It runs `nginx -p Dir -c
// Dir/nginx.conf -g 'daemon off;'`, waits until the port accepts
// connections, and stops nginx when the test ends.
func StartNginx(t testing.TB, config string) *Nginx {
	t.Helper()
	Require(t, "nginx", "nginx")
	if !strings.Contains(config, "{{PORT}}") {
		t.Fatalf("testenv: the nginx config must listen on 127.0.0.1:{{PORT}}")
	}
	dir := SubDir(t, "nginx")
	port := FreePort(t)
	x := &Nginx{Dir: dir, Port: port, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	x.URL = "http://" + x.Addr
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	if err := x.writeConfig(config); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	cmd := exec.Command("nginx", x.args("-g", "daemon off;")...)
	p, err := startProcess("nginx", filepath.Join(dir, "nginx.out"), cmd)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	x.proc = p
	t.Cleanup(func() { _ = x.Stop() })
	if err := waitTCP(x.Addr, 10*time.Second, p); err != nil {
		t.Fatalf("testenv: nginx on %s: %v\n%s%s", x.Addr, err, tail(p.Log, 2000), tail(filepath.Join(dir, "error.log"), 2000))
	}
	return x
}

func (x *Nginx) args(more ...string) []string {
	// -e: the error log before the config is read, which otherwise is the
	// system's /var/log/nginx/error.log.
	return append([]string{"-p", x.Dir + "/", "-c", filepath.Join(x.Dir, "nginx.conf"), "-e", filepath.Join(x.Dir, "error.log")}, more...)
}

// writeConfig writes and checks (nginx -t) a config.
func (x *Nginx) writeConfig(config string) error {
	config = strings.NewReplacer("{{DIR}}", x.Dir, "{{PORT}}", strconv.Itoa(x.Port)).Replace(config)
	if err := os.WriteFile(filepath.Join(x.Dir, "nginx.conf"), []byte(config), 0o644); err != nil {
		return err
	}
	if out, err := exec.Command("nginx", x.args("-t", "-q")...).CombinedOutput(); err != nil {
		return fmt.Errorf("nginx config: %v\n%s\nconfig:\n%s", err, out, config)
	}
	return nil
}

// Reload writes a new config (if not empty; same placeholders), makes nginx
// reload it and waits until the workers of the old config have exited.
func (x *Nginx) Reload(config string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if config != "" {
		if err := x.writeConfig(config); err != nil {
			return err
		}
	}
	old := childPids(x.proc.Pid())
	if err := x.proc.Signal(syscall.SIGHUP); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		now := childPids(x.proc.Pid())
		if len(now) > 0 && !slices.ContainsFunc(now, func(p int) bool { return slices.Contains(old, p) }) {
			return nil
		}
		if !x.proc.Running() {
			return fmt.Errorf("nginx exited on reload: %s", tail(filepath.Join(x.Dir, "error.log"), 2000))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nginx reload: old workers still running after 10s: %s", tail(filepath.Join(x.Dir, "error.log"), 2000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops nginx and waits for it to exit.
func (x *Nginx) Stop() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.proc.Stop(10 * time.Second)
}

// childPids answers the processes whose parent is pid.
func childPids(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if p, err := strconv.Atoi(e.Name()); err == nil && procPPid(p) == pid && procState(p) != 'Z' {
			out = append(out, p)
		}
	}
	return out
}

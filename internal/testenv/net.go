package testenv

import (
	"fmt"
	"net"
	"os"
	"time"
)

func mkdirAll(dir string) error { return os.MkdirAll(dir, 0o755) }

// freePort answers a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// FreePort answers a free loopback TCP port or fails the test.
func FreePort(t interface {
	Helper()
	Fatalf(string, ...any)
}) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatalf("testenv: free port: %v", err)
	}
	return p
}

// waitTCP polls addr until it accepts a connection, the deadline passes or
// p exits.
func waitTCP(addr string, timeout time.Duration, p *Process) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if p != nil && !p.Running() {
			return fmt.Errorf("exited before accepting connections")
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not accepting connections after %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

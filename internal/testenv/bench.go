package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
)

// The helpers of the benchmarks that set SwarmOps against the engines it
// fronts (bench/, internal/httpapi's *_bench_test.go).

// KeepAliveTransport answers a keep-alive transport of its own, for either
// side of a comparison: no compression (neither SwarmOps nor the engine
// compresses), no proxy, at most maxIdle idle connections, maxIdlePerHost
// per host.
func KeepAliveTransport(maxIdle, maxIdlePerHost int) *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        maxIdle,
		MaxIdleConnsPerHost: maxIdlePerHost,
		IdleConnTimeout:     5 * time.Minute,
		DisableCompression:  true,
	}
}

// TimedGet sends a method request (GET, HEAD) of url on c, with header
// unless nil, and reads the answer's body to its end, discarding it. It
// answers the time from the request sent to the body read and the body's
// length, and an error naming method and url for a failed request or an
// answer other than 200. It does not end the test, so goroutines may call
// it.
func TimedGet(c *http.Client, method, url string, header http.Header) (time.Duration, int, error) {
	return send(c, method, url, header, io.Discard)
}

// Fetch answers the body of a GET of url on c, with header unless nil, or
// an error naming url for a failed request or an answer other than 200
// (with the start of its body).
func Fetch(c *http.Client, url string, header http.Header) ([]byte, error) {
	var body bytes.Buffer
	if _, _, err := send(c, http.MethodGet, url, header, &body); err != nil {
		if body.Len() > 0 {
			err = fmt.Errorf("%w: %.300s", err, body.Bytes())
		}
		return nil, err
	}
	return body.Bytes(), nil
}

// send is TimedGet writing the body to w.
func send(c *http.Client, method, url string, header http.Header, w io.Writer) (time.Duration, int, error) {
	req, err := http.NewRequestWithContext(context.Background(), method, url, nil)
	if err != nil {
		return 0, 0, err
	}
	if header != nil {
		req.Header = header
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("%s %s: %w", method, url, err)
	}
	n, err := io.Copy(w, resp.Body)
	_ = resp.Body.Close()
	took := time.Since(start)
	if err != nil || resp.StatusCode != http.StatusOK {
		return took, int(n), fmt.Errorf("%s %s: %d %v", method, url, resp.StatusCode, err)
	}
	return took, int(n), nil
}

// EngineAPI is an engine's API as a plain HTTP client asks it, on the TCP
// endpoint SwarmOps uses.
type EngineAPI struct {
	Base    string // http://addr:port, for unversioned paths (/_ping)
	API     string // the API version the engine speaks, e.g. 1.41
	Version string // the engine's version
	HTTP    *http.Client
}

// NewEngineAPI asks the engine at endpoint (tcp://addr:port) its versions
// (GET /version) on c. The docker client negotiates down to the engine's
// API version (SwarmOps does so), and its own is newer than any engine
// here, so the engine's is what both speak.
func NewEngineAPI(c *http.Client, endpoint string) (EngineAPI, error) {
	e := EngineAPI{Base: "http://" + strings.TrimPrefix(endpoint, "tcp://"), HTTP: c}
	body, err := Fetch(c, e.Base+"/version", nil)
	if err != nil {
		return e, fmt.Errorf("engine %s: %w", endpoint, err)
	}
	var v struct{ Version, APIVersion string }
	if err := json.Unmarshal(body, &v); err != nil {
		return e, fmt.Errorf("engine %s /version: %w: %.200s", endpoint, err, body)
	}
	if v.APIVersion == "" {
		return e, fmt.Errorf("engine %s /version names no API version: %.200s", endpoint, body)
	}
	e.API, e.Version = v.APIVersion, v.Version
	return e, nil
}

// URL answers the URL of path in the engine's API version, e.g.
// http://addr:2375/v1.41/nodes for /nodes.
func (e EngineAPI) URL(path string) string { return e.Base + "/v" + e.API + path }

// CPUTime answers the CPU time (user + system) the node's dockerd has
// used so far, read from /proc/<pid>/stat: in clock ticks of 10 ms
// (USER_HZ on Linux).
func (n *Node) CPUTime() (time.Duration, error) {
	pid, err := os.ReadFile(filepath.Join(n.Dir, "pid"))
	if err != nil {
		return 0, fmt.Errorf("testenv: dockerd pid file: %w", err)
	}
	stat, err := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("testenv: dockerd stat: %w", err)
	}
	// Fields after the command's closing parenthesis: utime and stime are
	// the 14th and 15th of the whole line.
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0, fmt.Errorf("testenv: dockerd stat: %d fields after the command", len(f))
	}
	var ticks int64
	for _, v := range f[11:13] {
		t, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("testenv: dockerd stat: %w", err)
		}
		ticks += t
	}
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ticks) * time.Second / hz, nil
}

// WaitTasks waits until api lists want tasks (the orchestrator makes a
// service's tasks after its create answered), asking every second, or
// fails the test after timeout with the last count or error.
func WaitTasks(t testing.TB, api client.APIClient, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		tasks, err := api.TaskList(ctx, swarm.TaskListOptions{})
		cancel()
		if err == nil && len(tasks) == want {
			return
		}
		if time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("testenv: waited %s for %d tasks on engine %s: task list: %v", timeout, want, api.DaemonHost(), err)
			}
			t.Fatalf("testenv: engine %s lists %d tasks after %s, want %d", api.DaemonHost(), len(tasks), timeout, want)
		}
		time.Sleep(time.Second)
	}
}

// Alternate calls each of calls once a round, as long as more answers
// true, and answers the median of each one's results (a time, req/s), in
// the order of calls. Round i calls them in turn from call i mod
// len(calls) on, so that none is always first: for two, a then b, b then
// a, a then b, and so on. more is a testing.B's Loop, or Rounds(n).
func Alternate[T ~int64 | ~float64](more func() bool, calls ...func() T) []T {
	got := make([][]T, len(calls))
	for i := 0; more(); i++ {
		for k := range calls {
			j := (i + k) % len(calls)
			got[j] = append(got[j], calls[j]())
		}
	}
	medians := make([]T, len(calls))
	for j, v := range got {
		medians[j] = Median(v)
	}
	return medians
}

// Rounds answers a more for Alternate that answers true n times.
func Rounds(n int) func() bool {
	return func() bool {
		n--
		return n >= 0
	}
}

// Median answers the middle value of v (the mean of the two middle ones
// for an even count), 0 for none.
func Median[T ~int64 | ~float64](v []T) T {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

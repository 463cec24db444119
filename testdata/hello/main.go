// Command hello is the test image's server: a static binary that runs
// FROM scratch (no shell), answers GET / with its hostname and version,
// /healthz with 200, and logs one line per request to stdout.
//
//	hello [-addr :8080] [-version V] [-lines N]   serve (env HELLO_ADDR, HELLO_VERSION, HELLO_LINES)
//	hello healthcheck [-addr :8080]               exit 0 if /healthz answers 200, else 1
//
// GET /exit?code=N makes it exit with status N, for restart-policy tests.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		os.Exit(healthcheck(os.Args[2:]))
	}
	fs := flag.NewFlagSet("hello", flag.ExitOnError)
	addr := fs.String("addr", env("HELLO_ADDR", ":8080"), "listen address")
	version := fs.String("version", env("HELLO_VERSION", "dev"), "version to report")
	lines := fs.Int("lines", envInt("HELLO_LINES", 0), "numbered lines to print at start")
	_ = fs.Parse(os.Args[1:])
	code, err := serve(*addr, *version, *lines)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hello:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

// serve runs until SIGTERM/SIGINT or GET /exit and answers the exit status.
func serve(addr, version string, lines int) (int, error) {
	host, _ := os.Hostname()
	for i := 1; i <= lines; i++ {
		fmt.Printf("line %d\n", i)
	}
	exit := make(chan int, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"hostname": host, "version": version})
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /exit", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		fmt.Fprintf(w, "exiting with %d\n", code)
		select {
		case exit <- code:
		default:
		}
	})
	srv := &http.Server{Handler: logRequests(mux), ReadHeaderTimeout: 10 * time.Second}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return 1, err
	}
	fmt.Printf("hello: listening on %s hostname=%s version=%s\n", l.Addr(), host, version)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	code := 0
	select {
	case err := <-errc:
		return 1, err
	case s := <-sigs:
		fmt.Printf("hello: %s, stopping\n", s)
	case code = <-exit:
		fmt.Printf("hello: exit %d requested\n", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	return code, nil
}

// statusWriter remembers the status for the access log line.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		fmt.Printf("hello: %s %s from %s %d\n", r.Method, r.URL.RequestURI(), r.RemoteAddr, sw.status)
	})
}

// healthcheck is the image's HEALTHCHECK: the image has no shell or curl.
func healthcheck(args []string) int {
	fs := flag.NewFlagSet("healthcheck", flag.ExitOnError)
	addr := fs.String("addr", env("HELLO_ADDR", ":8080"), "address the server listens on")
	_ = fs.Parse(args)
	_, port, err := net.SplitHostPort(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + net.JoinHostPort("127.0.0.1", port) + "/healthz")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = errors.New(resp.Status)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	return 0
}

func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

func envInt(key string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(key)); err == nil {
		return n
	}
	return def
}

package deploy_test

import (
	"crypto/subtle"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/testenv"
)

// authUser is a user of the test's auth service: signed in either by the
// service's session cookie (authCookie = Cookie) or by basic credentials.
type authUser struct {
	Name, Password, Cookie string
	Groups                 []string
}

// authCookie is the auth service's session cookie, named as oauth2-proxy
// names its own.
const authCookie = "_oauth2_proxy"

// authRefreshCookie is a cookie the auth service sets in every answer
// that lets a request in, as oauth2-proxy does when it refreshes its
// session; nginx must hand it on.
const authRefreshCookie = "ap_refreshed"

// authAsked is one question nginx asked the auth service.
type authAsked struct {
	Method         string // of the question itself
	OriginalMethod string // X-Original-Method
	OriginalURI    string // X-Original-URI
	ForwardedUser  string // X-Forwarded-User, which nginx must clear
	ContentLength  int64
	BodyLen        int
	User           string // whom the service recognized ("" for nobody)
}

// authService is a small auth service in the manner of oauth2-proxy's
// /oauth2/auth endpoint: 202 with X-Auth-Request-User and
// X-Auth-Request-Groups for a request that carries the session cookie or
// basic credentials of a known user, 401 otherwise. /oauth2/start stands
// for its sign-in page.
type authService struct {
	Addr string // 127.0.0.1:port

	users []authUser
	srv   *http.Server

	mu    sync.Mutex
	asked []authAsked
}

// startAuthService serves users on a free loopback port until the test
// ends.
func startAuthService(t testing.TB, users []authUser) *authService {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &authService{Addr: ln.Addr().String(), users: users}
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth2/auth", s.auth)
	mux.HandleFunc("/oauth2/start", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "the auth service's sign-in page; rd=%s\n", r.URL.Query().Get("rd"))
	})
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(s.Stop)
	return s
}

// Stop closes the service's listener and connections.
func (s *authService) Stop() { _ = s.srv.Close() }

func (s *authService) auth(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	a := authAsked{Method: r.Method, OriginalMethod: r.Header.Get("X-Original-Method"), OriginalURI: r.Header.Get("X-Original-URI"),
		ForwardedUser: r.Header.Get("X-Forwarded-User"), ContentLength: r.ContentLength, BodyLen: len(body)}
	u, ok := s.identify(r)
	if ok {
		a.User = u.Name
	}
	s.mu.Lock()
	s.asked = append(s.asked, a)
	s.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.Header().Set("X-Auth-Request-User", u.Name)
	if len(u.Groups) > 0 {
		w.Header().Set("X-Auth-Request-Groups", strings.Join(u.Groups, ","))
	}
	http.SetCookie(w, &http.Cookie{Name: authRefreshCookie, Value: u.Name, Path: "/", HttpOnly: true})
	w.WriteHeader(http.StatusAccepted)
}

// identify finds the user of r's session cookie or basic credentials.
func (s *authService) identify(r *http.Request) (authUser, bool) {
	cookie, _ := r.Cookie(authCookie)
	name, pw, basic := r.BasicAuth()
	for _, u := range s.users {
		switch {
		case cookie != nil && u.Cookie != "" && subtle.ConstantTimeCompare([]byte(cookie.Value), []byte(u.Cookie)) == 1:
			return u, true
		case basic && name == u.Name && u.Password != "" && subtle.ConstantTimeCompare([]byte(pw), []byte(u.Password)) == 1:
			return u, true
		}
	}
	return authUser{}, false
}

// lastAsked answers the last question whose original URI was uri.
func (s *authService) lastAsked(uri string) (authAsked, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.asked) - 1; i >= 0; i-- {
		if s.asked[i].OriginalURI == uri {
			return s.asked[i], nil
		}
	}
	return authAsked{}, fmt.Errorf("the auth service was never asked about %s", uri)
}

// proxyBindAddr is the address the test's nginx connects to SwarmOps
// from: not the test's own 127.0.0.1, so that SwarmOps can trust nginx
// alone.
const proxyBindAddr = "127.0.0.2"

// authProxyConf answers deploy/nginx/auth-proxy.conf for
// testenv.StartNginx: its `server swarmops:10130 ...` lines repeated for
// each instance's address, its auth service's `server` line pointing at
// as, `listen 80` on the test's loopback port, and `proxy_bind` to
// proxyBindAddr. Then edit, if not nil, may change the text (a test's
// negative control). Nothing else of the file changes.
func authProxyConf(t testing.TB, as *authService, edit func(string) string, ins ...*instance) string {
	t.Helper()
	conf := projectConf(t, "auth-proxy.conf", ins...)
	auth := regexp.MustCompile(`(?m)^(\s*)server\s+oauth2-proxy:4180\b([^;]*);`)
	if n := len(auth.FindAllString(conf, -1)); n != 1 {
		t.Fatalf("auth-proxy.conf: expected 1 `server oauth2-proxy:4180` line (the auth service), found %d", n)
	}
	conf = auth.ReplaceAllString(conf, "${1}server "+as.Addr+"${2};")
	listen := regexp.MustCompile(`(?m)^(\s*)listen\s+80\b.*$`)
	if n := len(listen.FindAllString(conf, -1)); n != 1 {
		t.Fatalf("auth-proxy.conf: expected 1 `listen 80`, found %d", n)
	}
	conf = listen.ReplaceAllString(conf, "${1}listen 127.0.0.1:{{PORT}};\n${1}proxy_bind "+proxyBindAddr+";")
	if edit != nil {
		conf = edit(conf)
	}
	return testenv.NginxConf(conf)
}

// noRedirect is a client that answers redirects instead of following them.
var noRedirect = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// send sends method url with headers h and body (sent as is) and answers
// the status, body and headers.
func send(c *http.Client, method, url string, h map[string]string, body string) (int, []byte, http.Header, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return 0, nil, nil, err
	}
	for k, v := range h {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	return exchange(c, req)
}

// countLogMessages answers how many JSON lines of an instance's log have
// message msg.
func countLogMessages(path, msg string) int {
	n := 0
	for _, l := range logLines(path) {
		if l["message"] == msg {
			n++
		}
	}
	return n
}

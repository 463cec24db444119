package deploy_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/swarmops/swarmops/internal/testenv"
)

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "swarmops test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "swarmops.crt"), filepath.Join(dir, "swarmops.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestNginxTLS runs deploy/nginx/swarmops.conf with deploy/nginx/tls.conf
// in its swarmops.d/ include, a self-signed certificate in place of the
// placeholders: HTTPS answers over HTTP/2, the session cookie is Secure
// behind it, and plain HTTP is sent to HTTPS.
func TestNginxTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx and a SwarmOps process")
	}
	in := startInstance(t, "tls-1", nil)
	in.waitReady(t)
	certFile, keyFile, pool := selfSigned(t, t.TempDir())

	tlsConf, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "nginx", "tls.conf"))
	if err != nil {
		t.Fatal(err)
	}
	inc := string(tlsConf)
	for old, repl := range map[string]string{
		"listen 443 ssl http2;":       "listen 127.0.0.1:{{PORT}} ssl http2;",
		"/etc/nginx/tls/swarmops.crt": certFile,
		"/etc/nginx/tls/swarmops.key": keyFile,
		"shared:swarmops_tls:10m":     "shared:swarmops_tls:1m",
	} {
		if !strings.Contains(inc, old) {
			t.Fatalf("tls.conf no longer has %q; update this test with it", old)
		}
		inc = strings.ReplaceAll(inc, old, repl)
	}
	plainPort := testenv.FreePort(t)
	conf := nginxConf(t, in)
	conf = strings.Replace(conf, "listen 127.0.0.1:{{PORT}}", "listen 127.0.0.1:"+strconv.Itoa(plainPort), 1)
	include := regexp.MustCompile(`(?m)^\s*include swarmops\.d/\*\.conf;`)
	if !include.MatchString(conf) {
		t.Fatalf("swarmops.conf has no `include swarmops.d/*.conf;` in its server block")
	}
	conf = include.ReplaceAllLiteralString(conf, inc)
	x := testenv.StartNginx(t, conf)

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true,
	}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := "https://" + x.Addr

	resp, err := client.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz over TLS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Errorf("GET /healthz over TLS: %d over %s; want 200 over HTTP/2", resp.StatusCode, resp.Proto)
	}
	if hsts := resp.Header.Get("Strict-Transport-Security"); !strings.Contains(hsts, "max-age=") {
		t.Errorf("no Strict-Transport-Security over TLS: %q", hsts)
	}

	// The login page and a login through TLS: the session cookie is Secure.
	resp, err = client.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Errorf("GET /login over TLS: %d over %s", resp.StatusCode, resp.Proto)
	}
	st, body, h, err := do(client, http.MethodPost, base+"/api/v1/auth/login", session{},
		map[string]string{"username": "admin", "password": adminPassword}, nil)
	if err != nil || st != 200 {
		t.Fatalf("login over TLS: %d %v %s", st, err, body)
	}
	var secure bool
	for _, c := range (&http.Response{Header: h}).Cookies() {
		secure = secure || (c.Name == "swarmops_session" && c.Secure)
	}
	if !secure {
		t.Errorf("the session cookie over TLS is not Secure: %v", h.Values("Set-Cookie"))
	}

	// Plain HTTP goes to HTTPS, keeping the method (308).
	resp, err = client.Get("http://127.0.0.1:" + strconv.Itoa(plainPort) + "/login?next=%2F")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != 308 || !strings.HasPrefix(loc, "https://127.0.0.1") || !strings.HasSuffix(loc, "/login?next=%2F") {
		t.Errorf("plain HTTP: %d to %q; want 308 to https://127.0.0.1.../login?next=%%2F", resp.StatusCode, loc)
	}
}

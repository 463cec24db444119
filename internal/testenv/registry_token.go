package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// The names the registry and its token service agree on.
const (
	tokenIssuer  = "swarmops-test-issuer"
	tokenService = "swarmops-test-registry"
)

// tokenLeeway is how long Distribution 2.8 still accepts a token after its
// exp claim (registry/auth/token.Leeway, for clock skew).
const tokenLeeway = 60 * time.Second

// tokenServer is the token service of a registry configured with
// `auth: token`: it answers GET /token?service=...&scope=... with a JWT
// (ES256, the signing certificate in its x5c header) that grants every
// requested action to the user of RegistryOptions, and refuses wrong
// credentials with 401.
type tokenServer struct {
	user, password string
	ttl            time.Duration
	key            *ecdsa.PrivateKey
	certDER        []byte
	certPEM        []byte
	realm          string
	srv            *http.Server
	issued         atomic.Int64
}

// startTokenServer listens on host (a free port) and serves tokens until
// stop is called.
func startTokenServer(host, user, password string, ttl time.Duration) (*tokenServer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "swarmops-test token signer"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("token signer certificate: %w", err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, fmt.Errorf("token service: %w", err)
	}
	ts := &tokenServer{
		user: user, password: password, ttl: ttl, key: key, certDER: der,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		realm:   "http://" + ln.Addr().String() + "/token",
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /token", ts.serveToken)
	ts.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = ts.srv.Serve(ln) }()
	return ts, nil
}

func (ts *tokenServer) stop() { _ = ts.srv.Close() }

// writeCert writes the signing certificate where the registry's
// rootcertbundle points.
func (ts *tokenServer) writeCert(path string) error {
	return os.WriteFile(path, ts.certPEM, 0o644)
}

func (ts *tokenServer) serveToken(w http.ResponseWriter, r *http.Request) {
	user, password, ok := r.BasicAuth()
	if ts.user != "" && (!ok || subtle.ConstantTimeCompare([]byte(user), []byte(ts.user)) != 1 ||
		subtle.ConstantTimeCompare([]byte(password), []byte(ts.password)) != 1) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"token service: incorrect username or password"}]}`)
		return
	}
	if r.URL.Query().Get("service") != tokenService {
		http.Error(w, "unknown service", http.StatusBadRequest)
		return
	}
	access := []map[string]any{}
	for _, scope := range r.URL.Query()["scope"] {
		for _, s := range strings.Fields(scope) {
			parts := strings.Split(s, ":")
			if len(parts) < 3 {
				http.Error(w, "malformed scope "+s, http.StatusBadRequest)
				return
			}
			access = append(access, map[string]any{
				"type":    parts[0],
				"name":    strings.Join(parts[1:len(parts)-1], ":"),
				"actions": strings.Split(parts[len(parts)-1], ","),
			})
		}
	}
	token, err := ts.sign(user, access)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	ts.issued.Add(1)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"token":        token,
		"access_token": token,
		"expires_in":   int(ts.ttl / time.Second),
		"issued_at":    time.Now().UTC().Format(time.RFC3339),
	})
}

// sign answers a compact JWS (ES256) of the token's claims. The registry
// accepts a token until tokenLeeway after its exp, so exp is written that
// much earlier: the registry refuses the token ttl after it was issued.
func (ts *tokenServer) sign(subject string, access []map[string]any) (string, error) {
	now := time.Now()
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	header := map[string]any{
		"typ": "JWT",
		"alg": "ES256",
		"x5c": []string{base64.StdEncoding.EncodeToString(ts.certDER)},
	}
	claims := map[string]any{
		"iss":    tokenIssuer,
		"sub":    subject,
		"aud":    tokenService,
		"exp":    now.Add(ts.ttl - tokenLeeway).Unix(),
		"nbf":    now.Add(-time.Second).Unix(),
		"iat":    now.Unix(),
		"jti":    hex.EncodeToString(jti),
		"access": access,
	}
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	digest := sha256.Sum256([]byte(signed))
	r, s, err := ecdsa.Sign(rand.Reader, ts.key, digest[:])
	if err != nil {
		return "", err
	}
	// JWS wants R and S as two fixed-size big-endian halves, not ASN.1.
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signed + "." + enc.EncodeToString(sig), nil
}

package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TLSMaterial is what a client needs to reach a TLS engine, in PEM.
type TLSMaterial struct {
	CA   string // certificate of the CA that signed the server
	Cert string // client certificate
	Key  string // client private key
}

// Config answers a client TLS configuration for m.
func (m TLSMaterial) Config() (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(m.CA)) {
		return nil, errors.New("no certificate in CA PEM")
	}
	cert, err := tls.X509KeyPair([]byte(m.Cert), []byte(m.Key))
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// TLSNode is an engine that answers only TLS clients with a certificate of
// its CA, on Endpoint (tcp://Addr:2376).
type TLSNode struct {
	*Node
	ClientTLS TLSMaterial // accepted
	// WrongTLS has the right CA (the client trusts the server) but a client
	// certificate from another CA: the engine refuses the handshake.
	WrongTLS TLSMaterial
}

type nodeTLS struct{ ca, cert, key string } // file paths for dockerd

// StartTLSNode starts a plain engine with --tlsverify and fresh
// certificates (ECDSA P-256; the server certificate names the node's
// address), and stops it when the test ends.
func StartTLSNode(t testing.TB) *TLSNode {
	t.Helper()
	requireEngine(t)
	ca, err := newCA("swarmops-test CA")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	other, err := newCA("swarmops-test other CA")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	cliCert, cliKey, err := ca.issue("swarmops-test client", nil, x509.ExtKeyUsageClientAuth)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	badCert, badKey, err := other.issue("swarmops-test client", nil, x509.ExtKeyUsageClientAuth)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	// The server certificate is made once the node has its address.
	serverFiles := func(addr, dir string) (*nodeTLS, error) {
		cert, key, err := ca.issue("swarmops-test engine", []net.IP{net.ParseIP(addr), net.IPv4(127, 0, 0, 1)}, x509.ExtKeyUsageServerAuth)
		if err != nil {
			return nil, err
		}
		f := &nodeTLS{ca: filepath.Join(dir, "ca.pem"), cert: filepath.Join(dir, "cert.pem"), key: filepath.Join(dir, "key.pem")}
		for path, data := range map[string]string{f.ca: ca.certPEM, f.cert: cert, f.key: key} {
			if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
				return nil, err
			}
		}
		return f, nil
	}
	n, err := startNode(BaseDir(t), NodeOptions{Name: "tls", tls: serverFiles})
	if n != nil {
		t.Cleanup(func() { logsOnFailure(t, n); n.destroy() })
	}
	if err == nil {
		err = n.buildHello()
	}
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return &TLSNode{
		Node:      n,
		ClientTLS: TLSMaterial{CA: ca.certPEM, Cert: cliCert, Key: cliKey},
		WrongTLS:  TLSMaterial{CA: ca.certPEM, Cert: badCert, Key: badKey},
	}
}

type certAuthority struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM string
}

func newCA(name string) (*certAuthority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(7 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &certAuthority{cert: cert, key: key, certPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}, nil
}

// issue answers a certificate and key in PEM for cn, valid for ips.
func (ca *certAuthority) issue(cn string, ips []net.IP, usage x509.ExtKeyUsage) (certPEM, keyPEM string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  ips,
	}
	if len(ips) > 0 {
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return "", "", fmt.Errorf("issue %s: %w", cn, err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})), nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

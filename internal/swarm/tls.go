package swarm

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"time"

	"github.com/swarmops/swarmops/internal/errs"
	"github.com/swarmops/swarmops/internal/seal"
	"github.com/swarmops/swarmops/internal/store"
)

// TLS is the client material for an engine endpoint, PEM encoded, as
// requests give it. Key is a secret: the domain stores it and uses it,
// and no answer carries it (views say what there is with TLSSummary).
type TLS struct {
	CA   string
	Cert string
	Key  string
}

// TLSSummary says what TLS material a cluster has, never the material.
type TLSSummary struct {
	CA         bool
	ClientCert bool
	// CertSubject and CertExpiresAt describe the client certificate when
	// it parses; empty and nil otherwise.
	CertSubject   string
	CertExpiresAt *time.Time
}

// canStoreTLS refuses t before anything is done with it when it holds a
// client key and no SWARMOPS_SECRET_KEY is configured to seal it: the
// store would refuse it after the engine was changed (a swarm inited, a
// registration half made).
func (f *Fleet) canStoreTLS(t *TLS) error {
	if t != nil && t.Key != "" && f.box == nil {
		return seal.ErrNoKey
	}
	return nil
}

// stored is t as the store keeps it.
func (t *TLS) stored() *store.TLS {
	if t == nil {
		return nil
	}
	return &store.TLS{CA: t.CA, Cert: t.Cert, Key: t.Key}
}

// tlsOf is the stored material s as the domain uses it.
func tlsOf(s *store.TLS) *TLS {
	if s == nil {
		return nil
	}
	return &TLS{CA: s.CA, Cert: s.Cert, Key: s.Key}
}

// summarizeTLS describes s without any of its PEM material.
func summarizeTLS(s *store.TLS) *TLSSummary {
	if s == nil {
		return nil
	}
	sum := &TLSSummary{CA: s.CA != "", ClientCert: s.Cert != ""}
	if b, _ := pem.Decode([]byte(s.Cert)); b != nil {
		if cert, err := x509.ParseCertificate(b.Bytes); err == nil {
			exp := cert.NotAfter.UTC()
			sum.CertSubject, sum.CertExpiresAt = cert.Subject.String(), &exp
		}
	}
	return sum
}

// tlsKey tells apart the pooled clients of one endpoint with different
// material, without keeping the material in the key.
func tlsKey(t *TLS) string {
	if t == nil {
		return ""
	}
	h := sha256.Sum256([]byte(t.CA + "\x00" + t.Cert + "\x00" + t.Key))
	return hex.EncodeToString(h[:8])
}

// TLSConfig builds the client TLS configuration of t; the error names the
// field at fault.
func TLSConfig(t *TLS) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CA != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(t.CA)) {
			return nil, errs.Invalid("tls.ca", "expected a PEM-encoded CA certificate")
		}
		cfg.RootCAs = pool
	}
	switch {
	case t.Cert != "" && t.Key != "":
		pair, err := tls.X509KeyPair([]byte(t.Cert), []byte(t.Key))
		if err != nil {
			return nil, errs.Invalid("tls.cert", "expected a PEM certificate and the PEM private key that matches it (%s)", tlsPairProblem(err))
		}
		cfg.Certificates = []tls.Certificate{pair}
	case t.Cert != "":
		return nil, errs.Invalid("tls.key", "a client certificate needs its private key")
	case t.Key != "":
		return nil, errs.Invalid("tls.cert", "a private key needs its client certificate")
	}
	return cfg, nil
}

// tlsPairProblem says what is wrong with a key pair without quoting it.
func tlsPairProblem(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "private key does not match"):
		return "the key does not match the certificate"
	case strings.Contains(s, "failed to find any PEM data in key"):
		return "no PEM private key found"
	case strings.Contains(s, "failed to find any PEM data in certificate"):
		return "no PEM certificate found"
	}
	return "unreadable certificate or key"
}

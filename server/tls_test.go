package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type testPKI struct {
	caPEM            []byte
	pool             *x509.CertPool
	server, client   tls.Certificate
	caFile           string
	certFile, keyFil string
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, usage x509.ExtKeyUsage) (tls.Certificate, []byte, []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "leaf"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, DNSNames: []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, _ := x509.MarshalECPrivateKey(key)
		certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
		c, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return c, certPEM, keyPEM
	}
	p := testPKI{caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), pool: x509.NewCertPool()}
	p.pool.AddCert(caCert)
	var certPEM, keyPEM []byte
	p.server, certPEM, keyPEM = leaf(2, x509.ExtKeyUsageServerAuth)
	p.client, _, _ = leaf(3, x509.ExtKeyUsageClientAuth)
	dir := t.TempDir()
	p.caFile, p.certFile, p.keyFil = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	for f, b := range map[string][]byte{p.caFile: p.caPEM, p.certFile: certPEM, p.keyFil: keyPEM} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func TestMutualTLS(t *testing.T) {
	pki := newTestPKI(t)
	ts := startTCP(t, Config{TLSCertFile: pki.certFile, TLSKeyFile: pki.keyFil, TLSClientCAFile: pki.caFile})
	if !strings.HasPrefix(ts.base, "https://") {
		t.Fatalf("URL %s", ts.base)
	}
	// Like the lockd SDK: verify the chain, not the hostname.
	clientTLS := func(certs []tls.Certificate) *tls.Config {
		return &tls.Config{RootCAs: pki.pool, Certificates: certs, ServerName: "localhost"}
	}
	ts.client = &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS([]tls.Certificate{pki.client}), ForceAttemptHTTP2: true}, Timeout: 10 * time.Second}
	l := ts.acquire("default", "tls", nil)
	wantStatus(t, ts.update(l, `{"secure":true}`), 200, "")
	res, err := ts.client.Get(ts.base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.ProtoMajor != 2 {
		t.Fatalf("mTLS should serve HTTP/2, got %s", res.Proto)
	}
	// Without a client certificate the handshake fails.
	bare := &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS(nil)}, Timeout: 5 * time.Second}
	if res, err := bare.Get(ts.base + "/healthz"); err == nil {
		res.Body.Close()
		t.Fatal("request without a client certificate succeeded")
	}
}

func TestTLSConfigValidation(t *testing.T) {
	pki := newTestPKI(t)
	for name, cfg := range map[string]Config{
		"key without cert": {TLSKeyFile: pki.keyFil},
		"ca without cert":  {TLSClientCAFile: pki.caFile},
		"tls on unix":      {ListenProto: "unix", Listen: filepath.Join(t.TempDir(), "s"), TLSCertFile: pki.certFile, TLSKeyFile: pki.keyFil},
		"bad proto":        {ListenProto: "udp"},
		"bad default ns":   {DefaultNamespace: "Not Valid"},
		"bad store":        {Store: "s3://bucket"},
		"missing cert":     {TLSCertFile: "/nonexistent", TLSKeyFile: "/nonexistent"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg.Logger = quietLogger()
			if cfg.Listen == "" {
				cfg.Listen = "127.0.0.1:0"
			}
			if h, err := Start(t.Context(), cfg); err == nil {
				h.Stop(t.Context(), WithDrainTimeout(0))
				t.Fatal("Start accepted an invalid config")
			}
		})
	}
}

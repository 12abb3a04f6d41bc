package client_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/client"
	"github.com/lockd-mcp/lockd-mcp/server"
)

// testCA issues certificates for the mTLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

// newSerial returns a random certificate serial number.
func newSerial(t *testing.T) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(t),
		Subject:               pkix.Name{CommonName: "lockd test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a leaf certificate (PEM) and its key (PKCS#8 PEM).
func (ca *testCA) issue(t *testing.T, cn string, eku ...x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: newSerial(t),
		Subject:      pkix.Name{CommonName: cn},
		// The name deliberately matches nothing: lockd clients do not
		// check host names (WIRE §1.1).
		DNSNames:    []string{"not-this-host.invalid"},
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: eku,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

// bundle is the lockd client bundle format: client cert, key, CA.
func (ca *testCA) bundle(t *testing.T, eku ...x509.ExtKeyUsage) []byte {
	certPEM, keyPEM := ca.issue(t, "client", eku...)
	return append(append(certPEM, keyPEM...), ca.pem...)
}

// startTLSServer serves mTLS with a certificate from ca carrying serverEKU
// and trusts client certificates issued by ca.
func startTLSServer(t *testing.T, ca *testCA, serverEKU ...x509.ExtKeyUsage) *testServer {
	t.Helper()
	certPEM, keyPEM := ca.issue(t, "lockd server", serverEKU...)
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return startServer(t, "tcp", server.Config{TLSConfig: &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{pair},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}})
}

func TestMTLS(t *testing.T) {
	ca := newTestCA(t)
	ts := startTLSServer(t, ca, x509.ExtKeyUsageServerAuth)
	ctx := ctxT(t)

	dir := t.TempDir()
	bundlePath := filepath.Join(dir, "client.pem")
	if err := os.WriteFile(bundlePath, ca.bundle(t, x509.ExtKeyUsageClientAuth), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LOCKD_SDK_TEST_DIR", dir)

	good := []struct {
		name string
		opt  client.Option
	}{
		{"pem", client.WithBundlePEM(ca.bundle(t, x509.ExtKeyUsageClientAuth))},
		{"path with $VAR", client.WithBundlePath("$LOCKD_SDK_TEST_DIR/client.pem")},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			cli, err := client.New(ts.url, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			sess, err := cli.Acquire(ctx, api.AcquireRequest{Key: "tls-" + tt.name[:3], Owner: "tls"})
			if err != nil {
				t.Fatal(err)
			}
			if err := sess.Save(ctx, map[string]bool{"secure": true}); err != nil {
				t.Fatal(err)
			}
			if err := sess.Release(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}

	t.Run("expansion disabled", func(t *testing.T) {
		_, err := client.New(ts.url, client.WithBundlePath("$LOCKD_SDK_TEST_DIR/client.pem"), client.WithBundlePathDisableExpansion())
		if err == nil {
			t.Fatal("literal $VAR path loaded")
		}
	})
	t.Run("client cert without clientAuth", func(t *testing.T) {
		_, err := client.New(ts.url, client.WithBundlePEM(ca.bundle(t, x509.ExtKeyUsageServerAuth)))
		if err == nil {
			t.Fatal("bundle without clientAuth EKU accepted")
		}
	})
	t.Run("server from another CA", func(t *testing.T) {
		other := newTestCA(t)
		cli, err := client.New(ts.url, client.WithBundlePEM(other.bundle(t, x509.ExtKeyUsageClientAuth)))
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		start := time.Now()
		if _, err := cli.Acquire(ctx, api.AcquireRequest{Key: "x", Owner: "o"}); err == nil {
			t.Fatal("untrusted server accepted")
		}
		if time.Since(start) > time.Second {
			t.Fatal("TLS verification failure was retried")
		}
	})
	t.Run("server cert without serverAuth", func(t *testing.T) {
		bad := startTLSServer(t, ca, x509.ExtKeyUsageClientAuth)
		cli, err := client.New(bad.url, client.WithBundlePEM(ca.bundle(t, x509.ExtKeyUsageClientAuth)))
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		start := time.Now()
		if _, err := cli.Acquire(context.Background(), api.AcquireRequest{Key: "x", Owner: "o"}); err == nil {
			t.Fatal("server without serverAuth EKU accepted")
		}
		if time.Since(start) > time.Second {
			t.Fatal("TLS verification failure was retried")
		}
	})
}

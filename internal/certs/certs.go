package certs

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
	"regexp"
	"time"
)

// File names inside a certs directory.
const (
	CAFile     = "ca.pem"
	CAKeyFile  = "ca.key"
	ServerFile = "server.pem"
)

// ClientFile is the bundle file name of client name.
func ClientFile(name string) string { return "client-" + name + ".pem" }

// Validity of what Init and Issue create.
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 2 * 365 * 24 * time.Hour
)

// Init creates dir (0700) with a new CA and a server bundle whose SANs are
// hosts (names or IPs). It refuses to overwrite an existing CA, which would
// silently invalidate every bundle issued from it.
func Init(dir string, hosts []string) (serverBundle string, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("certs: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, CAFile)); err == nil {
		return "", fmt.Errorf("certs: %s already holds a CA (%s); issue more bundles with `certs issue`, or use another --dir", dir, CAFile)
	}
	key, err := newKey()
	if err != nil {
		return "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "lockd-mcp CA", Organization: []string{"lockd-mcp"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(caValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", fmt.Errorf("certs: create CA: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return "", err
	}
	if err := writeFile(filepath.Join(dir, CAKeyFile), keyPEM); err != nil {
		return "", err
	}
	if err := writeFile(filepath.Join(dir, CAFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})); err != nil {
		return "", err
	}
	return IssueServer(dir, hosts)
}

// IssueServer writes dir/server.pem for hosts, signed by dir's CA.
func IssueServer(dir string, hosts []string) (string, error) {
	if len(hosts) == 0 {
		return "", errors.New("certs: a server certificate needs at least one --host")
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: hosts[0], Organization: []string{"lockd-mcp"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	path := filepath.Join(dir, ServerFile)
	return path, issue(dir, tmpl, path)
}

var clientName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// IssueClient writes dir/client-NAME.pem, signed by dir's CA. name becomes
// the certificate's common name, which the server logs identify.
func IssueClient(dir, name string) (string, error) {
	if !clientName.MatchString(name) {
		return "", fmt.Errorf("certs: client name %q: use 1-64 of A-Z a-z 0-9 . _ -", name)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: name, Organization: []string{"lockd-mcp"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	path := filepath.Join(dir, ClientFile(name))
	return path, issue(dir, tmpl, path)
}

// issue signs tmpl with dir's CA and writes certificate, key and CA as one
// bundle to path.
func issue(dir string, tmpl *x509.Certificate, path string) error {
	caCert, caKey, caPEM, err := loadCA(dir)
	if err != nil {
		return err
	}
	key, err := newKey()
	if err != nil {
		return err
	}
	tmpl.SerialNumber = serial()
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(leafValidity)
	if tmpl.NotAfter.After(caCert.NotAfter) {
		tmpl.NotAfter = caCert.NotAfter
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.BasicConstraintsValid = true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("certs: sign %s: %w", tmpl.Subject.CommonName, err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return err
	}
	var bundle []byte
	bundle = append(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	bundle = append(bundle, keyPEM...)
	bundle = append(bundle, caPEM...)
	return writeFile(path, bundle)
}

func loadCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	caPEM, err := os.ReadFile(filepath.Join(dir, CAFile))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("certs: read CA (run `lockd-mcp certs init --dir %s` first): %w", dir, err)
	}
	block, _ := pem.Decode(caPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, nil, nil, fmt.Errorf("certs: %s holds no certificate", filepath.Join(dir, CAFile))
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("certs: parse CA: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("certs: read CA key: %w", err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, nil, nil, fmt.Errorf("certs: %s holds no key", filepath.Join(dir, CAKeyFile))
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("certs: parse CA key: %w", err)
	}
	return cert, key, caPEM, nil
}

// LoadServerTLS reads a server bundle (certificate, key, CA) and returns a
// TLS config that presents the certificate and requires client
// certificates chaining to the bundle's CA with the clientAuth usage.
func LoadServerTLS(path string) (*tls.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("certs: read server bundle: %w", err)
	}
	var certs []*pem.Block
	var keyBlock *pem.Block
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			certs = append(certs, b)
		case "EC PRIVATE KEY", "PRIVATE KEY", "RSA PRIVATE KEY":
			keyBlock = b
		}
	}
	if keyBlock == nil {
		return nil, fmt.Errorf("certs: server bundle %s has no private key", path)
	}
	pool := x509.NewCertPool()
	var leaf *tls.Certificate
	cas := 0
	for _, b := range certs {
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certs: server bundle %s: %w", path, err)
		}
		if c.IsCA {
			pool.AddCert(c)
			cas++
			continue
		}
		if leaf == nil {
			pair, err := tls.X509KeyPair(pem.EncodeToMemory(b), pem.EncodeToMemory(keyBlock))
			if err == nil {
				leaf = &pair
			}
		}
	}
	if leaf == nil {
		return nil, fmt.Errorf("certs: server bundle %s has no certificate matching its key", path)
	}
	if cas == 0 {
		return nil, fmt.Errorf("certs: server bundle %s has no CA certificate", path)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{*leaf},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}, nil
}

func newKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certs: generate key: %w", err)
	}
	return k, nil
}

func encodeKey(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("certs: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(err)
	}
	return n
}

// writeFile writes data with mode 0600 via a temporary file, so a reader
// never sees half a bundle.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("certs: write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("certs: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	return nil
}

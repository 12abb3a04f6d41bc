package client

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// errNoBundle is returned when an mTLS endpoint is configured without a
// client bundle; guessing a path would hide a misconfiguration.
var errNoBundle = errors.New("lockd: mTLS needs a client bundle (WithBundlePath or WithBundlePEM), or WithDisableMTLS(true)")

// tlsConfig builds the client TLS configuration. With mTLS it presents the
// bundle's client certificate and accepts a server whose leaf chains to the
// bundle CA and carries the serverAuth EKU, whatever its host name (WIRE
// §1.1): lockd nodes are addressed by IPs, sockets and load balancers, so the
// CA, not the name, is the identity.
func (c *Client) tlsConfig() (*tls.Config, error) {
	if c.set.disableMTLS {
		return &tls.Config{MinVersion: tls.VersionTLS12}, nil
	}
	pemBytes := c.set.bundlePEM
	if len(pemBytes) == 0 {
		if c.set.bundlePath == "" {
			return nil, errNoBundle
		}
		path := c.set.bundlePath
		if !c.set.bundleNoExpand {
			var err error
			if path, err = expandPath(path); err != nil {
				return nil, err
			}
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("lockd: read client bundle: %w", err)
		}
		pemBytes = data
	}
	cert, roots, err := parseBundle(pemBytes)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		// Hostname verification is replaced by VerifyConnection below, which
		// still checks the chain; InsecureSkipVerify only turns off the
		// name check the standard verifier would insist on.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyServer(cs.PeerCertificates, roots)
		},
	}, nil
}

func verifyServer(chain []*x509.Certificate, roots *x509.CertPool) error {
	if len(chain) == 0 {
		return &tlsVerifyError{errors.New("no certificate presented")}
	}
	leaf := chain[0]
	inter := x509.NewCertPool()
	for _, cert := range chain[1:] {
		inter.AddCert(cert)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return &tlsVerifyError{err}
	}
	// Verify accepts a leaf without any EKU; lockd requires serverAuth
	// explicitly, so a client certificate can never pose as a server.
	if !hasEKU(leaf, x509.ExtKeyUsageServerAuth) {
		return &tlsVerifyError{errors.New("server certificate lacks the serverAuth extended key usage")}
	}
	return nil
}

func hasEKU(cert *x509.Certificate, want x509.ExtKeyUsage) bool {
	for _, u := range cert.ExtKeyUsage {
		if u == want || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

// parseBundle splits a lockd client bundle: CA certificates become the trust
// roots, and the certificate whose public key matches the private key
// becomes the client certificate.
func parseBundle(data []byte) (tls.Certificate, *x509.CertPool, error) {
	var certBlocks []*pem.Block
	var keyBlock *pem.Block
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		switch {
		case block.Type == "CERTIFICATE":
			certBlocks = append(certBlocks, block)
		case strings.HasSuffix(block.Type, "PRIVATE KEY"):
			if keyBlock != nil {
				return tls.Certificate{}, nil, errors.New("lockd: client bundle holds more than one private key")
			}
			keyBlock = block
		}
	}
	if keyBlock == nil {
		return tls.Certificate{}, nil, errors.New("lockd: client bundle has no private key")
	}
	roots := x509.NewCertPool()
	var haveRoot bool
	var leaf *tls.Certificate
	for _, block := range certBlocks {
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return tls.Certificate{}, nil, fmt.Errorf("lockd: client bundle certificate: %w", err)
		}
		if cert.IsCA {
			roots.AddCert(cert)
			haveRoot = true
			continue
		}
		if leaf != nil {
			continue
		}
		pair, err := tls.X509KeyPair(pem.EncodeToMemory(block), pem.EncodeToMemory(keyBlock))
		if err != nil {
			continue // not the certificate of this key
		}
		if !hasEKU(cert, x509.ExtKeyUsageClientAuth) {
			return tls.Certificate{}, nil, errors.New("lockd: client certificate lacks the clientAuth extended key usage")
		}
		pair.Leaf = cert
		leaf = &pair
	}
	if !haveRoot {
		return tls.Certificate{}, nil, errors.New("lockd: client bundle has no CA certificate")
	}
	if leaf == nil {
		return tls.Certificate{}, nil, errors.New("lockd: client bundle has no certificate matching its private key")
	}
	return *leaf, roots, nil
}

// expandPath expands $VARS and a leading "~/" the way a shell would.
func expandPath(path string) (string, error) {
	path = os.ExpandEnv(path)
	if path == "~" || strings.HasPrefix(path, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("lockd: expand bundle path: %w", err)
		}
		path = filepath.Join(home, strings.TrimPrefix(path, "~"))
	}
	return path, nil
}

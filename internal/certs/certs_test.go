package certs

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/client"
	"github.com/lockd-mcp/lockd-mcp/server"
)

func leaf(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %v, want 0600 (it holds a key)", path, fi.Mode().Perm())
	}
	block, _ := pem.Decode(data)
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBundlesCarryTheRightUsagesAndNames(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	srv, err := Init(dir, []string{"lockd.example", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Init(dir, []string{"x"}); err == nil {
		t.Error("Init overwrote an existing CA")
	}
	s := leaf(t, srv)
	if len(s.ExtKeyUsage) != 1 || s.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth || s.IsCA {
		t.Errorf("server EKU %v", s.ExtKeyUsage)
	}
	if len(s.DNSNames) != 1 || s.DNSNames[0] != "lockd.example" || len(s.IPAddresses) != 1 || !s.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) {
		t.Errorf("server SANs %v %v", s.DNSNames, s.IPAddresses)
	}
	cli, err := IssueClient(dir, "agent-1")
	if err != nil {
		t.Fatal(err)
	}
	c := leaf(t, cli)
	if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth || c.Subject.CommonName != "agent-1" {
		t.Errorf("client cert %v %s", c.ExtKeyUsage, c.Subject.CommonName)
	}
	if _, err := IssueClient(dir, "../evil"); err == nil {
		t.Error("client name with a path accepted")
	}
}

func TestServerBundleRequiresClientBundleFromSameCA(t *testing.T) {
	dir := t.TempDir()
	srvBundle, err := Init(dir, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	cliBundle, err := IssueClient(dir, "agent")
	if err != nil {
		t.Fatal(err)
	}
	tc, err := LoadServerTLS(srvBundle)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h, err := server.Start(ctx, server.Config{Listen: "127.0.0.1:0", TLSConfig: tc})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Stop(ctx, server.WithDrainTimeout(0))

	good, err := client.New(h.URL(), client.WithBundlePath(cliBundle))
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	sess, err := good.Acquire(ctx, api.AcquireRequest{Key: "k", Owner: "o", TTLSeconds: 5, BlockSecs: api.BlockNoWait})
	if err != nil {
		t.Fatalf("client bundle rejected: %v", err)
	}
	_ = sess.Release(ctx)

	// A server bundle is not a client bundle: its certificate lacks
	// clientAuth, so the SDK refuses it (at New or on first use).
	if c, err := client.New(h.URL(), client.WithBundlePath(srvBundle), client.WithFailureRetries(0)); err == nil {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := c.Describe(cctx, "k")
		cancel()
		c.Close()
		if err == nil {
			t.Error("server bundle accepted as a client certificate")
		}
	}

	otherDir := t.TempDir()
	if _, err := Init(otherDir, []string{"127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	stranger, err := IssueClient(otherDir, "stranger")
	if err != nil {
		t.Fatal(err)
	}
	bad, err := client.New(h.URL(), client.WithBundlePath(stranger), client.WithFailureRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := bad.Describe(cctx, "k"); err == nil {
		t.Error("a client certificate from another CA was accepted")
	}
}

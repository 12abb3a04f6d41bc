package main

import (
	"bufio"
	"crypto/tls"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lockd-mcp/lockd-mcp/internal/daemon"
)

// startServeTLS runs `lockd-mcp serve` on a free loopback port with the
// server bundle and returns its https URL.
func startServeTLS(t *testing.T, bundle string) string {
	t.Helper()
	cmd := exec.Command(binPath, "serve", "--listen", "127.0.0.1:0", "--store", "mem://", "--bundle", bundle, "--drain-timeout", "0s")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := regexp.MustCompile(`url=(https://\S+)`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := ready.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case u := <-found:
		return u
	case <-time.After(10 * time.Second):
		t.Fatal("serve with --bundle did not come up")
	}
	return ""
}

// deadEndpoint is an https URL on a loopback port nobody listens on.
func deadEndpoint(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "https://" + addr
}

func TestRemoteModeMTLSWithFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	l := daemon.Layout{Home: t.TempDir()}
	dir := filepath.Join(t.TempDir(), "pki")
	if code, out, errOut := runCLI(t, l, "certs", "init", "--dir", dir, "--host", "127.0.0.1"); code != 0 || !strings.Contains(out, "server.pem") {
		t.Fatalf("certs init: %d %s %s", code, out, errOut)
	}
	code, out, errOut := runCLI(t, l, "certs", "issue", "--dir", dir, "--client", "agent")
	if code != 0 {
		t.Fatalf("certs issue: %d %s", code, errOut)
	}
	clientBundle := strings.TrimSpace(out)
	live := startServeTLS(t, filepath.Join(dir, "server.pem"))

	// Without a client certificate the server refuses the handshake.
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	if resp, err := hc.Get(live + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatalf("server accepted a client without a certificate: %s", resp.Status)
	}

	// Two agents on a dead endpoint and the live one: every call fails
	// over, and the lease one takes blocks the other.
	servers := deadEndpoint(t) + "," + live
	a := startMCPHome(t, "remote-a", l, nil, "--server", servers, "--client-bundle", clientBundle)
	b := startMCPHome(t, "remote-b", l, nil, "--server", servers, "--client-bundle", clientBundle)
	hint := a.ok("lockd_hint", map[string]any{})
	if src, _ := hint["source"].(string); !strings.HasPrefix(src, "remote:") || !strings.Contains(src, live) {
		t.Errorf("lockd_hint source = %q, want remote mode with both endpoints", src)
	}
	for i := range 5 {
		a.ok("lockd_state_put", map[string]any{"key": "doc", "payload_text": `{"i":` + string(rune('0'+i)) + `}`})
	}
	if got := b.ok("lockd_get", map[string]any{"key": "doc"}); got["payload_text"] != `{"i":4}` {
		t.Errorf("b reads %v", got)
	}
	won := a.ok("lockd_lock_acquire", map[string]any{"key": "job"})
	if msg := b.fails("lockd_lock_acquire", map[string]any{"key": "job"}); !strings.Contains(msg, won["owner"].(string)) {
		t.Errorf("conflict lacks the holder: %s", msg)
	}
	if daemonPID(l) != 0 {
		t.Error("remote mode started a local daemon")
	}

	// A bundle from another CA is refused with a clear error.
	other := filepath.Join(t.TempDir(), "other")
	runCLI(t, l, "certs", "init", "--dir", other, "--host", "127.0.0.1")
	_, out, _ = runCLI(t, l, "certs", "issue", "--dir", other, "--client", "stranger")
	s := startMCPHome(t, "stranger", l, nil, "--server", live, "--client-bundle", strings.TrimSpace(out))
	if msg := s.fails("lockd_get", map[string]any{"key": "doc"}); !strings.Contains(strings.ToLower(msg), "certificate") && !strings.Contains(strings.ToLower(msg), "tls") {
		t.Errorf("foreign bundle error does not point at TLS: %s", msg)
	}
}

package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestUsage(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"help"}, func(string) string { return "" }, &out); code != 0 {
		t.Fatalf("help: exit %d", code)
	}
	if !strings.Contains(out.String(), "usage: lockd-mcp") || !strings.Contains(out.String(), "serve") {
		t.Fatalf("usage: %q", out.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"frobnicate"}, func(string) string { return "" }, &out); code != 2 || !strings.Contains(out.String(), `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: %d %q", code, out.String())
	}
}

func TestServeFlagsAndEnv(t *testing.T) {
	env := map[string]string{"LOCKD_MCP_MAX_TTL": "bogus"}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, &out); code != 1 || !strings.Contains(out.String(), "LOCKD_MCP_MAX_TTL") {
		t.Fatalf("bad env: %d %q", code, out.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"serve", "--store", "ftp://x", "--listen", "127.0.0.1:0", "--disable-mtls"}, func(string) string { return "" }, &out); code != 1 || !strings.Contains(out.String(), "ftp") {
		t.Fatalf("bad store: %d %q", code, out.String())
	}
}

func TestServeRunsUntilCancelled(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "l.sock")
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"tcp via flags", []string{"serve", "--listen", "127.0.0.1:0", "--store", "mem://", "--default-namespace", "team", "--drain-timeout", "100ms", "--disable-mtls"}, nil},
		{"unix via env", []string{"serve"}, map[string]string{"LOCKD_MCP_LISTEN": "unix://" + sock, "LOCKD_MCP_STORE": "disk://" + filepath.Join(t.TempDir(), "d")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var logs syncBuffer
			done := make(chan int, 1)
			go func() { done <- run(ctx, tc.args, func(k string) string { return tc.env[k] }, &logs) }()
			re := regexp.MustCompile(`url=(\S+)`)
			var url string
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && url == ""; time.Sleep(10 * time.Millisecond) {
				if m := re.FindStringSubmatch(logs.String()); m != nil {
					url = m[1]
				}
			}
			if url == "" {
				t.Fatalf("no ready line: %q", logs.String())
			}
			if strings.HasPrefix(url, "http://") {
				res, err := http.Post(url+"/v1/acquire", "application/json", strings.NewReader(`{"key":"k","owner":"o"}`))
				if err != nil {
					t.Fatal(err)
				}
				var b bytes.Buffer
				b.ReadFrom(res.Body)
				res.Body.Close()
				if !strings.Contains(b.String(), `"namespace":"team"`) {
					t.Fatalf("default namespace flag not applied: %s", b.String())
				}
			} else if url != "unix://"+sock {
				t.Fatalf("unix url %q", url)
			}
			cancel()
			select {
			case code := <-done:
				if code != 0 {
					t.Fatalf("exit %d: %s", code, logs.String())
				}
			case <-time.After(20 * time.Second):
				t.Fatal("serve did not stop")
			}
			if !strings.Contains(logs.String(), "stopped") {
				t.Fatalf("no stop line: %q", logs.String())
			}
		})
	}
}

func TestServeRequiresMTLSOnTCP(t *testing.T) {
	for _, tc := range []struct {
		name   string
		onUnix bool
		flags  tlsFlags
		want   string // "" when allowed
	}{
		{"tcp, nothing", false, tlsFlags{}, "requires mTLS"},
		{"tcp, plain on request", false, tlsFlags{disableMTLS: true}, ""},
		{"tcp, bundle", false, tlsFlags{bundle: "server.pem"}, ""},
		{"tcp, cert+key+ca", false, tlsFlags{cert: "c", key: "k", clientCA: "ca"}, ""},
		{"tcp, cert+key only", false, tlsFlags{cert: "c", key: "k"}, "without client certificates"},
		{"tcp, TLS only on request", false, tlsFlags{cert: "c", key: "k", disableMTLS: true}, ""},
		{"tcp, cert without key", false, tlsFlags{cert: "c", clientCA: "ca"}, "go together"},
		{"tcp, ca without cert", false, tlsFlags{clientCA: "ca"}, "needs --tls-cert"},
		{"bundle and cert", false, tlsFlags{bundle: "b", cert: "c", key: "k"}, "replaces"},
		{"bundle and disable", false, tlsFlags{bundle: "b", disableMTLS: true}, "contradicts"},
		{"unix, nothing", true, tlsFlags{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkTransportSecurity(tc.onUnix, tc.flags)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// The command itself refuses, with the way out in the message.
	var out bytes.Buffer
	code := run(context.Background(), []string{"serve", "--listen", "127.0.0.1:0", "--store", "mem://"}, func(string) string { return "" }, &out)
	if code != 1 || !strings.Contains(out.String(), "certs init") || !strings.Contains(out.String(), "--disable-mtls") {
		t.Fatalf("serve on tcp without TLS: exit %d, %q", code, out.String())
	}
	// The environment can ask for plain HTTP too.
	ctx, cancel := context.WithCancel(context.Background())
	var logs syncBuffer
	done := make(chan int, 1)
	go func() {
		env := map[string]string{"LOCKD_MCP_DISABLE_MTLS": "true"}
		done <- run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--store", "mem://"}, func(k string) string { return env[k] }, &logs)
	}()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "serve ready"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("LOCKD_MCP_DISABLE_MTLS=true: serve did not start: %s", logs.String())
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, logs.String())
	}
}

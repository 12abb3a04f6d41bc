package client_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/lockd-mcp/lockd-mcp/client"
	"github.com/lockd-mcp/lockd-mcp/client/inprocess"
	"github.com/lockd-mcp/lockd-mcp/server"
)

// quietLogger keeps server logs out of test output.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// testServer is an embedded server reached over a real socket.
type testServer struct {
	handle *server.Handle
	url    string
}

// startServer starts a mem:// server over tcp (127.0.0.1, free port) or a
// unix socket in a private directory.
func startServer(t *testing.T, proto string, cfg server.Config) *testServer {
	t.Helper()
	cfg.Store = "mem://"
	cfg.Logger = quietLogger()
	switch proto {
	case "tcp":
		cfg.ListenProto, cfg.Listen = "tcp", "127.0.0.1:0"
	case "unix":
		dir, err := os.MkdirTemp("", "lockd-client-test-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		cfg.ListenProto, cfg.Listen = "unix", dir+"/lockd.sock"
	}
	h, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.Stop(ctx, server.WithDrainTimeout(0))
	})
	return &testServer{handle: h, url: h.URL()}
}

// newClient connects to ts; the client is closed at the end of the test.
func (ts *testServer) newClient(t *testing.T, opts ...client.Option) *client.Client {
	t.Helper()
	opts = append([]client.Option{client.WithDisableMTLS(true)}, opts...)
	cli, err := client.New(ts.url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// forEachTransport runs fn against a fresh server over tcp and over unix.
func forEachTransport(t *testing.T, fn func(t *testing.T, ts *testServer)) {
	for _, proto := range []string{"tcp", "unix"} {
		t.Run(proto, func(t *testing.T) {
			fn(t, startServer(t, proto, server.Config{}))
		})
	}
}

// newInProcess starts a client/inprocess server for the test.
func newInProcess(t *testing.T, opts ...client.Option) *inprocess.Client {
	t.Helper()
	ctx := context.Background()
	ip, err := inprocess.New(ctx, server.Config{Store: "mem://", Logger: quietLogger()}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ip.Close(ctx) })
	return ip
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func serverConfig() server.Config { return server.Config{} }

func ioPipe() (*io.PipeReader, *io.PipeWriter) { return io.Pipe() }

func apiCode(err error) string {
	var ae *client.APIError
	if errors.As(err, &ae) {
		return ae.Code()
	}
	return ""
}

// deadEndpoint returns the URL of a TCP port nobody listens on.
func deadEndpoint(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

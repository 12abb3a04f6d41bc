package mcpserver

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// loopHarness runs a stdioLoop over pipes in front of a small mcp-go server.
type loopHarness struct {
	in      *io.PipeWriter
	out     *bufio.Scanner
	done    chan error
	release chan struct{} // closed to let "hold" calls return
	holding atomic.Int32
}

func newLoopHarness(t *testing.T) *loopHarness {
	t.Helper()
	h := &loopHarness{done: make(chan error, 1), release: make(chan struct{})}
	srv := server.NewMCPServer("t", "1", server.WithToolCapabilities(false), server.WithInputSchemaValidation())
	srv.AddTool(mcp.NewTool("echo", mcp.WithString("s", mcp.Required())), func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText(req.GetArguments()["s"].(string)), nil
	})
	srv.AddTool(mcp.NewTool("hold", mcp.WithString("pad")), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		h.holding.Add(1)
		select {
		case <-h.release:
		case <-ctx.Done():
		}
		return mcp.NewToolResultText("released"), nil
	})
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	h.in = inW
	h.out = bufio.NewScanner(outR)
	h.out.Buffer(nil, 1<<20)
	loop := &stdioLoop{
		srv: srv, out: &syncWriter{w: outW}, workers: 16, budget: newLineBudget(stdioLineBudget),
		large:  map[string][]string{"hold": {"pad"}},
		report: func(msg string, args ...any) { t.Log(append([]any{msg}, args...)...) },
	}
	go func() { h.done <- loop.listen(context.Background(), inR); outW.Close() }()
	t.Cleanup(func() {
		select {
		case <-h.release:
		default:
			close(h.release)
		}
		inW.Close()
	})
	return h
}

func (h *loopHarness) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(h.in, line+"\n"); err != nil {
		t.Fatal(err)
	}
}

func (h *loopHarness) recv(t *testing.T) map[string]any {
	t.Helper()
	if !h.out.Scan() {
		t.Fatalf("no output: %v", h.out.Err())
	}
	var m map[string]any
	if err := json.Unmarshal(h.out.Bytes(), &m); err != nil {
		t.Fatalf("output is not JSON: %s", h.out.Bytes())
	}
	return m
}

func TestStdioLoopServesMCP(t *testing.T) {
	h := newLoopHarness(t)
	h.send(t, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`)
	if r := h.recv(t); r["id"] != float64(1) || r["result"] == nil {
		t.Fatalf("initialize: %v", r)
	}
	h.send(t, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	h.send(t, ``)
	h.send(t, `{"jsonrpc":"2.0","id":99,"result":{}}`) // a reply to nothing: ignored
	h.send(t, `{not json`)
	if r := h.recv(t); r["error"].(map[string]any)["code"] != float64(mcp.PARSE_ERROR) {
		t.Fatalf("parse error: %v", r)
	}
	h.send(t, `{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"echo","arguments":{"s":"hi"}}}`)
	if r := h.recv(t); r["id"] != "a" || !strings.Contains(fmt.Sprint(r["result"]), "hi") {
		t.Fatalf("echo: %v", r)
	}
	// Validation still runs: a missing required argument is a tool error.
	h.send(t, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{}}}`)
	if r := h.recv(t); r["result"].(map[string]any)["isError"] != true {
		t.Fatalf("invalid arguments accepted: %v", r)
	}
	h.send(t, `{"jsonrpc":"2.0","id":4,"method":"tools/list"}`)
	if r := h.recv(t); len(r["result"].(map[string]any)["tools"].([]any)) != 2 {
		t.Fatalf("tools/list: %v", r)
	}
	h.in.Close()
	if err := <-h.done; err != nil {
		t.Fatalf("listen after EOF: %v", err)
	}
}

// A client that pipelines large calls meets backpressure once the lines it
// sent but we have not finished exceed the budget: memory stays flat.
func TestStdioLoopBoundsBufferedLines(t *testing.T) {
	h := newLoopHarness(t)
	pad := strings.Repeat("p", 1<<20)
	const calls = 40
	var written atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range calls {
			line := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"hold","arguments":{"pad":%q}}}`, i, pad)
			if _, err := io.WriteString(h.in, line+"\n"); err != nil {
				return
			}
			written.Add(int64(len(line) + 1))
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for h.holding.Load() < 10 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // let the reader run as far as it can
	// The budget, plus the line the reader holds while it waits, plus the
	// line the writer is blocked in.
	if max := int64(stdioLineBudget + 2*len(pad) + 64<<10); written.Load() > max {
		t.Fatalf("%d bytes accepted while calls were held, want <= %d", written.Load(), max)
	}
	if written.Load() >= calls*int64(len(pad)) {
		t.Fatal("every line was accepted: no backpressure")
	}
	close(h.release)
	seen := map[float64]bool{}
	for range calls {
		r := h.recv(t)
		seen[r["id"].(float64)] = true
	}
	wg.Wait()
	if len(seen) != calls {
		t.Fatalf("%d distinct responses, want %d", len(seen), calls)
	}
}

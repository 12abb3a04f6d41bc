package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockd-mcp/lockd-mcp/server"
	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// binPath is the lockd-mcp binary built once for the end-to-end tests.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lockd-mcp-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "lockd-mcp")
	build := exec.Command("go", "build", "-o", binPath, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build lockd-mcp:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// lockedBuffer collects a child's stderr for failure messages.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// mcpProc is one lockd-mcp process driven over stdio by mcp-go's client.
type mcpProc struct {
	t      testing.TB
	c      *mcpclient.Client
	cmd    *exec.Cmd
	stderr *lockedBuffer
	tools  map[string]rawTool
	// listBytes is the compact tools/list result as received.
	listBytes int
}

// rawTool is a tools/list entry with its schemas exactly as served (mcp-go's
// client decodes schemas into structs, which would hide what we send).
type rawTool struct {
	Name         string             `json:"name"`
	InputSchema  json.RawMessage    `json:"inputSchema"`
	OutputSchema json.RawMessage    `json:"outputSchema"`
	Annotations  mcp.ToolAnnotation `json:"annotations"`
}

func startMCP(t testing.TB, name string, args ...string) *mcpProc {
	t.Helper()
	return startMCPProto(t, mcp.LATEST_PROTOCOL_VERSION, name, args...)
}

// startMCPProto starts lockd-mcp with the client asking for protocol
// version proto: 2026-07-28 and later negotiate the stateless revision
// through server/discover, earlier ones the initialize handshake.
func startMCPProto(t testing.TB, proto, name string, args ...string) *mcpProc {
	t.Helper()
	p := launchMCP(t, proto, name, []string{"LOCKD_MCP_HOME=" + t.TempDir()}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := p.c
	resp, err := c.GetTransport().SendRequest(ctx, transport.JSONRPCRequest{
		JSONRPC: mcp.JSONRPC_VERSION, ID: mcp.NewRequestId(int64(1 << 30)), Method: "tools/list",
	})
	if err != nil || resp.Error != nil {
		t.Fatalf("tools/list: %v %v", err, resp)
	}
	var list struct {
		Tools []rawTool `json:"tools"`
	}
	if err := json.Unmarshal(resp.Result, &list); err != nil {
		t.Fatal(err)
	}
	p.listBytes = len(resp.Result)
	p.tools = map[string]rawTool{}
	for _, tool := range list.Tools {
		p.tools[tool.Name] = tool
	}
	return p
}

// call runs a tool; a protocol error fails the test, a tool error does not.
func (p *mcpProc) call(name string, args map[string]any) *mcp.CallToolResult {
	p.t.Helper()
	return p.callMeta(name, args, nil)
}

func (p *mcpProc) callMeta(name string, args map[string]any, meta *mcp.Meta) *mcp.CallToolResult {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name, req.Params.Arguments, req.Params.Meta = name, args, meta
	res, err := p.c.CallTool(ctx, req)
	if err != nil {
		p.t.Fatalf("%s: protocol error: %v", name, err)
	}
	return res
}

// ok runs a tool that must succeed and returns its structured content,
// checked against the tool's advertised output schema.
func (p *mcpProc) ok(name string, args map[string]any) map[string]any {
	p.t.Helper()
	res := p.call(name, args)
	if res.IsError {
		p.t.Fatalf("%s(%v) failed: %s", name, args, text(res))
	}
	out := structured(p.t, res)
	if tool, found := p.tools[name]; found {
		validate(p.t, name+" output", tool.OutputSchema, out)
	}
	return out
}

// fails runs a tool that must fail and returns the error text.
func (p *mcpProc) fails(name string, args map[string]any) string {
	p.t.Helper()
	res := p.call(name, args)
	if !res.IsError {
		p.t.Fatalf("%s(%v) succeeded, want isError: %s", name, args, text(res))
	}
	return text(res)
}

func text(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

func structured(t testing.TB, res *mcp.CallToolResult) map[string]any {
	t.Helper()
	data, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("structuredContent is not an object: %s", data)
	}
	return out
}

// compileSchema compiles a schema as JSON Schema 2020-12 with a real
// validator.
func compileSchema(t testing.TB, what string, raw json.RawMessage) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s: schema is not JSON: %v", what, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	url := "mem:///" + strings.ReplaceAll(what, " ", "_") + ".json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatalf("%s: not a valid JSON Schema 2020-12: %v", what, err)
	}
	return s
}

func validate(t testing.TB, what string, schema json.RawMessage, v map[string]any) {
	t.Helper()
	if len(schema) == 0 {
		t.Fatalf("%s: no schema", what)
	}
	data, _ := json.Marshal(v)
	inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err := compileSchema(t, what, schema).Validate(inst); err != nil {
		t.Fatalf("%s does not match its schema: %v\n%s", what, err, data)
	}
}

// startLockd runs a lockd-compatible server in the test process for
// several lockd-mcp processes to share.
func startLockd(t testing.TB, store string, jsonMax int64) *server.Handle {
	t.Helper()
	h, err := server.Start(context.Background(), server.Config{Store: store, Listen: "127.0.0.1:0", JSONMaxBytes: jsonMax})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.Stop(ctx, server.WithDrainTimeout(0))
	})
	return h
}

// launchMCP starts the lockd-mcp binary with env added to the environment
// and runs the MCP handshake for protocol version proto.
func launchMCP(t testing.TB, proto, name string, env []string, args ...string) *mcpProc {
	t.Helper()
	p := &mcpProc{t: t, stderr: &lockedBuffer{}}
	var cmdMu sync.Mutex
	c, err := mcpclient.NewStdioMCPClientWithOptions(binPath, env, args,
		transport.WithCommandStderrWriter(p.stderr),
		transport.WithCommandFunc(func(ctx context.Context, command string, env []string, args []string) (*exec.Cmd, error) {
			cmd := exec.CommandContext(ctx, command, args...)
			cmd.Env = append(os.Environ(), env...)
			cmdMu.Lock()
			p.cmd = cmd
			cmdMu.Unlock()
			return cmd, nil
		}))
	if err != nil {
		t.Fatalf("start lockd-mcp: %v", err)
	}
	p.c = c
	t.Cleanup(func() {
		_ = c.Close()
		if t.Failed() {
			t.Logf("%s stderr:\n%s", name, p.stderr.String())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Start wires the notification handlers (the transport is already up).
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = proto
	init.Params.ClientInfo = mcp.Implementation{Name: name, Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatalf("initialize: %v\nstderr:\n%s", err, p.stderr.String())
	}
	return p
}

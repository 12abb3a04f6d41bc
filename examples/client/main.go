// Command client drives lockd-mcp with an MCP client over stdio: it starts
// the server as a subprocess (in-memory store), lists the tools, takes a
// lease, writes state under it, releases it and reads the state back.
//
//	go build -o /tmp/lockd-mcp ./cmd/lockd-mcp
//	go run ./examples/client -bin /tmp/lockd-mcp
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
)

func main() {
	bin := flag.String("bin", "lockd-mcp", "path to the lockd-mcp binary")
	flag.Parse()
	if err := run(*bin); err != nil {
		log.Fatal(err)
	}
}

func run(bin string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := mcpclient.NewStdioMCPClient(bin, nil, "--store", "mem://", "--log-level", "warn")
	if err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	// Closing stdin ends the session; lockd-mcp releases held leases.
	defer c.Close()
	if err := c.Start(ctx); err != nil {
		return err
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "example", Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		return fmt.Errorf("initialize: %w", err)
	}
	list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		return err
	}
	fmt.Printf("%d tools\n", len(list.Tools))

	lease, err := call(ctx, c, "lockd_lock_acquire", map[string]any{"key": "task/1", "ttl_seconds": 30})
	if err != nil {
		return err
	}
	fmt.Printf("lease %s fencing_token %v\n", lease["lease_id"], lease["fencing_token"])
	if _, err := call(ctx, c, "lockd_state_update", map[string]any{
		"key": "task/1", "lease_id": lease["lease_id"], "payload_text": `{"status":"done"}`,
	}); err != nil {
		return err
	}
	if _, err := call(ctx, c, "lockd_lock_release", map[string]any{"key": "task/1", "lease_id": lease["lease_id"]}); err != nil {
		return err
	}
	got, err := call(ctx, c, "lockd_get", map[string]any{"key": "task/1"})
	if err != nil {
		return err
	}
	fmt.Printf("state v%v: %s\n", got["version"], got["payload_text"])
	return nil
}

// call runs a tool and returns its structured result; an isError result
// becomes a Go error carrying the server's advice.
func call(ctx context.Context, c *mcpclient.Client, name string, args map[string]any) (map[string]any, error) {
	req := mcp.CallToolRequest{}
	req.Params.Name, req.Params.Arguments = name, args
	res, err := c.CallTool(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if res.IsError {
		return nil, fmt.Errorf("%s: %v", name, res.Content)
	}
	out, ok := res.StructuredContent.(map[string]any)
	if !ok {
		fmt.Fprintf(os.Stderr, "%s: unexpected result %T\n", name, res.StructuredContent)
	}
	return out, nil
}

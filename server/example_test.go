package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/lockd-mcp/lockd-mcp/server"
)

// Start an in-memory server on a free loopback port, take a lease over
// plain HTTP and stop the server again.
func ExampleStart() {
	ctx := context.Background()
	h, err := server.Start(ctx, server.Config{Store: "mem://", Listen: "127.0.0.1:0"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer h.Stop(ctx, server.WithDrainTimeout(0))

	res, err := http.Post(h.URL()+"/v1/acquire", "application/json",
		strings.NewReader(`{"key":"jobs/nightly","owner":"example","ttl_seconds":30}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Body.Close()
	io.Copy(io.Discard, res.Body)
	fmt.Println(res.Status, "fencing token", res.Header.Get("X-Fencing-Token"))
	// Output: 200 OK fencing token 1
}

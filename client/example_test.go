package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/client"
	"github.com/lockd-mcp/lockd-mcp/client/inprocess"
	"github.com/lockd-mcp/lockd-mcp/lql"
	"github.com/lockd-mcp/lockd-mcp/server"
)

// The quick start: acquire a lease, load the state, change it, save it and
// release (which commits).
func Example() {
	ctx := context.Background()
	cli, err := inprocess.New(ctx, server.Config{Store: "mem://"})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer cli.Close(ctx)

	lease, err := cli.Acquire(ctx, api.AcquireRequest{
		Namespace:  "workflows",
		Key:        "orders",
		Owner:      "worker-1",
		TTLSeconds: 30,
		BlockSecs:  client.BlockWaitForever,
	})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer lease.Close()

	checkpoint := map[string]any{}
	if err := lease.Load(ctx, &checkpoint); err != nil && !errors.Is(err, client.ErrStateNotFound) {
		fmt.Println("error:", err)
		return
	}
	if err := lql.Mutate(checkpoint, "/progress=running", "/attempt++"); err != nil {
		fmt.Println("error:", err)
		return
	}
	if err := lease.Save(ctx, checkpoint); err != nil {
		fmt.Println("error:", err)
		return
	}
	if err := lease.Release(ctx); err != nil {
		fmt.Println("error:", err)
		return
	}

	var committed map[string]any
	if err := cli.Load(ctx, "orders", &committed, client.WithLoadNamespace("workflows")); err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println("fencing token:", lease.FencingToken)
	fmt.Println("progress:", committed["progress"], "attempt:", committed["attempt"])
	// Output:
	// fencing token: 1
	// progress: running attempt: 1
}

// New connects to a server over a unix socket; here the server is started
// in-process with server.Start.
func ExampleNew() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "lockd-example-")
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer os.RemoveAll(dir)
	socket := filepath.Join(dir, "lockd.sock")
	handle, err := server.Start(ctx, server.Config{
		Store: "mem://", ListenProto: "unix", Listen: socket,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer handle.Stop(context.Background(), server.WithDrainTimeout(0))

	cli, err := client.New("unix://"+socket, client.WithDisableMTLS(true))
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer cli.Close()
	lease, err := cli.Acquire(ctx, api.AcquireRequest{Namespace: "payments", Key: "batch-2025-11", Owner: "worker-1", TTLSeconds: 15})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer lease.Release(ctx)

	doc := client.NewDocument(lease.Namespace, lease.Key)
	if err := doc.Mutate("/batch/id=batch-2025-11", "/batch/status=pending"); err != nil {
		fmt.Println("error:", err)
		return
	}
	if err := lease.Save(ctx, doc.Body); err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println("lease namespace:", lease.Namespace)
	fmt.Println("lease key:", lease.Key)
	// Output:
	// lease namespace: payments
	// lease key: batch-2025-11
}

// A create-only acquire fails with ErrAlreadyExists once the key exists.
func ExampleClient_Acquire_createOnly() {
	ctx := context.Background()
	cli, err := inprocess.New(ctx, server.Config{Store: "mem://"})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer cli.Close(ctx)

	req := api.AcquireRequest{
		Namespace:   "workflows",
		Key:         "orders",
		Owner:       "initializer",
		TTLSeconds:  30,
		BlockSecs:   client.BlockNoWait,
		IfNotExists: true,
	}
	first, err := cli.Acquire(ctx, req)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	first.Release(ctx)

	_, err = cli.Acquire(ctx, req)
	fmt.Println("second create-only acquire, already exists:", errors.Is(err, client.ErrAlreadyExists), client.IsAlreadyExists(err))
	// Output:
	// second create-only acquire, already exists: true true
}

// AcquireForUpdate runs a handler under a kept-alive lease and commits what
// it saved when it returns nil.
func ExampleClient_AcquireForUpdate() {
	ctx := context.Background()
	cli, err := inprocess.New(ctx, server.Config{Store: "mem://"})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer cli.Close(ctx)

	for range 2 {
		err = cli.AcquireForUpdate(ctx, api.AcquireRequest{
			Key:        "ledger-checkpoint",
			Owner:      "worker-1",
			TTLSeconds: 10,
		}, func(ctx context.Context, af *client.AcquireForUpdateContext) error {
			state := map[string]any{}
			if err := af.Load(ctx, &state); err != nil {
				return err
			}
			if err := lql.Mutate(state, "/cursor/batch++", "/cursor/owner=worker-1"); err != nil {
				return err
			}
			return af.Save(ctx, state)
		})
		if err != nil {
			fmt.Println("error:", err)
			return
		}
	}
	var state struct {
		Cursor struct {
			Batch int    `json:"batch"`
			Owner string `json:"owner"`
		} `json:"cursor"`
	}
	if err := cli.Load(ctx, "ledger-checkpoint", &state); err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println("batch:", state.Cursor.Batch, "owner:", state.Cursor.Owner)
	// Output:
	// batch: 2 owner: worker-1
}

// A public Get returns the committed state without a lease; staged changes
// are not visible until the holder releases.
func ExampleClient_Get_public() {
	ctx := context.Background()
	cli, err := inprocess.New(ctx, server.Config{Store: "mem://"})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer cli.Close(ctx)
	if err := cli.UseNamespace("reports"); err != nil {
		fmt.Println("error:", err)
		return
	}

	lease, err := cli.Acquire(ctx, api.AcquireRequest{Key: "payouts-2025-11", Owner: "writer-1", TTLSeconds: 10})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	report := map[string]any{}
	if err := lql.Mutate(report, "/report/status=published", "/report/summary/total=1200.50"); err != nil {
		fmt.Println("error:", err)
		return
	}
	if err := lease.Save(ctx, report); err != nil {
		fmt.Println("error:", err)
		return
	}
	before, err := cli.Get(ctx, "payouts-2025-11")
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	before.Close()
	fmt.Println("visible before release:", before.HasState)
	if err := lease.Release(ctx); err != nil {
		fmt.Println("error:", err)
		return
	}

	resp, err := cli.Get(ctx, "payouts-2025-11")
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer resp.Close()
	var snapshot map[string]map[string]any
	if err := json.NewDecoder(resp.Reader()).Decode(&snapshot); err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println("status:", snapshot["report"]["status"], "version:", resp.Version)
	// Output:
	// visible before release: false
	// status: published version: 1
}

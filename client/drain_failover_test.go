package client_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/client"
	"github.com/lockd-mcp/lockd-mcp/server"
)

func TestDrainAwareRelease(t *testing.T) {
	tests := []struct {
		name       string
		drainAware bool
	}{
		{"drain aware", true},
		{"drain handling off", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, "tcp", server.Config{})
			ctx := ctxT(t)
			cli := ts.newClient(t, client.WithDrainAwareShutdown(tt.drainAware),
				client.WithLogger(slog.New(slog.NewTextHandler(t.Output(), nil))))
			sess, err := cli.Acquire(ctx, api.AcquireRequest{Key: "drain", Owner: "w", TTLSeconds: 30})
			if err != nil {
				t.Fatal(err)
			}
			if err := sess.Save(ctx, map[string]int{"half": 1}); err != nil {
				t.Fatal(err)
			}
			stopped := make(chan time.Duration, 1)
			go func() {
				start := time.Now()
				_ = ts.handle.Stop(context.Background(), server.WithDrainTimeout(5*time.Second))
				stopped <- time.Since(start)
			}()
			// Any response during the drain carries Shutdown-Imminent.
			deadline := time.Now().Add(3 * time.Second)
			for time.Now().Before(deadline) {
				if _, err := cli.Describe(ctx, "drain"); err != nil {
					break
				}
				select {
				case <-sess.Done():
				case <-time.After(50 * time.Millisecond):
					continue
				}
				break
			}
			if !tt.drainAware {
				if sess.Err() != nil {
					t.Fatalf("session ended with drain handling off: %v", sess.Err())
				}
				if err := sess.Release(ctx); err != nil {
					t.Fatalf("release during drain: %v", err)
				}
				<-stopped
				return
			}
			select {
			case <-sess.Done():
			case <-time.After(3 * time.Second):
				t.Fatal("session not released on Shutdown-Imminent")
			}
			if !errors.Is(sess.Err(), client.ErrLeaseLost) {
				t.Fatalf("Err = %v", sess.Err())
			}
			if err := sess.Release(ctx); !errors.Is(err, client.ErrLeaseLost) {
				t.Fatalf("Release after drain = %v", err)
			}
			if d := <-stopped; d > 4*time.Second {
				t.Fatalf("server waited %v for the lease", d)
			}
		})
	}
}

func TestFailoverDeadAndLiveServer(t *testing.T) {
	ts := startServer(t, "tcp", server.Config{})
	ctx := ctxT(t)
	cli, err := client.NewWithEndpoints([]string{deadEndpoint(t), ts.url}, client.WithDisableMTLS(true))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	for i := range 5 {
		sess, err := cli.Acquire(ctx, api.AcquireRequest{Key: "fo", Owner: "w", BlockSecs: client.BlockNoWait})
		if err != nil {
			t.Fatalf("acquire %d: %v", i, err)
		}
		if err := sess.Save(ctx, map[string]int{"i": i}); err != nil {
			t.Fatalf("save %d: %v", i, err)
		}
		if err := sess.Release(ctx); err != nil {
			t.Fatalf("release %d: %v", i, err)
		}
		var got map[string]int
		if err := cli.Load(ctx, "fo", &got); err != nil || got["i"] != i {
			t.Fatalf("load %d: %v %v", i, got, err)
		}
	}
}

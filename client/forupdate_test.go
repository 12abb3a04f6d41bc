package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/client"
)

func TestAcquireForUpdate(t *testing.T) {
	forEachTransport(t, func(t *testing.T, ts *testServer) {
		ctx := ctxT(t)
		cli := ts.newClient(t)
		bump := func(ctx context.Context, af *client.AcquireForUpdateContext) error {
			state := map[string]int{}
			if err := af.Load(ctx, &state); err != nil {
				return err
			}
			state["n"]++
			return af.Save(ctx, state)
		}
		for range 3 {
			if err := cli.AcquireForUpdate(ctx, api.AcquireRequest{Key: "afu", Owner: "w", TTLSeconds: 10}, bump); err != nil {
				t.Fatal(err)
			}
		}
		var got map[string]int
		if err := cli.Load(ctx, "afu", &got); err != nil || got["n"] != 3 {
			t.Fatalf("after 3 updates: %v %v", got, err)
		}

		// A failing handler rolls its staged writes back and releases.
		boom := errors.New("boom")
		err := cli.AcquireForUpdate(ctx, api.AcquireRequest{Key: "afu", Owner: "w"}, func(ctx context.Context, af *client.AcquireForUpdateContext) error {
			if af.State == nil || !af.State.HasState {
				t.Error("handler got no snapshot")
			}
			if err := af.Save(ctx, map[string]int{"n": 100}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		if err := cli.Load(ctx, "afu", &got); err != nil || got["n"] != 3 {
			t.Fatalf("failed handler leaked its write: %v %v", got, err)
		}
		// The lease is free again.
		s, err := cli.Acquire(ctx, api.AcquireRequest{Key: "afu", Owner: "x", BlockSecs: client.BlockNoWait})
		if err != nil {
			t.Fatalf("lease not released: %v", err)
		}
		s.Close()

		// Create-only handshake.
		err = cli.AcquireForUpdate(ctx, api.AcquireRequest{Key: "afu", Owner: "w", IfNotExists: true, BlockSecs: client.BlockNoWait}, bump)
		if !client.IsAlreadyExists(err) {
			t.Fatalf("create-only: %v", err)
		}
	})
}

func TestAcquireForUpdateKeepsLeaseAlive(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	cli := newInProcess(t)
	err := cli.AcquireForUpdate(ctx, api.AcquireRequest{Key: "long", Owner: "w", TTLSeconds: 2}, func(ctx context.Context, af *client.AcquireForUpdateContext) error {
		time.Sleep(3500 * time.Millisecond) // outlives the TTL
		return af.Save(ctx, map[string]string{"done": "yes"})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAcquireForUpdateLeaseLoss takes the lease away from under the handler
// (another client rolls back its transaction, which clears the lease) and
// checks that the handler's context is cancelled with the loss as cause.
func TestAcquireForUpdateLeaseLoss(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	ip := newInProcess(t)
	admin, err := client.New("unix://"+ip.SocketPath(), client.WithDisableMTLS(true))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var cause error
	err = ip.AcquireForUpdate(ctx, api.AcquireRequest{Key: "lost", Owner: "w", TTLSeconds: 2}, func(ctx context.Context, af *client.AcquireForUpdateContext) error {
		if err := af.Save(ctx, map[string]int{"half": 1}); err != nil {
			return err
		}
		if _, err := admin.TxnRollback(ctx, api.TxnDecisionRequest{
			TxnID:        af.Session.TxnID,
			Participants: []api.TxnParticipant{{Key: "lost"}},
		}); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			cause = context.Cause(ctx)
			return ctx.Err()
		case <-time.After(10 * time.Second):
			return errors.New("handler context not cancelled after lease loss")
		}
	})
	if !errors.Is(err, client.ErrLeaseLost) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if !errors.Is(cause, client.ErrLeaseLost) {
		t.Fatalf("handler cause = %v", cause)
	}
	gr, err := ip.Get(ctx, "lost")
	if err != nil || gr.HasState {
		t.Fatalf("rolled back write visible: %+v %v", gr, err)
	}
}

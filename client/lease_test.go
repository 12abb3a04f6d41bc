package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/client"
)

func TestLeaseSessionLifecycle(t *testing.T) {
	forEachTransport(t, func(t *testing.T, ts *testServer) {
		ctx := ctxT(t)
		cli := ts.newClient(t)
		sess, err := cli.Acquire(ctx, api.AcquireRequest{Key: "orders", Owner: "w1", TTLSeconds: 30})
		if err != nil {
			t.Fatal(err)
		}
		if sess.Namespace != "default" || sess.FencingToken != 1 || sess.CurrentFencingToken() != 1 || sess.LeaseID == "" || sess.TxnID == "" {
			t.Fatalf("grant = %+v", sess.AcquireResponse)
		}
		snap, err := sess.Get(ctx)
		if err != nil || snap.HasState {
			t.Fatalf("empty get: %+v, %v", snap, err)
		}
		var untouched = map[string]any{"keep": true}
		if err := sess.Load(ctx, &untouched); err != nil || untouched["keep"] != true {
			t.Fatalf("load without state: %v %v", untouched, err)
		}

		if err := sess.Save(ctx, map[string]any{"progress": "running", "n": 1}); err != nil {
			t.Fatal(err)
		}
		if sess.CurrentVersion() != 1 || sess.CurrentETag() == "" {
			t.Fatalf("after save: version=%d etag=%q", sess.CurrentVersion(), sess.CurrentETag())
		}
		res, err := sess.Update(ctx, strings.NewReader(`{"progress": "running", "n": 2}`))
		if err != nil {
			t.Fatal(err)
		}
		if res.BytesWritten != int64(len(`{"progress":"running","n":2}`)) {
			t.Fatalf("bytes = %d (server compacts)", res.BytesWritten)
		}
		if _, err := sess.Mutate(ctx, []string{"/n++", "/tags/a=x"}); err != nil {
			t.Fatal(err)
		}
		got, err := sess.GetBytes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(got, &doc); err != nil || doc["n"] != float64(3) || doc["tags"].(map[string]any)["a"] != "x" {
			t.Fatalf("state = %s (%v)", got, err)
		}
		meta, err := sess.UpdateMetadata(ctx, client.MetadataOptions{QueryHidden: client.Bool(true)})
		if err != nil || !meta.Metadata.Hidden() {
			t.Fatalf("metadata = %+v, %v", meta, err)
		}

		// Public reads never see staged data.
		pub, err := cli.Get(ctx, "orders")
		if err != nil {
			t.Fatal(err)
		}
		if pub.HasState {
			t.Fatalf("public read saw staged state: %s", readAll(t, pub.Reader()))
		}
		pub.Close()

		if _, err := sess.KeepAlive(ctx, 20*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := sess.Release(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-sess.Done():
		default:
			t.Fatal("Done not closed after release")
		}
		if !errors.Is(sess.Err(), client.ErrSessionReleased) {
			t.Fatalf("Err = %v", sess.Err())
		}
		if err := sess.Release(ctx); err != nil {
			t.Fatalf("second release: %v", err)
		}
		if err := sess.Save(ctx, map[string]any{}); !errors.Is(err, client.ErrSessionReleased) {
			t.Fatalf("save after release: %v", err)
		}

		var committed map[string]any
		if err := cli.Load(ctx, "orders", &committed); err != nil || committed["n"] != float64(3) {
			t.Fatalf("public load = %v, %v", committed, err)
		}
		d, err := cli.Describe(ctx, "orders")
		if err != nil {
			t.Fatal(err)
		}
		if d.Version != 1 || d.LeaseID != "" || d.Metadata == nil || !d.Metadata.Hidden() {
			t.Fatalf("describe = %+v", d)
		}
	})
}

func TestAcquireConflicts(t *testing.T) {
	forEachTransport(t, func(t *testing.T, ts *testServer) {
		ctx := ctxT(t)
		cli := ts.newClient(t)
		holder, err := cli.Acquire(ctx, api.AcquireRequest{Key: "k", Owner: "a", TTLSeconds: 30})
		if err != nil {
			t.Fatal(err)
		}
		_, err = cli.Acquire(ctx, api.AcquireRequest{Key: "k", Owner: "b", BlockSecs: client.BlockNoWait})
		var ae *client.APIError
		if !errors.Is(err, client.ErrLeaseConflict) || !errors.As(err, &ae) || ae.RetryAfter <= 0 {
			t.Fatalf("no-wait conflict: %v", err)
		}
		start := time.Now()
		_, err = cli.Acquire(ctx, api.AcquireRequest{Key: "k", Owner: "b", BlockSecs: 1})
		if !errors.Is(err, client.ErrLeaseConflict) {
			t.Fatalf("bounded wait: %v", err)
		}
		if el := time.Since(start); el < 900*time.Millisecond || el > 5*time.Second {
			t.Fatalf("bounded wait took %v", el)
		}

		// A waiter gets the lease as soon as the holder releases.
		got := make(chan *client.LeaseSession, 1)
		go func() {
			s, err := cli.Acquire(ctx, api.AcquireRequest{Key: "k", Owner: "b", BlockSecs: client.BlockWaitForever})
			if err != nil {
				t.Error(err)
			}
			got <- s
		}()
		time.Sleep(200 * time.Millisecond)
		if err := holder.Release(ctx); err != nil {
			t.Fatal(err)
		}
		waiter := <-got
		if waiter == nil || waiter.FencingToken != 2 {
			t.Fatalf("waiter = %+v", waiter)
		}
		waiter.Close()

		// Create-only acquire on an existing key.
		_, err = cli.Acquire(ctx, api.AcquireRequest{Key: "k", Owner: "init", IfNotExists: true, BlockSecs: client.BlockNoWait})
		if !errors.Is(err, client.ErrAlreadyExists) || !client.IsAlreadyExists(err) {
			t.Fatalf("create-only: %v", err)
		}
		fresh, err := cli.Acquire(ctx, api.AcquireRequest{Key: "new-key", Owner: "init", IfNotExists: true})
		if err != nil {
			t.Fatal(err)
		}
		fresh.Close()
	})
}

func TestCASAndFencing(t *testing.T) {
	forEachTransport(t, func(t *testing.T, ts *testServer) {
		ctx := ctxT(t)
		cli := ts.newClient(t)
		sess, err := cli.Acquire(ctx, api.AcquireRequest{Key: "cas", Owner: "a"})
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		if err := sess.Save(ctx, map[string]int{"v": 1}); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name   string
			opts   client.UpdateOptions
			target error
		}{
			{"stale version", client.UpdateOptions{IfVersion: client.Int64(7)}, client.ErrVersionConflict},
			{"stale etag", client.UpdateOptions{IfETag: "nope"}, client.ErrVersionConflict},
			{"wrong fencing token", client.UpdateOptions{FencingToken: client.Int64(99)}, client.ErrFencingMismatch},
		}
		for _, tt := range tests {
			_, err := cli.UpdateBytes(ctx, "cas", sess.LeaseID, []byte(`{"v":2}`), tt.opts)
			if !errors.Is(err, tt.target) {
				t.Errorf("%s: err = %v, want %v", tt.name, err, tt.target)
			}
		}
		// The session itself is still fine and its guards still match.
		if err := sess.Save(ctx, map[string]int{"v": 3}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestLeaseLossIsLoud(t *testing.T) {
	ts := startServer(t, "unix", serverConfig())
	ctx := ctxT(t)
	cli := ts.newClient(t)
	old, err := cli.Acquire(ctx, api.AcquireRequest{Key: "exp", Owner: "a", TTLSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	next, err := cli.Acquire(ctx, api.AcquireRequest{Key: "exp", Owner: "b", BlockSecs: client.BlockNoWait})
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	if err := old.Save(ctx, map[string]int{"stale": 1}); !errors.Is(err, client.ErrLeaseLost) {
		t.Fatalf("stale holder save: %v", err)
	}
	select {
	case <-old.Done():
	case <-time.After(time.Second):
		t.Fatal("Done not closed after loss")
	}
	if !errors.Is(old.Err(), client.ErrLeaseLost) {
		t.Fatalf("Err = %v", old.Err())
	}
	if err := old.Release(ctx); !errors.Is(err, client.ErrLeaseLost) {
		t.Fatalf("release of lost lease = %v, want the loss", err)
	}
}

func TestAutoKeepAlive(t *testing.T) {
	ctx := ctxT(t)
	cli := newInProcess(t)
	t.Parallel()
	// TTL 2s renews every second; expiry has one-second granularity, so a
	// 1s TTL could expire before its first renewal.
	sess, err := cli.Acquire(ctx, api.AcquireRequest{Key: "ka", Owner: "a", TTLSeconds: 2}, client.WithAutoKeepAlive())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(4500 * time.Millisecond)
	if err := sess.Save(ctx, map[string]int{"alive": 1}); err != nil {
		t.Fatalf("lease expired despite keepalive: %v", err)
	}
	if err := sess.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRollbackAndRemove(t *testing.T) {
	forEachTransport(t, func(t *testing.T, ts *testServer) {
		ctx := ctxT(t)
		cli := ts.newClient(t)
		write := func(v int, rollback bool) {
			t.Helper()
			s, err := cli.Acquire(ctx, api.AcquireRequest{Key: "rb", Owner: "a"})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Save(ctx, map[string]int{"v": v}); err != nil {
				t.Fatal(err)
			}
			if err := s.ReleaseWithOptions(ctx, client.ReleaseOptions{Rollback: rollback}); err != nil {
				t.Fatal(err)
			}
		}
		write(1, false)
		write(2, true)
		var got map[string]int
		if err := cli.Load(ctx, "rb", &got); err != nil || got["v"] != 1 {
			t.Fatalf("after rollback: %v %v", got, err)
		}

		s, err := cli.Acquire(ctx, api.AcquireRequest{Key: "rb", Owner: "a"})
		if err != nil {
			t.Fatal(err)
		}
		rm, err := s.Remove(ctx)
		if err != nil || !rm.Removed {
			t.Fatalf("remove = %+v, %v", rm, err)
		}
		if snap, err := s.Get(ctx); err != nil || snap.HasState {
			t.Fatalf("holder view after remove: %+v %v", snap, err)
		}
		if err := s.Release(ctx); err != nil {
			t.Fatal(err)
		}
		gr, err := cli.Get(ctx, "rb")
		if err != nil || gr.HasState {
			t.Fatalf("public after remove: %+v %v", gr, err)
		}
	})
}

func TestClientLevelCalls(t *testing.T) {
	forEachTransport(t, func(t *testing.T, ts *testServer) {
		ctx := ctxT(t)
		cli := ts.newClient(t)
		sess, err := cli.Acquire(ctx, api.AcquireRequest{Key: "cl", Owner: "a"})
		if err != nil {
			t.Fatal(err)
		}
		id := sess.LeaseID
		if _, err := cli.UpdateBytes(ctx, "cl", id, []byte(`{"a":1}`), client.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := cli.Update(ctx, "cl", id, strings.NewReader(`{"a":2}`), client.UpdateOptions{IfVersion: client.Int64(1)}); err != nil {
			t.Fatal(err)
		}
		if _, err := cli.Mutate(ctx, client.MutateRequest{Key: "cl", LeaseID: id, Mutations: []string{"/a++"}}); err != nil {
			t.Fatal(err)
		}
		var v map[string]int
		if err := cli.Load(ctx, "cl", &v, client.WithLoadLeaseID(id)); err != nil || v["a"] != 3 {
			t.Fatalf("lease load = %v %v", v, err)
		}
		gr, err := cli.Get(ctx, "cl", client.WithGetLeaseID(id))
		if err != nil || !gr.HasState || gr.Version != "1" || gr.ETag == "" {
			t.Fatalf("lease get = %+v %v", gr, err)
		}
		gr.Close()
		if _, err := cli.UpdateMetadata(ctx, "cl", id, client.UpdateOptions{Metadata: client.MetadataOptions{QueryHidden: client.Bool(true)}}); err != nil {
			t.Fatal(err)
		}
		if _, err := cli.KeepAlive(ctx, api.KeepAliveRequest{Key: "cl", LeaseID: id, TTLSeconds: 30}); err != nil {
			t.Fatal(err)
		}

		// Sticky lease: calls without a lease id use it.
		cli.UseLeaseID(id)
		if _, err := cli.UpdateBytes(ctx, "cl", "", []byte(`{"a":10}`), client.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := cli.Load(ctx, "cl", &v, client.WithLoadPublicDisabled(true)); err != nil || v["a"] != 10 {
			t.Fatalf("sticky load = %v %v", v, err)
		}

		// A second client knows nothing of the lease until told its token.
		other := ts.newClient(t)
		_, err = other.UpdateBytes(ctx, "cl", id, []byte(`{}`), client.UpdateOptions{TxnID: sess.TxnID})
		if !errors.Is(err, client.ErrMissingFencingToken) {
			t.Fatalf("unknown token: %v", err)
		}
		other.RegisterLeaseToken(id, sess.CurrentFencingToken())
		if _, err := other.UpdateBytes(ctx, "cl", id, []byte(`{"a":11}`), client.UpdateOptions{TxnID: sess.TxnID}); err != nil {
			t.Fatal(err)
		}
		// Release by id on a client without a token: success, no request.
		if res, err := ts.newClient(t).Release(ctx, api.ReleaseRequest{Key: "cl", LeaseID: id}); err != nil || !res.Released {
			t.Fatalf("tokenless release = %+v %v", res, err)
		}

		rm, err := cli.Remove(ctx, "cl", id, client.RemoveOptions{})
		if err != nil || !rm.Removed {
			t.Fatalf("remove = %+v %v", rm, err)
		}
		res, err := cli.Release(ctx, api.ReleaseRequest{Key: "cl", LeaseID: id})
		if err != nil || !res.Released {
			t.Fatalf("release = %+v %v", res, err)
		}
		select {
		case <-sess.Done():
		default:
			t.Fatal("client-level release did not end the session")
		}
		// Releasing again answers 403 lease_required on the server: success.
		other.RegisterLeaseToken(id, 1)
		if res, err := other.Release(ctx, api.ReleaseRequest{Key: "cl", LeaseID: id, TxnID: sess.TxnID}); err != nil || !res.Released {
			t.Fatalf("duplicate release = %+v %v", res, err)
		}
	})
}

func TestUpdateStream(t *testing.T) {
	forEachTransport(t, func(t *testing.T, ts *testServer) {
		ctx := ctxT(t)
		cli := ts.newClient(t)
		sess, err := cli.Acquire(ctx, api.AcquireRequest{Key: "stream", Owner: "a"})
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		pr, pw := ioPipe()
		go func() {
			pw.Write([]byte(`{"items":[`))
			for i := range 1000 {
				if i > 0 {
					pw.Write([]byte(","))
				}
				pw.Write([]byte(`{"i":1}`))
			}
			pw.Write([]byte(`]}`))
			pw.Close()
		}()
		res, err := cli.UpdateStream(ctx, "stream", sess.LeaseID, pr, client.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.BytesWritten != int64(len(`{"items":[]}`)+1000*len(`{"i":1}`)+999) {
			t.Fatalf("bytes = %d", res.BytesWritten)
		}
		var doc struct{ Items []map[string]int }
		if err := sess.Load(ctx, &doc); err != nil || len(doc.Items) != 1000 {
			t.Fatalf("items = %d %v", len(doc.Items), err)
		}
		if _, err := sess.UpdateStream(ctx, strings.NewReader(`{"x":1}`), client.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestCloseReleasesSessions(t *testing.T) {
	ctx := ctxT(t)
	ip := newInProcess(t)
	cli, err := client.New("unix://"+ip.SocketPath(), client.WithDisableMTLS(true))
	if err != nil {
		t.Fatal(err)
	}
	sess, err := cli.Acquire(ctx, api.AcquireRequest{Key: "c", Owner: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Close(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(sess.Err(), client.ErrSessionReleased) {
		t.Fatalf("session after Close: %v", sess.Err())
	}
	if _, err := ip.Acquire(context.Background(), api.AcquireRequest{Key: "c", Owner: "b", BlockSecs: client.BlockNoWait}); err != nil {
		t.Fatalf("lease not freed by Close: %v", err)
	}
}

package client_test

import (
	"testing"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/client"
)

func TestNamespaces(t *testing.T) {
	forEachTransport(t, func(t *testing.T, ts *testServer) {
		ctx := ctxT(t)
		cli := ts.newClient(t, client.WithDefaultNamespace("teams"))
		sess, err := cli.Acquire(ctx, api.AcquireRequest{Key: "k", Owner: "w"})
		if err != nil {
			t.Fatal(err)
		}
		if sess.Namespace != "teams" {
			t.Fatalf("namespace = %q", sess.Namespace)
		}
		if err := sess.Save(ctx, map[string]string{"ns": "teams"}); err != nil {
			t.Fatal(err)
		}
		sess.Close()
		if err := cli.UseNamespace("other"); err != nil {
			t.Fatal(err)
		}
		if gr, err := cli.Get(ctx, "k"); err != nil || gr.HasState {
			t.Fatalf("other namespace sees teams' key: %+v %v", gr, err)
		}
		var got map[string]string
		if err := cli.Load(ctx, "k", &got, client.WithLoadNamespace("teams")); err != nil || got["ns"] != "teams" {
			t.Fatalf("load teams: %v %v", got, err)
		}

		cfg, err := cli.GetNamespaceConfig(ctx, "teams")
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Config.Namespace != "teams" || cfg.Config.Query.PreferredEngine == "" {
			t.Fatalf("config = %+v", cfg.Config)
		}
		upd, err := cli.UpdateNamespaceConfig(ctx, api.NamespaceConfigRequest{
			Namespace: "teams",
			Query:     &api.NamespaceQueryConfig{PreferredEngine: "scan", FallbackEngine: "none"},
		}, client.NamespaceConfigOptions{IfMatch: cfg.ETag})
		if err != nil {
			t.Fatal(err)
		}
		if upd.ETag == "" || upd.Config.Query.PreferredEngine != "scan" {
			t.Fatalf("updated = %+v etag=%q", upd.Config, upd.ETag)
		}
		_, err = cli.UpdateNamespaceConfig(ctx, api.NamespaceConfigRequest{
			Namespace: "teams",
			Query:     &api.NamespaceQueryConfig{PreferredEngine: "index"},
		}, client.NamespaceConfigOptions{IfMatch: "stale-etag"})
		if code := apiCode(err); code != api.ErrCodeNamespaceConfigConflict {
			t.Fatalf("stale If-Match: %v", err)
		}
	})
}

func TestTransactions(t *testing.T) {
	forEachTransport(t, func(t *testing.T, ts *testServer) {
		ctx := ctxT(t)
		cli := ts.newClient(t)
		a, err := cli.Acquire(ctx, api.AcquireRequest{Key: "acct/a", Owner: "w"})
		if err != nil {
			t.Fatal(err)
		}
		b, err := cli.Acquire(ctx, api.AcquireRequest{Key: "acct/b", Owner: "w", TxnID: a.TxnID})
		if err != nil {
			t.Fatal(err)
		}
		if b.TxnID != a.TxnID {
			t.Fatalf("joined txn = %q, want %q", b.TxnID, a.TxnID)
		}
		if err := a.Save(ctx, map[string]int{"balance": 50}); err != nil {
			t.Fatal(err)
		}
		if err := b.Save(ctx, map[string]int{"balance": 150}); err != nil {
			t.Fatal(err)
		}
		parts := []api.TxnParticipant{{Key: "acct/a"}, {Key: "acct/b"}}
		if res, err := cli.TxnPrepare(ctx, api.TxnDecisionRequest{TxnID: a.TxnID, Participants: parts}); err != nil || res.State != api.TxnStatePending {
			t.Fatalf("prepare = %+v %v", res, err)
		}
		res, err := cli.TxnCommit(ctx, api.TxnDecisionRequest{TxnID: a.TxnID, Participants: parts})
		if err != nil || res.State != api.TxnStateCommit {
			t.Fatalf("commit = %+v %v", res, err)
		}
		for _, s := range []*client.LeaseSession{a, b} {
			select {
			case <-s.Done():
			default:
				t.Fatalf("session %s still open after commit", s.Key)
			}
		}
		for key, want := range map[string]int{"acct/a": 50, "acct/b": 150} {
			var got map[string]int
			if err := cli.Load(ctx, key, &got); err != nil || got["balance"] != want {
				t.Fatalf("%s = %v %v", key, got, err)
			}
		}
		rep, err := cli.TxnReplay(ctx, a.TxnID)
		if err != nil || rep.State != api.TxnStateCommit {
			t.Fatalf("replay = %+v %v", rep, err)
		}

		c, err := cli.Acquire(ctx, api.AcquireRequest{Key: "acct/a", Owner: "w"})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Save(ctx, map[string]int{"balance": -1}); err != nil {
			t.Fatal(err)
		}
		res, err = cli.TxnRollback(ctx, api.TxnDecisionRequest{TxnID: c.TxnID, Participants: []api.TxnParticipant{{Key: "acct/a"}}})
		if err != nil || res.State != api.TxnStateRollback {
			t.Fatalf("rollback = %+v %v", res, err)
		}
		var got map[string]int
		if err := cli.Load(ctx, "acct/a", &got); err != nil || got["balance"] != 50 {
			t.Fatalf("after rollback = %v %v", got, err)
		}
		if _, err := cli.TxnReplay(ctx, "c5v9d0sl70b3m3q8ndg0"); apiCode(err) != api.ErrCodeTxnNotFound {
			t.Fatalf("unknown txn replay: %v", err)
		}
	})
}

package client_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/client"
	"github.com/lockd-mcp/lockd-mcp/lql"
	"github.com/lockd-mcp/lockd-mcp/server"
)

// commitJSON writes doc under key through a lease and releases it.
func commitJSON(t *testing.T, cli *client.Client, ns, key, doc string, hidden bool) {
	t.Helper()
	ctx := ctxT(t)
	lease, err := cli.Acquire(ctx, api.AcquireRequest{Namespace: ns, Key: key, Owner: "query-test", TTLSeconds: 30})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lease.UpdateBytes(ctx, []byte(doc)); err != nil {
		t.Fatal(err)
	}
	if hidden {
		if _, err := lease.UpdateMetadata(ctx, client.MetadataOptions{QueryHidden: client.Bool(true)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestQueryAgainstServer runs the SDK against the embedded server: keys
// pages with cursors, documents streamed as NDJSON with trailers, hidden
// keys, refresh=wait_for and index flushes.
func TestQueryAgainstServer(t *testing.T) {
	forEachTransport(t, func(t *testing.T, ts *testServer) {
		cli := ts.newClient(t)
		ctx := ctxT(t)
		for i := range 25 {
			commitJSON(t, cli, "board", fmt.Sprintf("task-%02d", i),
				fmt.Sprintf(`{"status":%q,"tags":["t%d"],"n":%d}`, []string{"open", "done"}[i%2], i%3, i), i == 4)
		}
		var keys []string
		cursor := ""
		for {
			resp, err := cli.Query(ctx, client.WithQueryNamespace("board"), client.WithQuery(`/status="open"`),
				client.WithQueryLimit(5), client.WithQueryCursor(cursor), client.WithQueryRefreshWaitFor())
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, resp.Keys()...)
			if resp.IndexSeq == 0 || resp.Metadata["engine"] != "index" {
				t.Fatalf("response %+v", resp)
			}
			if cursor = resp.Cursor; cursor == "" {
				break
			}
		}
		want := []string{"task-00", "task-02", "task-06", "task-08", "task-10", "task-12", "task-14", "task-16", "task-18", "task-20", "task-22", "task-24"}
		if !slices.Equal(keys, want) { // task-04 is hidden
			t.Fatalf("keys %v, want %v", keys, want)
		}

		resp, err := cli.Query(ctx, client.WithQueryNamespace("board"),
			client.WithQuerySelector(api.Selector{In: &lql.InTerm{Field: "/tags[]", Any: []string{"t1"}}}),
			client.WithQueryReturnDocuments(), client.WithQueryLimit(3))
		if err != nil {
			t.Fatal(err)
		}
		var rows []client.QueryRow
		if err := resp.ForEach(func(r client.QueryRow) error { rows = append(rows, r); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(rows) != 3 || rows[0].Key != "task-01" || rows[0].Version != 1 || rows[0].Namespace != "board" {
			t.Fatalf("rows %+v", rows)
		}
		var doc struct {
			N int `json:"n"`
		}
		if err := rows[2].DocumentInto(&doc); err != nil || rows[1].Key != "task-07" || doc.N != 10 { // task-04 is hidden
			t.Fatalf("document of %s: %+v %v", rows[2].Key, doc, err)
		}
		if resp.Cursor == "" || resp.IndexSeq == 0 || resp.Metadata["engine"] != "index" {
			t.Fatalf("trailers not read: %+v", resp)
		}

		out, err := cli.FlushIndex(ctx, "board", client.WithFlushModeWait())
		if err != nil || !out.Flushed || out.IndexSeq == 0 {
			t.Fatalf("flush wait: %+v %v", out, err)
		}
		if out, err = cli.FlushIndex(ctx, "board"); err != nil || !out.Accepted {
			t.Fatalf("flush async: %+v %v", out, err)
		}
	})
}

func TestQueryEngineRulesAgainstServer(t *testing.T) {
	ts := startServer(t, "tcp", server.Config{})
	cli := ts.newClient(t)
	ctx := context.Background()
	commitJSON(t, cli, "cfg", "a", `{"x":1}`, false)
	_, err := cli.Query(ctx, client.WithQueryNamespace("cfg"), client.WithQueryEngineScan())
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Response.ErrorCode != api.ErrCodeQueryEngineUnavailable {
		t.Fatalf("scan under the default index/none config: %v", err)
	}
	if _, err := cli.UpdateNamespaceConfig(ctx, api.NamespaceConfigRequest{Namespace: "cfg",
		Query: &api.NamespaceQueryConfig{FallbackEngine: "scan"}}, client.NamespaceConfigOptions{}); err != nil {
		t.Fatal(err)
	}
	resp, err := cli.Query(ctx, client.WithQueryNamespace("cfg"), client.WithQueryEngineScan())
	if err != nil || !slices.Equal(resp.Keys(), []string{"a"}) || resp.Metadata["engine"] != "scan" {
		t.Fatalf("scan: %+v %v", resp, err)
	}
}

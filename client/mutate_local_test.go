package client_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/client"
	"github.com/lockd-mcp/lockd-mcp/lql"
)

func TestMutateLocal(t *testing.T) {
	forEachTransport(t, func(t *testing.T, ts *testServer) {
		ctx := ctxT(t)
		cli := ts.newClient(t)
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "note.txt"), []byte("hello\nworld"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "blob.bin"), []byte{0, 1, 2, 'a'}, 0o600); err != nil {
			t.Fatal(err)
		}
		sess, err := cli.Acquire(ctx, api.AcquireRequest{Key: "ml", Owner: "w"})
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		// No state yet: mutations start from {}.
		if _, err := sess.MutateLocal(ctx, []string{"/n=1", "/name=first"}, client.MutateLocalOptions{}); err != nil {
			t.Fatal(err)
		}
		res, err := sess.MutateLocal(ctx, []string{"/n++", "textfile:/note=note.txt", "file:/blob=blob.bin", "rm:/name"},
			client.MutateLocalOptions{FileValueBaseDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if res.NewVersion != 1 || sess.CurrentETag() != res.NewStateETag {
			t.Fatalf("res = %+v etag=%q", res, sess.CurrentETag())
		}
		var doc map[string]any
		if err := sess.Load(ctx, &doc); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"n": float64(2), "note": "hello\nworld", "blob": base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 'a'})}
		for k, v := range want {
			if doc[k] != v {
				t.Errorf("%s = %#v, want %#v", k, doc[k], v)
			}
		}
		if _, ok := doc["name"]; ok {
			t.Error("rm:/name not applied")
		}

		// A custom resolver replaces the filesystem.
		_, err = cli.MutateLocal(ctx, client.MutateLocalRequest{
			Key: "ml", LeaseID: sess.LeaseID, Mutations: []string{"base64file:/virt=/virtual/x"},
			FileValueResolver: lql.MutationFileValueResolver{Open: func(path string) (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader([]byte("xyz"))), nil
			}},
		})
		if err != nil {
			t.Fatal(err)
		}
		data, _ := sess.GetBytes(ctx)
		if !strings.Contains(string(data), `"virt":"eHl6"`) {
			t.Fatalf("resolver value missing: %s", data)
		}

		// Fetched CAS: a guard the caller sets wins, and a stale one fails.
		_, err = sess.MutateLocal(ctx, []string{"/n=9"}, client.MutateLocalOptions{Update: client.UpdateOptions{IfETag: "stale"}})
		if !errors.Is(err, client.ErrVersionConflict) {
			t.Fatalf("stale guard: %v", err)
		}
		// Bad mutations fail before anything is sent.
		if _, err := sess.MutateLocal(ctx, []string{"no-equals"}, client.MutateLocalOptions{}); err == nil {
			t.Fatal("invalid mutation accepted")
		}
		// Applying fails (non-numeric increment): the upload is abandoned.
		if _, err := sess.MutateLocal(ctx, []string{"/note++"}, client.MutateLocalOptions{}); err == nil {
			t.Fatal("non-numeric increment accepted")
		}
		if err := sess.Load(ctx, &doc); err != nil || doc["n"] != float64(2) {
			t.Fatalf("state changed by failed mutations: %v %v", doc, err)
		}
	})
}

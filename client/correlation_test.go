package client_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/client"
)

func TestCorrelationIDs(t *testing.T) {
	ctx := ctxT(t)
	ip := newInProcess(t)
	sess, err := ip.Acquire(client.WithCorrelationID(ctx, " job-42 "), api.AcquireRequest{Key: "c1", Owner: "w"})
	if err != nil {
		t.Fatal(err)
	}
	if sess.CorrelationID != "job-42" {
		t.Fatalf("acquire correlation = %q", sess.CorrelationID)
	}
	sess.Close()
	gen, err := ip.Acquire(ctx, api.AcquireRequest{Key: "c2", Owner: "w"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := client.NormalizeCorrelationID(gen.CorrelationID); !ok {
		t.Fatalf("server-generated correlation id %q", gen.CorrelationID)
	}
	gen.Close()
	if id := client.GenerateCorrelationID(); len(id) != 36 {
		t.Fatalf("generated id %q", id)
	}
}

// TestCorrelationPropagation checks the headers on the wire: lease calls
// reuse the acquire's id, a context id wins, and the transport helpers
// overwrite whatever was set.
func TestCorrelationPropagation(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path] = r.Header.Get(api.HeaderCorrelationID)
		mu.Unlock()
		io.Copy(io.Discard, r.Body)
		switch r.URL.Path {
		case "/v1/acquire":
			io.WriteString(w, `{"namespace":"default","lease_id":"dc3rt69ksdu9l1n1tqmg","txn_id":"dc3rt69ksdu9l1n1tqn0","key":"k","owner":"o","expires_at_unix":4102444800,"fencing_token":1,"correlation_id":"from-acquire"}`)
		case "/v1/update":
			io.WriteString(w, `{"new_version":1,"new_state_etag":"e","bytes":2}`)
		default:
			io.WriteString(w, `{"released":true}`)
		}
	}))
	defer srv.Close()
	ctx := ctxT(t)
	cli, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := cli.Acquire(ctx, api.AcquireRequest{Key: "k", Owner: "o"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Save(ctx, map[string]int{}); err != nil {
		t.Fatal(err)
	}
	if seen["/v1/update"] != "from-acquire" {
		t.Fatalf("update correlation = %q, want the acquire's", seen["/v1/update"])
	}
	if err := sess.Release(client.WithCorrelationID(ctx, "explicit")); err != nil {
		t.Fatal(err)
	}
	if seen["/v1/release"] != "explicit" {
		t.Fatalf("release correlation = %q", seen["/v1/release"])
	}

	hc := client.WithCorrelationHTTPClient(nil, "pinned")
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/describe", nil)
	req.Header.Set(api.HeaderCorrelationID, "overwritten")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if seen["/v1/describe"] != "pinned" || req.Header.Get(api.HeaderCorrelationID) != "overwritten" {
		t.Fatalf("transport correlation = %q (caller's request changed: %v)", seen["/v1/describe"], req.Header)
	}
	if rt := client.WithCorrelationTransport(http.DefaultTransport, "bad\x01id"); rt != http.DefaultTransport {
		t.Fatal("invalid id should leave the transport unwrapped")
	}
	if got := client.CorrelationIDFromResponse(&http.Response{Header: http.Header{"X-Correlation-Id": {" r1 "}}}); got != "r1" {
		t.Fatalf("CorrelationIDFromResponse = %q", got)
	}
}

package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/client"
)

// wireQueryServer answers /v1/query and /v1/index/flush like lockd does on
// the wire (WIRE §5.1, §5.2), recording what the SDK sent. It pins the SDK's
// side of the contract independently of our own server.
type wireQueryServer struct {
	lastQuery   string
	lastBody    api.QueryRequest
	lastFlush   api.IndexFlushRequest
	flushStatus int
}

func (s *wireQueryServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v1/query":
		s.lastQuery = r.URL.RawQuery
		s.lastBody = api.QueryRequest{}
		_ = json.NewDecoder(r.Body).Decode(&s.lastBody)
		switch r.URL.Query().Get("return") {
		case "documents":
			h := w.Header()
			h.Set("Content-Type", "application/x-ndjson")
			h.Set(api.HeaderQueryReturn, "documents")
			h.Set("Trailer", api.HeaderQueryCursor+", "+api.HeaderQueryIndexSeq+", "+api.HeaderQueryMetadata)
			w.WriteHeader(200)
			io.WriteString(w, `{"ns":"orders","key":"o1","ver":3,"doc":{"status":"open","n":1.50}}`+"\n")
			w.(http.Flusher).Flush()
			io.WriteString(w, `{"ns":"orders","key":"o2","doc":{"status":"open"}}`+"\n")
			h.Set(api.HeaderQueryCursor, "c2")
			h.Set(api.HeaderQueryIndexSeq, "42")
			h.Set(api.HeaderQueryMetadata, `{"engine":"index","index_pending":"false"}`)
		case "keys":
			// Body fields empty: the SDK must fall back to the headers.
			h := w.Header()
			h.Set(api.HeaderQueryReturn, "keys")
			h.Set(api.HeaderQueryCursor, "hc")
			h.Set(api.HeaderQueryIndexSeq, "7")
			h.Set(api.HeaderQueryMetadata, `{"engine":"scan"}`)
			h.Set("Content-Type", "application/json")
			io.WriteString(w, `{"namespace":"orders","keys":["a","b"]}`)
		default:
			w.WriteHeader(400)
			io.WriteString(w, `{"error":"invalid_return","detail":"bad"}`)
		}
	case "/v1/index/flush":
		_ = json.NewDecoder(r.Body).Decode(&s.lastFlush)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(s.flushStatus)
		json.NewEncoder(w).Encode(api.IndexFlushResponse{Namespace: s.lastFlush.Namespace, Mode: s.lastFlush.Mode, Accepted: true, FlushID: "f1"})
	default:
		http.NotFound(w, r)
	}
}

func newWireClient(t *testing.T) (*client.Client, *wireQueryServer) {
	t.Helper()
	ws := &wireQueryServer{flushStatus: 202}
	hs := httptest.NewServer(ws)
	t.Cleanup(hs.Close)
	cli, err := client.New(hs.URL, client.WithDisableMTLS(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli, ws
}

func TestQueryWireKeysMode(t *testing.T) {
	cli, ws := newWireClient(t)
	resp, err := cli.Query(context.Background(),
		client.WithQueryNamespace("orders"),
		client.WithQuery(`/status="open"`),
		client.WithQueryLimit(20),
		client.WithQueryCursor("c1"),
		client.WithQueryFields(map[string]any{"/status": true}),
		client.WithQueryEngineScan(),
		client.WithQueryRefreshWaitFor(),
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"namespace=orders", "engine=scan", "refresh=wait_for", "return=keys"} {
		if !strings.Contains(ws.lastQuery, want) {
			t.Errorf("query string %q lacks %q", ws.lastQuery, want)
		}
	}
	if b := ws.lastBody; b.Limit != 20 || b.Cursor != "c1" || b.Selector.Eq == nil || b.Selector.Eq.Value != "open" || b.Fields["/status"] != true {
		t.Errorf("body %+v", b)
	}
	if got := resp.Keys(); !slices.Equal(got, []string{"a", "b"}) || resp.Mode() != client.QueryReturnKeys {
		t.Fatalf("keys %v mode %s", got, resp.Mode())
	}
	if resp.Cursor != "hc" || resp.IndexSeq != 7 || resp.Metadata["engine"] != "scan" {
		t.Fatalf("header fallback: %+v", resp)
	}
}

func TestQueryWireDocumentsModeReadsTrailers(t *testing.T) {
	cli, _ := newWireClient(t)
	resp, err := cli.Query(context.Background(), client.WithQueryNamespace("orders"), client.WithQueryReturnDocuments())
	if err != nil {
		t.Fatal(err)
	}
	var rows []client.QueryRow
	if err := resp.ForEach(func(r client.QueryRow) error { rows = append(rows, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Key != "o1" || rows[0].Version != 3 || rows[1].Version != 0 || !rows[1].HasDocument() {
		t.Fatalf("rows %+v", rows)
	}
	rc, err := rows[0].DocumentReader()
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := io.ReadAll(rc)
	rc.Close()
	if string(doc) != `{"status":"open","n":1.50}` {
		t.Fatalf("document %s (must be verbatim)", doc)
	}
	if resp.Cursor != "c2" || resp.IndexSeq != 42 || resp.Metadata["index_pending"] != "false" {
		t.Fatalf("trailers not read: %+v", resp)
	}
	if err := resp.ForEach(func(client.QueryRow) error { return nil }); err == nil {
		t.Fatal("a consumed stream can be read twice")
	}
}

func TestQueryWireErrors(t *testing.T) {
	cli, _ := newWireClient(t)
	if _, err := cli.Query(context.Background(), client.WithQuery("nonsense")); err == nil {
		t.Fatal("parse error not surfaced")
	}
	_, err := cli.Query(context.Background(), client.WithQueryReturn("rows"))
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Response.ErrorCode != api.ErrCodeInvalidReturn {
		t.Fatalf("error %v", err)
	}
	stop := errors.New("stop")
	resp, err := cli.Query(context.Background(), client.WithQueryReturnDocuments())
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.ForEach(func(client.QueryRow) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("ForEach error %v", err)
	}
}

func TestFlushIndexWire(t *testing.T) {
	cli, ws := newWireClient(t)
	out, err := cli.FlushIndex(context.Background(), "orders")
	if err != nil || ws.lastFlush.Mode != "async" || out.FlushID != "f1" {
		t.Fatalf("async flush: %+v %v (sent %+v)", out, err, ws.lastFlush)
	}
	ws.flushStatus = 200
	if _, err := cli.FlushIndex(context.Background(), "orders", client.WithFlushModeWait()); err != nil || ws.lastFlush.Mode != "wait" {
		t.Fatalf("wait flush: %v (sent %+v)", err, ws.lastFlush)
	}
}

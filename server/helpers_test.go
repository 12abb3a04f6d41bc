package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testServer is a running server plus an HTTP client bound to it.
type testServer struct {
	t      *testing.T
	h      *Handle
	base   string
	client *http.Client
}

// stores lists the stores every behavioural test runs against; each call
// of a URL function yields a fresh, empty store.
var stores = []struct {
	name string
	url  func(t *testing.T) string
}{
	{"mem", func(*testing.T) string { return "mem://" }},
	{"disk", func(t *testing.T) string { return "disk://" + filepath.Join(t.TempDir(), "data") }},
}

// eachStore runs fn once per store as a subtest.
func eachStore(t *testing.T, fn func(t *testing.T, storeURL string)) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) { fn(t, st.url(t)) })
	}
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func startTCP(t *testing.T, cfg Config) *testServer {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	h, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	ts := &testServer{t: t, h: h, base: h.URL(), client: &http.Client{Timeout: 30 * time.Second}}
	t.Cleanup(func() { ts.stop() })
	return ts
}

func startUnix(t *testing.T, cfg Config) *testServer {
	t.Helper()
	dir, err := os.MkdirTemp("", "lockd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "s.sock")
	cfg.Listen, cfg.ListenProto = sock, "unix"
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	h, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}
	ts := &testServer{t: t, h: h, base: "http://unix", client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	t.Cleanup(func() { ts.stop() })
	return ts
}

func (ts *testServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.h.Stop(ctx, WithDrainTimeout(0)); err != nil {
		ts.t.Errorf("stop: %v", err)
	}
}

// resp is a fully read HTTP response.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("decode %q: %v", r.Body, err)
	}
	return m
}

func (r resp) code() string {
	var m struct {
		Error string `json:"error"`
	}
	json.Unmarshal(r.Body, &m)
	return m.Error
}

// do sends a request; body may be a string, []byte or a value to encode.
func (ts *testServer) do(method, path string, body any, hdr map[string]string) resp {
	ts.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, ts.base+path, rd)
	if err != nil {
		ts.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := ts.client.Do(req)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	return resp{Status: res.StatusCode, Header: res.Header, Body: data}
}

func (ts *testServer) post(path string, body any, hdr map[string]string) resp {
	ts.t.Helper()
	return ts.do(http.MethodPost, path, body, hdr)
}

// lease is what a test keeps from an acquire.
type lease struct {
	NS, Key, LeaseID, TxnID string
	Fencing                 int64
	Version                 int64
	ETag                    string
}

func (l lease) hdr() map[string]string {
	return map[string]string{
		"X-Lease-ID":      l.LeaseID,
		"X-Txn-ID":        l.TxnID,
		"X-Fencing-Token": strconv.FormatInt(l.Fencing, 10),
	}
}

func (l lease) q() string { return "?namespace=" + l.NS + "&key=" + l.Key }

func (ts *testServer) acquire(ns, key string, extra map[string]any) lease {
	ts.t.Helper()
	body := map[string]any{"namespace": ns, "key": key, "owner": "test", "ttl_seconds": 30, "block_seconds": -1}
	for k, v := range extra {
		body[k] = v
	}
	r := ts.post("/v1/acquire", body, nil)
	if r.Status != 200 {
		ts.t.Fatalf("acquire %s/%s: %d %s", ns, key, r.Status, r.Body)
	}
	var a struct {
		Namespace string `json:"namespace"`
		Key       string `json:"key"`
		LeaseID   string `json:"lease_id"`
		TxnID     string `json:"txn_id"`
		Fencing   int64  `json:"fencing_token"`
		Version   int64  `json:"version"`
		ETag      string `json:"state_etag"`
	}
	if err := json.Unmarshal(r.Body, &a); err != nil {
		ts.t.Fatal(err)
	}
	return lease{NS: a.Namespace, Key: a.Key, LeaseID: a.LeaseID, TxnID: a.TxnID, Fencing: a.Fencing, Version: a.Version, ETag: a.ETag}
}

func (ts *testServer) update(l lease, doc string) resp {
	ts.t.Helper()
	return ts.post("/v1/update"+l.q(), doc, l.hdr())
}

func (ts *testServer) release(l lease, rollback bool) resp {
	ts.t.Helper()
	return ts.post("/v1/release", map[string]any{"namespace": l.NS, "key": l.Key, "lease_id": l.LeaseID, "txn_id": l.TxnID, "rollback": rollback},
		map[string]string{"X-Fencing-Token": strconv.FormatInt(l.Fencing, 10)})
}

func (ts *testServer) publicGet(ns, key string) resp {
	ts.t.Helper()
	return ts.post("/v1/get?namespace="+ns+"&key="+key+"&public=1", nil, nil)
}

func wantStatus(t *testing.T, r resp, status int, code string) {
	t.Helper()
	if r.Status != status || (code != "" && r.code() != code) {
		t.Fatalf("got %d %s, want %d %s", r.Status, r.Body, status, code)
	}
}

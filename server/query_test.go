package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/lockd-mcp/lockd-mcp/api"
)

// commitDoc writes doc under ns/key through a full lease cycle.
func (ts *testServer) commitDoc(ns, key, doc string, hidden bool) {
	ts.t.Helper()
	l := ts.acquire(ns, key, nil)
	if r := ts.post("/v1/update"+l.q(), doc, l.hdr()); r.Status != 200 {
		ts.t.Fatalf("update %s/%s: %d %s", ns, key, r.Status, r.Body)
	}
	if hidden {
		if r := ts.post("/v1/metadata"+l.q(), map[string]bool{"query_hidden": true}, l.hdr()); r.Status != 200 {
			ts.t.Fatalf("metadata %s/%s: %d %s", ns, key, r.Status, r.Body)
		}
	}
	if r := ts.release(l, false); r.Status != 200 {
		ts.t.Fatalf("release %s/%s: %d %s", ns, key, r.Status, r.Body)
	}
}

func (ts *testServer) queryKeys(t *testing.T, params string, body any) ([]string, api.QueryResponse, resp) {
	t.Helper()
	r := ts.post("/v1/query?"+params, body, nil)
	if r.Status != 200 {
		t.Fatalf("query %s: %d %s", params, r.Status, r.Body)
	}
	var out api.QueryResponse
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatal(err)
	}
	return out.Keys, out, r
}

// TestQueryKeysMode: every write acknowledged before a wait_for query is
// visible to it, through both engines, and hidden keys never are.
func TestQueryKeysMode(t *testing.T) {
	eachStore(t, func(t *testing.T, storeURL string) {
		ts := startTCP(t, Config{Store: storeURL})
		ts.post("/v1/namespace?namespace=tasks", map[string]any{"query": map[string]string{"fallback_engine": "scan"}}, nil)
		for i := range 30 {
			status := []string{"open", "closed", "blocked"}[i%3]
			ts.commitDoc("tasks", fmt.Sprintf("t%02d", i), fmt.Sprintf(`{"status":%q,"tags":["t%d"],"n":%d}`, status, i%5, i), i == 3)
		}
		for _, engine := range []string{"index", "scan"} {
			keys, out, r := ts.queryKeys(t, "namespace=tasks&refresh=wait_for&engine="+engine,
				map[string]any{"selector": map[string]any{"eq": map[string]any{"field": "/status", "value": "open"}}})
			want := []string{"t00", "t06", "t09", "t12", "t15", "t18", "t21", "t24", "t27"} // t03 is hidden
			if !slices.Equal(keys, want) {
				t.Fatalf("%s: keys %v, want %v", engine, keys, want)
			}
			if out.Metadata["engine"] != engine || r.Header.Get(api.HeaderQueryReturn) != "keys" ||
				r.Header.Get(api.HeaderQueryMetadata) == "" {
				t.Fatalf("%s: metadata %v, headers %v", engine, out.Metadata, r.Header)
			}
			if engine == "index" && (out.IndexSeq == 0 || r.Header.Get(api.HeaderQueryIndexSeq) == "") {
				t.Fatalf("index_seq missing: %+v", out)
			}
		}
		// Text selectors through the query string, and pagination.
		var all []string
		cursor := ""
		for {
			q := "namespace=tasks&limit=4&" + url.QueryEscape("in{field=/tags[],any=t1|t2}") + "="
			if cursor != "" {
				q += "&cursor=" + cursor
			}
			keys, out, _ := ts.queryKeys(t, q, nil)
			all = append(all, keys...)
			if out.Cursor == "" {
				break
			}
			cursor = out.Cursor
		}
		if want := []string{"t01", "t02", "t06", "t07", "t11", "t12", "t16", "t17", "t21", "t22", "t26", "t27"}; !slices.Equal(all, want) {
			t.Fatalf("paged keys %v, want %v", all, want)
		}
	})
}

func TestQueryErrors(t *testing.T) {
	ts := startTCP(t, Config{Store: "mem://"})
	for _, tc := range []struct {
		params string
		body   any
		status int
		code   string
	}{
		{"engine=fast", nil, 400, api.ErrCodeInvalidEngine},
		{"refresh=later", nil, 400, api.ErrCodeInvalidRefresh},
		{"return=rows", nil, 400, api.ErrCodeInvalidReturn},
		{"cursor=%21%21", nil, 400, api.ErrCodeInvalidCursor},
		{"engine=scan", nil, 400, api.ErrCodeQueryEngineUnavailable}, // default config: index/none
		{"", `{"selector":{"eq":{"field":"status","value":"x"}}}`, 400, api.ErrCodeInvalidSelector},
		{"", `{"selector":{"eq":[1]}}`, 400, api.ErrCodeInvalidSelector},
		{"selector=%7Bnope", nil, 400, api.ErrCodeInvalidSelector},
		{"fields=%5B1%5D", nil, 400, api.ErrCodeInvalidFields},
		{"", `{"fields":{"/":true}}`, 400, api.ErrCodeInvalidFields},
		{"", `{"limit":`, 400, api.ErrCodeInvalidBody},
	} {
		r := ts.post("/v1/query?"+tc.params, tc.body, nil)
		wantStatus(t, r, tc.status, tc.code)
	}
}

// TestQueryDocumentsStreamsNDJSONWithTrailers reads the documents stream
// as a client would: rows in order with fields in wire order, then the
// cursor, index sequence and metadata as HTTP trailers.
func TestQueryDocumentsStreamsNDJSONWithTrailers(t *testing.T) {
	ts := startTCP(t, Config{Store: "mem://"})
	for i := range 40 {
		ts.commitDoc("docs", fmt.Sprintf("d%02d", i), fmt.Sprintf(`{ "i" : %d , "kind":"row", "f":1.50}`, i), false)
	}
	req, _ := http.NewRequest(http.MethodPost, ts.base+"/v1/query?namespace=docs&return=documents&limit=35&refresh=wait_for",
		strings.NewReader(`{"selector":{"eq":{"field":"/kind","value":"row"}}}`))
	res, err := ts.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/x-ndjson" ||
		res.Header.Get(api.HeaderQueryReturn) != "documents" {
		t.Fatalf("status %d headers %v", res.StatusCode, res.Header)
	}
	for _, name := range []string{api.HeaderQueryCursor, api.HeaderQueryIndexSeq, api.HeaderQueryMetadata} {
		if _, declared := res.Trailer[name]; !declared {
			t.Fatalf("trailer %s not declared: %v", name, res.Trailer)
		}
	}
	sc := bufio.NewScanner(res.Body)
	n := 0
	for sc.Scan() {
		want := fmt.Sprintf(`{"ns":"docs","key":"d%02d","ver":1,"doc":{"i":%d,"kind":"row","f":1.50}}`, n, n)
		if sc.Text() != want {
			t.Fatalf("row %d: %s, want %s", n, sc.Text(), want)
		}
		n++
	}
	if n != 35 {
		t.Fatalf("%d rows, want 35", n)
	}
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		t.Fatal(err)
	}
	if res.Trailer.Get(api.HeaderQueryCursor) == "" || res.Trailer.Get(api.HeaderQueryIndexSeq) == "" {
		t.Fatalf("trailers %v", res.Trailer)
	}
	var meta map[string]string
	if err := json.Unmarshal([]byte(res.Trailer.Get(api.HeaderQueryMetadata)), &meta); err != nil || meta["engine"] != "index" {
		t.Fatalf("metadata trailer %q: %v", res.Trailer.Get(api.HeaderQueryMetadata), err)
	}
	// Projection in documents mode.
	r := ts.post("/v1/query?namespace=docs&return=documents&limit=1", `{"fields":{"/i":true}}`, nil)
	if got := strings.TrimSpace(string(r.Body)); got != `{"ns":"docs","key":"d00","ver":1,"doc":{"i":0}}` {
		t.Fatalf("projected row %s", got)
	}
}

func TestIndexFlush(t *testing.T) {
	ts := startTCP(t, Config{Store: "mem://"})
	ts.commitDoc("f", "a", `{"x":1}`, false)
	r := ts.post("/v1/index/flush?namespace=f&mode=wait", nil, nil)
	var out api.IndexFlushResponse
	if r.Status != 200 || json.Unmarshal(r.Body, &out) != nil || !out.Flushed || out.IndexSeq == 0 {
		t.Fatalf("wait flush: %d %s", r.Status, r.Body)
	}
	r = ts.post("/v1/index/flush", map[string]string{"namespace": "f", "mode": "async"}, nil)
	if r.Status != 202 || json.Unmarshal(r.Body, &out) != nil || !out.Accepted || out.FlushID == "" {
		t.Fatalf("async flush: %d %s", r.Status, r.Body)
	}
	wantStatus(t, ts.post("/v1/index/flush?mode=later", nil, nil), 400, api.ErrCodeInvalidMode)
	wantStatus(t, ts.post("/v1/index/flush", `{"bogus":1}`, nil), 400, api.ErrCodeInvalidBody)
}

// TestQueryFollowsRemovalsStagingAndRestart: removals leave the results,
// staged (unreleased) writes are invisible, and after a restart on the
// same disk store the index is rebuilt from the committed documents.
func TestQueryFollowsRemovalsStagingAndRestart(t *testing.T) {
	dir := "disk://" + t.TempDir() + "/data"
	ts := startTCP(t, Config{Store: dir})
	for i := range 6 {
		ts.commitDoc("r", fmt.Sprintf("k%d", i), `{"kind":"x"}`, false)
	}
	l := ts.acquire("r", "k0", nil)
	if r := ts.post("/v1/remove"+l.q(), nil, l.hdr()); r.Status != 200 {
		t.Fatalf("remove: %d %s", r.Status, r.Body)
	}
	ts.release(l, false)
	staged := ts.acquire("r", "k9", nil)
	if r := ts.update(staged, `{"kind":"x"}`); r.Status != 200 {
		t.Fatalf("staged update: %d %s", r.Status, r.Body)
	}
	want := []string{"k1", "k2", "k3", "k4", "k5"}
	sel := map[string]any{"selector": map[string]any{"eq": map[string]any{"field": "/kind", "value": "x"}}}
	if keys, _, _ := ts.queryKeys(t, "namespace=r&refresh=wait_for", sel); !slices.Equal(keys, want) {
		t.Fatalf("keys %v, want %v (k0 removed, k9 only staged)", keys, want)
	}
	ts.release(staged, true)
	ts.stop()
	ts2 := startTCP(t, Config{Store: dir})
	if keys, _, _ := ts2.queryKeys(t, "namespace=r&refresh=wait_for", sel); !slices.Equal(keys, want) {
		t.Fatalf("after restart: keys %v, want %v", keys, want)
	}
}

// TestQueryWaitForOverHTTP: a query with refresh=wait_for issued right
// after a commit is acknowledged always sees it, while other writers keep
// the index busy.
func TestQueryWaitForOverHTTP(t *testing.T) {
	ts := startTCP(t, Config{Store: "mem://"})
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		c := newCycleClient(ts.base)
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			c.commit("w", fmt.Sprintf("noise%d", i%50), fmt.Appendf(nil, `{"noise":%d}`, i))
		}
	})
	for i := range 40 {
		key := fmt.Sprintf("k%03d", i)
		ts.commitDoc("w", key, fmt.Sprintf(`{"n":%d}`, i), false)
		keys, _, _ := ts.queryKeys(t, "namespace=w&refresh=wait_for",
			map[string]any{"selector": map[string]any{"eq": map[string]any{"field": "/n", "value": strconv.Itoa(i)}}})
		if !slices.Equal(keys, []string{key}) {
			t.Fatalf("commit %d: keys %v", i, keys)
		}
	}
	close(done)
	wg.Wait()
}

// TestQueryIndexDisabled: with Config.DisableIndex the server can still
// answer queries by scanning, but never through (or on behalf of) the
// index: explicit index and auto without a scan fallback are unavailable
// engines (WIRE §5.1, §5.3) and flushes are unimplemented (WIRE §5.2).
func TestQueryIndexDisabled(t *testing.T) {
	ts := startTCP(t, Config{Store: "mem://", DisableIndex: true})
	for i := range 6 {
		ts.commitDoc("tasks", fmt.Sprintf("t%d", i), fmt.Sprintf(`{"status":%q}`, []string{"open", "closed"}[i%2]), false)
	}
	sel := map[string]any{"selector": map[string]any{"eq": map[string]any{"field": "/status", "value": "open"}}}
	for _, engine := range []string{"index", "auto"} { // default namespace config: index/none
		r := ts.post("/v1/query?namespace=tasks&engine="+engine, sel, nil)
		wantStatus(t, r, 400, api.ErrCodeQueryEngineUnavailable)
	}
	ts.post("/v1/namespace?namespace=tasks", map[string]any{"query": map[string]string{"fallback_engine": "scan"}}, nil)
	for _, engine := range []string{"auto", "scan"} {
		keys, out, _ := ts.queryKeys(t, "namespace=tasks&refresh=wait_for&engine="+engine, sel)
		if want := []string{"t0", "t2", "t4"}; !slices.Equal(keys, want) || out.Metadata["engine"] != "scan" || out.IndexSeq != 0 {
			// index_seq 0 after six commits: none of them reached the index.
			t.Fatalf("%s: keys %v (want %v), metadata %v, index_seq %d", engine, keys, want, out.Metadata, out.IndexSeq)
		}
	}
	wantStatus(t, ts.post("/v1/query?namespace=tasks&engine=index", sel, nil), 400, api.ErrCodeQueryEngineUnavailable)
	for _, mode := range []string{"wait", "async"} {
		wantStatus(t, ts.post("/v1/index/flush?namespace=tasks&mode="+mode, nil, nil), 501, api.ErrCodeIndexUnavailable)
	}
}

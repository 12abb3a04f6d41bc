package server

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
)

func TestUpdateErrors(t *testing.T) {
	ts := startTCP(t, Config{JSONMaxBytes: 1024})
	l := ts.acquire("default", "u1", nil)
	with := func(extra map[string]string) map[string]string {
		h := l.hdr()
		for k, v := range extra {
			if v == "" {
				delete(h, k)
			} else {
				h[k] = v
			}
		}
		return h
	}
	doc := `{"a": 1}`
	sum := sha256.Sum256([]byte(doc))
	cases := []struct {
		name  string
		query string
		body  string
		hdr   map[string]string
		st    int
		code  string
	}{
		{"no key", "", doc, with(nil), 400, "missing_key"},
		{"bad key", "?key=A%20B", doc, with(nil), 400, "invalid_key"},
		{"no lease", l.q(), doc, with(map[string]string{"X-Lease-ID": ""}), 400, "missing_lease"},
		{"no txn", l.q(), doc, with(map[string]string{"X-Txn-ID": ""}), 400, "missing_txn"},
		{"no token", l.q(), doc, with(map[string]string{"X-Fencing-Token": ""}), 400, "missing_fencing_token"},
		{"bad token", l.q(), doc, with(map[string]string{"X-Fencing-Token": "one"}), 400, "invalid_fencing_token"},
		{"stale token", l.q(), doc, with(map[string]string{"X-Fencing-Token": "0"}), 403, "fencing_mismatch"},
		{"wrong lease", l.q(), doc, with(map[string]string{"X-Lease-ID": "aaaaaaaaaaaaaaaaaaaa"}), 403, "lease_required"},
		{"other txn", l.q(), doc, with(map[string]string{"X-Txn-ID": "c5v9d0sl70b3m3q8ndg0"}), 409, "txn_mismatch"},
		{"bad if-version", l.q(), doc, with(map[string]string{"X-If-Version": "v1"}), 400, "invalid_version"},
		{"if-version mismatch", l.q(), doc, with(map[string]string{"X-If-Version": "7"}), 409, "version_conflict"},
		{"etag mismatch", l.q(), doc, with(map[string]string{"X-If-State-ETag": "nope"}), 409, "etag_mismatch"},
		{"invalid json", l.q(), `{"a":`, with(nil), 400, "invalid_body"},
		{"two values", l.q(), `{} {}`, with(nil), 400, "invalid_body"},
		{"empty", l.q(), ``, with(nil), 400, "invalid_body"},
		{"too large", l.q(), `{"a":"` + strings.Repeat("x", 1100) + `"}`, with(nil), 400, "invalid_body"},
		{"bad sha", l.q(), doc, with(map[string]string{"X-Expected-SHA256": "abc"}), 400, "invalid_expected_sha256"},
		{"sha mismatch", l.q(), doc, with(map[string]string{"X-Expected-SHA256": strings.Repeat("0", 64)}), 409, "expected_sha256_mismatch"},
		{"bad bytes", l.q(), doc, with(map[string]string{"X-Expected-Bytes": "-1"}), 400, "invalid_expected_bytes"},
		{"bytes mismatch", l.q(), doc, with(map[string]string{"X-Expected-Bytes": "3"}), 409, "expected_bytes_mismatch"},
		{"bad hidden header", l.q(), doc, with(map[string]string{"X-Lockd-Meta-Query-Hidden": "maybe"}), 400, "invalid_metadata"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := ts.post("/v1/update"+c.query, c.body, c.hdr)
			wantStatus(t, r, c.st, c.code)
			if c.code == "version_conflict" && r.json(t)["current_version"] != nil {
				t.Fatalf("version 0 must be omitted: %s", r.Body)
			}
		})
	}
	// Limit detail names the limit.
	r := ts.post("/v1/update"+l.q(), `{"a":"`+strings.Repeat("x", 1100)+`"}`, l.hdr())
	if !strings.Contains(string(r.Body), "1024") {
		t.Fatalf("size error does not name the limit: %s", r.Body)
	}
	// Matching integrity headers succeed (hash of the raw, uncompacted body).
	r = ts.post("/v1/update"+l.q(), doc, with(map[string]string{"X-Expected-SHA256": strings.ToUpper(hex.EncodeToString(sum[:])), "X-Expected-Bytes": "8"}))
	wantStatus(t, r, 200, "")
	if r.json(t)["bytes"].(float64) != 7 {
		t.Fatalf("compacted size: %s", r.Body)
	}
	// None of the failed writes left anything behind.
	g := ts.post("/v1/get"+l.q(), nil, l.hdr())
	if string(g.Body) != `{"a":1}` {
		t.Fatalf("lease view after failures: %s", g.Body)
	}
}

func TestStagingAndCAS(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		ts := startTCP(t, Config{Store: store})
		l := ts.acquire("default", "s1", nil)
		r := ts.update(l, `{"n":1}`)
		m := r.json(t)
		v1, e1 := m["new_version"].(float64), m["new_state_etag"].(string)
		if v1 != 1 || r.Header.Get("X-Key-Version") != "1" || r.Header.Get("ETag") != e1 {
			t.Fatalf("first update %s %v", r.Body, r.Header)
		}
		// The SDK sends the returned version/etag as the next conditions:
		// they compare against the staged values.
		h := l.hdr()
		h["X-If-Version"], h["X-If-State-ETag"] = "1", `"`+e1+`"`
		r = ts.post("/v1/update"+l.q(), `{"n":2}`, h)
		wantStatus(t, r, 200, "")
		m = r.json(t)
		if m["new_version"].(float64) != 1 || m["new_state_etag"] == e1 {
			t.Fatalf("repeated update keeps the staged version: %s", r.Body)
		}
		h["X-If-State-ETag"] = e1
		r = ts.post("/v1/update"+l.q(), `{"n":3}`, h)
		wantStatus(t, r, 409, "etag_mismatch")
		if cm := r.json(t); cm["current_etag"] != m["new_state_etag"] || cm["current_version"].(float64) != 1 {
			t.Fatalf("etag_mismatch facts: %s", r.Body)
		}
		// Lease view is staged, public view is empty until commit.
		g := ts.post("/v1/get"+l.q(), nil, l.hdr())
		if string(g.Body) != `{"n":2}` || g.Header.Get("X-Key-Version") != "1" || g.Header.Get("X-Fencing-Token") != "1" {
			t.Fatalf("lease get %s %v", g.Body, g.Header)
		}
		wantStatus(t, ts.publicGet("default", "s1"), 204, "")
		// Rollback discards.
		wantStatus(t, ts.release(l, true), 200, "")
		wantStatus(t, ts.publicGet("default", "s1"), 204, "")
		l = ts.acquire("default", "s1", nil)
		if l.Version != 0 || l.Fencing != 2 {
			t.Fatalf("after rollback: %+v", l)
		}
		ts.update(l, `{"n":10}`)
		ts.release(l, false)
		g = ts.publicGet("default", "s1")
		if string(g.Body) != `{"n":10}` || g.Header.Get("X-Key-Version") != "1" || g.Header.Get("X-Fencing-Token") != "" {
			t.Fatalf("public get after commit: %s %v", g.Body, g.Header)
		}
		// A committed version is the base for the next txn.
		l = ts.acquire("default", "s1", nil)
		h = l.hdr()
		h["X-If-Version"] = "1"
		if r := ts.post("/v1/update"+l.q(), `{"n":11}`, h); r.json(t)["new_version"].(float64) != 2 {
			t.Fatalf("second txn version: %s", r.Body)
		}
		ts.release(l, false)
	})
}

func TestGetVariants(t *testing.T) {
	ts := startTCP(t, Config{})
	wantStatus(t, ts.post("/v1/get", nil, nil), 400, "missing_params")
	// Neither lease nor public: the token is demanded first (wire sample).
	wantStatus(t, ts.post("/v1/get?key=g1", nil, nil), 400, "missing_fencing_token")
	wantStatus(t, ts.post("/v1/get?key=g1", nil, map[string]string{"X-Fencing-Token": "1"}), 400, "missing_params")
	for _, v := range []string{"1", "true", "on", "yes"} {
		wantStatus(t, ts.post("/v1/get?key=g1&public="+v, nil, nil), 204, "")
	}
	l := ts.acquire("default", "g1", nil)
	wantStatus(t, ts.post("/v1/get"+l.q(), nil, map[string]string{"X-Lease-ID": l.LeaseID}), 400, "missing_fencing_token")
	// public is ignored when a lease id is sent.
	wantStatus(t, ts.post("/v1/get?key=g1&public=1", nil, map[string]string{"X-Lease-ID": "aaaaaaaaaaaaaaaaaaaa", "X-Fencing-Token": "1"}), 403, "lease_required")
	wantStatus(t, ts.post("/v1/get"+l.q(), nil, map[string]string{"X-Lease-ID": l.LeaseID, "X-Fencing-Token": "2"}), 403, "fencing_mismatch")
	r := ts.post("/v1/get"+l.q(), nil, map[string]string{"X-Lease-ID": l.LeaseID, "X-Fencing-Token": "1"})
	wantStatus(t, r, 204, "")
	if r.Header.Get("ETag") != "" || r.Header.Get("X-Key-Version") != "" {
		t.Fatalf("204 must carry no ETag/version: %v", r.Header)
	}
	ts.update(l, `{"a":1}`)
	ts.release(l, false)
	// Released lease: 403 with the committed facts.
	r = ts.post("/v1/get"+l.q(), nil, map[string]string{"X-Lease-ID": l.LeaseID, "X-Fencing-Token": "1"})
	wantStatus(t, r, 403, "lease_required")
	if m := r.json(t); m["current_version"].(float64) != 1 || m["current_etag"] == nil {
		t.Fatalf("lease_required facts: %s", r.Body)
	}
	// Any method reaches get.
	wantStatus(t, ts.do("GET", "/v1/get?key=g1&public=1", nil, nil), 200, "")
}

func TestRemove(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		ts := startTCP(t, Config{Store: store})
		l := ts.acquire("default", "rm", nil)
		r := ts.post("/v1/remove"+l.q(), nil, l.hdr())
		wantStatus(t, r, 200, "")
		if m := r.json(t); m["removed"] != false || m["new_version"].(float64) != 0 {
			t.Fatalf("remove of nothing: %s", r.Body)
		}
		ts.update(l, `{"a":1}`)
		ts.release(l, false)
		l = ts.acquire("default", "rm", nil)
		h := l.hdr()
		h["X-If-State-ETag"] = "wrong"
		wantStatus(t, ts.post("/v1/remove"+l.q(), nil, h), 409, "etag_mismatch")
		h["X-If-State-ETag"], h["X-If-Version"] = l.ETag, "999" // version not enforced on remove
		r = ts.post("/v1/remove"+l.q(), nil, h)
		wantStatus(t, r, 200, "")
		if m := r.json(t); m["removed"] != true || m["new_version"].(float64) != 2 || r.Header.Get("X-Key-Version") != "2" {
			t.Fatalf("remove: %s %v", r.Body, r.Header)
		}
		h["X-If-Version"] = "x"
		wantStatus(t, ts.post("/v1/remove"+l.q(), nil, h), 400, "invalid_version")
		// Lease view: gone. Public view: still there until commit.
		wantStatus(t, ts.post("/v1/get"+l.q(), nil, l.hdr()), 204, "")
		wantStatus(t, ts.publicGet("default", "rm"), 200, "")
		// Update after remove then remove again: the staged version grows.
		ts.update(l, `{"b":2}`)
		if m := ts.post("/v1/remove"+l.q(), nil, l.hdr()).json(t); m["new_version"].(float64) != 3 {
			t.Fatalf("second remove: %v", m)
		}
		ts.release(l, false)
		wantStatus(t, ts.publicGet("default", "rm"), 204, "")
		if l := ts.acquire("default", "rm", nil); l.Version != 3 || l.ETag != "" {
			t.Fatalf("after committed remove: %+v", l)
		}
	})
}

func TestMetadata(t *testing.T) {
	ts := startTCP(t, Config{})
	l := ts.acquire("default", "md", nil)
	wantStatus(t, ts.post("/v1/metadata"+l.q(), nil, l.hdr()), 400, "invalid_metadata")
	wantStatus(t, ts.post("/v1/metadata"+l.q(), `{"query_hidden":"yes"}`, l.hdr()), 400, "invalid_body")
	wantStatus(t, ts.post("/v1/metadata"+l.q(), `{"hidden":true}`, l.hdr()), 400, "invalid_body")
	wantStatus(t, ts.post("/v1/metadata"+l.q(), `{"query_hidden":true,"pad":"`+strings.Repeat("x", 5000)+`"}`, l.hdr()), 400, "invalid_body")
	h := l.hdr()
	h["X-Lockd-Meta-Query-Hidden"] = "nah"
	wantStatus(t, ts.post("/v1/metadata"+l.q(), `{"query_hidden":true}`, h), 400, "invalid_metadata")
	h["X-Lockd-Meta-Query-Hidden"], h["X-If-Version"] = "true", "5"
	wantStatus(t, ts.post("/v1/metadata"+l.q(), `{"query_hidden":false}`, h), 409, "version_conflict")
	h["X-If-Version"] = "0"
	r := ts.post("/v1/metadata"+l.q(), `{"query_hidden":false}`, h)
	wantStatus(t, r, 200, "")
	m := r.json(t)
	if m["version"].(float64) != 1 || m["namespace"] != "default" || m["key"] != "md" || r.Header.Get("X-Key-Version") != "1" {
		t.Fatalf("metadata: %s", r.Body)
	}
	if md := m["metadata"].(map[string]any); md["query_hidden"] != true {
		t.Fatalf("header overrides body: %s", r.Body)
	}
	// The update response reports the staged attribute.
	if md := ts.update(l, `{"a":1}`).json(t)["metadata"].(map[string]any); md["query_hidden"] != true {
		t.Fatalf("update metadata: %v", md)
	}
	ts.release(l, false)
	d := ts.do("GET", "/v1/describe?key=md", nil, nil).json(t)
	if d["metadata"].(map[string]any)["query_hidden"] != true || d["version"].(float64) != 1 {
		t.Fatalf("describe after metadata commit: %v", d)
	}
	// Metadata-only txn: the document stays.
	l = ts.acquire("default", "md", nil)
	ts.post("/v1/metadata"+l.q(), `{"query_hidden":false}`, l.hdr())
	ts.release(l, false)
	if g := ts.publicGet("default", "md"); string(g.Body) != `{"a":1}` || g.Header.Get("X-Key-Version") != "2" {
		t.Fatalf("after metadata-only commit: %s %v", g.Body, g.Header)
	}
}

func TestMutate(t *testing.T) {
	ts := startTCP(t, Config{})
	l := ts.acquire("default", "mu", nil)
	ts.update(l, `{"counter":1,"msg":"hello"}`)
	r := ts.post("/v1/mutate"+l.q(), `{"mutations":["/counter++","/tags/a=x"]}`, l.hdr())
	wantStatus(t, r, 200, "")
	if r.Header.Get("X-Lockd-Mutate-Bytes-Read") != "27" || r.Header.Get("X-Lockd-Mutate-Candidates-Written") != "1" {
		t.Fatalf("mutate headers: %v", r.Header)
	}
	if m := r.json(t); m["new_version"].(float64) != 1 || m["bytes"].(float64) != 44 {
		t.Fatalf("mutate: %s", r.Body)
	}
	g := ts.post("/v1/get"+l.q(), nil, l.hdr())
	if string(g.Body) != `{"counter":2,"msg":"hello","tags":{"a":"x"}}` {
		t.Fatalf("after mutate: %s", g.Body)
	}
	wantStatus(t, ts.post("/v1/mutate"+l.q(), `{"mutations":[" "]}`, l.hdr()), 400, "invalid_body")
	wantStatus(t, ts.post("/v1/mutate"+l.q(), ``, l.hdr()), 400, "invalid_body")
	wantStatus(t, ts.post("/v1/mutate"+l.q(), `{"mutations":["/a=1"],"x":1}`, l.hdr()), 400, "invalid_body")
	wantStatus(t, ts.post("/v1/mutate"+l.q(), `{"mutations":["file:/f=/etc/passwd"]}`, l.hdr()), 400, "invalid_mutations")
	wantStatus(t, ts.post("/v1/mutate"+l.q(), `{"mutations":["/a=1"]}`, map[string]string{"X-Lease-ID": l.LeaseID, "X-Txn-ID": l.TxnID}), 400, "missing_fencing_token")
	// A failed mutation stages nothing.
	wantStatus(t, ts.post("/v1/mutate"+l.q(), `{"mutations":["/msg=+1"]}`, l.hdr()), 400, "invalid_mutations")
	if g := ts.post("/v1/get"+l.q(), nil, l.hdr()); string(g.Body) != `{"counter":2,"msg":"hello","tags":{"a":"x"}}` {
		t.Fatalf("after a failed mutate: %s", g.Body)
	}
	// Mutations need an object at the root.
	ts.update(l, `[1,2]`)
	if r := ts.post("/v1/mutate"+l.q(), `{"mutations":["/a=1"]}`, l.hdr()); !strings.Contains(string(r.Body), "replace it with /v1/update") {
		wantStatus(t, r, 400, "invalid_mutations")
		t.Fatalf("mutate of an array: %s", r.Body)
	}
	// A fresh key mutates {}.
	l2 := ts.acquire("default", "mu2", nil)
	r = ts.post("/v1/mutate?key=mu2", `{"namespace":"default","mutations":["/n=+5"]}`, l2.hdr())
	wantStatus(t, r, 200, "")
	ts.release(l2, false)
	if g := ts.publicGet("default", "mu2"); string(g.Body) != `{"n":5}` {
		t.Fatalf("mutate of empty doc: %s", g.Body)
	}
}

func TestMutateTooLarge(t *testing.T) {
	ts := startTCP(t, Config{JSONMaxBytes: 256})
	l := ts.acquire("default", "mu", nil)
	ts.update(l, `{"a":"`+strings.Repeat("x", 232)+`"}`)
	r := ts.post("/v1/mutate"+l.q(), `{"mutations":["/b=`+strings.Repeat("y", 30)+`"]}`, l.hdr())
	wantStatus(t, r, 413, "document_too_large")
	// Exactly at the limit is allowed: {"a":"x…"} is 240 bytes, ,"b":"yyyyyyyyy" adds 16.
	wantStatus(t, ts.post("/v1/mutate"+l.q(), `{"mutations":["/b=yyyyyyyyy"]}`, l.hdr()), 200, "")
	if g := ts.post("/v1/get"+l.q(), nil, l.hdr()); len(g.Body) != 256 {
		t.Fatalf("document at the limit: %d bytes %s", len(g.Body), g.Body)
	}
}

func TestLargeDocumentStreams(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		ts := startTCP(t, Config{Store: store, JSONMaxBytes: 8 << 20})
		l := ts.acquire("default", "big", nil)
		var b strings.Builder
		b.WriteString("{\n")
		for i := 0; b.Len() < 3<<20; i++ {
			if i > 0 {
				b.WriteString(",\n")
			}
			b.WriteString(`  "k` + strings.Repeat("x", 10) + strconv.Itoa(i) + `" : [ 1 , "two" , { "three" : 3 } ]`)
		}
		b.WriteString("\n}")
		raw := b.String()
		sum := sha256.Sum256([]byte(raw))
		h := l.hdr()
		h["X-Expected-SHA256"], h["X-Expected-Bytes"] = hex.EncodeToString(sum[:]), strconv.Itoa(len(raw))
		r := ts.post("/v1/update"+l.q(), raw, h)
		wantStatus(t, r, 200, "")
		compact := strings.NewReplacer("\n", "", " ", "").Replace(raw)
		csum := sha256.Sum256([]byte(compact))
		if m := r.json(t); m["bytes"].(float64) != float64(len(compact)) || m["new_state_etag"] != hex.EncodeToString(csum[:]) {
			t.Fatalf("large update: %s", r.Body)
		}
		ts.release(l, false)
		g := ts.publicGet("default", "big")
		if g.Status != 200 || string(g.Body) != compact || g.Header.Get("Content-Length") != strconv.Itoa(len(compact)) {
			t.Fatalf("large get: %d, %d bytes", g.Status, len(g.Body))
		}
		// Invalid JSON and the size limit are caught mid-stream, after the
		// spill to a streamed blob began.
		l = ts.acquire("default", "big", nil)
		wantStatus(t, ts.post("/v1/update"+l.q(), raw[:len(raw)-1]+"]", l.hdr()), 400, "invalid_body")
		wantStatus(t, ts.post("/v1/update"+l.q(), raw+strings.Repeat(" ", 6<<20), l.hdr()), 400, "invalid_body")
		h = l.hdr()
		h["X-Expected-Bytes"] = "1"
		wantStatus(t, ts.post("/v1/update"+l.q(), raw, h), 409, "expected_bytes_mismatch")
		if g := ts.post("/v1/get"+l.q(), nil, l.hdr()); string(g.Body) != compact {
			t.Fatalf("failed large writes changed the document (%d bytes)", len(g.Body))
		}
	})
}

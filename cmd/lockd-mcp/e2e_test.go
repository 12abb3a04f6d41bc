package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/client"
	"github.com/lockd-mcp/lockd-mcp/tools"
	"github.com/mark3labs/mcp-go/mcp"
)

// thisIssueToolsets are the toolsets whose tools this binary must serve.
func catalogueToolsets() []string {
	var out []string
	for _, s := range tools.Catalogue() {
		out = append(out, s.Name)
	}
	return out
}

func TestE2EToolsListSchemasAndBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	lsq := []string{}
	for _, s := range []string{"lock", "state", "query"} {
		if slices.Contains(catalogueToolsets(), s) {
			lsq = append(lsq, s)
		}
	}
	tests := []struct {
		name   string
		args   []string
		budget int
	}{
		{"default", nil, 30000},
		{strings.Join(lsq, ","), []string{"--toolsets", strings.Join(lsq, ",")}, 15000},
	}
	for _, tt := range tests {
		p := startMCP(t, "e2e", append([]string{"--store", "mem://"}, tt.args...)...)
		t.Logf("tools/list (%s): %d tools, %d bytes compact (budget %d)", tt.name, len(p.tools), p.listBytes, tt.budget)
		if p.listBytes > tt.budget {
			t.Errorf("tools/list (%s) is %d bytes, over budget %d", tt.name, p.listBytes, tt.budget)
		}
		for _, tool := range p.tools {
			if strings.Contains(tool.Name, ".") {
				t.Errorf("%s: dotted name advertised by default", tool.Name)
			}
			for what, raw := range map[string]json.RawMessage{"input": tool.InputSchema, "output": tool.OutputSchema} {
				compileSchema(t, tool.Name+" "+what, raw)
				var root map[string]any
				if err := json.Unmarshal(raw, &root); err != nil {
					t.Fatal(err)
				}
				if root["type"] != "object" || root["additionalProperties"] != false {
					t.Errorf("%s %s schema: root type %v additionalProperties %v, want object/false", tool.Name, what, root["type"], root["additionalProperties"])
				}
				if strings.Contains(string(raw), "$ref") || strings.Contains(string(raw), "$defs") {
					t.Errorf("%s %s schema is not inlined", tool.Name, what)
				}
			}
			a := tool.Annotations
			if a.ReadOnlyHint == nil || a.DestructiveHint == nil || a.IdempotentHint == nil || a.OpenWorldHint == nil || *a.OpenWorldHint {
				t.Errorf("%s: annotations incomplete: %+v", tool.Name, a)
			}
		}
	}
	p := startMCP(t, "e2e", "--store", "mem://", "--dotted-tool-names", "--read-only")
	for name, tool := range p.tools {
		if !strings.HasPrefix(name, "lockd.") || !*tool.Annotations.ReadOnlyHint {
			t.Errorf("--dotted-tool-names --read-only advertised %s (readOnly %v)", name, *tool.Annotations.ReadOnlyHint)
		}
	}
	// Either spelling is accepted in both modes.
	p.ok("lockd_hint", nil)
	p.ok("lockd.hint", nil)
}

func TestE2ECallEveryTool(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	root := t.TempDir()
	p := startMCP(t, "e2e", "--store", "mem://", "--allow-root", root)
	called := map[string]bool{}
	ok := func(name string, args map[string]any) map[string]any {
		t.Helper()
		called[name] = true
		return p.ok(name, args)
	}

	hint := ok("lockd_hint", nil)
	if hint["default_namespace"] != "mcp" || hint["default_owner"] == "" {
		t.Errorf("hint: %v", hint)
	}
	for _, topic := range tools.HelpTopics() {
		if h := ok("lockd_help", map[string]any{"topic": topic}); h["summary"] == "" {
			t.Errorf("help %s empty", topic)
		}
	}
	put := ok("lockd_state_put", map[string]any{"key": "doc", "payload_text": `{"status":"open","n":1}`})
	if put["committed"] != true || put["new_version"].(float64) < 1 {
		t.Errorf("put: %v", put)
	}
	got := ok("lockd_get", map[string]any{"key": "doc"})
	if got["found"] != true || got["payload_text"] != `{"status":"open","n":1}` {
		t.Errorf("get: %v", got)
	}
	ranged := ok("lockd_get", map[string]any{"key": "doc", "offset": 2, "limit": 6})
	if ranged["payload_text"] != `status` || ranged["next_offset"].(float64) != 8 || ranged["payload_bytes"].(float64) != 23 {
		t.Errorf("ranged get: %v", ranged)
	}
	if n := ok("lockd_get", map[string]any{"key": "doc", "payload_mode": "none"}); n["payload_text"] != nil || n["payload_bytes"].(float64) != 23 {
		t.Errorf("payload_mode none: %v", n)
	}
	outFile := filepath.Join(root, "doc.json")
	ok("lockd_get", map[string]any{"key": "doc", "output_path": outFile})
	if data, _ := os.ReadFile(outFile); string(data) != `{"status":"open","n":1}` {
		t.Errorf("output_path wrote %q", data)
	}
	desc := ok("lockd_describe", map[string]any{"key": "doc"})
	if desc["version"].(float64) < 1 {
		t.Errorf("describe: %v", desc)
	}

	lease := ok("lockd_lock_acquire", map[string]any{"key": "doc", "ttl_seconds": 20})
	lid := lease["lease_id"].(string)
	st := ok("lockd_lock_status", nil)
	if leases := st["leases"].([]any); len(leases) != 1 {
		t.Fatalf("status: %v", st)
	}
	ok("lockd_lock_keepalive", map[string]any{"key": "doc", "lease_id": lid, "ttl_seconds": 30})
	payload := filepath.Join(root, "payload.json")
	if err := os.WriteFile(payload, []byte(`{"status":"open","n":1,"owner":"x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ok("lockd_state_update", map[string]any{"key": "doc", "lease_id": lid, "payload_path": payload})
	ok("lockd_state_patch", map[string]any{"key": "doc", "lease_id": lid, "patch_text": `{"n":2,"owner":null}`})
	ok("lockd_state_mutate", map[string]any{"key": "doc", "lease_id": lid, "mutations": []string{"/tags/urgent=true", "/n++"}})
	meta := ok("lockd_state_metadata", map[string]any{"key": "doc", "lease_id": lid, "query_hidden": false})
	if meta["query_hidden"] != false {
		t.Errorf("metadata: %v", meta)
	}
	ok("lockd_lock_release", map[string]any{"key": "doc", "lease_id": lid})
	var doc map[string]any
	_ = json.Unmarshal([]byte(ok("lockd_get", map[string]any{"key": "doc"})["payload_text"].(string)), &doc)
	if doc["n"] != float64(3) || doc["owner"] != nil || doc["tags"] == nil {
		t.Errorf("after update/patch/mutate: %v", doc)
	}

	// Write stream: two chunks, checked commit.
	lease = ok("lockd_lock_acquire", map[string]any{"key": "big"})
	lid = lease["lease_id"].(string)
	sid := ok("lockd_state_write_stream_begin", map[string]any{"key": "big", "lease_id": lid})["stream_id"].(string)
	chunks := []string{`{"items":[1,2,`, `3],"done":true}`}
	ok("lockd_state_write_stream_append", map[string]any{"stream_id": sid, "chunk_text": chunks[0]})
	ok("lockd_state_write_stream_append", map[string]any{"stream_id": sid, "chunk_base64": "M10sImRvbmUiOnRydWV9"})
	sum := sha256.Sum256([]byte(strings.Join(chunks, "")))
	if s := ok("lockd_state_write_stream_status", map[string]any{"stream_id": sid}); s["payload_sha256"] != hex.EncodeToString(sum[:]) || s["can_commit"] != true {
		t.Errorf("stream status: %v", s)
	}
	ok("lockd_state_write_stream_commit", map[string]any{"stream_id": sid, "expected_bytes": len(strings.Join(chunks, "")), "expected_sha256": hex.EncodeToString(sum[:])})
	// Abort discards a second stream.
	sid = ok("lockd_state_write_stream_begin", map[string]any{"key": "big", "lease_id": lid})["stream_id"].(string)
	ok("lockd_state_write_stream_append", map[string]any{"stream_id": sid, "chunk_text": `{"discarded":`})
	if a := ok("lockd_state_write_stream_abort", map[string]any{"stream_id": sid, "reason": "test"}); a["aborted"] != true {
		t.Errorf("abort: %v", a)
	}
	if msg := p.fails("lockd_state_write_stream_append", map[string]any{"stream_id": sid, "chunk_text": "1"}); !strings.Contains(msg, "aborted") {
		t.Errorf("append after abort: %s", msg)
	}
	ok("lockd_lock_release", map[string]any{"key": "big", "lease_id": lid})
	streamed := filepath.Join(root, "big.json")
	if s := ok("lockd_state_stream", map[string]any{"key": "big", "output_path": streamed}); s["bytes_written"].(float64) != 29 {
		t.Errorf("state_stream: %v", s)
	}
	if data, _ := os.ReadFile(streamed); string(data) != `{"items":[1,2,3],"done":true}` {
		t.Errorf("streamed %q", data)
	}

	lease = ok("lockd_lock_acquire", map[string]any{"key": "big"})
	if r := ok("lockd_state_remove", map[string]any{"key": "big", "lease_id": lease["lease_id"]}); r["removed"] != true {
		t.Errorf("remove: %v", r)
	}
	ok("lockd_lock_release", map[string]any{"key": "big", "lease_id": lease["lease_id"]})
	if d := ok("lockd_state_delete", map[string]any{"key": "doc"}); d["removed"] != true || d["committed"] != true {
		t.Errorf("delete: %v", d)
	}
	if g := ok("lockd_get", map[string]any{"key": "doc"}); g["found"] != false {
		t.Errorf("get after delete: %v", g)
	}

	ns := ok("lockd_namespace_get", nil)
	upd := ok("lockd_namespace_update", map[string]any{"preferred_engine": "scan", "fallback_engine": "none", "if_match": ns["etag"]})
	if upd["preferred_engine"] != "scan" {
		t.Errorf("namespace update: %v", upd)
	}

	// Queries: keys, inline documents, NDJSON to a file, index flush.
	ok("lockd_state_put", map[string]any{"key": "q1", "payload_text": `{"status":"open","n":1}`})
	ok("lockd_state_put", map[string]any{"key": "q2", "payload_text": `{"status":"done"}`})
	if f := ok("lockd_index_flush", nil); f["namespace"] != "mcp" || f["accepted"] != true {
		t.Errorf("index_flush: %v", f)
	}
	ok("lockd_index_flush", map[string]any{"mode": "async"})
	keys := ok("lockd_query", map[string]any{"query": `/status="open"`, "refresh": "wait_for"})
	if k := keys["keys"].([]any); !slices.Contains(k, any("q1")) || slices.Contains(k, any("q2")) {
		t.Errorf("query: %v", keys)
	}
	if all := ok("lockd.query", map[string]any{"query": "", "limit": 1}); len(all["keys"].([]any)) != 1 || all["cursor"] == "" {
		t.Errorf("query page of 1: %v", all)
	}
	rows := ok("lockd_query_stream", map[string]any{"query": `/status="open"`, "engine": "scan"})
	if r := rows["rows"].([]any); len(r) != 1 || r[0].(map[string]any)["key"] != "q1" || r[0].(map[string]any)["document"].(map[string]any)["n"] != float64(1) {
		t.Errorf("query_stream inline: %v", rows)
	}
	ndjson := filepath.Join(root, "rows.ndjson")
	if f := ok("lockd_query_stream", map[string]any{"query": `/status="open"`, "output_path": ndjson}); f["row_count"] != float64(1) || f["bytes_written"].(float64) == 0 {
		t.Errorf("query_stream to file: %v", f)
	}
	if data, _ := os.ReadFile(ndjson); !strings.Contains(string(data), `"key":"q1"`) || strings.Count(string(data), "\n") != 1 {
		t.Errorf("rows.ndjson: %q", data)
	}

	// Resources.
	ctx := context.Background()
	for _, uri := range []string{"lockd://docs/overview", "lockd://docs/workflows", "lockd://docs/lql", "lockd://docs/errors"} {
		req := mcp.ReadResourceRequest{}
		req.Params.URI = uri
		res, err := p.c.ReadResource(ctx, req)
		if err != nil || len(res.Contents) != 1 {
			t.Fatalf("resource %s: %v", uri, err)
		}
	}
	ok("lockd_state_put", map[string]any{"key": "res/x", "payload_text": `{"r":1}`})
	req := mcp.ReadResourceRequest{}
	req.Params.URI = "lockd://state/mcp/res%2Fx" // '/' in a key is percent-encoded
	res, err := p.c.ReadResource(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if tc, _ := res.Contents[0].(mcp.TextResourceContents); tc.Text != `{"r":1}` {
		t.Errorf("state resource: %+v", res.Contents[0])
	}

	for name := range p.tools {
		if !called[name] {
			t.Errorf("tool %s was not called", name)
		}
	}
}

func TestE2EBadArgumentsNameTheField(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	root := t.TempDir()
	p := startMCP(t, "e2e", "--store", "mem://", "--allow-root", root)
	// Every tool: an unknown argument is named, and so is every missing
	// required argument.
	for name, tool := range p.tools {
		var schema struct {
			Required []string `json:"required"`
		}
		_ = json.Unmarshal(tool.InputSchema, &schema)
		msg := p.fails(name, map[string]any{"bogus_arg": 1})
		if !strings.Contains(msg, "bogus_arg") {
			t.Errorf("%s: error does not name bogus_arg: %s", name, msg)
		}
		for _, req := range schema.Required {
			if !strings.Contains(msg, req) {
				t.Errorf("%s: error does not name missing %s: %s", name, req, msg)
			}
		}
	}
	outside := filepath.Join(t.TempDir(), "x.json")
	_ = os.WriteFile(outside, []byte("{}"), 0o600)
	tests := []struct {
		tool  string
		args  map[string]any
		field string
	}{
		{"lockd_get", map[string]any{"key": ""}, "key"},
		{"lockd_get", map[string]any{"key": "k", "limit": "ten"}, "limit"},
		{"lockd_help", map[string]any{"topic": "nope"}, "topic"},
		{"lockd_lock_acquire", map[string]any{"key": "k", "ttl_seconds": 0}, "ttl_seconds"},
		{"lockd_state_put", map[string]any{"key": "k", "payload_text": "{not json"}, "payload_text"},
		{"lockd_state_put", map[string]any{"key": "k", "payload_path": outside}, "payload_path"},
		{"lockd_state_put", map[string]any{"key": "k"}, "payload_text"},
		{"lockd_get", map[string]any{"key": "k", "output_path": outside}, "output_path"},
		{"lockd_state_update", map[string]any{"key": "k", "lease_id": "nope", "payload_text": "{}"}, "lease"},
		{"lockd_state_write_stream_append", map[string]any{"stream_id": "ws_nope", "chunk_text": "x"}, "stream_id"},
		{"lockd_state_write_stream_commit", map[string]any{"stream_id": "ws_x", "expected_sha256": "XYZ"}, "expected_sha256"},
		{"lockd_namespace_update", map[string]any{"preferred_engine": "magic", "fallback_engine": "none"}, "preferred_engine"},
		{"lockd_query", map[string]any{"query": "", "engine": "magic"}, "engine"},
		{"lockd_query", map[string]any{"query": "/status=="}, "query"},
		{"lockd_query_stream", map[string]any{"query": "", "output_path": outside}, "output_path"},
		{"lockd_index_flush", map[string]any{"mode": "later"}, "mode"},
	}
	for _, tt := range tests {
		msg := p.fails(tt.tool, tt.args)
		if !strings.Contains(msg, tt.field) {
			t.Errorf("%s(%v): error does not name %s: %s", tt.tool, tt.args, tt.field, msg)
		}
	}
	// A version conflict reports the current version.
	p.ok("lockd_state_put", map[string]any{"key": "v", "payload_text": `{}`})
	msg := p.fails("lockd_state_put", map[string]any{"key": "v", "payload_text": `{}`, "if_version": 7})
	if !strings.Contains(msg, "current version is 1") || !strings.Contains(msg, "lockd_get") {
		t.Errorf("version conflict: %s", msg)
	}
}

func TestE2ETwoProcessesContendForALease(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	h := startLockd(t, "mem://", 0)
	a := startMCP(t, "agent-a", "--server", h.URL(), "--disable-mtls")
	b := startMCP(t, "agent-b", "--server", h.URL(), "--disable-mtls")
	won := a.ok("lockd_lock_acquire", map[string]any{"key": "job/1", "ttl_seconds": 30})
	if !strings.HasPrefix(won["owner"].(string), "agent-a-") {
		t.Errorf("default owner %q lacks the client name", won["owner"])
	}
	msg := b.fails("lockd_lock_acquire", map[string]any{"key": "job/1"})
	exp := int64(won["expires_at_unix"].(float64))
	var gotExp int64
	if _, after, found := strings.Cut(msg, "expires_at_unix="); found {
		_, _ = fmt.Sscanf(after, "%d", &gotExp)
	}
	if !strings.Contains(msg, fmt.Sprintf("owner %q", won["owner"])) || gotExp < exp-1 || gotExp > exp+1 || !strings.Contains(msg, "block_seconds") {
		t.Errorf("conflict error lacks holder facts: %s (want owner %q, expires_at_unix=%d±1)", msg, won["owner"], exp)
	}
	a.ok("lockd_lock_release", map[string]any{"key": "job/1", "lease_id": won["lease_id"]})
	b.ok("lockd_lock_acquire", map[string]any{"key": "job/1"})
}

func TestE2EStdinEOFReleasesWithRollback(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	h := startLockd(t, "mem://", 0)
	p := startMCP(t, "agent", "--server", h.URL(), "--disable-mtls", "--namespace", "eof")
	p.ok("lockd_state_put", map[string]any{"key": "k", "payload_text": `{"v":"committed"}`})
	lease := p.ok("lockd_lock_acquire", map[string]any{"key": "k", "ttl_seconds": 60})
	p.ok("lockd_state_update", map[string]any{"key": "k", "lease_id": lease["lease_id"], "payload_text": `{"v":"staged"}`})
	// Close shuts stdin (and the stderr pipe) and waits for the exit.
	if err := p.c.Close(); err != nil {
		t.Fatalf("lockd-mcp did not exit cleanly on stdin EOF: %v\n%s", err, p.stderr.String())
	}
	cli, err := client.New(h.URL(), client.WithDisableMTLS(true), client.WithDefaultNamespace("eof"))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := context.Background()
	// Free at once (not after the 60 s TTL), and the staged write is gone.
	sess, err := cli.Acquire(ctx, api.AcquireRequest{Key: "k", Owner: "checker", TTLSeconds: 5, BlockSecs: api.BlockNoWait})
	if err != nil {
		t.Fatalf("lease still held after stdin EOF: %v", err)
	}
	_ = sess.Release(ctx)
	resp, err := cli.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := resp.Bytes()
	if string(data) != `{"v":"committed"}` {
		t.Errorf("state after EOF = %s, want the committed version (rollback)", data)
	}
}

func TestE2EAutoKeepaliveOutlivesTTL(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	h := startLockd(t, "mem://", 0)
	a := startMCP(t, "agent-a", "--server", h.URL(), "--disable-mtls")
	b := startMCP(t, "agent-b", "--server", h.URL(), "--disable-mtls")
	lease := a.ok("lockd_lock_acquire", map[string]any{"key": "long", "ttl_seconds": 2})
	time.Sleep(6 * time.Second)
	if msg := b.fails("lockd_lock_acquire", map[string]any{"key": "long"}); !strings.Contains(msg, "agent-a") {
		t.Errorf("after 6 s the 2 s lease should still be held by agent-a: %s", msg)
	}
	st := a.ok("lockd_lock_status", nil)
	l := st["leases"].([]any)[0].(map[string]any)
	if l["renewal_failed"] != false || l["expires_at_unix"].(float64) <= float64(time.Now().Unix()) {
		t.Errorf("status after keepalive: %v", l)
	}
	a.ok("lockd_state_update", map[string]any{"key": "long", "lease_id": lease["lease_id"], "payload_text": `{"alive":true}`})
	a.ok("lockd_lock_release", map[string]any{"key": "long", "lease_id": lease["lease_id"]})
}

func TestE2EProgressArrivesBeforeResult(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	h := startLockd(t, "mem://", 0)
	a := startMCP(t, "agent-a", "--server", h.URL(), "--disable-mtls")
	b := startMCP(t, "agent-b", "--server", h.URL(), "--disable-mtls")
	var mu sync.Mutex
	var events []string
	b.c.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method == "notifications/progress" && n.Params.AdditionalFields["progressToken"] == "wait-1" {
			mu.Lock()
			events = append(events, "progress")
			mu.Unlock()
		}
	})
	held := a.ok("lockd_lock_acquire", map[string]any{"key": "busy", "ttl_seconds": 30})
	go func() {
		time.Sleep(2500 * time.Millisecond)
		a.ok("lockd_lock_release", map[string]any{"key": "busy", "lease_id": held["lease_id"]})
	}()
	res := b.callMeta("lockd_lock_acquire", map[string]any{"key": "busy", "block_seconds": 20}, &mcp.Meta{ProgressToken: "wait-1"})
	mu.Lock()
	events = append(events, "result")
	mu.Unlock()
	if res.IsError {
		t.Fatalf("blocking acquire: %s", text(res))
	}
	time.Sleep(1500 * time.Millisecond) // a late notification would land now
	mu.Lock()
	defer mu.Unlock()
	if len(events) < 3 || events[len(events)-1] != "result" {
		t.Fatalf("events %v: want ≥2 progress notifications, all before the result", events)
	}
}

package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

// Large string arguments are lifted out of the JSON-RPC line by the stdio
// loop (internal/mcpserver/lift.go). These calls go through that path with
// every kind of string content and must land byte for byte, and validation
// must still name the argument.
func TestE2ELiftedArgumentsRoundTrip(t *testing.T) {
	p := startMCP(t, "lifted", "--store", "mem://")
	ok := p.ok
	// A JSON document written as three chunks: escapes, non-ASCII and a
	// base64 chunk, each large enough to be lifted.
	pad := strings.Repeat("x", 700)
	parts := []string{
		`{"quote":"say \"hi\"\\n","pad":"` + pad + `",`,
		`"unicode":"grüße € 😀 ` + pad + `",`,
		`"tail":"` + pad + `"}`,
	}
	whole := strings.Join(parts, "")
	lid := ok("lockd_lock_acquire", map[string]any{"key": "lifted"})["lease_id"]
	sid := ok("lockd_state_write_stream_begin", map[string]any{"key": "lifted", "lease_id": lid})["stream_id"]
	ok("lockd_state_write_stream_append", map[string]any{"stream_id": sid, "chunk_text": parts[0]})
	ok("lockd.state.write_stream.append", map[string]any{"stream_id": sid, "chunk_text": parts[1]})
	r := ok("lockd_state_write_stream_append", map[string]any{"stream_id": sid, "chunk_base64": base64.StdEncoding.EncodeToString([]byte(parts[2]))})
	if int(r["bytes_received"].(float64)) != len(whole) {
		t.Fatalf("bytes_received %v, want %d", r["bytes_received"], len(whole))
	}
	sum := sha256.Sum256([]byte(whole))
	ok("lockd_state_write_stream_commit", map[string]any{"stream_id": sid, "expected_bytes": len(whole), "expected_sha256": hex.EncodeToString(sum[:])})
	ok("lockd_lock_release", map[string]any{"key": "lifted", "lease_id": lid})
	if got := ok("lockd_get", map[string]any{"key": "lifted"})["payload_text"]; got != whole {
		t.Fatalf("stored %q\nwant %q", got, whole)
	}

	// payload_text and payload_base64 of the one-shot and lease-bound writes.
	doc := `{"note":"line1\nline2 \"q\" ü","pad":"` + pad + `"}`
	ok("lockd_state_put", map[string]any{"key": "put", "payload_text": doc})
	if got := ok("lockd_get", map[string]any{"key": "put"})["payload_text"]; got != doc {
		t.Fatalf("put stored %q", got)
	}
	lid = ok("lockd_lock_acquire", map[string]any{"key": "put"})["lease_id"]
	ok("lockd_state_update", map[string]any{"key": "put", "lease_id": lid, "payload_base64": base64.StdEncoding.EncodeToString([]byte(whole))})
	ok("lockd_lock_release", map[string]any{"key": "put", "lease_id": lid})
	if got := ok("lockd_get", map[string]any{"key": "put"})["payload_text"]; got != whole {
		t.Fatalf("update stored %q", got)
	}

	// Validation still runs on lifted calls and names the argument.
	big := strings.Repeat("y", 4096)
	for _, c := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"chunk_text": big}, "stream_id"},
		{map[string]any{"stream_id": sid, "chunk_text": big, "extra": 1}, "extra"},
		{map[string]any{"stream_id": sid, "chunk_text": big, "chunk_base64": big}, "exactly one"},
		{map[string]any{"stream_id": "ws_nope", "chunk_base64": big}, "stream_id"},
	} {
		if msg := p.fails("lockd_state_write_stream_append", c.args); !strings.Contains(msg, c.want) {
			t.Errorf("append %v: %q does not mention %q", keys(c.args), msg, c.want)
		}
	}
	if msg := p.fails("lockd_state_put", map[string]any{"key": "put", "payload_text": "not json " + big}); !strings.Contains(msg, "payload_text") {
		t.Errorf("put with bad JSON: %q", msg)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestE2EQueryStreamPagesUnderInlineLimit pages lockd_query_stream through
// more documents than fit inline: every key comes back exactly once, in
// order, and a page cut short by the limit still carries a cursor that
// resumes right after its last row.
func TestE2EQueryStreamPagesUnderInlineLimit(t *testing.T) {
	p := startMCP(t, "inline", "--store", "mem://", "--inline-max-bytes", "100")
	var want []string
	for i := range 7 {
		key := fmt.Sprintf("k%d", i)
		want = append(want, key)
		p.ok("lockd_state_put", map[string]any{"key": key, "payload_text": fmt.Sprintf(`{"status":"open","pad":"%s"}`, strings.Repeat("x", 10+i))})
	}
	var got []string
	truncated := false
	args := map[string]any{"query": `/status="open"`, "refresh": "wait_for", "limit": 3}
	for page := 0; ; page++ {
		if page > len(want) {
			t.Fatalf("no end after %d pages: %v", page, got)
		}
		res := p.ok("lockd_query_stream", args)
		rows := res["rows"].([]any)
		if res["row_count"] != float64(len(rows)) {
			t.Fatalf("row_count %v for %d rows", res["row_count"], len(rows))
		}
		if res["truncated"] == true {
			truncated = true
		}
		for _, r := range rows {
			got = append(got, r.(map[string]any)["key"].(string))
		}
		cursor, _ := res["cursor"].(string)
		if cursor == "" {
			break
		}
		args["cursor"] = cursor
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged keys %v, want %v", got, want)
	}
	if !truncated {
		t.Fatal("no page was cut by the 100-byte inline limit; the test does not exercise truncation")
	}

	p.ok("lockd_state_put", map[string]any{"key": "a-big", "payload_text": `{"status":"open","pad":"` + strings.Repeat("y", 200) + `"}`})
	if msg := p.fails("lockd_query_stream", map[string]any{"query": `/status="open"`, "refresh": "wait_for"}); !strings.Contains(msg, "output_path") {
		t.Fatalf("a document over the inline limit: %s", msg)
	}
}

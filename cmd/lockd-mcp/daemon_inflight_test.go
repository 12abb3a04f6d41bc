package main

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDaemonKilledUnderInFlightCalls kills the daemon while tool calls are
// certainly in flight. A write (an open write stream) fails with the
// retryable outcome-unknown error and stages nothing; an acquire blocked on
// a held key is resent to the restarted daemon, which is safe because the
// crash ended every lease, and its fencing token is past the dead holder's.
func TestDaemonKilledUnderInFlightCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	l := daemonHome(t)
	holder := startMCPHome(t, "holder", l, nil)
	waiter := startMCPHome(t, "waiter", l, nil)
	held := holder.ok("lockd_lock_acquire", map[string]any{"key": "busy", "ttl_seconds": 30})

	// A write stream keeps its upload request open from begin to commit.
	writer := holder.ok("lockd_lock_acquire", map[string]any{"key": "doc", "ttl_seconds": 30})
	sid := holder.ok("lockd_state_write_stream_begin", map[string]any{"key": "doc", "lease_id": writer["lease_id"]})["stream_id"]
	holder.ok("lockd_state_write_stream_append", map[string]any{"stream_id": sid, "chunk_text": `{"n":`})

	first := daemonPID(l)
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		// The acquire below is sent at once and then waits up to 20 s on
		// the daemon; 500 ms in, it is in flight.
		time.Sleep(500 * time.Millisecond)
		_ = syscall.Kill(first, syscall.SIGKILL)
	}()
	start := time.Now()
	got := waiter.ok("lockd_lock_acquire", map[string]any{"key": "busy", "ttl_seconds": 30, "block_seconds": 20})
	<-killed
	if waited := time.Since(start); waited > 10*time.Second {
		t.Fatalf("the acquire took %s: it should be resent when the connection drops", waited)
	}
	if got["fencing_token"].(float64) <= held["fencing_token"].(float64) {
		t.Fatalf("acquire after the crash got token %v, not past the dead holder's %v", got["fencing_token"], held["fencing_token"])
	}
	if second := daemonPID(l); second == 0 || second == first {
		t.Fatalf("daemon not restarted: pid %d (first %d)", second, first)
	}

	msg := holder.fails("lockd_state_write_stream_commit", map[string]any{"stream_id": sid})
	if !strings.Contains(msg, "unknown whether") {
		t.Fatalf("a write stream cut by the crash: %s", msg)
	}
	if doc := waiter.ok("lockd_get", map[string]any{"key": "doc"}); doc["found"] != false {
		t.Fatalf("a write cut by the crash left a document: %v", doc)
	}
}

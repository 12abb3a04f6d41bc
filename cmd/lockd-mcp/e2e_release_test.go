package main

import (
	"strings"
	"testing"
)

// TestE2EReleaseAndKeepaliveNeedTheSessionsLease: releasing or renewing a
// lease id this session does not hold, or naming another key than the
// lease's, is an error that names the argument, and the real lease stays
// held (the SDK alone would answer such a release with released=true).
func TestE2EReleaseAndKeepaliveNeedTheSessionsLease(t *testing.T) {
	p := startMCP(t, "release", "--store", "mem://")
	l := p.ok("lockd_lock_acquire", map[string]any{"key": "mine", "ttl_seconds": 30})
	for _, tc := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"lockd_lock_release", map[string]any{"key": "mine", "lease_id": "made-up"}, "argument lease_id"},
		{"lockd_lock_keepalive", map[string]any{"key": "mine", "lease_id": "made-up", "ttl_seconds": 30}, "argument lease_id"},
		{"lockd_lock_release", map[string]any{"key": "other", "lease_id": l["lease_id"]}, "argument key"},
		{"lockd_lock_keepalive", map[string]any{"key": "other", "lease_id": l["lease_id"], "ttl_seconds": 30}, "argument key"},
		{"lockd_lock_release", map[string]any{"key": "mine", "namespace": "elsewhere", "lease_id": l["lease_id"]}, "argument key"},
	} {
		if msg := p.fails(tc.tool, tc.args); !strings.Contains(msg, tc.want) {
			t.Errorf("%s(%v): %s; want it to name %q", tc.tool, tc.args, msg, tc.want)
		}
	}
	leases := p.ok("lockd_lock_status", map[string]any{})["leases"].([]any)
	if len(leases) != 1 || leases[0].(map[string]any)["lease_id"] != l["lease_id"] {
		t.Fatalf("after the refused calls the session holds %v", leases)
	}
	if msg := p.fails("lockd_lock_acquire", map[string]any{"key": "mine", "ttl_seconds": 30}); !strings.Contains(msg, "held") {
		t.Fatalf("the key should still be held: %s", msg)
	}
	if r := p.ok("lockd_lock_release", map[string]any{"key": "mine", "lease_id": l["lease_id"]}); r["released"] != true {
		t.Fatalf("release: %v", r)
	}
	if msg := p.fails("lockd_lock_release", map[string]any{"key": "mine", "lease_id": l["lease_id"]}); !strings.Contains(msg, "already released") {
		t.Fatalf("a second release: %s", msg)
	}
}

package server

import (
	"strconv"
	"testing"
	"time"
)

const txnA = "c5v9d0sl70b3m3q8ndg0"

func TestJoinedTxnCommitsAllParticipants(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		ts := startTCP(t, Config{Store: store})
		a := ts.acquire("default", "ta", map[string]any{"txn_id": txnA})
		// The header joins when the body has no txn_id.
		r := ts.post("/v1/acquire", `{"namespace":"other","key":"tb","owner":"o","block_seconds":-1}`, map[string]string{"X-Txn-ID": txnA})
		wantStatus(t, r, 200, "")
		m := r.json(t)
		b := lease{NS: "other", Key: "tb", LeaseID: m["lease_id"].(string), TxnID: m["txn_id"].(string), Fencing: 1}
		if a.TxnID != txnA || b.TxnID != txnA {
			t.Fatalf("txn ids %s %s", a.TxnID, b.TxnID)
		}
		wantStatus(t, ts.update(a, `{"a":1}`), 200, "")
		wantStatus(t, ts.update(b, `{"b":1}`), 200, "")
		// Releasing one participant commits both and clears both leases.
		wantStatus(t, ts.release(a, false), 200, "")
		if g := ts.publicGet("default", "ta"); string(g.Body) != `{"a":1}` {
			t.Fatalf("ta: %d %s", g.Status, g.Body)
		}
		if g := ts.publicGet("other", "tb"); string(g.Body) != `{"b":1}` {
			t.Fatalf("tb: %d %s", g.Status, g.Body)
		}
		wantStatus(t, ts.update(b, `{"b":2}`), 403, "lease_required")
		wantStatus(t, ts.release(b, false), 200, "")
		// The decision is recorded and answerable.
		r = ts.post("/v1/txn/replay", map[string]any{"txn_id": txnA}, nil)
		wantStatus(t, r, 200, "")
		if r.json(t)["state"] != "commit" {
			t.Fatalf("replay: %s", r.Body)
		}
		// A decided txn cannot be joined again.
		wantStatus(t, ts.post("/v1/acquire", map[string]any{"key": "tc", "owner": "o", "txn_id": txnA}, nil), 400, "invalid_txn")
	})
}

func TestJoinedTxnRollbackAndExpiry(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, store string) {
		ts := startTCP(t, Config{Store: store})
		const tx1, tx2 = "c5v9d0sl70b3m3q8ndh0", "c5v9d0sl70b3m3q8ndi0"
		a := ts.acquire("default", "ra", map[string]any{"txn_id": tx1})
		b := ts.acquire("default", "rb", map[string]any{"txn_id": tx1})
		ts.update(a, `{"a":1}`)
		ts.update(b, `{"b":1}`)
		wantStatus(t, ts.release(b, true), 200, "")
		wantStatus(t, ts.publicGet("default", "ra"), 204, "")
		wantStatus(t, ts.publicGet("default", "rb"), 204, "")
		wantStatus(t, ts.update(a, `{"a":2}`), 403, "lease_required")
		// One participant's lease expiring rolls the whole txn back.
		c := ts.acquire("default", "ea", map[string]any{"txn_id": tx2, "ttl_seconds": 60})
		d := ts.acquire("default", "eb", map[string]any{"txn_id": tx2, "ttl_seconds": 1})
		ts.update(c, `{"c":1}`)
		ts.update(d, `{"d":1}`)
		// Wait for the expiry timer's rollback to clear c's lease too.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if ts.do("GET", "/v1/describe?key=ea", nil, nil).json(t)["lease_id"] == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("expiry of one participant did not roll back the txn")
			}
		}
		wantStatus(t, ts.update(c, `{"c":2}`), 403, "lease_required")
		wantStatus(t, ts.release(c, false), 200, "")
		wantStatus(t, ts.publicGet("default", "ea"), 204, "")
		wantStatus(t, ts.publicGet("default", "eb"), 204, "")
		if r := ts.post("/v1/txn/replay", map[string]any{"txn_id": tx2}, nil); r.json(t)["state"] != "rollback" {
			t.Fatalf("replay after expiry: %s", r.Body)
		}
	})
}

func TestTxnEndpoints(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, store string) {
		ts := startTCP(t, Config{Store: store})
		const tx = "c5v9d0sl70b3m3q8ndj0"
		// Validation.
		wantStatus(t, ts.post("/v1/txn/decide", ``, nil), 400, "missing_txn_id")
		wantStatus(t, ts.post("/v1/txn/decide", `{"txn_id":"bad","state":"commit"}`, nil), 400, "invalid_txn_id")
		wantStatus(t, ts.post("/v1/txn/decide", `{"txn_id":"`+tx+`","state":"maybe"}`, nil), 400, "invalid_state")
		wantStatus(t, ts.post("/v1/txn/replay", ``, nil), 400, "invalid_body")
		wantStatus(t, ts.post("/v1/txn/replay", `{"txn_id":"`+tx+`"}`, nil), 404, "txn_not_found")
		wantStatus(t, ts.post("/v1/txn/commit", `{"txn_id":"`+tx+`"}`, nil), 404, "txn_not_found")
		wantStatus(t, ts.post("/v1/txn/decide", `{"txn_id":"`+tx+`","state":"commit","participants":[{"key":"x"}]}`, nil), 400, "invalid_namespace")
		// Lenient decoding: unknown fields are ignored; query fallbacks.
		a := ts.acquire("default", "pa", map[string]any{"txn_id": tx, "ttl_seconds": 1})
		ts.update(a, `{"p":1}`)
		r := ts.post("/v1/txn/decide?state=PENDING&txn_id="+tx, `{"extra":true,"expires_at_unix":`+strconv.FormatInt(time.Now().Unix()+60, 10)+`,"participants":[{"namespace":"default","key":"pa"}]}`, nil)
		wantStatus(t, r, 200, "")
		if m := r.json(t); m["state"] != "pending" || m["txn_id"] != tx {
			t.Fatalf("decide pending: %s", r.Body)
		}
		wantStatus(t, ts.post("/v1/txn/commit", `{"txn_id":"`+tx+`"}`, nil), 409, "txn_pending")
		if r := ts.post("/v1/txn/replay", `{"txn_id":"`+tx+`"}`, nil); r.json(t)["state"] != "pending" {
			t.Fatalf("replay pending: %s", r.Body)
		}
		// A prepared txn keeps its staged work when the lease expires.
		time.Sleep(1300 * time.Millisecond)
		b := ts.acquire("default", "pa", nil)
		wantStatus(t, ts.update(b, `{"other":1}`), 409, "txn_mismatch")
		ts.release(b, false)
		r = ts.post("/v1/txn/decide", `{"txn_id":"`+tx+`","state":"commit"}`, nil)
		if r.json(t)["state"] != "commit" {
			t.Fatalf("decide commit: %s", r.Body)
		}
		if g := ts.publicGet("default", "pa"); string(g.Body) != `{"p":1}` {
			t.Fatalf("prepared txn commit: %d %s", g.Status, g.Body)
		}
		// The recorded decision wins over a later different one.
		r = ts.post("/v1/txn/rollback", `{"txn_id":"`+tx+`","participants":[{"namespace":"default","key":"pa"}]}`, nil)
		if r.json(t)["state"] != "commit" {
			t.Fatalf("later rollback: %s", r.Body)
		}
		if r := ts.post("/v1/txn/commit", `{"txn_id":"`+tx+`"}`, nil); r.json(t)["state"] != "commit" {
			t.Fatalf("apply recorded: %s", r.Body)
		}
		// A pending txn rolls back at its expiry.
		const tx2 = "c5v9d0sl70b3m3q8ndk0"
		c := ts.acquire("default", "pc", map[string]any{"txn_id": tx2})
		ts.update(c, `{"c":1}`)
		ts.post("/v1/txn/decide", `{"txn_id":"`+tx2+`","state":"pending","expires_at_unix":`+strconv.FormatInt(time.Now().Unix()+1, 10)+`}`, nil)
		time.Sleep(2100 * time.Millisecond)
		if r := ts.post("/v1/txn/replay", `{"txn_id":"`+tx2+`"}`, nil); r.json(t)["state"] != "rollback" {
			t.Fatalf("expired pending: %s", r.Body)
		}
		wantStatus(t, ts.update(c, `{"c":2}`), 403, "lease_required")
		wantStatus(t, ts.publicGet("default", "pc"), 204, "")
	})
}

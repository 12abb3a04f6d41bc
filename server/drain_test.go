package server

import (
	"context"
	"strconv"
	"testing"
	"time"
)

func TestDrainingStop(t *testing.T) {
	ts := startTCP(t, Config{})
	l := ts.acquire("default", "dr", nil)
	if n := ts.h.ActiveLeases(); n != 1 {
		t.Fatalf("ActiveLeases = %d", n)
	}
	// A blocked acquire is woken by the drain with shutdown_draining.
	blocked := make(chan resp, 1)
	go func() { blocked <- ts.post("/v1/acquire", `{"key":"dr","owner":"w","block_seconds":30}`, nil) }()
	time.Sleep(100 * time.Millisecond)
	stopped := make(chan error, 1)
	go func() { stopped <- ts.h.Stop(context.Background(), WithDrainTimeout(20*time.Second)) }()
	r := <-blocked
	wantStatus(t, r, 503, "shutdown_draining")
	if r.Header.Get("Shutdown-Imminent") != "true" {
		t.Fatalf("draining response lacks Shutdown-Imminent: %v", r.Header)
	}
	r = ts.post("/v1/acquire", `{"key":"new","owner":"w"}`, nil)
	wantStatus(t, r, 503, "shutdown_draining")
	if ra, _ := strconv.Atoi(r.Header.Get("Retry-After")); ra < 15 || ra > 20 {
		t.Fatalf("Retry-After %q should be the remaining drain", r.Header.Get("Retry-After"))
	}
	// Holders keep working; every response says the server is going away.
	ka := ts.post("/v1/keepalive", map[string]any{"key": "dr", "lease_id": l.LeaseID}, map[string]string{"X-Fencing-Token": "1", "X-Txn-ID": l.TxnID})
	wantStatus(t, ka, 200, "")
	up := ts.update(l, `{"last":true}`)
	wantStatus(t, up, 200, "")
	hz := ts.do("GET", "/healthz", nil, nil)
	for _, x := range []resp{ka, up, hz} {
		if x.Header.Get("Shutdown-Imminent") != "true" {
			t.Fatalf("response without Shutdown-Imminent: %v", x.Header)
		}
	}
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned while a lease was held: %v", err)
	default:
	}
	wantStatus(t, ts.release(l, false), 200, "")
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not return after the last lease was released")
	}
	if _, err := ts.client.Get(ts.base + "/healthz"); err == nil {
		t.Fatal("server still answers after Stop")
	}
	// Stop is idempotent.
	if err := ts.h.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestDrainTimeoutAndRestart(t *testing.T) {
	store := "disk://" + t.TempDir() + "/data"
	ts := startTCP(t, Config{Store: store})
	l := ts.acquire("default", "keep", map[string]any{"ttl_seconds": 600})
	ts.update(l, `{"staged":true}`)
	start := time.Now()
	if err := ts.h.Stop(context.Background(), WithDrainTimeout(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 10*time.Second {
		t.Fatalf("drain timeout honoured? took %s", d)
	}
	// Lease, staged work and fencing token survive the restart.
	ts = startTCP(t, Config{Store: store})
	wantStatus(t, ts.post("/v1/acquire", `{"key":"keep","owner":"x","block_seconds":-1}`, nil), 409, "waiting")
	g := ts.post("/v1/get"+l.q(), nil, l.hdr())
	if string(g.Body) != `{"staged":true}` {
		t.Fatalf("staged view after restart: %d %s", g.Status, g.Body)
	}
	wantStatus(t, ts.release(l, false), 200, "")
	if g := ts.publicGet("default", "keep"); string(g.Body) != `{"staged":true}` {
		t.Fatalf("commit after restart: %s", g.Body)
	}
	if l2 := ts.acquire("default", "keep", nil); l2.Fencing != 2 || l2.Version != 1 {
		t.Fatalf("fencing/version after restart: %+v", l2)
	}
}

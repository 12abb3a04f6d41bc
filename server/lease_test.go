package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAcquireValidation(t *testing.T) {
	ts := startTCP(t, Config{})
	cases := []struct {
		name   string
		body   string
		hdr    map[string]string
		status int
		code   string
		detail string
	}{
		{"not json", `not json`, nil, 400, "invalid_body", "failed to parse request"},
		{"empty body", ``, nil, 400, "invalid_body", "EOF"},
		{"unknown field", `{"key":"a","owner":"o","bogus":1}`, nil, 400, "invalid_body", "unknown field"},
		{"trailing value", `{"key":"a","owner":"o"} {}`, nil, 400, "invalid_body", "trailing"},
		{"bad namespace", `{"namespace":"Bad Namespace!","key":"x","owner":"me"}`, nil, 400, "invalid_namespace", `"bad namespace!"`},
		{"reserved namespace", `{"namespace":".txns","key":"x","owner":"me"}`, nil, 400, "invalid_namespace", "reserved"},
		{"long namespace", `{"namespace":"` + strings.Repeat("n", 129) + `","key":"x","owner":"me"}`, nil, 400, "invalid_namespace", "at most 128"},
		{"bad key", `{"key":"A B","owner":"me"}`, nil, 400, "invalid_key", `segment "a b"`},
		{"empty segment", `{"key":"a//b","owner":"me"}`, nil, 400, "invalid_key", "empty segment"},
		{"long key", `{"key":"` + strings.Repeat("k", 129) + `","owner":"me"}`, nil, 400, "invalid_key", "at most 128"},
		{"missing owner", `{"key":"k2","ttl_seconds":30}`, nil, 400, "missing_owner", "owner is required"},
		{"bad txn", `{"key":"k","owner":"me","txn_id":"nope"}`, nil, 400, "invalid_txn", "xid"},
		{"bad txn header", `{"key":"k","owner":"me"}`, map[string]string{"X-Txn-ID": "zzz"}, 400, "invalid_txn", "xid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := ts.post("/v1/acquire", c.body, c.hdr)
			wantStatus(t, r, c.status, c.code)
			if !strings.Contains(r.json(t)["detail"].(string), c.detail) {
				t.Fatalf("detail %q lacks %q", r.Body, c.detail)
			}
			if r.Header.Get("X-Correlation-Id") == "" || r.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("error headers: %v", r.Header)
			}
		})
	}
}

func TestAcquireKeyShapes(t *testing.T) {
	ts := startTCP(t, Config{})
	r := ts.post("/v1/acquire", `{"owner":"me"}`, map[string]string{"X-Correlation-Id": "my-corr"})
	wantStatus(t, r, 200, "")
	m := r.json(t)
	if k := m["key"].(string); len(k) != 36 || k[14] != '7' {
		t.Fatalf("generated key %q is not a UUIDv7", k)
	}
	if m["correlation_id"] != "my-corr" || r.Header.Get("X-Correlation-Id") != "my-corr" {
		t.Fatalf("correlation id not echoed: %s %v", r.Body, r.Header)
	}
	if m["namespace"] != "default" || r.Header.Get("X-Fencing-Token") != "1" || r.Header.Get("X-Key-Version") != "0" {
		t.Fatalf("acquire response %s %v", r.Body, r.Header)
	}
	// The "<namespace>/" prefix is stripped and the caller's spelling echoed.
	r = ts.post("/v1/acquire", `{"namespace":"orders","key":"orders/Big/One","owner":"me","block_seconds":-1}`, nil)
	wantStatus(t, r, 200, "")
	if r.json(t)["key"] != "Big/One" {
		t.Fatalf("echo: %s", r.Body)
	}
	// Keys are case-insensitive: the lowercase spelling is the same key.
	wantStatus(t, ts.post("/v1/acquire", `{"namespace":"orders","key":"big/one","owner":"x","block_seconds":-1}`, nil), 409, "waiting")
	// Query key is used when the body has none.
	wantStatus(t, ts.post("/v1/acquire?key=from-query", `{"owner":"me","block_seconds":-1}`, nil), 200, "")
	wantStatus(t, ts.post("/v1/acquire", `{"key":"from-query","owner":"me","block_seconds":-1}`, nil), 409, "waiting")
}

func TestAcquireWaitingAndTTL(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		ts := startTCP(t, Config{Store: store})
		l := ts.acquire("default", "k1", nil)
		ts.update(l, `{"x":1}`)
		ts.release(l, false)
		l = ts.acquire("default", "k1", map[string]any{"ttl_seconds": 20})
		r := ts.post("/v1/acquire", `{"key":"k1","owner":"other","block_seconds":-1}`, nil)
		wantStatus(t, r, 409, "waiting")
		m := r.json(t)
		if m["current_version"].(float64) != 1 || m["current_etag"] == "" || m["retry_after_seconds"].(float64) < 19 {
			t.Fatalf("waiting body %s", r.Body)
		}
		if ra, _ := strconv.Atoi(r.Header.Get("Retry-After")); ra < 19 || ra > 20 {
			t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
		}
		// Same owner is refused too: leases are not re-entrant.
		wantStatus(t, ts.post("/v1/acquire", `{"key":"k1","owner":"test","block_seconds":-1}`, nil), 409, "waiting")
		// block_seconds > 0 waits, then gives up.
		start := time.Now()
		wantStatus(t, ts.post("/v1/acquire", `{"key":"k1","owner":"other","block_seconds":1}`, nil), 409, "waiting")
		if d := time.Since(start); d < 900*time.Millisecond || d > 3*time.Second {
			t.Fatalf("block 1s took %s", d)
		}
		// TTL above the maximum is clamped, not refused.
		r = ts.post("/v1/acquire", `{"key":"big","owner":"me","ttl_seconds":999999}`, nil)
		wantStatus(t, r, 200, "")
		exp := int64(r.json(t)["expires_at_unix"].(float64))
		if d := exp - time.Now().Unix(); d < 1790 || d > 1801 {
			t.Fatalf("clamped ttl gives expiry in %ds", d)
		}
		// ttl_seconds <= 0 means the default.
		r = ts.post("/v1/acquire", `{"key":"dflt","owner":"me","ttl_seconds":0}`, nil)
		if d := int64(r.json(t)["expires_at_unix"].(float64)) - time.Now().Unix(); d < 29 || d > 31 {
			t.Fatalf("default ttl gives expiry in %ds", d)
		}
		// if_not_exists: the metadata record survives release.
		r = ts.post("/v1/acquire", `{"key":"k1","owner":"me","if_not_exists":true,"block_seconds":-1}`, nil)
		wantStatus(t, r, 409, "already_exists")
		wantStatus(t, ts.post("/v1/acquire", `{"key":"fresh","owner":"me","if_not_exists":true}`, nil), 200, "")
	})
}

func TestKeepAlive(t *testing.T) {
	ts := startTCP(t, Config{})
	l := ts.acquire("default", "ka", map[string]any{"ttl_seconds": 5})
	tok := map[string]string{"X-Fencing-Token": "1", "X-Txn-ID": l.TxnID}
	body := map[string]any{"namespace": "default", "key": "ka", "lease_id": l.LeaseID, "ttl_seconds": 60}
	r := ts.post("/v1/keepalive", body, tok)
	wantStatus(t, r, 200, "")
	if d := int64(r.json(t)["expires_at_unix"].(float64)) - time.Now().Unix(); d < 59 || d > 61 {
		t.Fatalf("keepalive expiry in %ds", d)
	}
	if r.Header.Get("X-Fencing-Token") != "1" {
		t.Fatalf("keepalive headers %v", r.Header)
	}
	// The key may come from the query string.
	wantStatus(t, ts.post("/v1/keepalive?key=ka", map[string]any{"lease_id": l.LeaseID, "ttl_seconds": 60}, tok), 200, "")
	cases := []struct {
		name string
		body any
		hdr  map[string]string
		st   int
		code string
	}{
		{"no token", body, map[string]string{"X-Txn-ID": l.TxnID}, 400, "missing_fencing_token"},
		{"bad token", body, map[string]string{"X-Fencing-Token": "x", "X-Txn-ID": l.TxnID}, 400, "invalid_fencing_token"},
		{"no key", map[string]any{"lease_id": l.LeaseID}, tok, 400, "missing_key"},
		{"no lease", map[string]any{"key": "ka"}, tok, 400, "missing_lease"},
		{"bad key", map[string]any{"key": "A B", "lease_id": l.LeaseID}, tok, 400, "invalid_key"},
		{"wrong lease", map[string]any{"key": "ka", "lease_id": "c5v9d0sl70b3m3q8ndg0"}, tok, 403, "lease_required"},
		{"stale token", body, map[string]string{"X-Fencing-Token": "7", "X-Txn-ID": l.TxnID}, 403, "fencing_mismatch"},
		{"no txn", body, map[string]string{"X-Fencing-Token": "1"}, 400, "missing_txn"},
		{"other txn", body, map[string]string{"X-Fencing-Token": "1", "X-Txn-ID": "c5v9d0sl70b3m3q8ndg0"}, 409, "txn_mismatch"},
		{"body txn overridden by header", map[string]any{"key": "ka", "lease_id": l.LeaseID, "txn_id": l.TxnID}, map[string]string{"X-Fencing-Token": "1", "X-Txn-ID": "c5v9d0sl70b3m3q8ndg0"}, 409, "txn_mismatch"},
		{"unknown key", map[string]any{"key": "nobody", "lease_id": l.LeaseID}, tok, 403, "lease_required"},
		{"empty body", "", tok, 400, "invalid_body"},
		{"unknown field", map[string]any{"key": "ka", "lease_id": l.LeaseID, "x": 1}, tok, 400, "invalid_body"},
		{"queue state key", map[string]any{"key": "q/jobs/state/1", "lease_id": l.LeaseID}, tok, 403, "queue_state_keepalive_unsupported"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantStatus(t, ts.post("/v1/keepalive", c.body, c.hdr), c.st, c.code) })
	}
	// Body txn_id is used when the header is absent.
	wantStatus(t, ts.post("/v1/keepalive", map[string]any{"key": "ka", "lease_id": l.LeaseID, "txn_id": l.TxnID}, map[string]string{"X-Fencing-Token": "1"}), 200, "")
}

func TestLeaseExpiry(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, store string) {
		ts := startTCP(t, Config{Store: store})
		l := ts.acquire("default", "e1", map[string]any{"ttl_seconds": 1})
		wantStatus(t, ts.update(l, `{"x":1}`), 200, "")
		// A waiter is woken by the expiry timer, not by polling.
		start := time.Now()
		r := ts.post("/v1/acquire", `{"key":"e1","owner":"next","block_seconds":5}`, nil)
		wantStatus(t, r, 200, "")
		// The lease has under 1 s left; allow for a loaded machine, but far
		// less than the 5 s block window.
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("waiter woke after %s", d)
		}
		if r.json(t)["fencing_token"].(float64) != 2 {
			t.Fatalf("grant after expiry: %s", r.Body)
		}
		// The expired holder's staged write was discarded and its lease is
		// dead: writes answer lease_required now that another holds it.
		wantStatus(t, ts.publicGet("default", "e1"), 204, "")
		wantStatus(t, ts.update(l, `{"x":2}`), 403, "lease_required")
		// Expired but not superseded: lease_expired.
		l2 := ts.acquire("default", "e2", map[string]any{"ttl_seconds": 1})
		time.Sleep(1100 * time.Millisecond)
		r = ts.update(l2, `{"x":1}`)
		if r.Status != 403 || (r.code() != "lease_expired" && r.code() != "lease_required") {
			t.Fatalf("update after expiry: %d %s", r.Status, r.Body)
		}
		// Releasing an expired lease is idempotent success.
		wantStatus(t, ts.release(l2, false), 200, "")
	})
}

func TestReleaseIdempotentAndStale(t *testing.T) {
	ts := startTCP(t, Config{})
	l := ts.acquire("default", "r1", nil)
	ts.update(l, `{"v":1}`)
	// Fencing token is checked before the lease.
	r := ts.post("/v1/release", map[string]any{"key": "r1", "lease_id": "aaaaaaaaaaaaaaaaaaaa", "txn_id": l.TxnID}, nil)
	wantStatus(t, r, 400, "missing_fencing_token")
	tok := map[string]string{"X-Fencing-Token": "1"}
	wantStatus(t, ts.post("/v1/release", map[string]any{"key": "r1", "txn_id": l.TxnID}, tok), 400, "missing_lease")
	wantStatus(t, ts.post("/v1/release", map[string]any{"key": "r1", "lease_id": l.LeaseID}, tok), 400, "missing_txn")
	wantStatus(t, ts.post("/v1/release", map[string]any{"key": "r1", "lease_id": l.LeaseID, "txn_id": "c5v9d0sl70b3m3q8ndg0"}, tok), 409, "txn_mismatch")
	// Wrong lease id or fencing token: success, but nothing happens.
	r = ts.post("/v1/release", map[string]any{"key": "r1", "lease_id": "aaaaaaaaaaaaaaaaaaaa", "txn_id": l.TxnID}, tok)
	wantStatus(t, r, 200, "")
	if string(r.Body) != "{\"released\":true}\n" {
		t.Fatalf("release body %q", r.Body)
	}
	wantStatus(t, ts.post("/v1/release", map[string]any{"key": "r1", "lease_id": l.LeaseID, "txn_id": l.TxnID}, map[string]string{"X-Fencing-Token": "9"}), 200, "")
	wantStatus(t, ts.post("/v1/acquire", `{"key":"r1","owner":"x","block_seconds":-1}`, nil), 409, "waiting")
	// The real release, then duplicates.
	wantStatus(t, ts.release(l, false), 200, "")
	wantStatus(t, ts.release(l, false), 200, "")
	// A stale release while another owner holds the key leaves it alone.
	l2 := ts.acquire("default", "r1", nil)
	wantStatus(t, ts.release(l, false), 200, "")
	wantStatus(t, ts.update(l2, `{"v":2}`), 200, "")
	wantStatus(t, ts.release(l2, false), 200, "")
	if g := ts.publicGet("default", "r1"); string(g.Body) != `{"v":2}` {
		t.Fatalf("after releases: %s", g.Body)
	}
	// Release of a key that never existed.
	wantStatus(t, ts.post("/v1/release", map[string]any{"key": "never", "lease_id": l.LeaseID, "txn_id": l.TxnID}, tok), 200, "")
}

func TestWaitersAreFIFO(t *testing.T) {
	ts := startTCP(t, Config{})
	l := ts.acquire("default", "fifo", nil)
	const n = 5
	order := make(chan int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := ts.post("/v1/acquire", map[string]any{"key": "fifo", "owner": "w" + strconv.Itoa(i), "block_seconds": 10}, nil)
			if r.Status != 200 {
				t.Errorf("waiter %d: %d %s", i, r.Status, r.Body)
				return
			}
			order <- i
			m := r.json(t)
			time.Sleep(20 * time.Millisecond)
			ts.release(lease{NS: "default", Key: "fifo", LeaseID: m["lease_id"].(string), TxnID: m["txn_id"].(string), Fencing: int64(m["fencing_token"].(float64))}, false)
		}(i)
		// Queue them in a known order (the engine test checks FIFO exactly).
		time.Sleep(150 * time.Millisecond)
	}
	ts.release(l, false)
	wg.Wait()
	close(order)
	want := 0
	for got := range order {
		if got != want {
			t.Fatalf("waiter %d served in position %d", got, want)
		}
		want++
	}
	if want != n {
		t.Fatalf("%d of %d waiters served", want, n)
	}
}

func TestWaiterDisconnectLeavesQueue(t *testing.T) {
	ts := startTCP(t, Config{})
	l := ts.acquire("default", "dc", nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequestWithContext(ctx, "POST", ts.base+"/v1/acquire", strings.NewReader(`{"key":"dc","owner":"gone","block_seconds":0}`))
		res, err := ts.client.Do(req)
		if err == nil {
			res.Body.Close()
		}
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	<-done
	time.Sleep(50 * time.Millisecond)
	// The departed waiter must not have taken the lease when it freed.
	ts.release(l, false)
	r := ts.post("/v1/acquire", `{"key":"dc","owner":"me","block_seconds":-1}`, nil)
	wantStatus(t, r, 200, "")
	if r.json(t)["fencing_token"].(float64) != 2 {
		t.Fatalf("grant after a departed waiter: %s", r.Body)
	}
}

func TestDescribe(t *testing.T) {
	ts := startTCP(t, Config{})
	r := ts.do("GET", "/v1/describe?key=none", nil, nil)
	wantStatus(t, r, 200, "")
	if m := r.json(t); m["version"].(float64) != 0 || m["lease_id"] != nil || m["key"] != "none" {
		t.Fatalf("describe of a missing key: %s", r.Body)
	}
	wantStatus(t, ts.do("GET", "/v1/describe", nil, nil), 400, "missing_key")
	wantStatus(t, ts.do("GET", "/v1/describe?key=x&namespace=.lockd", nil, nil), 400, "invalid_namespace")
	l := ts.acquire("default", "d1", nil)
	ts.update(l, `{"a":1}`)
	r = ts.do("GET", "/v1/describe?key=d1&namespace=default", nil, nil)
	m := r.json(t)
	if m["lease_id"] != l.LeaseID || m["owner"] != "test" || m["version"].(float64) != 0 || m["state_etag"] != nil {
		t.Fatalf("describe while staged: %s", r.Body)
	}
	ts.release(l, false)
	m = ts.do("GET", "/v1/describe?key=d1", nil, nil).json(t)
	if m["lease_id"] != nil || m["version"].(float64) != 1 || m["state_etag"] == nil || m["updated_at_unix"] == nil {
		t.Fatalf("describe after commit: %v", m)
	}
}

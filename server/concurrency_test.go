package server

import (
	"encoding/json"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentCounter: 32 goroutines x 100 increments of one counter under
// leases over HTTP end at 3200, and every write with a stale fencing token
// is refused with fencing_mismatch.
func TestConcurrentCounter(t *testing.T) {
	const workers, rounds = 32, 100
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			ts := startTCP(t, Config{Store: st.url(t)})
			var stale, staleRejected atomic.Int64
			var wg sync.WaitGroup
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for i := 0; i < rounds; i++ {
						r := ts.post("/v1/acquire", `{"key":"counter","owner":"w`+strconv.Itoa(w)+`","ttl_seconds":60,"block_seconds":120}`, nil)
						if r.Status != 200 {
							t.Errorf("acquire: %d %s", r.Status, r.Body)
							return
						}
						var a struct {
							LeaseID string `json:"lease_id"`
							TxnID   string `json:"txn_id"`
							Fencing int64  `json:"fencing_token"`
						}
						json.Unmarshal(r.Body, &a)
						l := lease{NS: "default", Key: "counter", LeaseID: a.LeaseID, TxnID: a.TxnID, Fencing: a.Fencing}
						g := ts.post("/v1/get"+l.q(), nil, l.hdr())
						n := 0
						if g.Status == 200 {
							var doc struct{ N int }
							if err := json.Unmarshal(g.Body, &doc); err != nil {
								t.Errorf("document: %q", g.Body)
								return
							}
							n = doc.N
						}
						if l.Fencing > 1 {
							old := l
							old.Fencing--
							stale.Add(1)
							if r := ts.update(old, `{"n":-1}`); r.Status == 403 && r.code() == "fencing_mismatch" {
								staleRejected.Add(1)
							}
						}
						if r := ts.update(l, `{"n":`+strconv.Itoa(n+1)+`}`); r.Status != 200 {
							t.Errorf("update: %d %s", r.Status, r.Body)
							return
						}
						if r := ts.release(l, false); r.Status != 200 {
							t.Errorf("release: %d %s", r.Status, r.Body)
							return
						}
						// The released lease can no longer write.
						stale.Add(1)
						if r := ts.update(l, `{"n":-2}`); r.Status == 403 {
							staleRejected.Add(1)
						}
					}
				}(w)
			}
			wg.Wait()
			g := ts.publicGet("default", "counter")
			if string(g.Body) != `{"n":3200}` {
				t.Fatalf("final counter %s, want 3200", g.Body)
			}
			if stale.Load() != staleRejected.Load() {
				t.Fatalf("%d of %d stale writes were accepted", stale.Load()-staleRejected.Load(), stale.Load())
			}
			if l := ts.acquire("default", "counter", nil); l.Fencing != workers*rounds+1 || l.Version != workers*rounds {
				t.Fatalf("fencing %d version %d after %d grants", l.Fencing, l.Version, workers*rounds)
			}
		})
	}
}

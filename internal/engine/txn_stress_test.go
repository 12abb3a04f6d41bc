package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockd-mcp/lockd-mcp/internal/ids"
	"github.com/lockd-mcp/lockd-mcp/internal/storage"
)

func openTestEngine(t *testing.T) *Engine {
	t.Helper()
	e, err := Open(context.Background(), storage.NewMem(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func readDoc(t *testing.T, e *Engine, ns, key string) string {
	t.Helper()
	res, err := e.Get(context.Background(), ns, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Body == nil {
		return ""
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// TestJoinedTxnAtomicityUnderStress: workers repeatedly take a pair of keys
// in one joined txn, write the same value to both and commit, roll back, or
// let one lease expire. At rest both keys of every pair agree: a txn is
// never half applied, and nothing deadlocks.
func TestJoinedTxnAtomicityUnderStress(t *testing.T) {
	if testing.Short() {
		t.Skip("stress test")
	}
	e := openTestEngine(t)
	ctx := context.Background()
	gen := ids.NewXIDGenerator()
	const pairs, workers = 3, 12
	deadline := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for n := 0; time.Now().Before(deadline); n++ {
				p := rand.IntN(pairs)
				txn := gen.New()
				var refs []LeaseRef
				ttl := int64(30)
				expire := rand.IntN(10) == 0
				for i, k := range []string{fmt.Sprintf("p%d/a", p), fmt.Sprintf("p%d/b", p)} {
					if expire && i == 1 {
						ttl = 1
					}
					res, err := e.Acquire(ctx, AcquireRequest{Namespace: "s", Key: k, Owner: "w", TTLSeconds: ttl, BlockSeconds: 10, TxnID: txn})
					if err != nil {
						if Code(err) == "waiting" || Code(err) == "invalid_txn" {
							break
						}
						t.Errorf("acquire: %v", err)
						return
					}
					refs = append(refs, LeaseRef{Namespace: "s", Key: k, LeaseID: res.LeaseID, FencingToken: res.FencingToken, TxnID: txn})
				}
				val := fmt.Sprintf(`{"w":%d,"n":%d}`, w, n)
				for _, ref := range refs {
					_, err := e.Update(ctx, UpdateRequest{LeaseRef: ref, Body: strings.NewReader(val), MaxBytes: 1 << 20, ExpectedBytes: -1})
					if err != nil && Code(err) != "lease_required" && Code(err) != "lease_expired" {
						t.Errorf("update: %v", err)
					}
				}
				if expire {
					time.Sleep(1100 * time.Millisecond)
				}
				if len(refs) > 0 {
					if err := e.Release(ctx, refs[rand.IntN(len(refs))], rand.IntN(4) == 0); err != nil {
						t.Errorf("release: %v", err)
					}
					for _, ref := range refs { // duplicates are harmless
						e.Release(ctx, ref, false)
					}
				}
			}
		}(w)
	}
	wg.Wait()
	for p := 0; p < pairs; p++ {
		a, b := readDoc(t, e, "s", fmt.Sprintf("p%d/a", p)), readDoc(t, e, "s", fmt.Sprintf("p%d/b", p))
		if a != b {
			t.Errorf("pair %d half applied: a=%s b=%s", p, a, b)
		}
		if a != "" && !json.Valid([]byte(a)) {
			t.Errorf("pair %d: invalid document %q", p, a)
		}
	}
	if n := e.ActiveLeases(); n != 0 {
		t.Errorf("%d leases left", n)
	}
}

package engine

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

func TestKeyOrder(t *testing.T) {
	var o keyOrder
	r := rand.New(rand.NewPCG(1, 2))
	var keys []string
	// Enough keys for several merges and a partly filled tail; a second
	// namespace must never show up.
	for _, i := range r.Perm(3*mergeEvery + 100) {
		k := fmt.Sprintf("k%05d", i)
		keys = append(keys, k)
		o.add(&entry{id: keyID{"a", k}})
		o.add(&entry{id: keyID{"b", k}})
	}
	slices.Sort(keys)
	list := func(after string, limit int) []string {
		var got []string
		o.each("a", after, func(ent *entry) bool {
			if ent.id.ns != "a" {
				t.Fatalf("entry of namespace %q", ent.id.ns)
			}
			got = append(got, ent.id.key)
			return len(got) < limit
		})
		return got
	}
	for _, tc := range []struct {
		after string
		limit int
	}{
		{"", len(keys) + 1}, {"", 10}, {"k01000", 100}, {"k01000x", 5}, {"k99999", 10}, {keys[len(keys)-2], 10},
	} {
		i, _ := slices.BinarySearch(keys, tc.after)
		for i < len(keys) && keys[i] <= tc.after {
			i++
		}
		want := keys[i:min(len(keys), i+tc.limit)]
		if got := list(tc.after, tc.limit); !slices.Equal(got, want) {
			t.Errorf("after %q limit %d: got %d keys %v…, want %d", tc.after, tc.limit, len(got), got[:min(3, len(got))], len(want))
		}
	}
	var none []string
	o.each("missing", "", func(ent *entry) bool { none = append(none, ent.id.key); return true })
	if len(none) != 0 {
		t.Fatalf("unknown namespace listed %d keys", len(none))
	}
}

// TestKeyOrderConcurrent: scans running while keys are added see every key
// added before they started, in order and once.
func TestKeyOrderConcurrent(t *testing.T) {
	var o keyOrder
	const n = 4 * mergeEvery
	for i := range n {
		o.add(&entry{id: keyID{"a", fmt.Sprintf("old%05d", i)}})
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			o.add(&entry{id: keyID{"a", fmt.Sprintf("new%05d", i)}})
		}
	})
	for range 4 {
		wg.Go(func() {
			for range 20 {
				prev, old := "", 0
				o.each("a", "", func(ent *entry) bool {
					if ent.id.key <= prev {
						t.Errorf("%q after %q", ent.id.key, prev)
						return false
					}
					prev = ent.id.key
					if ent.id.key[:3] == "old" {
						old++
					}
					return true
				})
				if old != n {
					t.Errorf("scan saw %d of %d keys present throughout", old, n)
				}
			}
		})
	}
	wg.Wait()
}

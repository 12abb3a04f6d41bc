package query

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// keyModel hands out ids the way applyLocked does (freed ids are reused,
// last freed first) and feeds a keyOrder.
type keyModel struct {
	docs  []docInfo
	ids   map[string]uint32
	free  []uint32
	order keyOrder
}

func newKeyModel() *keyModel { return &keyModel{ids: map[string]uint32{}} }

func (m *keyModel) put(key string) {
	if _, ok := m.ids[key]; ok {
		return
	}
	var id uint32
	if n := len(m.free); n > 0 {
		id, m.free = m.free[n-1], m.free[:n-1]
	} else {
		id = uint32(len(m.docs))
		m.docs = append(m.docs, docInfo{})
	}
	m.ids[key] = id
	m.docs[id].key = key
	m.order.add(keyPair{key, id}, m.docs)
}

func (m *keyModel) del(key string) {
	if id, ok := m.ids[key]; ok {
		delete(m.ids, key)
		m.docs[id] = docInfo{}
		m.free = append(m.free, id)
	}
}

// walk returns the keys the walk yields after `after` whose id keep
// accepts, taking pairs the way walkLocked does, and stopping after max.
func (m *keyModel) walk(after string, keep func(keyPair) bool, max int) []string {
	var out []string
	last := after
	m.order.walk(m.docs, after, keep, func(p keyPair) bool {
		if len(out) == max {
			return false
		}
		if keep(p) && p.fresh(m.docs, last) {
			if m.ids[p.key] != p.id {
				panic(fmt.Sprintf("pair %v taken, but %s has id %d", p, p.key, m.ids[p.key]))
			}
			out = append(out, p.key)
			last = p.key
		}
		return true
	})
	return out
}

// want is the brute-force answer of walk.
func (m *keyModel) want(after string, keep func(keyPair) bool, max int) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m.ids)) {
		if k > after && keep(keyPair{k, m.ids[k]}) && len(out) < max {
			out = append(out, k)
		}
	}
	return out
}

func all(keyPair) bool { return true }

// TestKeyOrderWalk: stale pairs (freed ids, ids reused by another key, keys
// re-added with their old id or a new one) are skipped and each key comes
// once, in the tail, in the sorted slice and across both.
func TestKeyOrderWalk(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ops   string // space-separated: +key puts, -key deletes, "merge" merges
		after []string
	}{
		{"fresh keys", "+b +d +a +c", []string{"", "a", "bb", "d", "zz"}},
		{"deleted key", "+a +b +c -b", []string{"", "a", "b"}},
		{"id reused by another key", "+a +b -a +z", []string{"", "a", "b"}},
		{"re-added with its old id", "+a +b -a +a", []string{"", "a"}},
		{"re-added with a new id", "+a +b -a +c +a", []string{"", "a", "b"}},
		{"re-added twice in the tail", "+a -a +a -a +a +b", []string{"", "a"}},
		{"stale in sorted, re-added in tail", "+a +b +c merge -b +b -c +d +c", []string{"", "a", "b", "c", "d"}},
		{"deleted after merge", "+a +b +c merge -a -c", []string{"", "a", "b", "c"}},
		{"merge drops stale pairs", "+a +b -a +c -b +b merge", []string{"", "b", "c", "cc"}},
		{"re-added after merge with its old id", "+a +b merge -a +a", []string{"", "a"}},
		{"empty", "+a -a merge", []string{"", "a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newKeyModel()
			for _, op := range strings.Fields(tc.ops) {
				switch {
				case op == "merge":
					m.order.merge(m.docs)
				case op[0] == '+':
					m.put(op[1:])
				default:
					m.del(op[1:])
				}
			}
			for _, after := range tc.after {
				for _, max := range []int{1, 2, 100} {
					got, want := m.walk(after, all, max), m.want(after, all, max)
					if !slices.Equal(got, want) {
						t.Errorf("after %q, at most %d: walk %v, want %v", after, max, got, want)
					}
				}
			}
		})
	}
}

// TestKeyOrderMerge: a merge leaves the live pairs, each key once, in
// order, whatever stale pairs and repeats the tail held.
func TestKeyOrderMerge(t *testing.T) {
	m := newKeyModel()
	r := rand.New(rand.NewPCG(1, 1))
	for i := range 5 * keyMergeEvery {
		key := fmt.Sprintf("k%03d", r.IntN(700))
		if r.IntN(3) == 0 {
			m.del(key)
		} else {
			m.put(key)
		}
		if i%keyMergeEvery == 0 && len(m.order.tail) >= keyMergeEvery {
			t.Fatalf("tail of %d pairs not merged", len(m.order.tail))
		}
	}
	m.order.merge(m.docs)
	if len(m.order.tail) != 0 || len(m.order.sorted) != len(m.ids) {
		t.Fatalf("after merge: %d sorted, %d tail, %d keys", len(m.order.sorted), len(m.order.tail), len(m.ids))
	}
	for i, p := range m.order.sorted {
		if m.ids[p.key] != p.id || !p.live(m.docs) || (i > 0 && m.order.sorted[i-1].key >= p.key) {
			t.Fatalf("sorted[%d] = %v after %v", i, p, m.order.sorted[max(i-1, 0)])
		}
	}
}

// TestKeyOrderAgreesWithModel churns a key space (ids freed and reused,
// keys re-added, several merges) and compares walks from random cursors,
// with and without a tail filter, with brute force.
func TestKeyOrderAgreesWithModel(t *testing.T) {
	m := newKeyModel()
	r := rand.New(rand.NewPCG(2, 2))
	even := func(p keyPair) bool { return p.id%2 == 0 }
	for i := range 20000 {
		key := fmt.Sprintf("k%04d", r.IntN(3000))
		if r.IntN(3) == 0 {
			m.del(key)
		} else {
			m.put(key)
		}
		if i%97 != 0 {
			continue
		}
		after := pick(r, []string{"", "~", fmt.Sprintf("k%04d", r.IntN(3000)), fmt.Sprintf("k%04d5", r.IntN(3000))})
		max := pick(r, []int{1, 17, 100000})
		for _, keep := range []func(keyPair) bool{all, even} {
			if got, want := m.walk(after, keep, max), m.want(after, keep, max); !slices.Equal(got, want) {
				t.Fatalf("step %d, after %q, at most %d: walk gave %d keys, want %d\nwalk-only %v\nwant-only %v",
					i, after, max, len(got), len(want), minus(got, want), minus(want, got))
			}
		}
	}
}

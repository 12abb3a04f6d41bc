package engine

import (
	"cmp"
	"slices"
	"sort"
	"sync"
)

// keyOrder keeps every namespace's entries in key order, so a scan query
// starts at its cursor instead of collecting and sorting the whole
// namespace on every page (which made paging through N keys cost N²).
//
// Entries are never removed, only added. Each namespace has a sorted slice
// that is never modified once published (a scan reads it without a lock)
// and a short unsorted tail of the newest entries; when the tail reaches
// mergeEvery it is merged into a new sorted slice. Adding a key costs
// O(1) plus an amortised O(n/mergeEvery) copy; a scan page costs a binary
// search, sorting at most mergeEvery tail entries, and the keys it visits.
type keyOrder struct {
	mu sync.Mutex
	ns map[string]*nsKeys
}

type nsKeys struct {
	sorted []*entry
	tail   []*entry
}

const mergeEvery = 1024

func (o *keyOrder) add(ent *entry) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ns == nil {
		o.ns = map[string]*nsKeys{}
	}
	k := o.ns[ent.id.ns]
	if k == nil {
		k = &nsKeys{}
		o.ns[ent.id.ns] = k
	}
	k.tail = append(k.tail, ent)
	if len(k.tail) >= mergeEvery {
		k.merge()
	}
}

// merge publishes a new sorted slice holding the tail. Called with mu held.
func (k *nsKeys) merge() {
	slices.SortFunc(k.tail, byKey)
	merged := make([]*entry, 0, len(k.sorted)+len(k.tail))
	i, j := 0, 0
	for i < len(k.sorted) && j < len(k.tail) {
		if k.sorted[i].id.key < k.tail[j].id.key {
			merged = append(merged, k.sorted[i])
			i++
		} else {
			merged = append(merged, k.tail[j])
			j++
		}
	}
	merged = append(merged, k.sorted[i:]...)
	merged = append(merged, k.tail[j:]...)
	k.sorted, k.tail = merged, nil
}

// each calls fn for the entries of ns with a key after `after`, in key
// order, until fn returns false. It sees every entry added before the
// call; entries added meanwhile may be missed.
func (o *keyOrder) each(ns, after string, fn func(*entry) bool) {
	o.mu.Lock()
	k := o.ns[ns]
	var sorted, tail []*entry
	if k != nil {
		sorted = k.sorted
		for _, ent := range k.tail {
			if ent.id.key > after {
				tail = append(tail, ent)
			}
		}
	}
	o.mu.Unlock()
	slices.SortFunc(tail, byKey)
	i := sort.Search(len(sorted), func(i int) bool { return sorted[i].id.key > after })
	sorted = sorted[i:]
	for len(sorted) > 0 || len(tail) > 0 {
		var next *entry
		if len(tail) == 0 || (len(sorted) > 0 && sorted[0].id.key < tail[0].id.key) {
			next, sorted = sorted[0], sorted[1:]
		} else {
			next, tail = tail[0], tail[1:]
		}
		if !fn(next) {
			return
		}
	}
}

func byKey(a, b *entry) int { return cmp.Compare(a.id.key, b.id.key) }

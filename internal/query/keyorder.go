package query

import (
	"cmp"
	"slices"
	"sort"
)

// keyPair records that key was given id.
type keyPair struct {
	key string
	id  uint32
}

// keyOrder keeps the index's keys in key order, so a page of a broad
// selector starts at its cursor instead of collecting every candidate
// after it (which made paging through N matching keys cost N²).
//
// Pairs are only added, when a key gets an id; deletes leave them behind.
// A pair is live while docs[id].key is its key: a freed id, an id reused
// by another key and a key deleted and re-added all leave stale pairs (or
// a second live one, when the key got its old id back). sorted is
// replaced, never modified; tail holds the pairs added since, unsorted,
// and is merged into a new sorted slice, without stale pairs and repeats,
// once it reaches keyMergeEvery. Adding a key costs O(1) plus an amortised
// O(n/keyMergeEvery) copy; a walk costs a binary search, sorting at most
// keyMergeEvery tail pairs, and the pairs it visits. The Index lock guards
// everything.
type keyOrder struct {
	sorted []keyPair
	tail   []keyPair
}

const keyMergeEvery = 1024

// live reports whether p still names its key's id. At most one id holds a
// key, so two live pairs of a key are equal.
func (p keyPair) live(docs []docInfo) bool { return docs[p.id].key == p.key }

// fresh reports whether p is live and not a repeat of prev, the key of the
// pair taken before it in key order.
func (p keyPair) fresh(docs []docInfo, prev string) bool { return p.key != prev && p.live(docs) }

func byPairKey(a, b keyPair) int { return cmp.Compare(a.key, b.key) }

// add records a key's new id; docs[id].key must already be key.
func (o *keyOrder) add(p keyPair, docs []docInfo) {
	o.tail = append(o.tail, p)
	if len(o.tail) >= keyMergeEvery {
		o.merge(docs)
	}
}

// merge replaces sorted with the live pairs of sorted and tail, each key
// once.
func (o *keyOrder) merge(docs []docInfo) {
	slices.SortFunc(o.tail, byPairKey)
	merged := make([]keyPair, 0, len(o.sorted)+len(o.tail))
	prev := ""
	mergePairs(o.sorted, o.tail, func(p keyPair) bool {
		if p.fresh(docs, prev) {
			merged = append(merged, p)
			prev = p.key
		}
		return true
	})
	o.sorted, o.tail = merged, nil
}

// walk calls fn for the pairs whose key sorts after `after`, in key order,
// until fn returns false. Only live tail pairs that keep accepts are
// visited (sorting just those), but sorted pairs may be stale and a key
// may come twice in a row: fn takes only pairs that are fresh after the
// last it took.
func (o *keyOrder) walk(docs []docInfo, after string, keep func(keyPair) bool, fn func(keyPair) bool) {
	var tail []keyPair
	for _, p := range o.tail {
		if p.key > after && keep(p) && p.live(docs) {
			tail = append(tail, p)
		}
	}
	slices.SortFunc(tail, byPairKey)
	i := sort.Search(len(o.sorted), func(i int) bool { return o.sorted[i].key > after })
	mergePairs(o.sorted[i:], tail, fn)
}

// mergePairs calls fn for the pairs of a and b, two runs sorted by key, in
// key order (a first on equal keys), until fn returns false. It binary
// searches a for each pair of b, which is the short run, rather than
// comparing every pair of a.
func mergePairs(a, b []keyPair, fn func(keyPair) bool) {
	each := func(ps []keyPair) bool {
		for _, p := range ps {
			if !fn(p) {
				return false
			}
		}
		return true
	}
	for _, q := range b {
		j := sort.Search(len(a), func(i int) bool { return a[i].key > q.key })
		if !each(a[:j]) || !fn(q) {
			return
		}
		a = a[j:]
	}
	each(a)
}

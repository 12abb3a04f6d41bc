package query

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/lockd-mcp/lockd-mcp/lql"
)

// candidate is a key the index engine still has to deliver: sure ones match
// according to the index, the others are verified with the matcher.
type candidate struct {
	key     string
	version int64
	sure    bool
}

// defaultWalkMin is the fewest candidates for which candidates walks the
// key order: below it, collecting them all costs less than the walk's
// fixed part (sorting the tail of the key order, a binary search), and
// selective queries keep their single pass over the posting bitmaps.
const defaultWalkMin = 8192

// A walk gives up after visiting n/walkGiveUp keys for n candidates.
// Visiting a key costs about what collecting a candidate does
// (BenchmarkCandidates), so a walk that gives up costs at most about a
// third more than collecting alone; one over randomly placed candidates
// still completes once n² > walkGiveUp·want·keys.
const walkGiveUp = 3

// candidates returns, under the read lock, keys after `after` that may
// match sel, as a min-heap by key. sel must be simplified. A selector with
// at most ix.walkMin candidates has them all collected; a broader one walks
// the key order from `after` and stops once it has want candidates, saying
// so with partial: a page then costs about the keys it returns, not every
// key left after its cursor.
func (ix *Index) candidates(sel *lql.Selector, after string, want int) (h []candidate, partial bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	yes, maybe := ix.selectLocked(sel)
	n := yes.card() + maybe.card()
	if n <= ix.walkMin {
		out := ix.collectLocked(yes, maybe, after, make([]candidate, 0, n))
		heapify(out)
		return out, false
	}
	return ix.walkLocked(yes, maybe, after, want, n)
}

// selectLocked evaluates sel into the keys the index says match (yes) and
// those the matcher must verify (maybe), hidden keys left out.
func (ix *Index) selectLocked(sel *lql.Selector) (yes, maybe *bitmap) {
	if sel.IsEmpty() {
		// The empty selector lists everything, objects or not (the
		// streaming semantics lockd uses, spec §2.1).
		yes = ix.live
	} else {
		e := evaluator{ix: ix, u: ix.objects}
		t := e.node(sel)
		yes = e.yesOf(t)
		maybe = or(t.maybe, ix.verify)
	}
	yes = andNot(yes, ix.hidden)
	maybe = andNot(andNot(maybe, ix.hidden), yes)
	return yes, maybe
}

// collectLocked appends to out every candidate of yes and maybe after
// `after`, in no particular order.
func (ix *Index) collectLocked(yes, maybe *bitmap, after string, out []candidate) []candidate {
	collect := func(b *bitmap, sure bool) {
		b.each(func(id uint32) bool {
			if d := &ix.docs[id]; d.key > after {
				out = append(out, candidate{key: d.key, version: d.version, sure: sure})
			}
			return true
		})
	}
	collect(yes, true)
	collect(maybe, false)
	return out
}

// walkLocked gathers candidates in key order from the key order until it
// has want of them. The walk visits non-matching keys too, so when the
// matches sit far from the cursor (a selector correlated with key order)
// it gives up after visiting budget keys and collects the rest: a page
// then costs a bounded multiple of what collecting alone would have.
func (ix *Index) walkLocked(yes, maybe *bitmap, after string, want, n int) (h []candidate, partial bool) {
	out := make([]candidate, 0, min(want, n))
	budget := max(n/walkGiveUp, want)
	visited, last, exhausted := 0, after, false
	keep := func(p keyPair) bool { return yes.has(p.id) || maybe.has(p.id) }
	ix.order.walk(ix.docs, after, keep, func(p keyPair) bool {
		if len(out) >= want {
			partial = true
			return false
		}
		if visited >= budget {
			exhausted = true
			return false
		}
		visited++
		sure := yes.has(p.id)
		if (!sure && !maybe.has(p.id)) || !p.fresh(ix.docs, last) {
			return true
		}
		last = p.key
		out = append(out, candidate{key: p.key, version: ix.docs[p.id].version, sure: sure})
		return true
	})
	if exhausted {
		// Every candidate up to the last one found has been found, and
		// those collected sort after them, so the walked prefix stays in
		// place when the whole is heapified.
		out = ix.collectLocked(yes, maybe, last, slices.Grow(out, n))
		heapify(out)
	}
	return out, partial
}

// The candidate heap is ordered by key. Heapifying is O(n) and each page
// pops only limit entries, which beats sorting every candidate of a broad
// selector to return the first hundred.
func heapify(h []candidate) {
	for i := len(h)/2 - 1; i >= 0; i-- {
		siftDown(h, i)
	}
}

func siftDown(h []candidate, i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h[r].key < h[l].key {
			m = r
		}
		if h[i].key <= h[m].key {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func popMin(h []candidate) (candidate, []candidate) {
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	siftDown(h, 0)
	return top, h
}

// index runs the index engine: index answers first, the matcher for the
// rest, everything in key order.
func (r *run) index(ctx context.Context, ix *Index) error {
	var h []candidate
	partial := true // nothing asked for yet
	last := r.after // the last candidate consumed
	margin := max(r.limit/4, 8)
	src := r.m.opts.Source
	for {
		if len(h) == 0 {
			if !partial {
				return nil
			}
			// Ask (again) after the last candidate, with a margin for
			// candidates the matcher rejects; it doubles on each call so
			// a selector the matcher mostly rejects costs a few calls,
			// not one per row.
			h, partial = ix.candidates(r.sel, last, r.want(margin))
			margin = min(2*margin, maxCandidateMargin)
			continue
		}
		if r.emitted >= r.limit {
			r.more = true
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		var c candidate
		c, h = popMin(h)
		last = c.key
		if c.sure && !r.docs {
			r.seen++
			if err := r.deliver(ctx, c.key, c.version, nil); err != nil {
				return err
			}
			continue
		}
		d, ok, err := src.Get(ctx, r.ns, c.key)
		if err != nil {
			return fmt.Errorf("query: get %s/%s: %w", r.ns, c.key, err)
		}
		if !ok || d.Hidden {
			continue // removed or hidden since the index saw it
		}
		if c.sure && d.Version == c.version {
			r.seen++
			body, err := r.read(d)
			if err != nil {
				return err
			}
			if err := r.deliver(ctx, d.Key, d.Version, body); err != nil {
				return err
			}
			continue
		}
		// Not decided by the index, or changed since it was indexed: the
		// matcher rules on the current document.
		match, body, err := r.match(ctx, d)
		if err != nil {
			return err
		}
		if match {
			if err := r.deliver(ctx, d.Key, d.Version, body); err != nil {
				return err
			}
		}
	}
}

// maxCandidateMargin bounds the extra candidates a page asks for.
const maxCandidateMargin = 1 << 16

// want is how many candidates the page asks the index for: the rows it
// still needs plus margin, and one more to tell whether another page
// follows (all a full page needs).
func (r *run) want(margin int) int {
	left := r.limit - r.emitted
	if left <= 0 {
		return 1
	}
	return left + margin + 1
}

// scanBatch is how many documents the scan engine matches at once. The
// batch is split across cores (documents are independent), then delivered
// in key order; at most one batch of work is wasted when a page fills.
const scanBatch = 64

// scan runs the scan engine: every committed document after the cursor, in
// key order, through the matcher.
func (r *run) scan(ctx context.Context) error {
	batch := make([]Doc, 0, scanBatch)
	err := r.m.opts.Source.Scan(ctx, r.ns, r.after, func(d Doc) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.Hidden {
			return nil
		}
		if r.emitted >= r.limit {
			r.more = true
			return errStop
		}
		batch = append(batch, d)
		if len(batch) < scanBatch {
			return nil
		}
		err := r.scanBatch(ctx, batch)
		batch = batch[:0]
		return err
	})
	if err == nil && len(batch) > 0 {
		err = r.scanBatch(ctx, batch)
	}
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// scanBatch matches docs in parallel and delivers the matches in order. It
// returns errStop once the page is full.
func (r *run) scanBatch(ctx context.Context, docs []Doc) error {
	type verdict struct {
		ok   bool
		body []byte
		err  error
	}
	out := make([]verdict, len(docs))
	workers := min(runtime.GOMAXPROCS(0), 4, len(docs))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(docs); i += workers {
				// Each worker gets its own counters; they are summed below.
				sub := *r
				sub.seen = 0
				ok, body, err := sub.match(ctx, docs[i])
				out[i] = verdict{ok, body, err}
			}
		})
	}
	wg.Wait()
	for i, v := range out {
		if r.emitted >= r.limit {
			r.more = true
			return errStop
		}
		r.seen++
		if v.err != nil {
			return v.err
		}
		if v.ok {
			if err := r.deliver(ctx, docs[i].Key, docs[i].Version, v.body); err != nil {
				return err
			}
		}
	}
	return nil
}

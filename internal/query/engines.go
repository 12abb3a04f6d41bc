package query

import (
	"context"
	"errors"
	"fmt"
	"runtime"
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

// candidates computes, under the read lock, every key after `after` that
// may match sel, as a min-heap by key. sel must be simplified.
func (ix *Index) candidates(sel *lql.Selector, after string) []candidate {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var yes, maybe *bitmap
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
	out := make([]candidate, 0, yes.card()+maybe.card())
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
	heapify(out)
	return out
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
	h := ix.candidates(r.sel, r.after)
	src := r.m.opts.Source
	for len(h) > 0 {
		if r.emitted >= r.limit {
			r.more = true
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		var c candidate
		c, h = popMin(h)
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
	return nil
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

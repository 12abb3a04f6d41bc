package query

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Change is one committed change of a key, handed to the index by the
// engine once the commit is durable.
type Change struct {
	Key     string
	Version int64
	// Delete removes the key from the index; the other fields are ignored.
	Delete bool
	// Hidden is the committed query_hidden attribute: hidden keys stay
	// indexed (so a metadata flip is cheap) but never reach results.
	Hidden bool
	// Doc is the committed document. When nil, Open is called by the
	// background applier instead, so large documents need not be held in
	// memory while queued.
	Doc  []byte
	Open func() (io.ReadCloser, error)
	// ETag identifies the document's content (the engine's state ETag).
	// A change whose ETag equals the indexed one only moves the version
	// and the hidden flag, skipping the parse: lease cycles that rewrite
	// the same document, and metadata-only commits, cost almost nothing.
	ETag string
}

// maxIndexedDoc caps how much of a document the applier reads. Larger
// documents are not indexed; queries verify them with the matcher, so the
// answer stays exact and only the speed suffers.
const maxIndexedDoc = 16 << 20

// Applier bounds: a batch is applied under one write lock, so its size
// bounds how long queries can stall behind it; the queue bound is the
// backpressure point of Submit.
const (
	maxBatch  = 256
	maxQueued = 8192
)

// applier applies submitted changes in the background, in submission order.
//
// Submit only appends to a queue, so the commit path pays a mutex and a
// slice append; the parsing and posting updates run on a worker goroutine
// that exists only while the queue is non-empty. Close drops what is still
// queued and waits for that worker, so no indexing outlives the store it
// reads from.
// Sequence numbers are assigned at Submit and published once applied, which
// is what makes refresh=wait_for exact: a query that waits for the last
// sequence submitted before it started sees every change the engine had
// acknowledged by then, because the engine submits before acknowledging.
type applier struct {
	ix *Index

	qmu       sync.Mutex
	drained   sync.Cond // signalled when the worker takes a batch
	queue     []Change
	submitted uint64
	running   bool
	closed    bool
	worker    sync.WaitGroup

	// applied and updatedAt are guarded by Index.mu; changed is closed and
	// replaced whenever applied moves.
	applied   uint64
	updatedAt time.Time
	changed   chan struct{}
	stopped   bool // Close has run: nothing more will be applied

	// paths interns canonical paths; only the (single) worker touches it.
	paths map[string]*pathRef
}

// Per-batch scratch shared by the appliers of all namespaces: pooled, not
// held per index, so idle namespaces keep no buffers and the GC can take
// them back.
var (
	// nodeArenas holds *[]node; a batch's nodes share one arena (see run).
	nodeArenas = sync.Pool{New: func() any { return new([]node) }}
	// copyBufs holds *[]byte copy buffers for blob readers without WriteTo.
	copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
)

// maxPooledArena bounds the arenas kept in nodeArenas (≈1 MiB of nodes):
// a batch of huge documents does not pin its memory afterwards.
const maxPooledArena = 1 << 14

func (a *applier) init(ix *Index) {
	a.ix = ix
	a.drained.L = &a.qmu
	a.changed = make(chan struct{})
	a.paths = map[string]*pathRef{}
}

// Submit queues a change and returns its sequence number. Changes of one
// key must be submitted in commit order.
func (ix *Index) Submit(c Change) uint64 {
	a := &ix.applier
	a.qmu.Lock()
	// Backpressure: a writer that outruns the applier waits here instead
	// of growing the queue (and the wait of every wait_for query) without
	// bound. In the server a commit costs far more than indexing it, so
	// this only bites under synthetic floods.
	for len(a.queue) >= maxQueued && !a.closed {
		a.drained.Wait()
	}
	a.submitted++
	seq := a.submitted
	if a.closed {
		// Never applied; WaitFor reports the index closed.
		a.qmu.Unlock()
		return seq
	}
	a.queue = append(a.queue, c)
	start := !a.running
	a.running = true
	if start {
		a.worker.Add(1)
	}
	a.qmu.Unlock()
	if start {
		go func() {
			defer a.worker.Done()
			a.run()
		}()
	}
	return seq
}

// Close drops the changes still queued, waits for the batch being applied,
// and makes every WaitFor, current or later, return an error. Queries keep
// working on what was applied. It is safe to call more than once.
func (ix *Index) Close() {
	a := &ix.applier
	a.qmu.Lock()
	a.closed = true
	a.queue = nil
	a.drained.Broadcast()
	a.qmu.Unlock()
	a.worker.Wait()
	ix.mu.Lock()
	if !a.stopped {
		a.stopped = true
		close(a.changed)
		a.changed = make(chan struct{})
	}
	ix.mu.Unlock()
}

// errClosed is what WaitFor returns once the index is closed.
var errClosed = errors.New("query: index closed")

// Put indexes doc as the committed document of key and waits until it is
// applied. It is the synchronous form of Submit, for rebuilds and tests.
func (ix *Index) Put(ctx context.Context, key string, version int64, doc []byte) error {
	return ix.WaitFor(ctx, ix.Submit(Change{Key: key, Version: version, Doc: doc}))
}

// Delete removes key and waits until the removal is applied.
func (ix *Index) Delete(ctx context.Context, key string) error {
	return ix.WaitFor(ctx, ix.Submit(Change{Key: key, Delete: true}))
}

// run drains the queue batch by batch: documents are parsed without the
// index lock, then the whole batch is applied under one write lock so
// queries see either none or all of it.
func (a *applier) run() {
	for {
		a.qmu.Lock()
		if len(a.queue) == 0 || a.closed {
			a.running = false
			a.qmu.Unlock()
			return
		}
		n := min(len(a.queue), maxBatch)
		batch := a.queue[:n:n]
		a.queue = a.queue[n:]
		if len(a.queue) == 0 {
			a.queue = nil // let the backing array go
		}
		// Changes are numbered in queue order, so the last one taken is
		// the submitted sequence minus what is still queued.
		last := a.submitted - uint64(len(a.queue))
		a.drained.Broadcast()
		a.qmu.Unlock()

		if len(a.paths) > 1<<16 {
			a.paths = map[string]*pathRef{} // keep the intern table bounded
		}
		same := a.unchanged(batch)
		preps := make([]prepared, len(batch))
		// The batch's nodes share one pooled arena: no node outlives
		// applyLocked (texts that become terms are cloned), and reusing it
		// saves a node slice per document, the applier's largest garbage.
		pooled := nodeArenas.Get().(*[]node)
		arena := (*pooled)[:0]
		for i, c := range batch {
			if same[i] {
				preps[i] = prepared{Change: c, same: true}
				continue
			}
			doc, err := readDoc(c)
			preps[i], arena = prepare(c, doc, err, a.paths, arena)
		}
		ix := a.ix
		ix.mu.Lock()
		for _, p := range preps {
			ix.applyLocked(p)
		}
		a.applied = last
		a.updatedAt = time.Now()
		close(a.changed)
		a.changed = make(chan struct{})
		ix.mu.Unlock()
		// Drop the references to this batch's documents before pooling
		// the arena.
		if cap(arena) <= maxPooledArena {
			clear(arena)
			*pooled = arena[:0]
			nodeArenas.Put(pooled)
		}
	}
}

// unchanged reports, per change, whether the index already holds its
// document (same ETag). A key changed earlier in the same batch is never
// skipped, since the check reads the index as it was before the batch;
// applyLocked re-checks under the write lock.
func (a *applier) unchanged(batch []Change) []bool {
	same := make([]bool, len(batch))
	var earlier map[string]bool
	if len(batch) > 1 {
		earlier = make(map[string]bool, len(batch))
	}
	ix := a.ix
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	for i, c := range batch {
		if c.ETag != "" && !c.Delete && !earlier[c.Key] {
			if id, ok := ix.ids[c.Key]; ok && ix.docs[id].etag == c.ETag && !ix.verify.has(id) {
				same[i] = true
			}
		}
		if earlier != nil {
			earlier[c.Key] = true
		}
	}
	return same
}

// readDoc returns the document of c. A failure to read it (the blob was
// already superseded and reclaimed, or it is too large) leaves the key
// marked for verification: queries then read its current document through
// the Source, which is exact whatever happened.
func readDoc(c Change) (string, error) {
	if c.Delete || c.Doc != nil {
		return string(c.Doc), nil
	}
	if c.Open == nil {
		return "", fmt.Errorf("query: change of %q has neither document nor opener", c.Key)
	}
	rc, err := c.Open()
	if err != nil {
		return "", fmt.Errorf("query: open %q: %w", c.Key, err)
	}
	defer rc.Close()
	// A Builder hands its bytes over as the string without another copy.
	// The cap is enforced on the writer side rather than with a
	// LimitReader, which would hide the blob reader's WriteTo and make
	// io.Copy allocate a 32 KiB buffer per document (most of the
	// applier's garbage on small documents); readers without WriteTo copy
	// through a pooled buffer.
	var doc strings.Builder
	var buf []byte
	if _, ok := rc.(io.WriterTo); !ok {
		b := copyBufs.Get().(*[]byte)
		defer copyBufs.Put(b)
		buf = *b
	}
	if _, err := io.CopyBuffer(cappedWriter{&doc}, rc, buf); err != nil {
		if errors.Is(err, errTooLarge) {
			return "", fmt.Errorf("query: document %q too large to index", c.Key)
		}
		return "", fmt.Errorf("query: read %q: %w", c.Key, err)
	}
	return doc.String(), nil
}

var errTooLarge = errors.New("query: document too large to index")

// cappedWriter appends to a Builder up to maxIndexedDoc bytes. It hides
// the Builder's other methods so io.CopyBuffer takes the reader's WriteTo.
type cappedWriter struct{ b *strings.Builder }

func (w cappedWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > maxIndexedDoc {
		return 0, errTooLarge
	}
	return w.b.Write(p)
}

// WaitFor blocks until every change up to seq is applied, or ctx ends.
func (ix *Index) WaitFor(ctx context.Context, seq uint64) error {
	for {
		ix.mu.RLock()
		applied, ch, stopped := ix.applied, ix.changed, ix.stopped
		ix.mu.RUnlock()
		if applied >= seq {
			return nil
		}
		if stopped {
			return fmt.Errorf("query: wait for index seq %d: %w", seq, errClosed)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("query: wait for index seq %d: %w", seq, ctx.Err())
		}
	}
}

// Flush waits until everything submitted so far is applied and returns the
// applied sequence.
func (ix *Index) Flush(ctx context.Context) (uint64, error) {
	seq := ix.SubmittedSeq()
	if err := ix.WaitFor(ctx, seq); err != nil {
		return 0, err
	}
	return seq, nil
}

// SubmittedSeq returns the sequence number of the last submitted change.
func (ix *Index) SubmittedSeq() uint64 {
	ix.qmu.Lock()
	defer ix.qmu.Unlock()
	return ix.submitted
}

// Stats is a snapshot of the applier's progress.
type Stats struct {
	AppliedSeq   uint64
	SubmittedSeq uint64
	UpdatedAt    time.Time
	Keys         int
}

// Pending reports whether submitted changes are not yet applied.
func (s Stats) Pending() bool { return s.SubmittedSeq > s.AppliedSeq }

// Stats returns the applier's progress.
func (ix *Index) Stats() Stats {
	sub := ix.SubmittedSeq()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return Stats{AppliedSeq: ix.applied, SubmittedSeq: sub, UpdatedAt: ix.updatedAt, Keys: len(ix.ids)}
}

package storage

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
)

const (
	// maxBatchBytes bounds one encoded batch. Records are metadata; bodies
	// travel as blobs, so a bigger batch is a caller bug worth an error.
	maxBatchBytes = 256 << 20
	// keepWriteBuf is the largest frame buffer kept between appends; a
	// rare big frame should not pin its buffer for the store's lifetime.
	keepWriteBuf = 1 << 20
	// maxUnsynced bounds the frames nobody waits on (Append, blob
	// flushes) that may sit in the log before a syncer covers them anyway,
	// which bounds the memory they hold until they reach the index.
	maxUnsynced = 4096
)

// syncers is the number of fdatasync calls that may be in flight at once.
// The code allows several (a commit written while one fsync runs could get
// its own at once), but on ext4 an append's fdatasync is a journal commit
// and jbd2 runs those one at a time: with two syncers each fsync carried
// half as many commits and the server cycle got slower. One syncer that
// fsyncs whatever was written while its previous fsync ran is the best
// measured setting. It is a variable so benchmarks can compare settings.
var syncers = 1

// logged is a frame written to the active segment and not yet known to be
// durable. The syncer that makes it durable applies it to the index and
// answers its waiter.
type logged struct {
	end   int64 // segment offset just past the frame
	puts  []Record
	dels  []RecordKey
	frees []string
	blobs []pendingBlob
	offs  []int64 // segment offset of each blob's bytes
	w     *waiter // nil when nobody waits (Append, a blob flush)
}

// waiter carries one Commit's outcome. Waiters are pooled: the channel is
// empty again once the committer has received from it.
type waiter struct{ done chan error }

var waiterPool = sync.Pool{New: func() any { return &waiter{done: make(chan error, 1)} }}

// Commit appends the batch to the log and waits until an fdatasync that
// started after the append has returned, so the batch is on stable storage
// before Commit returns. Concurrent commits share fsyncs (group commit).
func (d *Disk) Commit(ctx context.Context, b Batch) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: disk commit: %w", err)
	}
	w := waiterPool.Get().(*waiter)
	if err := d.append(&b, w); err != nil {
		waiterPool.Put(w)
		return err
	}
	// Not abandoned on ctx: the batch is already on its way to disk.
	err := <-w.done
	waiterPool.Put(w)
	return err
}

// Append writes the batch to the log in commit order and returns without
// waiting for the fsync. The batch becomes durable with the next Commit to
// return (the log is one ordered file and an fsync covers every byte
// written before it), or is lost whole by a crash before that; it is never
// torn, and no later batch survives a crash that loses it.
func (d *Disk) Append(ctx context.Context, b Batch) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: disk append: %w", err)
	}
	return d.append(&b, nil)
}

// append writes one frame holding the small blobs waiting for the log and
// then b (when not nil), and queues it for the syncers. Frames are written
// by the committing goroutine under wmu, so the file order is the commit
// order and no hand-off to another goroutine sits before the write.
func (d *Disk) append(b *Batch, w *waiter) error {
	if b != nil {
		if n := batchSize(b); n > maxBatchBytes {
			return fmt.Errorf("storage: disk commit: batch encodes to %d bytes, over the %d byte limit; large values belong in blobs", n, maxBatchBytes)
		}
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	if d.err != nil {
		err := d.err
		d.mu.Unlock()
		return err
	}
	blobs := d.pending
	d.pending, d.pendBytes = nil, 0
	d.mu.Unlock()
	if b == nil && len(blobs) == 0 {
		return nil
	}

	buf, lg := d.encodeFrame(b, blobs)
	if d.rotateDue(len(buf)) {
		// The frame's mark and blob offsets are relative to its segment,
		// so it is encoded again for the new one (once per segment).
		if err := d.rotate(); err != nil {
			return err
		}
		buf, lg = d.encodeFrame(b, blobs)
	}
	seg, off := d.active, d.writeOff
	_, err := seg.f.WriteAt(buf, off)
	if cap(buf) <= keepWriteBuf {
		d.wbuf = buf
	}
	if err != nil {
		// A failed write is sticky: nobody can say what the file holds now,
		// so the store stops accepting commits and the next open recovers
		// from what is really on disk.
		err = fmt.Errorf("storage: disk log %s: write at offset %d: %w", seg.path, off, err)
		d.mu.Lock()
		d.err = err
		d.mu.Unlock()
		return err
	}
	lg.end = off + int64(len(buf))
	lg.w = w
	d.writeOff = lg.end

	d.smu.Lock()
	d.unsynced = append(d.unsynced, lg)
	d.written = lg.end
	if w != nil {
		d.awaited = lg.end
	}
	if d.idle > 0 && d.syncDue() {
		d.work.Signal()
	}
	d.smu.Unlock()
	d.maybeCheckpoint()
	d.maybePrepare()
	return nil
}

// encodeFrame encodes the frame that append writes at writeOff of the
// active segment: the synced mark, blobs, then b. Called with wmu held.
func (d *Disk) encodeFrame(b *Batch, blobs []pendingBlob) ([]byte, *logged) {
	off := d.writeOff
	buf, start := beginFrame(d.wbuf[:0])
	// The durable mark lets recovery tell a torn tail of several frames
	// (the last ones written while fsyncs were in flight) from damage to
	// data that was durable before this frame was written.
	buf = appendSynced(buf, d.durableOff.Load())
	lg := &logged{blobs: blobs}
	if len(blobs) > 0 {
		lg.offs = make([]int64, len(blobs))
		for i, pb := range blobs {
			var pos int
			buf, pos = appendBlob(buf, pb.id, pb.data)
			lg.offs[i] = off + int64(pos)
		}
	}
	if b != nil {
		buf = appendBatch(buf, b)
		lg.puts, lg.dels, lg.frees = copyBatch(b)
	}
	finishFrame(buf, start)
	return buf, lg
}

// copyBatch copies what the index keeps of b, so the caller may reuse its
// buffers once append returns. Put values share one allocation.
func copyBatch(b *Batch) ([]Record, []RecordKey, []string) {
	var puts []Record
	if len(b.Puts) > 0 {
		total := 0
		for _, p := range b.Puts {
			total += len(p.Value)
		}
		vals := make([]byte, 0, total)
		puts = make([]Record, len(b.Puts))
		for i, p := range b.Puts {
			s := len(vals)
			vals = append(vals, p.Value...)
			puts[i] = Record{RecordKey: p.RecordKey, Value: vals[s:len(vals):len(vals)]}
		}
	}
	var dels []RecordKey
	if len(b.Deletes) > 0 {
		dels = append(dels, b.Deletes...)
	}
	return puts, dels, freeIDs(b.Free)
}

// syncDue says whether a syncer should start an fsync: a Commit waits on
// bytes no fsync in flight covers, a drain waits, or too many unawaited
// frames piled up. Appended frames alone do not start one: they ride along
// with the next Commit's fsync, so a Commit rarely finds the syncer busy
// with an fsync it cannot use. Called with smu held.
func (d *Disk) syncDue() bool {
	if d.written == d.claimed {
		return false
	}
	return d.awaited > d.claimed || d.drainers > 0 || len(d.unsynced) >= maxUnsynced || d.stopping
}

// syncLoop is one syncer. Whenever a Commit waits on bytes past what the
// fsyncs already started cover, it starts an fdatasync covering every byte
// written so far; when
// it returns, every frame that ends at or before that point is durable, so
// it is applied to the index in log order and its waiter is answered. A
// frame is therefore acknowledged only by an fsync that began after the
// frame's write had returned.
func (d *Disk) syncLoop() {
	defer d.syncWG.Done()
	d.smu.Lock()
	for {
		for !d.syncDue() && !(d.stopping && d.written == d.claimed) {
			d.idle++
			d.work.Wait()
			d.idle--
		}
		if d.written == d.claimed {
			d.smu.Unlock()
			return
		}
		target, seg := d.written, d.syncSeg
		d.claimed = target
		d.syncing++
		d.smu.Unlock()

		err := syncData(seg.f)
		d.groups.Add(1)

		d.smu.Lock()
		d.syncing--
		if err != nil && d.syncErr == nil {
			d.syncErr = fmt.Errorf("storage: disk log %s: fdatasync: %w", seg.path, err)
			d.mu.Lock()
			d.err = d.syncErr
			d.mu.Unlock()
		}
		var ready []*logged
		var unlink []string
		switch {
		case d.syncErr != nil:
			// After a failed fsync the kernel may have dropped the dirty
			// pages, so no later fsync vouches for them: fail every frame
			// still waiting, whichever fsync covered it.
			ready, d.unsynced = d.unsynced, nil
		case target > d.durable:
			d.durable = target
			d.durableOff.Store(target)
			n := 0
			for n < len(d.unsynced) && d.unsynced[n].end <= target {
				n++
			}
			ready = append(ready, d.unsynced[:n]...)
			clear(d.unsynced[:n])
			d.unsynced = d.unsynced[n:]
			// Applied under smu so groups made durable by fsyncs that
			// return out of order still reach the index in log order.
			unlink = d.applyLogged(seg, ready, target)
		}
		if d.drainers > 0 {
			d.progress.Broadcast()
		}
		res := d.syncErr
		d.smu.Unlock()
		// Unlink before answering, so a Commit that frees a blob returns
		// with its file gone (large blobs only; small ones live in the log).
		d.unlinkBlobs(unlink)
		for _, lg := range ready {
			if lg.w != nil {
				lg.w.done <- res
			}
		}
		d.smu.Lock()
	}
}

// applyLogged applies durable frames to the index in log order. Called
// with smu held.
func (d *Disk) applyLogged(seg *segFile, ready []*logged, end int64) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var unlink []string
	for _, lg := range ready {
		for i, pb := range lg.blobs {
			d.placeLoggedBlob(pb, seg, lg.offs[i])
		}
		unlink = d.applyBatch(lg.puts, lg.dels, lg.frees, unlink)
	}
	d.logBytes += end - seg.size
	seg.size = end
	return unlink
}

// drain waits until every frame written so far is durable and no fsync is
// in flight (or the log failed). Called with wmu held, so nothing new is
// written meanwhile.
func (d *Disk) drain() {
	d.smu.Lock()
	d.drainers++
	d.work.Broadcast()
	for (d.durable < d.written || d.syncing > 0) && d.syncErr == nil {
		d.progress.Wait()
	}
	d.drainers--
	d.smu.Unlock()
}

// stopSyncers ends the syncer goroutines once the log is drained.
func (d *Disk) stopSyncers() {
	d.smu.Lock()
	d.stopping = true
	d.work.Broadcast()
	d.smu.Unlock()
	d.syncWG.Wait()
}

// placeLoggedBlob points the index at the logged copy of a pending blob,
// unless Retain dropped it meanwhile. Called with d.mu held.
func (d *Disk) placeLoggedBlob(pb pendingBlob, seg *segFile, off int64) {
	id := hexID(pb.id)
	if cur, ok := d.blobs[id]; ok && cur.data != nil && !cur.file {
		d.blobs[id] = blobLoc{seg: seg, off: off, size: int64(len(pb.data))}
	}
}

// applyBatch applies one batch to the in-memory view: puts, then deletes,
// then frees. It returns the blob files to unlink, which the caller does
// outside the lock. Called with d.mu held, by the syncers and by replay.
func (d *Disk) applyBatch(puts []Record, dels []RecordKey, frees []string, unlink []string) []string {
	for _, p := range puts {
		d.records[p.RecordKey] = p.Value
	}
	for _, k := range dels {
		delete(d.records, k)
	}
	for _, id := range frees {
		loc, ok := d.blobs[id]
		if !ok {
			continue
		}
		delete(d.blobs, id)
		if loc.file {
			unlink = append(unlink, id)
		}
	}
	return unlink
}

// unlinkBlobs removes freed blob files. It runs after the freeing commit is
// durable; open readers keep their descriptor. A failed unlink only leaks
// space until the next Retain, so it is not an error for the commit.
func (d *Disk) unlinkBlobs(ids []string) {
	for _, id := range ids {
		_ = os.Remove(d.blobPath(id))
	}
}

func freeIDs(refs []BlobRef) []string {
	if len(refs) == 0 {
		return nil
	}
	ids := make([]string, len(refs))
	for i, r := range refs {
		ids[i] = r.ID
	}
	return ids
}

func hexID(id [blobIDBytes]byte) string { return hex.EncodeToString(id[:]) }

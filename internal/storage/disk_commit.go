package storage

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
)

const (
	// maxBatchBytes bounds one encoded batch. Records are metadata; bodies
	// travel as blobs, so a bigger batch is a caller bug worth an error.
	maxBatchBytes = 256 << 20
	// maxGroupBytes bounds the batches gathered into one frame.
	maxGroupBytes = 64 << 20
)

// commitReq is one Commit waiting for its group to be fsynced. The batch is
// encoded by the caller's goroutine so the writer only copies bytes.
type commitReq struct {
	b    Batch
	enc  []byte
	done chan error
}

// Commit hands the batch to the writer and waits until the log write that
// carries it has been fsynced and applied. Concurrent commits share one
// write and one fsync (group commit).
func (d *Disk) Commit(ctx context.Context, b Batch) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: disk commit: %w", err)
	}
	req := &commitReq{b: b, enc: appendBatch(nil, &b), done: make(chan error, 1)}
	if len(req.enc) > maxBatchBytes {
		return fmt.Errorf("storage: disk commit: batch encodes to %d bytes, over the %d byte limit; large values belong in blobs", len(req.enc), maxBatchBytes)
	}
	// The index keeps put values after Commit returns, and the caller may
	// reuse its buffers: copy them here, off the writer's critical path.
	req.b.Puts = make([]Record, len(b.Puts))
	for i, p := range b.Puts {
		req.b.Puts[i] = Record{RecordKey: p.RecordKey, Value: bytes.Clone(p.Value)}
	}
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
	d.queue = append(d.queue, req)
	d.mu.Unlock()
	d.kick()
	// Not abandoned on ctx: the batch may already be on its way to disk.
	return <-req.done
}

// kick wakes the writer; a token already waiting is as good as a new one.
func (d *Disk) kick() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// writeLoop is the only goroutine that appends to the log. Each turn takes
// every queued commit and pending small blob, writes them as one frame,
// fsyncs once, applies them to the index, then answers every caller. While
// it works, new commits queue up and form the next group: the busier the
// store, the more commits each fsync carries.
func (d *Disk) writeLoop() {
	defer close(d.writerDone)
	var buf []byte
	var spare []*commitReq
	for {
		select {
		case <-d.wake:
		case <-d.quit:
			// Commits queued before Close still get their answer.
			for d.writeTurn(&buf, &spare) {
			}
			return
		}
		for d.writeTurn(&buf, &spare) {
		}
	}
}

// writeTurn runs one group; it reports false when there was nothing to do.
func (d *Disk) writeTurn(buf *[]byte, spare *[]*commitReq) bool {
	d.mu.Lock()
	reqs, blobs, stuck := d.queue, d.pending, d.err
	d.queue, d.pending, d.pendBytes = (*spare)[:0], nil, 0
	// Bound one group so a burst cannot build a frame past the limit; the
	// rest stays queued for the next turn, in order.
	size := 0
	for i, r := range reqs {
		if size += len(r.enc); size > maxGroupBytes && i > 0 {
			d.queue = append(d.queue, reqs[i:]...)
			reqs = reqs[:i]
			break
		}
	}
	d.mu.Unlock()
	if len(reqs) == 0 && len(blobs) == 0 {
		*spare = reqs
		return false
	}
	if stuck == nil {
		stuck = d.writeGroup(buf, reqs, blobs)
	}
	for i, r := range reqs {
		r.done <- stuck
		reqs[i] = nil
	}
	*spare = reqs
	if stuck == nil {
		d.maybeCheckpoint()
	}
	return true
}

// writeGroup appends one frame holding blobs then batches to the active
// segment, fsyncs it and applies the result. A failed write or fsync is
// sticky: after it nobody can say what the file holds, so the store stops
// accepting commits and the next open recovers from what is really on disk.
func (d *Disk) writeGroup(bufp *[]byte, reqs []*commitReq, blobs []pendingBlob) error {
	seg := d.active
	buf, start := beginFrame((*bufp)[:0])
	blobOffs := make([]int64, len(blobs))
	for i, pb := range blobs {
		var pos int
		buf, pos = appendBlob(buf, pb.id, pb.data)
		blobOffs[i] = seg.size + int64(pos)
	}
	for _, r := range reqs {
		buf = append(buf, r.enc...)
	}
	*bufp = buf
	var err error
	if len(buf)-frameHeaderSize > maxFramePayload {
		// Unreachable given maxBatchBytes and maxGroupBytes; if it happens,
		// pending blobs were drained into this group and would be lost, so
		// stop like for an I/O error rather than go on.
		err = fmt.Errorf("group of %d bytes exceeds the frame limit", len(buf))
	} else {
		finishFrame(buf, start)
		_, err = seg.f.WriteAt(buf, seg.size)
		if err == nil {
			err = syncData(seg.f)
		}
	}
	if err != nil {
		err = fmt.Errorf("storage: disk log %s: write at offset %d: %w", seg.path, seg.size, err)
		d.mu.Lock()
		d.err = err
		d.mu.Unlock()
		return err
	}
	d.groups.Add(1)

	d.mu.Lock()
	for i, pb := range blobs {
		d.placeLoggedBlob(pb, seg, blobOffs[i])
	}
	var unlink []string
	for _, r := range reqs {
		unlink = d.applyBatch(r.b.Puts, r.b.Deletes, freeIDs(r.b.Free), unlink)
	}
	seg.size += int64(len(buf))
	d.logBytes += int64(len(buf))
	d.mu.Unlock()
	d.unlinkBlobs(unlink)
	return nil
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
// outside the lock. Called with d.mu held, by the writer and by replay.
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

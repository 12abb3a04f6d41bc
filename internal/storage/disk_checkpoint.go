package storage

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
)

// snapFrameBytes is the payload size at which a snapshot starts a new frame;
// it bounds the checkpoint's buffer, not the snapshot.
const snapFrameBytes = 1 << 20

// errCheckpointAborted stops a checkpoint when the store closes.
var errCheckpointAborted = errors.New("checkpoint aborted by Close")

// snapBlob is a small blob a checkpoint copies: its id and current place.
type snapBlob struct {
	id  string
	loc blobLoc
}

// maybeCheckpoint starts a checkpoint when the log has grown past the
// trigger. It runs on a committer's goroutine with wmu held, after its
// frame was written: it waits until every frame so far is durable and in
// the index, which gives a clean cut: every commit so far is in the
// segments being compacted, every later one goes to the segment created
// here. A segment is thus complete and fsynced before the next one exists.
func (d *Disk) maybeCheckpoint() {
	d.mu.Lock()
	due := !d.ckptBusy && d.logBytes+(d.writeOff-d.active.size) >= d.ckptAt && d.err == nil
	d.mu.Unlock()
	if !due {
		return
	}
	d.drain()
	d.mu.Lock()
	failed := d.err != nil
	d.mu.Unlock()
	if failed {
		return
	}
	id, err := d.nextSegment()
	if err != nil {
		d.mu.Lock()
		d.ckptErr = fmt.Errorf("checkpoint: starting log segment: %w", err)
		d.ckptAt = d.logBytes + max(d.opts.CheckpointBytes, d.snapBytes)
		d.mu.Unlock()
		return
	}
	d.mu.Lock()
	// Values are immutable once in the index, so a shallow copy is a
	// consistent image of the state at the cut.
	records := maps.Clone(d.records)
	var blobs []snapBlob
	for bid, loc := range d.blobs {
		if loc.seg != nil {
			blobs = append(blobs, snapBlob{id: bid, loc: loc})
		}
	}
	d.ckptBusy = true
	d.ckptWG.Add(1)
	d.mu.Unlock()
	go d.checkpoint(id, records, blobs)
}

// checkpoint writes snap-<id> holding records and blobs, the state after
// every segment below id, then switches to it: fsync the file, rename it
// into place, fsync the directory, and only then drop the files it replaces.
// Old segments stay open for readers that hold them; the unlink does not
// disturb those readers.
func (d *Disk) checkpoint(id uint64, records map[RecordKey][]byte, blobs []snapBlob) {
	defer d.ckptWG.Done()
	final := filepath.Join(d.dir, snapName(id))
	tmp := final + ".tmp"
	seg, offs, err := d.writeSnapshot(tmp, final, id, records, blobs)
	if err == nil {
		err = os.Rename(tmp, final)
		if err == nil {
			err = syncDir(d.dir)
		}
	}
	if err != nil {
		if seg != nil {
			seg.release()
		}
		os.Remove(tmp)
		d.mu.Lock()
		d.ckptBusy = false
		if !errors.Is(err, errCheckpointAborted) {
			d.ckptErr = fmt.Errorf("checkpoint %s: %w", final, err)
		}
		d.ckptAt = d.logBytes + max(d.opts.CheckpointBytes, d.snapBytes)
		d.mu.Unlock()
		return
	}

	d.mu.Lock()
	for i, b := range blobs {
		// Repoint blobs still where we copied them from; ones freed or
		// dropped since stay gone, and their copy is dead space until the
		// next checkpoint.
		if cur, ok := d.blobs[b.id]; ok && cur.seg == b.loc.seg && cur.off == b.loc.off {
			d.blobs[b.id] = blobLoc{seg: seg, off: offs[i], size: b.loc.size}
		}
	}
	var drop []*segFile
	if d.snap != nil {
		drop = append(drop, d.snap)
	}
	keep := d.wals[:0]
	for _, w := range d.wals {
		if w.id < id {
			drop = append(drop, w)
			d.logBytes -= w.size
		} else {
			keep = append(keep, w)
		}
	}
	d.wals = keep
	d.snap = seg
	d.snapBytes = seg.size
	d.ckptAt = max(d.opts.CheckpointBytes, d.snapBytes)
	d.ckptBusy = false
	d.ckptErr = nil
	d.mu.Unlock()
	d.checkpoints.Add(1)

	// The new snapshot is durable, so the old files are garbage whether or
	// not these unlinks survive a crash: recovery ignores and removes them.
	for _, s := range drop {
		os.Remove(s.path)
		s.release()
	}
}

// writeSnapshot writes and fsyncs the snapshot file and returns it open,
// with the new offset of each blob.
func (d *Disk) writeSnapshot(tmp, final string, id uint64, records map[RecordKey][]byte, blobs []snapBlob) (*segFile, []int64, error) {
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, nil, err
	}
	seg := newSegFile(id, final, f, 0)
	offs := make([]int64, len(blobs))
	buf, start := beginFrame(make([]byte, 0, snapFrameBytes+frameHeaderSize))
	flush := func(force bool) error {
		if !force && len(buf)-start < snapFrameBytes {
			return nil
		}
		select {
		case <-d.quit:
			return errCheckpointAborted
		default:
		}
		finishFrame(buf, start)
		if _, err := f.WriteAt(buf, seg.size); err != nil {
			return err
		}
		seg.size += int64(len(buf))
		buf, start = beginFrame(buf[:0])
		return nil
	}
	fail := func(err error) (*segFile, []int64, error) { return seg, nil, err }
	for k, v := range records {
		buf = appendRecord(buf, k, v)
		if err := flush(false); err != nil {
			return fail(err)
		}
	}
	var data []byte
	for i, b := range blobs {
		if cap(data) < int(b.loc.size) {
			data = make([]byte, b.loc.size)
		}
		data = data[:b.loc.size]
		if _, err := b.loc.seg.f.ReadAt(data, b.loc.off); err != nil {
			return fail(fmt.Errorf("reading blob %s from %s: %w", b.id, b.loc.seg.path, err))
		}
		rawID, _ := parseBlobID(b.id)
		var pos int
		buf, pos = appendBlob(buf, rawID, data)
		offs[i] = seg.size + int64(pos)
		if err := flush(false); err != nil {
			return fail(err)
		}
	}
	buf = appendEnd(buf, len(records), len(blobs))
	if err := flush(true); err != nil {
		return fail(err)
	}
	if err := syncData(f); err != nil {
		return fail(fmt.Errorf("fsync: %w", err))
	}
	return seg, offs, nil
}

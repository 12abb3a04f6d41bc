package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

const (
	// DefaultSegmentBytes is the size to which a log segment is
	// preallocated. On ext4 an fdatasync after an append must commit the
	// journal (the file's size and block map changed, ~180-210 µs here),
	// while one after overwriting blocks that were already allocated and
	// written is a pure data flush (~110-140 µs): the log therefore writes
	// frames over zeros laid down ahead of it. Bigger segments mean fewer
	// rotations (each drains the log once) but a longer zero-fill, whose
	// writeback competes with commits' fsyncs (~7 ms for 8 MiB here).
	DefaultSegmentBytes = 8 << 20
	// minSegmentBytes keeps tiny checkpoint triggers (tests) from making
	// segments too small to hold a frame or two.
	minSegmentBytes = 64 << 10
	// plainPrepBytes is how much the store must log to a segment that was
	// not preallocated (the one started at open) before the first
	// preparation: a store that commits a handful of records and closes
	// should not write megabytes of zeros. From then on the next segment is
	// always being prepared or ready.
	plainPrepBytes = 256 << 10
	// zeroChunk is the write size of the zero-fill.
	zeroChunk = 1 << 20
)

// errPrepAborted stops a segment preparation when the store closes.
var errPrepAborted = errors.New("segment preparation aborted by Close")

// prepSeg is the next log segment, being prepared by its own goroutine:
// created, zero-filled to its full size, fsynced, and its directory entry
// fsynced. done is closed when seg (or err) is set.
type prepSeg struct {
	done chan struct{}
	seg  *segFile
	err  error
}

func (p *prepSeg) ready() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// segmentBytes is the preallocated size of a segment, or 0 for none. A
// checkpoint switches segments, so a segment much larger than the trigger
// would be mostly zeros that are never written over.
func (o DiskOptions) segmentBytes() int64 {
	if o.SegmentBytes < 0 {
		return 0
	}
	n := o.SegmentBytes
	if n == 0 {
		n = DefaultSegmentBytes
	}
	n = min(n, max(o.CheckpointBytes, minSegmentBytes))
	return (n + 4095) &^ 4095
}

// maybePrepare starts preparing the next segment as soon as none is being
// prepared, so it is ready long before the active one fills or a
// checkpoint asks for it; but not before the store has logged
// plainPrepBytes. Called with wmu held, after a frame was written.
func (d *Disk) maybePrepare() {
	if d.prep != nil || d.prepOff || d.segBytes == 0 {
		return
	}
	if !d.prepWarm {
		if d.active.prealloc == 0 && d.writeOff < min(plainPrepBytes, d.segBytes/2) {
			return
		}
		d.prepWarm = true
	}
	id := d.nextID
	d.nextID++
	p := &prepSeg{done: make(chan struct{})}
	d.prep = p
	d.prepWG.Add(1)
	go func() {
		defer d.prepWG.Done()
		defer close(p.done)
		p.seg, p.err = d.prepareSegment(id)
	}()
}

// prepareSegment creates wal-<id>.log holding segBytes of written zeros
// and makes file and directory entry durable. The zeros are written, not
// fallocated: an unwritten extent is converted on first write, which is
// again a journal commit on the fdatasync that follows. A crash part way
// leaves a file of zeros, which recovery removes as blank.
func (d *Disk) prepareSegment(id uint64) (seg *segFile, err error) {
	path := filepath.Join(d.dir, walName(id))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	zeros := make([]byte, min(zeroChunk, d.segBytes))
	for off := int64(0); off < d.segBytes; off += int64(len(zeros)) {
		select {
		case <-d.quit:
			return nil, errPrepAborted
		default:
		}
		if _, err := f.WriteAt(zeros[:min(int64(len(zeros)), d.segBytes-off)], off); err != nil {
			return nil, fmt.Errorf("preparing log %s: %w", path, err)
		}
	}
	if err := syncData(f); err != nil {
		return nil, fmt.Errorf("preparing log %s: fsync: %w", path, err)
	}
	if err := syncDir(d.dir); err != nil {
		return nil, fmt.Errorf("preparing log %s: %w", path, err)
	}
	seg = newSegFile(id, path, f, 0)
	seg.prealloc = d.segBytes
	return seg, nil
}

// nextSegment switches the log to a new segment and returns its id: the
// prepared one (waiting for its preparation if need be), or else a plain
// segment created here. Called at open and, with wmu held and the log
// drained, by a checkpoint or when the active segment is full, so every
// segment is durable in full before a frame is written to the next.
func (d *Disk) nextSegment() (uint64, error) {
	if p := d.prep; p != nil {
		d.prep = nil
		<-p.done
		if p.err == nil {
			d.install(p.seg)
			return p.seg.id, nil
		}
		// Its file is gone; fall back to a plain segment, and retry the
		// preparation only once this one is replaced.
		d.prepOff = true
	} else {
		d.prepOff = false
	}
	seg, err := d.createSegment()
	if err != nil {
		return 0, err
	}
	d.install(seg)
	return seg.id, nil
}

// createSegment creates an empty segment (appended to, not overwritten)
// and makes its directory entry durable before any commit is written to it.
func (d *Disk) createSegment() (*segFile, error) {
	id := d.nextID
	path := filepath.Join(d.dir, walName(id))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syncDir(d.dir); err != nil {
		f.Close()
		return nil, err
	}
	d.nextID++
	return newSegFile(id, path, f, 0), nil
}

// install makes seg the active segment. Called with wmu held and the log
// drained.
func (d *Disk) install(seg *segFile) {
	d.mu.Lock()
	d.wals = append(d.wals, seg)
	d.mu.Unlock()
	d.active, d.writeOff = seg, 0
	d.smu.Lock()
	d.syncSeg, d.written, d.awaited, d.claimed, d.durable = seg, 0, 0, 0, 0
	d.durableOff.Store(0)
	d.smu.Unlock()
}

// rotateDue says whether a frame of n bytes should go to a new segment
// rather than at writeOff: it would run past the active segment's zeros
// (an append again), or the active segment is a plain one and a prepared
// segment is ready to replace it. Called with wmu held.
func (d *Disk) rotateDue(n int) bool {
	if a := d.active; a.prealloc > 0 {
		return d.writeOff > 0 && d.writeOff+int64(n) > a.prealloc
	}
	return d.prep != nil && d.prep.ready() && d.prep.err == nil
}

// rotate drains the log and switches to the next segment. Called with wmu
// held by a committer whose frame did not fit.
func (d *Disk) rotate() error {
	d.drain()
	d.mu.Lock()
	err := d.err
	d.mu.Unlock()
	if err != nil {
		return err
	}
	if _, err := d.nextSegment(); err != nil {
		err = fmt.Errorf("storage: disk log %s: starting next segment: %w", d.dir, err)
		d.mu.Lock()
		d.err = err
		d.mu.Unlock()
		return err
	}
	return nil
}

// closeSegments runs at Close once the log is drained: it drops a prepared
// segment nobody wrote to and cuts the active segment's unused zeros, so a
// closed store holds only its frames. Failures are left for recovery,
// which removes blank segments and ignores zero tails.
func (d *Disk) closeSegments() {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	d.prepWG.Wait()
	if p := d.prep; p != nil && p.err == nil {
		p.seg.release()
		os.Remove(p.seg.path)
	}
	d.prep = nil
	d.mu.Lock()
	failed := d.err != nil
	d.mu.Unlock()
	if a := d.active; a != nil && a.prealloc > 0 && !failed {
		if a.f.Truncate(d.writeOff) == nil {
			_ = syncData(a.f)
		}
	}
}

package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// OpenDisk opens (creating if needed) the disk store in dir: it takes the
// directory lock, loads the newest snapshot, replays the log segments after
// it, cuts a torn tail off the last one, and starts a fresh segment.
func OpenDisk(ctx context.Context, dir string, opts DiskOptions) (*Disk, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage: open disk store %s: %w", dir, err)
	}
	if opts.CheckpointBytes <= 0 {
		opts.CheckpointBytes = DefaultCheckpointBytes
	}
	if opts.SmallBlobBytes <= 0 {
		opts.SmallBlobBytes = DefaultSmallBlobBytes
	}
	if err := mkdirDurable(dir); err != nil {
		return nil, fmt.Errorf("storage: open disk store %s: %w", dir, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	d := &Disk{
		dir:      dir,
		opts:     opts,
		segBytes: opts.segmentBytes(),
		lock:     lock,
		quit:     make(chan struct{}),
		records:  make(map[RecordKey][]byte),
		blobs:    make(map[string]blobLoc),
	}
	d.work.L, d.progress.L = &d.smu, &d.smu
	if err := d.recover(ctx); err != nil {
		d.releaseFiles()
		unlockDir(lock)
		return nil, fmt.Errorf("storage: open disk store %s: %w", dir, err)
	}
	d.syncWG.Add(syncers)
	for range syncers {
		go d.syncLoop()
	}
	return d, nil
}

// mkdirDurable creates dir if missing and makes the new entry durable in its
// parent: a store whose directory can vanish in a crash is not durable.
func mkdirDurable(dir string) error {
	for _, p := range []string{dir, filepath.Join(dir, "blobs")} {
		if _, err := os.Stat(p); err == nil {
			continue
		}
		if err := os.MkdirAll(p, 0o700); err != nil {
			return err
		}
		if err := syncDir(filepath.Dir(p)); err != nil {
			return err
		}
	}
	return nil
}

// dirListing is what recovery finds in the data directory.
type dirListing struct {
	wals, snaps []uint64
}

func parseSeq(name, prefix, suffix string) (uint64, bool) {
	if !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, suffix) {
		return 0, false
	}
	hex := name[len(prefix) : len(name)-len(suffix)]
	if len(hex) != 16 {
		return 0, false
	}
	n, err := strconv.ParseUint(hex, 16, 64)
	return n, err == nil
}

func (d *Disk) list() (dirListing, error) {
	var l dirListing
	ents, err := os.ReadDir(d.dir)
	if err != nil {
		return l, err
	}
	for _, e := range ents {
		name := e.Name()
		if id, ok := parseSeq(name, "wal-", ".log"); ok {
			l.wals = append(l.wals, id)
		} else if id, ok := parseSeq(name, "snap-", ".snap"); ok {
			l.snaps = append(l.snaps, id)
		} else if strings.HasSuffix(name, ".snap.tmp") {
			// A checkpoint that never reached its rename: never part of state.
			if err := os.Remove(filepath.Join(d.dir, name)); err != nil {
				return l, err
			}
		}
	}
	slices.Sort(l.wals)
	slices.Sort(l.snaps)
	return l, nil
}

// recover rebuilds the index from disk. Snapshot N holds the state after
// every segment below N, so the newest snapshot plus the segments from N on
// are the whole state; older files are leftovers of a checkpoint whose
// cleanup was cut short.
func (d *Disk) recover(ctx context.Context) error {
	l, err := d.list()
	if err != nil {
		return err
	}
	if err := d.indexBlobFiles(); err != nil {
		return err
	}
	base := uint64(0)
	var stale []string
	if n := len(l.snaps); n > 0 {
		base = l.snaps[n-1]
		if err := d.loadSnapshot(base); err != nil {
			return err
		}
		for _, id := range l.snaps[:n-1] {
			stale = append(stale, snapName(id))
		}
	}
	d.nextID = base + 1
	var replay []uint64
	for _, id := range l.wals {
		if id < base {
			stale = append(stale, walName(id))
		} else {
			replay = append(replay, id)
		}
		d.nextID = max(d.nextID, id+1)
	}
	// Segments are prepared (created and zero-filled) ahead of need, so a
	// crash can leave blank ones after the last segment written to: they
	// hold no frame and go, and the torn-tail allowance belongs to the last
	// segment that holds anything.
	for len(replay) > 0 {
		id := replay[len(replay)-1]
		blank, err := d.blankSegment(id)
		if err != nil {
			return err
		}
		if !blank {
			break
		}
		replay = replay[:len(replay)-1]
		stale = append(stale, walName(id))
	}
	for i, id := range replay {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := d.replaySegment(id, i == len(replay)-1); err != nil {
			return err
		}
	}
	for _, name := range stale {
		if err := os.Remove(filepath.Join(d.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	d.ckptAt = max(d.opts.CheckpointBytes, d.snapBytes)
	_, err = d.nextSegment()
	return err
}

// indexBlobFiles puts every blob file in the index; replayed frees drop the
// ones whose unlink a crash cut short, and Retain drops orphans.
func (d *Disk) indexBlobFiles() error {
	ents, err := os.ReadDir(filepath.Join(d.dir, "blobs"))
	if err != nil {
		return err
	}
	for _, e := range ents {
		if _, ok := parseBlobID(e.Name()); !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		d.blobs[e.Name()] = blobLoc{file: true, size: info.Size()}
	}
	return nil
}

func (d *Disk) loadSnapshot(id uint64) error {
	path := filepath.Join(d.dir, snapName(id))
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	seg := newSegFile(id, path, f, info.Size())
	d.snap = seg
	d.snapBytes = seg.size
	var records, blobs uint64
	ended := false
	v := &entryVisitor{
		record: func(r Record) error {
			d.records[r.RecordKey] = r.Value
			records++
			return nil
		},
		end: func(nrec, nblob uint64) error {
			if nrec != records || nblob != blobs {
				return fmt.Errorf("snapshot says %d records and %d blobs, found %d and %d", nrec, nblob, records, blobs)
			}
			ended = true
			return nil
		},
	}
	_, err = scanFrames(f, seg.size, false, func(off int64, payload []byte) error {
		if ended {
			return fmt.Errorf("frame at offset %d follows the end entry", off)
		}
		v.blob = func(bid [blobIDBytes]byte, pos, size int) error {
			d.blobs[hexID(bid)] = blobLoc{seg: seg, off: off + frameHeaderSize + int64(pos), size: int64(size)}
			blobs++
			return nil
		}
		if err := decodePayload(payload, v); err != nil {
			return fmt.Errorf("frame at offset %d: %w", off, err)
		}
		return nil
	})
	if err == nil && !ended {
		err = errors.New("no end entry: snapshot is incomplete")
	}
	if err != nil {
		// A snapshot is renamed into place only after its fsync, so any
		// damage here is damage to durable data.
		return fmt.Errorf("snapshot %s: %w", path, err)
	}
	return nil
}

// blankSegment reports whether a log segment holds nothing but zeros: one
// prepared and never written to, or cut short by a crash while it was being
// prepared.
func (d *Disk) blankSegment(id uint64) (bool, error) {
	f, err := os.Open(filepath.Join(d.dir, walName(id)))
	if err != nil {
		return false, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return false, err
	}
	return zeroFrom(f, 0, info.Size())
}

// replaySegment applies one log segment. Only the last segment may end in a
// torn write: every earlier one was fsynced in full before the next was
// written to. Zeros after the last frame are the unused rest of a
// preallocated segment, not damage. The last segment's tail, torn or zero,
// is cut off and the cut fsynced, so a later segment never follows garbage.
func (d *Disk) replaySegment(id uint64, last bool) error {
	path := filepath.Join(d.dir, walName(id))
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	seg := newSegFile(id, path, f, info.Size())
	d.wals = append(d.wals, seg)
	var unlink []string
	good, err := scanFrames(f, seg.size, true, func(off int64, payload []byte) error {
		err := decodePayload(payload, &entryVisitor{
			blob: func(bid [blobIDBytes]byte, pos, size int) error {
				d.blobs[hexID(bid)] = blobLoc{seg: seg, off: off + frameHeaderSize + int64(pos), size: int64(size)}
				return nil
			},
			batch: func(puts []Record, dels []RecordKey, frees []string) error {
				unlink = d.applyBatch(puts, dels, frees, unlink)
				return nil
			},
		})
		if err != nil {
			return fmt.Errorf("frame at offset %d: %w", off, err)
		}
		return nil
	})
	var fe *frameError
	if last && good < seg.size && (err == nil || errors.As(err, &fe) && fe.Torn) {
		if err := f.Truncate(good); err != nil {
			return fmt.Errorf("log %s: cutting torn tail at offset %d: %w", path, good, err)
		}
		if err := syncData(f); err != nil {
			return fmt.Errorf("log %s: fsync after cutting torn tail: %w", path, err)
		}
		err = nil
	}
	if err != nil {
		return fmt.Errorf("log %s: %w", path, err)
	}
	// The log ends at the last frame, whatever zeros follow it.
	seg.size = good
	d.logBytes += seg.size
	d.unlinkBlobs(unlink)
	return nil
}

// releaseFiles drops the store's references after a failed open.
func (d *Disk) releaseFiles() {
	if d.snap != nil {
		d.snap.release()
	}
	for _, s := range d.wals {
		s.release()
	}
}

// syncDir fsyncs a directory so the entries created, renamed or removed in
// it survive a crash.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

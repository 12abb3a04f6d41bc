package storage

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

const (
	// DefaultCheckpointBytes is the log size past the last snapshot that
	// triggers a checkpoint. At ~1.5 KiB of log per lease cycle that is one
	// checkpoint every ~40k cycles, and replay at start stays well under a
	// second.
	DefaultCheckpointBytes = 64 << 20
	// DefaultSmallBlobBytes is the largest blob that travels inside the log.
	// Appending 64 KiB to a write that is fsynced anyway costs tens of
	// microseconds; a file of its own costs a create, an fsync of the file
	// and one of the directory (three metadata round trips, each ~110 µs
	// here). Above it, the copy into each snapshot costs more than the file.
	DefaultSmallBlobBytes = 64 << 10
	// pendingFlushBytes bounds small blob bytes held in memory while no
	// Commit comes to carry them: past it the writer logs them on its own.
	pendingFlushBytes = 4 << 20
	// copyBufferBytes is the buffer that streams a large blob to its file;
	// it is the only per-blob memory, whatever the blob's size.
	copyBufferBytes = 256 << 10
)

// DiskOptions tunes the disk store; the zero value is the production setting.
type DiskOptions struct {
	// CheckpointBytes is the log size that triggers a checkpoint; zero means
	// DefaultCheckpointBytes. The effective trigger is never below the size
	// of the last snapshot, so checkpoint cost stays amortized when the live
	// data is large.
	CheckpointBytes int64
	// SmallBlobBytes is the largest blob kept inside the log; zero means
	// DefaultSmallBlobBytes.
	SmallBlobBytes int
	// SegmentBytes is the size to which log segments are preallocated with
	// zeros; zero means DefaultSegmentBytes, negative means segments are
	// appended to instead. It is capped near CheckpointBytes.
	SegmentBytes int64
}

// Disk is the durable Store (disk:///path). The package documentation
// describes its layout and durability argument.
type Disk struct {
	dir  string
	opts DiskOptions
	lock *os.File

	quit   chan struct{} // closed by Close
	ckptWG sync.WaitGroup

	// wmu serializes appends to the log: the committing goroutine encodes
	// and writes its own frame while holding it. Lock order: wmu, smu, mu.
	wmu      sync.Mutex
	active   *segFile // segment being written to; replaced only when drained
	writeOff int64    // end of the last frame written to active
	wbuf     []byte   // frame buffer, reused
	segBytes int64    // preallocated size of a segment, 0 for none
	prep     *prepSeg // next segment, being prepared or ready; nil if none
	prepOff  bool     // a preparation failed: no retry until the next segment
	prepWarm bool     // logged enough since open to keep a segment prepared
	prepWG   sync.WaitGroup

	// smu guards the syncers' view of the active segment: what was written,
	// what the fsyncs in flight cover, what is durable, and the frames
	// waiting for an fsync, in log order.
	smu        sync.Mutex
	work       sync.Cond // a syncer waits here for bytes to sync
	progress   sync.Cond // drain waits here for the syncers to catch up
	syncSeg    *segFile
	written    int64
	awaited    int64 // end of the last frame a Commit waits on
	claimed    int64
	durable    int64
	durableOff atomic.Int64 // durable, readable without smu
	syncing    int
	idle       int
	drainers   int
	stopping   bool
	syncErr    error
	unsynced   []*logged
	syncWG     sync.WaitGroup

	mu        sync.Mutex
	closed    bool
	err       error // sticky: a failed log write makes every later Commit fail
	records   map[RecordKey][]byte
	blobs     map[string]blobLoc
	pending   []pendingBlob // small blobs not in the log yet
	pendBytes int64
	snap      *segFile   // current snapshot, nil before the first checkpoint
	wals      []*segFile // log segments after snap, ascending; last is active
	logBytes  int64      // bytes in wals
	snapBytes int64
	ckptAt    int64 // logBytes that triggers the next checkpoint
	ckptBusy  bool
	ckptErr   error // last checkpoint failure, reported by Close
	nextID    uint64

	// counters for tests and benchmarks
	groups      atomic.Int64
	checkpoints atomic.Int64
}

var _ Store = (*Disk)(nil)

// blobLoc says where a blob's bytes are: in memory waiting for the log, at
// an offset of a log segment or snapshot, or in a file of its own.
type blobLoc struct {
	seg  *segFile // in a log segment or snapshot when set
	off  int64
	size int64
	data []byte // pending: not yet in the log
	file bool   // large: blobs/<id>
}

type pendingBlob struct {
	id   [blobIDBytes]byte
	data []byte
}

// segFile is an open log segment or snapshot. Readers of small blobs hold a
// reference, so a checkpoint can unlink the file while they read: the
// descriptor closes when the last reference goes.
type segFile struct {
	id   uint64
	path string
	f    *os.File
	size int64 // guarded by Disk.mu once the store is open
	// prealloc is how far the file was zero-filled before its first frame
	// (0 for a segment that is appended to); frames are written over it.
	prealloc int64
	refs     atomic.Int32
}

func newSegFile(id uint64, path string, f *os.File, size int64) *segFile {
	s := &segFile{id: id, path: path, f: f, size: size}
	s.refs.Store(1) // the store's own reference
	return s
}

func (s *segFile) acquire() { s.refs.Add(1) }

func (s *segFile) release() {
	if s.refs.Add(-1) == 0 {
		s.f.Close()
	}
}

func walName(id uint64) string  { return fmt.Sprintf("wal-%016x.log", id) }
func snapName(id uint64) string { return fmt.Sprintf("snap-%016x.snap", id) }

func (d *Disk) blobPath(id string) string { return filepath.Join(d.dir, "blobs", id) }

// parseBlobID accepts only ids this store mints, so a ref can never name a
// path outside blobs/.
func parseBlobID(s string) ([blobIDBytes]byte, bool) {
	var id [blobIDBytes]byte
	if len(s) != 2*blobIDBytes {
		return id, false
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil || hex.EncodeToString(id[:]) != s {
		return id, false
	}
	return id, true
}

// Load calls fn for every record recovered at open. Values are copies, so
// the caller may keep or modify them.
func (d *Disk) Load(ctx context.Context, fn func(Record) error) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	recs := make([]Record, 0, len(d.records))
	for k, v := range d.records {
		recs = append(recs, Record{RecordKey: k, Value: bytes.Clone(v)})
	}
	d.mu.Unlock()
	for i, r := range recs {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("storage: disk load %s: %w", d.dir, err)
			}
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// WriteBlob keeps a small blob in memory until the next log write carries
// it, and streams a large one into blobs/<id>, fsyncing the file and the
// directory before returning.
func (d *Disk) WriteBlob(ctx context.Context, r io.Reader) (BlobRef, error) {
	if err := ctx.Err(); err != nil {
		return BlobRef{}, fmt.Errorf("storage: disk write blob: %w", err)
	}
	idStr, err := newBlobID()
	if err != nil {
		return BlobRef{}, err
	}
	id, _ := parseBlobID(idStr)
	var head bytes.Buffer
	if _, err := head.ReadFrom(io.LimitReader(r, int64(d.opts.SmallBlobBytes)+1)); err != nil {
		return BlobRef{}, fmt.Errorf("storage: disk write blob: reading body: %w", err)
	}
	if head.Len() > d.opts.SmallBlobBytes {
		return d.writeLargeBlob(ctx, idStr, head.Bytes(), r)
	}
	data := head.Bytes()
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return BlobRef{}, ErrClosed
	}
	d.blobs[idStr] = blobLoc{data: data, size: int64(len(data))}
	d.pending = append(d.pending, pendingBlob{id: id, data: data})
	d.pendBytes += int64(len(data))
	flush := d.pendBytes >= pendingFlushBytes
	d.mu.Unlock()
	if flush {
		// No commit came to carry them: log them on their own. A failure
		// is sticky and reported by the next Commit.
		_ = d.append(nil, nil)
	}
	return BlobRef{ID: idStr, Size: int64(len(data))}, nil
}

func (d *Disk) writeLargeBlob(ctx context.Context, id string, head []byte, rest io.Reader) (ref BlobRef, err error) {
	path := d.blobPath(id)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return BlobRef{}, fmt.Errorf("storage: disk write blob: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	n, err := f.Write(head)
	if err != nil {
		return BlobRef{}, fmt.Errorf("storage: disk write blob %s: %w", path, err)
	}
	// writerOnly hides (*os.File).ReadFrom so the copy uses our bounded buffer.
	m, err := io.CopyBuffer(writerOnly{f}, ctxReader{ctx, rest}, make([]byte, copyBufferBytes))
	if err != nil {
		return BlobRef{}, fmt.Errorf("storage: disk write blob %s: %w", path, err)
	}
	if err := syncData(f); err != nil {
		return BlobRef{}, fmt.Errorf("storage: disk write blob %s: fsync: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return BlobRef{}, fmt.Errorf("storage: disk write blob %s: close: %w", path, err)
	}
	// The directory entry must be durable too, or a crash after the next
	// Commit could leave a record pointing at a file that vanished.
	if err := syncDir(filepath.Dir(path)); err != nil {
		return BlobRef{}, fmt.Errorf("storage: disk write blob: %w", err)
	}
	size := int64(n) + m
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return BlobRef{}, ErrClosed
	}
	d.blobs[id] = blobLoc{file: true, size: size}
	return BlobRef{ID: id, Size: size}, nil
}

type writerOnly struct{ w io.Writer }

func (w writerOnly) Write(p []byte) (int, error) { return w.w.Write(p) }

// ctxReader stops a long stream when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// OpenBlob returns a reader over the blob. A reader opened before the blob
// is freed or compacted away keeps reading the bytes it was opened on.
func (d *Disk) OpenBlob(ctx context.Context, ref BlobRef) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage: disk open blob %q: %w", ref.ID, err)
	}
	if _, ok := parseBlobID(ref.ID); !ok {
		return nil, fmt.Errorf("storage: disk open blob %q: %w", ref.ID, ErrBlobNotFound)
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, ErrClosed
	}
	loc, ok := d.blobs[ref.ID]
	if ok && loc.seg != nil {
		loc.seg.acquire()
	}
	d.mu.Unlock()
	switch {
	case !ok:
		return nil, fmt.Errorf("storage: disk open blob %q: %w", ref.ID, ErrBlobNotFound)
	case loc.seg != nil:
		return &segReader{SectionReader: io.NewSectionReader(loc.seg.f, loc.off, loc.size), seg: loc.seg}, nil
	case !loc.file:
		return io.NopCloser(bytes.NewReader(loc.data)), nil
	}
	f, err := os.Open(d.blobPath(ref.ID))
	if errors.Is(err, fs.ErrNotExist) {
		// Freed between the index lookup and the open.
		return nil, fmt.Errorf("storage: disk open blob %q: %w", ref.ID, ErrBlobNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("storage: disk open blob %q: %w", ref.ID, err)
	}
	return f, nil
}

// segReader reads a small blob out of a log segment or snapshot.
type segReader struct {
	*io.SectionReader
	seg  *segFile
	once sync.Once
}

func (r *segReader) Close() error {
	r.once.Do(r.seg.release)
	return nil
}

// Retain drops every blob for which live returns false: files are unlinked
// at once, small blobs drop out of the index and their log space is
// reclaimed by the next checkpoint. Nothing is logged: after a crash the
// engine calls Retain again and the same blobs go.
func (d *Disk) Retain(ctx context.Context, live func(BlobRef) bool) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	refs := make([]BlobRef, 0, len(d.blobs))
	for id, loc := range d.blobs {
		refs = append(refs, BlobRef{ID: id, Size: loc.size})
	}
	d.mu.Unlock()
	var errs []error
	for i, ref := range refs {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("storage: disk retain %s: %w", d.dir, err)
			}
		}
		if live(ref) {
			continue
		}
		d.mu.Lock()
		loc, ok := d.blobs[ref.ID]
		delete(d.blobs, ref.ID)
		d.mu.Unlock()
		if ok && loc.file {
			if err := os.Remove(d.blobPath(ref.ID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("storage: disk retain %s: %w", d.dir, err)
	}
	return nil
}

// Close waits for queued commits and any checkpoint, then releases the files
// and the directory lock. Closing twice is a no-op.
func (d *Disk) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	close(d.quit)
	// Commits already writing still get their answer: wait for them, then
	// for the fsync that covers them.
	d.wmu.Lock()
	d.drain()
	d.wmu.Unlock()
	d.stopSyncers()
	d.ckptWG.Wait()
	d.closeSegments()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.snap != nil {
		d.snap.release()
	}
	for _, s := range d.wals {
		s.release()
	}
	d.records, d.blobs, d.pending, d.snap, d.wals = nil, nil, nil, nil, nil
	err := unlockDir(d.lock)
	if d.ckptErr != nil {
		err = errors.Join(err, d.ckptErr)
	}
	if err != nil {
		return fmt.Errorf("storage: close disk store %s: %w", d.dir, err)
	}
	return nil
}

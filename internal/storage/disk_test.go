package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func openDisk(t *testing.T, dir string, opts DiskOptions) *Disk {
	t.Helper()
	d, err := OpenDisk(context.Background(), dir, opts)
	if err != nil {
		t.Fatalf("OpenDisk: %v", err)
	}
	return d
}

// wals lists the log segments in dir, oldest first.
func wals(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "wal-*.log"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// seedStore commits n single-record batches and returns the expected records.
func seedStore(t *testing.T, dir string, n int) map[RecordKey]string {
	t.Helper()
	d := openDisk(t, dir, DiskOptions{})
	want := make(map[RecordKey]string)
	for i := range n {
		mustCommit(t, d, Batch{Puts: []Record{put("ns", fmt.Sprint("k", i), fmt.Sprint("v", i))}})
		want[rk("ns", fmt.Sprint("k", i))] = fmt.Sprint("v", i)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	return want
}

func appendFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

// frame builds a complete frame around payload.
func frame(payload []byte) []byte {
	buf, start := beginFrame(nil)
	buf = append(buf, payload...)
	finishFrame(buf, start)
	return buf
}

func TestDiskTornTailIsCut(t *testing.T) {
	good := frame(appendBatch(nil, &Batch{Puts: []Record{put("torn", "k", "never acknowledged")}}))
	badCRC := bytes.Clone(good)
	badCRC[len(badCRC)-1] ^= 0xff
	zeroHeader := append(make([]byte, frameHeaderSize), good[frameHeaderSize:]...)
	cases := []struct {
		name string
		tail []byte
	}{
		{"partial header", good[:7]},
		{"header without all of its payload", good[:len(good)-3]},
		{"last frame fails its checksum", badCRC},
		{"zeroed header, payload persisted", zeroHeader},
		{"zero-filled extension", make([]byte, 4096)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			want := seedStore(t, dir, 5)
			ws := wals(t, dir)
			last := ws[len(ws)-1]
			before, _ := os.Stat(last)
			appendFile(t, last, tc.tail)

			d := openDisk(t, dir, DiskOptions{})
			assertRecords(t, loadAll(t, d), want)
			if after, _ := os.Stat(last); after.Size() != before.Size() {
				t.Errorf("torn segment is %d bytes after recovery, want %d", after.Size(), before.Size())
			}
			d = writeAfterRecovery(t, d, dir, DiskOptions{}, want)
			defer d.Close()
		})
	}
}

func TestDiskCorruptionIsAHardError(t *testing.T) {
	cases := []struct {
		name    string
		damage  func(t *testing.T, dir string) (file string, off int64)
		wantMsg string
	}{
		{"payload flipped in the middle of the last segment", func(t *testing.T, dir string) (string, int64) {
			ws := wals(t, dir)
			flipByte(t, ws[len(ws)-1], frameHeaderSize+2)
			return ws[len(ws)-1], 0
		}, "payload checksum mismatch"},
		{"header flipped with valid frames after it", func(t *testing.T, dir string) (string, int64) {
			ws := wals(t, dir)
			flipByte(t, ws[len(ws)-1], 5)
			return ws[len(ws)-1], 0
		}, "followed by a valid frame"},
		{"torn-looking tail in an earlier segment", func(t *testing.T, dir string) (string, int64) {
			ws := wals(t, dir)
			info, _ := os.Stat(ws[0])
			appendFile(t, ws[0], []byte{1, 2, 3})
			return ws[0], info.Size()
		}, "torn tail"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			seedStore(t, dir, 5)
			seedStore(t, dir, 5) // a second open: two segments with frames
			file, off := tc.damage(t, dir)
			_, err := OpenDisk(context.Background(), dir, DiskOptions{})
			if err == nil {
				t.Fatal("OpenDisk succeeded on a damaged log")
			}
			msg := err.Error()
			for _, want := range []string{file, fmt.Sprintf("offset %d", off), tc.wantMsg} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q should contain %q", msg, want)
				}
			}
		})
	}
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x5a
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}

func TestDiskCheckpointCompactsAndKeepsReaders(t *testing.T) {
	dir := t.TempDir()
	opts := DiskOptions{CheckpointBytes: 32 << 10}
	d := openDisk(t, dir, opts)
	first := mustWriteBlob(t, d, pattern(-1, 3000))
	mustCommit(t, d, Batch{Puts: []Record{put("b", "first", first.ID)}})
	early, err := d.OpenBlob(context.Background(), first)
	if err != nil {
		t.Fatal(err)
	}
	want := map[RecordKey]string{rk("b", "first"): first.ID}
	var prev BlobRef
	for i := range 400 {
		ref := mustWriteBlob(t, d, pattern(i, 1000+i))
		b := Batch{Puts: []Record{put("b", "cur", ref.ID), put("n", fmt.Sprint(i%50), fmt.Sprint(i))}}
		if i > 0 {
			b.Free = []BlobRef{prev}
		}
		mustCommit(t, d, b)
		want[rk("b", "cur")] = ref.ID
		want[rk("n", fmt.Sprint(i%50))] = fmt.Sprint(i)
		prev = ref
	}
	d.ckptWG.Wait()
	if n := d.checkpoints.Load(); n < 3 {
		t.Fatalf("%d checkpoints after ~600 KiB of log with a 32 KiB trigger, want several", n)
	}
	// The reader opened before any checkpoint reads a segment now unlinked.
	if got, err := io.ReadAll(early); err != nil || !bytes.Equal(got, pattern(-1, 3000)) {
		t.Fatalf("early reader: %d bytes, err %v", len(got), err)
	}
	early.Close()
	if got, err := readBlob(d, first); err != nil || !bytes.Equal(got, pattern(-1, 3000)) {
		t.Fatalf("blob moved into the snapshot: %d bytes, err %v", len(got), err)
	}
	d.Close()
	if ws := wals(t, dir); len(ws) > 3 {
		t.Errorf("%d log segments left after checkpoints: %v", len(ws), ws)
	}
	snaps, _ := filepath.Glob(filepath.Join(dir, "snap-*"))
	if len(snaps) != 1 {
		t.Errorf("snapshots on disk: %v, want exactly one", snaps)
	}

	d = openDisk(t, dir, opts)
	defer d.Close()
	assertRecords(t, loadAll(t, d), want)
	if got, err := readBlob(d, prev); err != nil || !bytes.Equal(got, pattern(399, 1399)) {
		t.Fatalf("current blob after reopen: %d bytes, err %v", len(got), err)
	}
	var small int
	d.Retain(context.Background(), func(BlobRef) bool { small++; return true })
	if small != 2 {
		t.Errorf("%d blobs survive, want 2 (first and cur): frees were lost in compaction", small)
	}
}

func TestDiskBlobFiles(t *testing.T) {
	dir := t.TempDir()
	d := openDisk(t, dir, DiskOptions{})
	big := mustWriteBlob(t, d, pattern(1, 300<<10))
	orphan := mustWriteBlob(t, d, pattern(2, 300<<10))
	mustCommit(t, d, Batch{Puts: []Record{put("b", "big", big.ID)}})
	for _, ref := range []BlobRef{big, orphan} {
		if _, err := os.Stat(filepath.Join(dir, "blobs", ref.ID)); err != nil {
			t.Fatalf("large blob has no file: %v", err)
		}
	}
	d.Close()

	d = openDisk(t, dir, DiskOptions{})
	loadAll(t, d)
	if err := d.Retain(context.Background(), func(r BlobRef) bool { return r.ID == big.ID }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", orphan.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("orphan blob file survives Retain: %v", err)
	}
	mustCommit(t, d, Batch{Deletes: []RecordKey{rk("b", "big")}, Free: []BlobRef{big}})
	if _, err := os.Stat(filepath.Join(dir, "blobs", big.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("freed blob file survives the freeing commit: %v", err)
	}
	d.Close()
}

// TestDiskNamesStayInside checks that no namespace or key ever reaches the
// file system: the directory holds only the store's own names.
func TestDiskNamesStayInside(t *testing.T) {
	dir := t.TempDir()
	testOddNames(t, backends()[1], dir)
	allowed := regexp.MustCompile(`^(LOCK|blobs|wal-[0-9a-f]{16}\.log|snap-[0-9a-f]{16}\.snap)$`)
	err := filepath.WalkDir(filepath.Dir(dir), func(path string, e os.DirEntry, err error) error {
		if err != nil || path == filepath.Dir(dir) || path == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if strings.HasPrefix(rel, "..") {
			return fmt.Errorf("unexpected entry %s beside the data directory", path)
		}
		if filepath.Dir(rel) == "blobs" {
			if _, ok := parseBlobID(e.Name()); !ok {
				return fmt.Errorf("unexpected blob file %s", rel)
			}
			return nil
		}
		if !allowed.MatchString(rel) {
			return fmt.Errorf("unexpected entry %s", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDiskLockNamesHolder(t *testing.T) {
	dir := t.TempDir()
	d := openDisk(t, dir, DiskOptions{})
	defer d.Close()
	_, err := Open(context.Background(), "disk://"+dir)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprint("pid ", os.Getpid())) {
		t.Fatalf("second open = %v, want ErrLocked naming pid %d", err, os.Getpid())
	}
}

func TestFrameHeaderLayout(t *testing.T) {
	f := frame([]byte("abc"))
	if got := binary.LittleEndian.Uint32(f[4:]); got != 3 || len(f) != frameHeaderSize+3 {
		t.Fatalf("frame of 3 bytes: length field %d, frame %d bytes", got, len(f))
	}
	if string(f[:4]) != "LDK1" {
		t.Fatalf("magic bytes %q, want LDK1", f[:4])
	}
}

// TestDiskCheckpointLeftovers covers a crash between the steps of a
// checkpoint: a snapshot never renamed into place is ignored, and segments
// and snapshots below the newest snapshot are garbage, whatever they hold.
func TestDiskCheckpointLeftovers(t *testing.T) {
	dir := t.TempDir()
	opts := DiskOptions{CheckpointBytes: 4 << 10}
	d := openDisk(t, dir, opts)
	want := make(map[RecordKey]string)
	for i := range 200 {
		mustCommit(t, d, Batch{Puts: []Record{put("n", fmt.Sprint(i%20), fmt.Sprint(i))}})
		want[rk("n", fmt.Sprint(i%20))] = fmt.Sprint(i)
	}
	d.ckptWG.Wait()
	if d.checkpoints.Load() == 0 {
		t.Fatal("no checkpoint ran")
	}
	d.Close()
	leftovers := map[string][]byte{
		"snap-0000000000000000.snap":     []byte("an older snapshot, superseded"),
		"wal-0000000000000000.log":       []byte("a segment the newest snapshot already holds"),
		"snap-00000000000fffff.snap.tmp": []byte("a checkpoint cut short before its rename"),
	}
	for name, b := range leftovers {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d = openDisk(t, dir, opts)
	defer d.Close()
	assertRecords(t, loadAll(t, d), want)
	for name := range leftovers {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("leftover %s not removed at open: %v", name, err)
		}
	}
}

func TestDiskDamagedSnapshotIsAHardError(t *testing.T) {
	dir := t.TempDir()
	d := openDisk(t, dir, DiskOptions{CheckpointBytes: 1 << 10})
	for i := range 50 {
		mustCommit(t, d, Batch{Puts: []Record{put("n", fmt.Sprint(i), "v")}})
	}
	d.ckptWG.Wait()
	d.Close()
	snaps, _ := filepath.Glob(filepath.Join(dir, "snap-*.snap"))
	if len(snaps) != 1 {
		t.Fatalf("snapshots %v, want one", snaps)
	}
	info, _ := os.Stat(snaps[0])
	if err := os.Truncate(snaps[0], info.Size()-1); err != nil {
		t.Fatal(err)
	}
	_, err := OpenDisk(context.Background(), dir, DiskOptions{})
	if err == nil || !strings.Contains(err.Error(), snaps[0]) {
		t.Fatalf("OpenDisk with a truncated snapshot = %v, want an error naming %s", err, snaps[0])
	}
}

// TestDiskWriteFailureIsSticky: after a failed log write nobody knows what
// the segment holds, so every later commit fails until the store reopens,
// and reopening recovers every commit acknowledged before the failure.
func TestDiskWriteFailureIsSticky(t *testing.T) {
	dir := t.TempDir()
	d := openDisk(t, dir, DiskOptions{})
	mustCommit(t, d, Batch{Puts: []Record{put("n", "before", "1")}})
	d.active.f.Close() // the next write fails with "file already closed"
	for i := range 2 {
		if err := d.Commit(context.Background(), Batch{Puts: []Record{put("n", "after", "1")}}); err == nil || !strings.Contains(err.Error(), d.active.path) {
			t.Fatalf("commit %d after a failed write = %v, want the write error naming %s", i, err, d.active.path)
		}
	}
	d.Close()
	d = openDisk(t, dir, DiskOptions{})
	defer d.Close()
	assertRecords(t, loadAll(t, d), map[RecordKey]string{rk("n", "before"): "1"})
}

// writeAfterRecovery proves a recovered store takes new writes: it commits
// one more record, reopens the store and checks every record (want gains
// the new one). The caller closes the returned store.
func writeAfterRecovery(t *testing.T, d *Disk, dir string, opts DiskOptions, want map[RecordKey]string) *Disk {
	t.Helper()
	mustCommit(t, d, Batch{Puts: []Record{put("ns", "after", "x")}})
	want[rk("ns", "after")] = "x"
	d.Close()
	d = openDisk(t, dir, opts)
	assertRecords(t, loadAll(t, d), want)
	return d
}

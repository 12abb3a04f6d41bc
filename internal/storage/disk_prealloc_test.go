package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// preallocOpts makes segments small and checkpoints rare, so a test
// rotates through several preallocated segments without compacting them.
var preallocOpts = DiskOptions{SegmentBytes: 64 << 10, CheckpointBytes: 1 << 30}

// preallocStore fills a store until it has rotated into preallocated
// segments twice, with a small blob in every commit, and returns the store
// (still open), the records and the blobs it committed.
func preallocStore(t *testing.T, dir string) (*Disk, map[RecordKey]string, map[BlobRef][]byte) {
	t.Helper()
	d := openDisk(t, dir, preallocOpts)
	want := make(map[RecordKey]string)
	blobs := make(map[BlobRef][]byte)
	for i := 0; d.active.prealloc == 0 || d.active.id < 3 || d.writeOff < 4<<10; i++ {
		if i > 10000 {
			t.Fatalf("no rotation into a preallocated segment after %d commits", i)
		}
		data := pattern(i, 500+i%700)
		ref := mustWriteBlob(t, d, data)
		blobs[ref] = data
		v := fmt.Sprint(i, strings.Repeat("v", 300))
		mustCommit(t, d, Batch{Puts: []Record{put("ns", fmt.Sprint("k", i%50), v)}})
		want[rk("ns", fmt.Sprint("k", i%50))] = v
	}
	// Let the next segment's preparation finish, as it usually has.
	d.wmu.Lock()
	if p := d.prep; p != nil {
		<-p.done
	}
	d.wmu.Unlock()
	return d, want, blobs
}

// crashImage copies the store's files while it is open and idle: what a
// crash at this instant leaves on disk, since every byte copied was
// written and every commit acknowledged was fsynced.
func crashImage(t *testing.T, dir string) string {
	t.Helper()
	img := t.TempDir()
	for _, sub := range []string{"", "blobs"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(img, sub), 0o700)
		for _, e := range ents {
			if !e.Type().IsRegular() {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, sub, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(img, sub, e.Name()), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	return img
}

func checkBlobs(t *testing.T, s Store, blobs map[BlobRef][]byte) {
	t.Helper()
	for ref, data := range blobs {
		if got, err := readBlob(s, ref); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("blob %s: %d bytes, err %v; want %d bytes", ref.ID, len(got), err, len(data))
		}
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}

func writeAt(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// TestDiskPreallocatedSegments: segments are zero-filled to their full
// size and written in place; blobs stay readable across rotations and
// Retain; a crash leaves zero tails (and a prepared, blank segment) that
// recovery reads as the end of the log; a clean Close leaves none.
func TestDiskPreallocatedSegments(t *testing.T) {
	dir := t.TempDir()
	d, want, blobs := preallocStore(t, dir)
	checkBlobs(t, d, blobs)
	active, next := d.active.path, d.prep.seg.path
	seg := d.segBytes
	if seg != 64<<10 {
		t.Fatalf("segment size %d, want %d", seg, 64<<10)
	}
	for _, p := range []string{active, next} {
		if got := fileSize(t, p); got != seg {
			t.Errorf("%s is %d bytes, want preallocated %d", p, got, seg)
		}
	}
	img := crashImage(t, dir)

	// Retain still drops what is not live, whatever segment holds it.
	var dropped BlobRef
	for ref := range blobs {
		dropped = ref
		break
	}
	if err := d.Retain(context.Background(), func(r BlobRef) bool { return r != dropped }); err != nil {
		t.Fatal(err)
	}
	delete(blobs, dropped)
	checkBlobs(t, d, blobs)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(next); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("prepared segment %s left behind by Close: %v", next, err)
	}
	if got := fileSize(t, active); got >= seg {
		t.Errorf("active segment is %d bytes after Close, want its zero tail cut", got)
	}

	// The crash image: zero tails in every segment, a blank one last.
	c := openDisk(t, img, preallocOpts)
	assertRecords(t, loadAll(t, c), want)
	checkBlobs(t, c, blobs)
	if _, err := os.Stat(filepath.Join(img, filepath.Base(next))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("blank prepared segment not removed at open: %v", err)
	}
	c = writeAfterRecovery(t, c, img, preallocOpts, want)
	defer c.Close()
	checkBlobs(t, c, blobs)
}

// TestDiskPreallocatedTornTail: a frame torn over the zeros of the active
// segment, however much of it reached the disk, is cut like any torn tail.
func TestDiskPreallocatedTornTail(t *testing.T) {
	lost := frame(appendBatch(appendSynced(nil, 0), &Batch{Puts: []Record{put("torn", "k", strings.Repeat("x", 9000))}}))
	cases := []struct {
		name string
		tail []byte
	}{
		{"header and part of the payload, then zeros", lost[:5000]},
		{"payload pages without the header page", append(make([]byte, 4096), lost[4096:]...)},
		{"a few bytes of a header", lost[:5]},
		{"whole frame with a zeroed page inside", append(append(bytes.Clone(lost[:4096]), make([]byte, 4096)...), lost[8192:]...)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			d, want, blobs := preallocStore(t, dir)
			active, end := d.active.path, d.writeOff
			img := crashImage(t, dir)
			d.Close()
			path := filepath.Join(img, filepath.Base(active))
			writeAt(t, path, end, tc.tail)

			c := openDisk(t, img, preallocOpts)
			assertRecords(t, loadAll(t, c), want)
			checkBlobs(t, c, blobs)
			if got := fileSize(t, path); got != end {
				t.Errorf("torn segment is %d bytes after recovery, want %d", got, end)
			}
			c = writeAfterRecovery(t, c, img, preallocOpts, want)
			defer c.Close()
		})
	}
}

// TestDiskPreallocatedCorruptionIsAHardError: zeros are the end of the log
// only when nothing but zeros follows; damage to frames written over the
// zeros is found as before.
func TestDiskPreallocatedCorruptionIsAHardError(t *testing.T) {
	cases := []struct {
		name    string
		damage  func(t *testing.T, img string, d *Disk) (file string, off int64)
		wantMsg string
	}{
		{"payload flipped in the first frame of the active segment", func(t *testing.T, img string, d *Disk) (string, int64) {
			p := filepath.Join(img, filepath.Base(d.active.path))
			flipByte(t, p, frameHeaderSize+2)
			return p, 0
		}, "payload checksum mismatch"},
		{"first frame zeroed with valid frames after it", func(t *testing.T, img string, d *Disk) (string, int64) {
			p := filepath.Join(img, filepath.Base(d.active.path))
			writeAt(t, p, 0, make([]byte, frameHeaderSize))
			return p, 0
		}, "followed by a valid frame"},
		{"garbage in the zero tail of an earlier segment", func(t *testing.T, img string, d *Disk) (string, int64) {
			d.mu.Lock()
			w := d.wals[len(d.wals)-2]
			p, end := filepath.Join(img, filepath.Base(w.path)), w.size
			d.mu.Unlock()
			if got := fileSize(t, p); got != d.segBytes {
				t.Fatalf("earlier segment is %d bytes, want its preallocated %d", got, d.segBytes)
			}
			writeAt(t, p, end+100, []byte{1, 2, 3})
			return p, end
		}, "torn tail"},
		{"torn tail followed by a segment with frames", func(t *testing.T, img string, d *Disk) (string, int64) {
			// The prepared segment is not blank, so it is not the one a
			// crash could have left behind: the active one is not last.
			p := filepath.Join(img, filepath.Base(d.active.path))
			writeAt(t, p, d.writeOff, []byte{9, 9, 9})
			writeAt(t, filepath.Join(img, filepath.Base(d.prep.seg.path)), 0, frame(appendSynced(nil, 0)))
			return p, d.writeOff
		}, "torn tail"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			d, _, _ := preallocStore(t, dir)
			img := crashImage(t, dir)
			file, off := tc.damage(t, img, d)
			d.Close()
			_, err := OpenDisk(context.Background(), img, preallocOpts)
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

// TestDiskCrashDuringPreparation: a crash while the next segment was being
// zero-filled leaves a blank file of any length after the last segment
// written to, which may itself end in a torn frame. Recovery removes the
// blank file and cuts the tear.
func TestDiskCrashDuringPreparation(t *testing.T) {
	for _, size := range []int64{0, 100, 12345, 64 << 10} {
		for _, torn := range []bool{false, true} {
			t.Run(fmt.Sprintf("blank=%d/torn=%v", size, torn), func(t *testing.T) {
				dir := t.TempDir()
				d, want, blobs := preallocStore(t, dir)
				active, end, next := d.active.path, d.writeOff, d.prep.seg.path
				img := crashImage(t, dir)
				d.Close()
				blank := filepath.Join(img, filepath.Base(next))
				if err := os.Truncate(blank, 0); err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(blank, size); err != nil {
					t.Fatal(err)
				}
				if torn {
					writeAt(t, filepath.Join(img, filepath.Base(active)), end, []byte("LDK1 half a header"))
				}
				c := openDisk(t, img, preallocOpts)
				assertRecords(t, loadAll(t, c), want)
				checkBlobs(t, c, blobs)
				if _, err := os.Stat(blank); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("blank segment not removed: %v", err)
				}
				c = writeAfterRecovery(t, c, img, preallocOpts, want)
				defer c.Close()
			})
		}
	}
}

// TestDiskPreparationAbortedByClose: Close during a zero-fill stops it and
// leaves no segment behind.
func TestDiskPreparationAbortedByClose(t *testing.T) {
	dir := t.TempDir()
	d := openDisk(t, dir, DiskOptions{SegmentBytes: 64 << 20, CheckpointBytes: 1 << 30})
	for i := 0; d.prep == nil; i++ {
		mustCommit(t, d, Batch{Puts: []Record{put("ns", "k", string(pattern(i, 4000)))}})
	}
	next := filepath.Join(dir, walName(d.nextID-1))
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(next); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("segment being prepared left behind by Close: %v", err)
	}
	d = openDisk(t, dir, DiskOptions{})
	defer d.Close()
	if got := loadAll(t, d); len(got) != 1 {
		t.Errorf("records after reopen: %v", got)
	}
}

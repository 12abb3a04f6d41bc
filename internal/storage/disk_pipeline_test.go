package storage

import (
	"context"
	"os"
	"strings"
	"testing"
)

// TestDiskTornTailOfSeveralFrames: frames are written while earlier ones
// are still being fsynced, so a crash may leave a bad frame followed by
// good ones. They are a torn tail when every later frame was written
// before the bad one was durable (its synced mark says so), and damage to
// acknowledged data otherwise.
func TestDiskTornTailOfSeveralFrames(t *testing.T) {
	batch := func(mark int64, key string) []byte {
		return frame(appendBatch(appendSynced(nil, mark), &Batch{Puts: []Record{put("torn", key, "never acknowledged")}}))
	}
	for _, tc := range []struct {
		name      string
		markAhead bool // the later frame says the bad one was durable
	}{{"later frames written before it was durable", false}, {"a later frame written after it was durable", true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			want := seedStore(t, dir, 5)
			ws := wals(t, dir)
			last := ws[len(ws)-1]
			info, _ := os.Stat(last)
			s := info.Size()
			bad := batch(s, "a")
			bad[len(bad)-1] ^= 0xff
			mark := s
			if tc.markAhead {
				mark = s + int64(len(bad))
			}
			tail := append(bad, batch(mark, "b")...)
			tail = append(tail, batch(mark, "c")...)
			appendFile(t, last, tail)

			d, err := OpenDisk(context.Background(), dir, DiskOptions{})
			if tc.markAhead {
				if err == nil || !strings.Contains(err.Error(), "written after it was durable") {
					t.Fatalf("OpenDisk = %v, want a hard error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("OpenDisk: %v", err)
			}
			defer d.Close()
			assertRecords(t, loadAll(t, d), want)
			if after, _ := os.Stat(last); after.Size() != s {
				t.Errorf("segment is %d bytes after recovery, want the torn frames cut at %d", after.Size(), s)
			}
		})
	}
}

// TestDiskAppendIsCoveredByTheNextCommit: Append returns before its fsync;
// the next Commit's fsync covers it, and so does Close.
func TestDiskAppendIsCoveredByTheNextCommit(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	d := openDisk(t, dir, DiskOptions{})
	if err := d.Append(ctx, Batch{Puts: []Record{put("n", "a", "1")}}); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, d, Batch{Puts: []Record{put("n", "b", "2")}})
	if d.durableOff.Load() != d.writeOff {
		t.Errorf("durable offset %d after Commit, want every written byte (%d)", d.durableOff.Load(), d.writeOff)
	}
	if err := d.Append(ctx, Batch{Puts: []Record{put("n", "c", "3")}}); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d = openDisk(t, dir, DiskOptions{})
	defer d.Close()
	assertRecords(t, loadAll(t, d), map[RecordKey]string{rk("n", "a"): "1", rk("n", "b"): "2", rk("n", "c"): "3"})
}

func TestBatchSizeMatchesEncoding(t *testing.T) {
	long := strings.Repeat("x", 300)
	for _, b := range []Batch{
		{},
		{Puts: []Record{put("ns", "k", "v")}},
		{Puts: []Record{put(long, long, long), put("", "", "")}, Deletes: []RecordKey{rk("a", long)}, Free: []BlobRef{{ID: long}}},
	} {
		if got, want := batchSize(&b), len(appendBatch(nil, &b)); got != want {
			t.Errorf("batchSize = %d, encoding is %d bytes", got, want)
		}
	}
}

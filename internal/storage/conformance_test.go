package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
)

// backend opens a store of one kind in dir; durable backends see the same
// data again when reopened on the same dir.
type backend struct {
	name    string
	durable bool
	open    func(t *testing.T, dir string) Store
}

func backends() []backend {
	return []backend{
		{name: "mem", open: func(t *testing.T, _ string) Store { return NewMem() }},
		{name: "disk", durable: true, open: func(t *testing.T, dir string) Store {
			t.Helper()
			s, err := OpenDisk(context.Background(), dir, DiskOptions{})
			if err != nil {
				t.Fatalf("OpenDisk: %v", err)
			}
			return s
		}},
	}
}

func rk(ns, key string) RecordKey { return RecordKey{Namespace: ns, Key: key} }

func put(ns, key, value string) Record { return Record{RecordKey: rk(ns, key), Value: []byte(value)} }

// loadAll returns the store's records as strings, failing on duplicates:
// Load must report each record once.
func loadAll(t *testing.T, s Store) map[RecordKey]string {
	t.Helper()
	got := make(map[RecordKey]string)
	err := s.Load(context.Background(), func(r Record) error {
		if _, dup := got[r.RecordKey]; dup {
			return fmt.Errorf("record %v reported twice", r.RecordKey)
		}
		got[r.RecordKey] = string(r.Value)
		return nil
	})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return got
}

func mustCommit(t *testing.T, s Store, b Batch) {
	t.Helper()
	if err := s.Commit(context.Background(), b); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func mustWriteBlob(t *testing.T, s Store, data []byte) BlobRef {
	t.Helper()
	ref, err := s.WriteBlob(context.Background(), bytes.NewReader(data))
	if err != nil {
		t.Fatalf("WriteBlob(%d bytes): %v", len(data), err)
	}
	if ref.Size != int64(len(data)) {
		t.Fatalf("WriteBlob size = %d, want %d", ref.Size, len(data))
	}
	return ref
}

func readBlob(s Store, ref BlobRef) ([]byte, error) {
	rc, err := s.OpenBlob(context.Background(), ref)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// pattern returns n deterministic bytes that differ per seed, so a blob read
// from the wrong offset never compares equal by accident.
func pattern(seed, n int) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func TestConformance(t *testing.T) {
	cases := []struct {
		name        string
		durableOnly bool
		run         func(t *testing.T, be backend, dir string)
	}{
		{"puts deletes overwrites", false, testPutsDeletes},
		{"odd names are opaque", false, testOddNames},
		{"batch applies whole", false, testBatchWhole},
		{"blobs round trip", false, testBlobRoundTrip},
		{"free hides blob but open reader keeps reading", false, testFree},
		{"retain drops unreferenced blobs", false, testRetain},
		{"32 concurrent committers", false, testConcurrentCommit},
		{"closed store refuses calls", false, testClosed},
		{"load after reopen", true, testReopen},
		{"second open is locked", true, testLocked},
	}
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			for _, tc := range cases {
				if tc.durableOnly && !be.durable {
					continue
				}
				t.Run(tc.name, func(t *testing.T) { tc.run(t, be, t.TempDir()) })
			}
		})
	}
}

func testPutsDeletes(t *testing.T, be backend, dir string) {
	s := be.open(t, dir)
	defer s.Close()
	if got := loadAll(t, s); len(got) != 0 {
		t.Fatalf("fresh store has %d records", len(got))
	}
	steps := []struct {
		b    Batch
		want map[RecordKey]string
	}{
		{Batch{Puts: []Record{put("ns", "a", "1"), put("ns", "b", "2")}},
			map[RecordKey]string{rk("ns", "a"): "1", rk("ns", "b"): "2"}},
		{Batch{Puts: []Record{put("ns", "a", "1bis")}},
			map[RecordKey]string{rk("ns", "a"): "1bis", rk("ns", "b"): "2"}},
		{Batch{Deletes: []RecordKey{rk("ns", "b"), rk("ns", "absent")}},
			map[RecordKey]string{rk("ns", "a"): "1bis"}},
		{Batch{Puts: []Record{put("other", "a", "")}},
			map[RecordKey]string{rk("ns", "a"): "1bis", rk("other", "a"): ""}},
		{Batch{}, map[RecordKey]string{rk("ns", "a"): "1bis", rk("other", "a"): ""}},
	}
	for i, st := range steps {
		mustCommit(t, s, st.b)
		if i == len(steps)-1 && be.durable {
			s.Close()
			s = be.open(t, dir)
		}
	}
	assertRecords(t, loadAll(t, s), steps[len(steps)-1].want)
}

func assertRecords(t *testing.T, got, want map[RecordKey]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d records, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("record %v = %q (present %v), want %q", k, g, ok, v)
		}
	}
}

func testOddNames(t *testing.T, be backend, dir string) {
	s := be.open(t, dir)
	names := []string{"", "../../etc/passwd", "/abs", "a/b\\c", "\x00nul", "ünï", "..", ".", "con", string(bytes.Repeat([]byte("k"), 5000))}
	var b Batch
	want := make(map[RecordKey]string)
	for i, ns := range names {
		for j, key := range names {
			v := fmt.Sprintf("%d/%d", i, j)
			b.Puts = append(b.Puts, put(ns, key, v))
			want[rk(ns, key)] = v
		}
	}
	mustCommit(t, s, b)
	if be.durable {
		s.Close()
		s = be.open(t, dir)
	}
	defer s.Close()
	assertRecords(t, loadAll(t, s), want)
}

func testBatchWhole(t *testing.T, be backend, dir string) {
	s := be.open(t, dir)
	defer s.Close()
	// Within a batch, puts apply before deletes: a record both put and
	// deleted in one batch is gone.
	mustCommit(t, s, Batch{Puts: []Record{put("n", "x", "1"), put("n", "y", "1")}, Deletes: []RecordKey{rk("n", "y")}})
	assertRecords(t, loadAll(t, s), map[RecordKey]string{rk("n", "x"): "1"})
	// A later put of the same key in one batch wins.
	mustCommit(t, s, Batch{Puts: []Record{put("n", "x", "2"), put("n", "x", "3")}})
	assertRecords(t, loadAll(t, s), map[RecordKey]string{rk("n", "x"): "3"})
}

func testBlobRoundTrip(t *testing.T, be backend, dir string) {
	s := be.open(t, dir)
	sizes := []int{0, 1, 1024, 64 << 10, 64<<10 + 1, 3<<20 + 17}
	refs := make([]BlobRef, len(sizes))
	for i, n := range sizes {
		refs[i] = mustWriteBlob(t, s, pattern(i, n))
	}
	check := func(when string) {
		for i, n := range sizes {
			got, err := readBlob(s, refs[i])
			if err != nil {
				t.Fatalf("%s: OpenBlob(%d bytes): %v", when, n, err)
			}
			if !bytes.Equal(got, pattern(i, n)) {
				t.Fatalf("%s: blob of %d bytes came back as %d different bytes", when, n, len(got))
			}
		}
	}
	check("before commit")
	mustCommit(t, s, Batch{Puts: []Record{put("n", "k", "v")}})
	check("after commit")
	if be.durable {
		s.Close()
		s = be.open(t, dir)
		check("after reopen")
	}
	defer s.Close()
	_, err := s.OpenBlob(context.Background(), BlobRef{ID: "0123456789abcdef0123456789abcdef"})
	if !errors.Is(err, ErrBlobNotFound) {
		t.Fatalf("OpenBlob(unknown) = %v, want ErrBlobNotFound", err)
	}
	_, err = s.OpenBlob(context.Background(), BlobRef{ID: "../../LOCK"})
	if !errors.Is(err, ErrBlobNotFound) {
		t.Fatalf("OpenBlob(path) = %v, want ErrBlobNotFound", err)
	}
}

func testFree(t *testing.T, be backend, dir string) {
	for _, n := range []int{100, 1 << 20} {
		s := be.open(t, dir)
		ref := mustWriteBlob(t, s, pattern(n, n))
		mustCommit(t, s, Batch{})
		rc, err := s.OpenBlob(context.Background(), ref)
		if err != nil {
			t.Fatalf("OpenBlob: %v", err)
		}
		mustCommit(t, s, Batch{Free: []BlobRef{ref}})
		if _, err := s.OpenBlob(context.Background(), ref); !errors.Is(err, ErrBlobNotFound) {
			t.Fatalf("OpenBlob after Free = %v, want ErrBlobNotFound", err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, pattern(n, n)) {
			t.Fatalf("reader opened before Free: %d bytes, err %v", len(got), err)
		}
		if be.durable {
			s.Close()
			s = be.open(t, dir)
			if _, err := s.OpenBlob(context.Background(), ref); !errors.Is(err, ErrBlobNotFound) {
				t.Fatalf("OpenBlob of freed blob after reopen = %v, want ErrBlobNotFound", err)
			}
		}
		s.Close()
	}
}

func testRetain(t *testing.T, be backend, dir string) {
	s := be.open(t, dir)
	keep := []BlobRef{mustWriteBlob(t, s, pattern(1, 10)), mustWriteBlob(t, s, pattern(2, 200<<10))}
	drop := []BlobRef{mustWriteBlob(t, s, pattern(3, 10)), mustWriteBlob(t, s, pattern(4, 200<<10))}
	mustCommit(t, s, Batch{})
	if be.durable {
		s.Close()
		s = be.open(t, dir)
		loadAll(t, s)
	}
	defer s.Close()
	live := map[string]bool{keep[0].ID: true, keep[1].ID: true}
	seen := 0
	err := s.Retain(context.Background(), func(ref BlobRef) bool {
		seen++
		return live[ref.ID]
	})
	if err != nil {
		t.Fatalf("Retain: %v", err)
	}
	if seen != 4 {
		t.Errorf("Retain asked about %d blobs, want 4", seen)
	}
	for i, ref := range keep {
		if got, err := readBlob(s, ref); err != nil || !bytes.Equal(got, pattern(i+1, int(ref.Size))) {
			t.Errorf("kept blob %d: %d bytes, err %v", i, len(got), err)
		}
	}
	for _, ref := range drop {
		if _, err := s.OpenBlob(context.Background(), ref); !errors.Is(err, ErrBlobNotFound) {
			t.Errorf("dropped blob: OpenBlob = %v, want ErrBlobNotFound", err)
		}
	}
}

func testConcurrentCommit(t *testing.T, be backend, dir string) {
	s := be.open(t, dir)
	const workers, each = 32, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				ref, err := s.WriteBlob(context.Background(), bytes.NewReader(pattern(w*each+i, 1024)))
				if err != nil {
					errs <- err
					return
				}
				b := Batch{Puts: []Record{
					put(fmt.Sprint("w", w), "last", fmt.Sprint(i)),
					put(fmt.Sprint("w", w), fmt.Sprint("blob", i), ref.ID),
				}}
				if err := s.Commit(context.Background(), b); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent commit: %v", err)
	}
	if be.durable {
		s.Close()
		s = be.open(t, dir)
	}
	defer s.Close()
	got := loadAll(t, s)
	if len(got) != workers*(each+1) {
		t.Fatalf("got %d records, want %d", len(got), workers*(each+1))
	}
	for w := range workers {
		if v := got[rk(fmt.Sprint("w", w), "last")]; v != fmt.Sprint(each-1) {
			t.Fatalf("worker %d last = %q", w, v)
		}
		for i := range each {
			id := got[rk(fmt.Sprint("w", w), fmt.Sprint("blob", i))]
			data, err := readBlob(s, BlobRef{ID: id, Size: 1024})
			if err != nil || !bytes.Equal(data, pattern(w*each+i, 1024)) {
				t.Fatalf("worker %d blob %d: err %v", w, i, err)
			}
		}
	}
}

func testClosed(t *testing.T, be backend, dir string) {
	s := be.open(t, dir)
	ref := mustWriteBlob(t, s, []byte("x"))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx := context.Background()
	checks := map[string]error{
		"Commit":    s.Commit(ctx, Batch{}),
		"Load":      s.Load(ctx, func(Record) error { return nil }),
		"Retain":    s.Retain(ctx, func(BlobRef) bool { return true }),
		"WriteBlob": func() error { _, err := s.WriteBlob(ctx, bytes.NewReader(nil)); return err }(),
		"OpenBlob":  func() error { _, err := s.OpenBlob(ctx, ref); return err }(),
	}
	for name, err := range checks {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

func testReopen(t *testing.T, be backend, dir string) {
	want := make(map[RecordKey]string)
	for round := range 3 {
		s := be.open(t, dir)
		assertRecords(t, loadAll(t, s), want)
		for i := range 50 {
			k := fmt.Sprint("k", i%7)
			v := fmt.Sprint(round, "-", i)
			mustCommit(t, s, Batch{Puts: []Record{put("r", k, v)}})
			want[rk("r", k)] = v
		}
		mustCommit(t, s, Batch{Deletes: []RecordKey{rk("r", "k3")}})
		delete(want, rk("r", "k3"))
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	s := be.open(t, dir)
	defer s.Close()
	assertRecords(t, loadAll(t, s), want)
}

func testLocked(t *testing.T, be backend, dir string) {
	s := be.open(t, dir)
	_, err := OpenDisk(context.Background(), dir, DiskOptions{})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second OpenDisk = %v, want ErrLocked", err)
	}
	if msg := err.Error(); !bytes.Contains([]byte(msg), []byte(dir)) || !bytes.Contains([]byte(msg), []byte("another lockd-mcp")) {
		t.Errorf("ErrLocked message %q should name %s and say another lockd-mcp holds it", msg, dir)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = be.open(t, dir) // the lock is released by Close
	s.Close()
}

package query

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// TestIndexCloseStopsTheApplier: Close waits for the batch being applied,
// drops what is still queued, and no indexing starts after it; waiters
// learn the index is closed instead of hanging.
func TestIndexCloseStopsTheApplier(t *testing.T) {
	ix := NewIndex()
	ctx := context.Background()
	if err := ix.Put(ctx, "before", 1, []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	// The next change's document read blocks until released, so the
	// worker is busy when Close is called.
	reading, release := make(chan struct{}), make(chan struct{})
	ix.Submit(Change{Key: "slow", Version: 1, Open: func() (io.ReadCloser, error) {
		close(reading)
		<-release
		return io.NopCloser(strings.NewReader(`{"a":2}`)), nil
	}})
	<-reading
	queued := ix.Submit(Change{Key: "queued", Version: 1, Doc: []byte(`{"a":3}`)})
	closed := make(chan struct{})
	go func() { ix.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while the applier was still reading a document")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-closed
	if err := ix.WaitFor(ctx, queued); !errors.Is(err, errClosed) {
		t.Fatalf("WaitFor a change dropped by Close: %v, want the index-closed error", err)
	}
	late := ix.Submit(Change{Key: "late", Version: 1, Doc: []byte(`{"a":4}`)})
	if err := ix.WaitFor(ctx, late); !errors.Is(err, errClosed) {
		t.Fatalf("WaitFor a change submitted after Close: %v", err)
	}
	ix.mu.RLock()
	_, hasQueued := ix.ids["queued"]
	_, hasLate := ix.ids["late"]
	_, hasBefore := ix.ids["before"]
	ix.mu.RUnlock()
	if hasQueued || hasLate || !hasBefore {
		t.Fatalf("after Close: before=%v queued=%v late=%v; want only what was applied before", hasBefore, hasQueued, hasLate)
	}
	ix.Close() // twice is fine
}

func TestManagerCloseClosesLaterIndexes(t *testing.T) {
	m := NewManager(Options{})
	m.Index("a")
	m.Close()
	for _, ns := range []string{"a", "b"} {
		ix := m.Index(ns)
		if err := ix.WaitFor(context.Background(), ix.Submit(Change{Key: "k", Doc: []byte(`{}`)})); !errors.Is(err, errClosed) {
			t.Fatalf("namespace %s after Manager.Close: %v", ns, err)
		}
	}
}

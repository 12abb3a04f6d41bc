package heapwatch

import (
	"runtime"
	"testing"
)

func TestWatchSeesABuffer(t *testing.T) {
	w := Start()
	buf := make([]byte, 32<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	grew := w.Stop()
	runtime.KeepAlive(buf)
	if grew < 32<<20 {
		t.Fatalf("a 32 MiB buffer grew the heap by %d bytes", grew)
	}
}

func TestWatchFlatWork(t *testing.T) {
	w := Start()
	buf := make([]byte, 4096)
	for range 1000 {
		clear(buf)
	}
	if grew := w.Stop(); grew > 8<<20 {
		t.Fatalf("4 KiB of work grew the heap by %d bytes", grew)
	}
}

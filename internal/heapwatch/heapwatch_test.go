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
	runtime.GC() // as the growth of a real buffer would trigger
	g := w.Stop()
	runtime.KeepAlive(buf)
	if g.Heap < 32<<20 || g.Live < 32<<20 {
		t.Fatalf("a 32 MiB buffer grew the heap by %d bytes, the live heap by %d", g.Heap, g.Live)
	}
}

func TestWatchIgnoresGarbageInLive(t *testing.T) {
	w := Start()
	for range 64 {
		buf := make([]byte, 1<<20)
		buf[0] = 1
	}
	if g := w.Stop(); g.Live > 8<<20 {
		t.Fatalf("64 short-lived 1 MiB buffers grew the live heap by %d bytes", g.Live)
	}
}

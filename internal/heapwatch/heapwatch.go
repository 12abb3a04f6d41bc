// Package heapwatch samples the Go heap while some work runs, so tests and
// benchmarks can show that streaming code keeps memory flat however large
// its input is.
package heapwatch

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// liveBytes is the runtime metric sampled: bytes of heap objects, live or
// not yet swept. Reading it does not stop the world, unlike ReadMemStats.
const liveBytes = "/memory/classes/heap/objects:bytes"

// sampleEvery is short enough to catch a buffer that lives for a few
// milliseconds.
const sampleEvery = time.Millisecond

// Watch records the peak of the heap above the level at Start.
type Watch struct {
	base, peak uint64
	stop       chan struct{}
	wg         sync.WaitGroup
}

// Start collects garbage, takes the baseline and samples until Stop.
func Start() *Watch {
	runtime.GC()
	w := &Watch{stop: make(chan struct{})}
	w.base = read()
	w.peak = w.base
	w.wg.Go(func() {
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				w.peak = max(w.peak, read())
			}
		}
	})
	return w
}

// Stop ends sampling and returns the most the heap grew, in bytes.
func (w *Watch) Stop() int64 {
	close(w.stop)
	w.wg.Wait()
	w.peak = max(w.peak, read())
	return int64(w.peak) - int64(w.base)
}

// StopMiB is Stop in MiB.
func (w *Watch) StopMiB() float64 { return float64(w.Stop()) / (1 << 20) }

func read() uint64 {
	s := []metrics.Sample{{Name: liveBytes}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

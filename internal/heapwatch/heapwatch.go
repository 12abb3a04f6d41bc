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

// The runtime metrics sampled; reading them does not stop the world,
// unlike ReadMemStats.
const (
	// heapBytes counts heap objects live or not yet swept: the most
	// sensitive measure, but it also rises with garbage the collector has
	// not reached yet, by up to GOGC% of whatever else the process keeps.
	heapBytes = "/memory/classes/heap/objects:bytes"
	// liveBytes is the heap the last collection found live. A buffer that
	// holds a large document is live when its own growth triggers a
	// collection, so this catches buffering without counting garbage.
	liveBytes = "/gc/heap/live:bytes"
)

// sampleEvery is short enough to catch a buffer that lives for a few
// milliseconds.
const sampleEvery = time.Millisecond

// Growth is how far the heap rose above its level at Start, in bytes.
type Growth struct {
	// Heap is the peak rise of heap objects, garbage included: the figure
	// benchmarks report.
	Heap int64
	// Live is the peak rise of the heap found live by a collection: the
	// figure tests compare against a limit, since it does not depend on
	// what the rest of the process keeps or on collector pacing.
	Live int64
}

// Watch records the peaks of the heap above the level at Start.
type Watch struct {
	base, peak [2]uint64 // heapBytes, liveBytes
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
				w.sample()
			}
		}
	})
	return w
}

func (w *Watch) sample() {
	now := read()
	for i := range now {
		w.peak[i] = max(w.peak[i], now[i])
	}
}

// Stop ends sampling and returns the most the heap grew.
func (w *Watch) Stop() Growth {
	close(w.stop)
	w.wg.Wait()
	w.sample()
	return Growth{
		Heap: int64(w.peak[0]) - int64(w.base[0]),
		Live: int64(w.peak[1]) - int64(w.base[1]),
	}
}

// StopMiB is Stop's Heap growth in MiB.
func (w *Watch) StopMiB() float64 { return float64(w.Stop().Heap) / (1 << 20) }

func read() [2]uint64 {
	s := []metrics.Sample{{Name: heapBytes}, {Name: liveBytes}}
	metrics.Read(s)
	return [2]uint64{s[0].Value.Uint64(), s[1].Value.Uint64()}
}

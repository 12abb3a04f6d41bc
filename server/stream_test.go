package server

import (
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// docReader generates a whitespace-rich JSON object of about n bytes
// without holding it in memory.
type docReader struct {
	n, sent int64
	buf     []byte
	state   int // 0 open, 1 members, 2 closed
	i       int
}

func (d *docReader) Read(p []byte) (int, error) {
	for len(d.buf) == 0 {
		switch {
		case d.state == 0:
			d.buf, d.state = []byte("{\n"), 1
		case d.state == 1 && d.sent < d.n:
			sep := ",\n"
			if d.i == 0 {
				sep = ""
			}
			d.buf = []byte(sep + `  "member` + strings.Repeat("_", 40) + `" : [ 1 , 2 , { "x" : "` + strings.Repeat("y", 200) + `" } ]`)
			d.i++
		case d.state == 1:
			d.buf, d.state = []byte("\n}"), 2
		default:
			return 0, io.EOF
		}
	}
	n := copy(p, d.buf)
	d.buf = d.buf[n:]
	d.sent += int64(n)
	return n, nil
}

// TestUpdateMemoryStaysFlat streams a 64 MiB document through /v1/update
// into the disk store and checks the heap never holds more than a fraction
// of it: the body is validated, compacted and hashed on the fly.
func TestUpdateMemoryStaysFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 64 MiB")
	}
	const size = 64 << 20
	ts := startTCP(t, Config{Store: "disk://" + filepath.Join(t.TempDir(), "data"), JSONMaxBytes: 2 * size})
	l := ts.acquire("default", "huge", nil)
	heap := watchHeap()
	req, _ := http.NewRequest("POST", ts.base+"/v1/update"+l.q(), &docReader{n: size})
	for k, v := range l.hdr() {
		req.Header.Set(k, v)
	}
	res, err := ts.client.Do(req)
	grew := heap.stop()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("update: %d %s", res.StatusCode, body)
	}
	checkHeapGrowth(t, grew, size)
	ts.release(l, false)
	g, err := ts.client.Post(ts.base+"/v1/get?key=huge&public=1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, g.Body)
	g.Body.Close()
	if g.StatusCode != 200 || n < size/2 {
		t.Fatalf("get: %d, %d bytes", g.StatusCode, n)
	}
}

// TestMutateMemoryStaysFlat runs /v1/mutate over a 64 MiB document: the
// current document streams through the mutation into the new blob, so the
// heap holds neither of them.
func TestMutateMemoryStaysFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 64 MiB")
	}
	const size = 64 << 20
	ts := startTCP(t, Config{Store: "disk://" + filepath.Join(t.TempDir(), "data"), JSONMaxBytes: 2 * size})
	l := ts.acquire("default", "huge", nil)
	req, _ := http.NewRequest("POST", ts.base+"/v1/update"+l.q(), &docReader{n: size})
	for k, v := range l.hdr() {
		req.Header.Set(k, v)
	}
	res, err := ts.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	heap := watchHeap()
	r := ts.post("/v1/mutate"+l.q(), `{"mutations":["/zz/count=+1","/member________________________________________=gone"]}`, l.hdr())
	checkHeapGrowth(t, heap.stop(), size)
	wantStatus(t, r, 200, "")
	if read, _ := strconv.ParseInt(r.Header.Get("X-Lockd-Mutate-Bytes-Read"), 10, 64); read < size/2 {
		t.Fatalf("mutate read %d bytes of a %d MiB document", read, size>>20)
	}
	g := ts.post("/v1/get"+l.q(), nil, l.hdr())
	if !strings.HasPrefix(string(g.Body), `{"member________________________________________":"gone",`) || !strings.HasSuffix(string(g.Body), `,"zz":{"count":1}}`) {
		t.Fatalf("mutated document starts %.80q and ends %q", g.Body, g.Body[max(0, len(g.Body)-40):])
	}
}

// heapWatch samples the heap in use until stop, which returns the most it
// grew over the level at the start.
type heapWatch struct {
	base uint64
	peak atomic.Uint64
	done chan struct{}
	wg   sync.WaitGroup
}

func watchHeap() *heapWatch {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h := &heapWatch{base: ms.HeapInuse, done: make(chan struct{})}
	h.wg.Go(func() {
		var ms runtime.MemStats
		for {
			select {
			case <-h.done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > h.peak.Load() {
				h.peak.Store(ms.HeapInuse)
			}
		}
	})
	return h
}

func (h *heapWatch) stop() int64 {
	close(h.done)
	h.wg.Wait()
	return int64(h.peak.Load()) - int64(h.base)
}

// checkHeapGrowth fails when the heap grew by half of a size-byte document.
// HeapInuse counts garbage not yet collected, which GC pacing and other
// tests make noisy; half the document still catches any buffering of it.
func checkHeapGrowth(t *testing.T, grew, size int64) {
	t.Helper()
	if grew > size/2 {
		t.Fatalf("heap grew by %d MiB while streaming a %d MiB document", grew>>20, size>>20)
	}
	t.Logf("heap grew by at most %.1f MiB for a %d MiB document", float64(grew)/(1<<20), size>>20)
}

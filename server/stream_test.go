package server

import (
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
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
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	}()
	req, _ := http.NewRequest("POST", ts.base+"/v1/update"+l.q(), &docReader{n: size})
	for k, v := range l.hdr() {
		req.Header.Set(k, v)
	}
	res, err := ts.client.Do(req)
	close(stop)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("update: %d %s", res.StatusCode, body)
	}
	// HeapInuse counts garbage not yet collected, which GC pacing and other
	// tests make noisy; half the document still catches any buffering of it.
	if grew := int64(peak.Load()) - int64(base.HeapInuse); grew > size/2 {
		t.Fatalf("heap grew by %d MiB while streaming a %d MiB document", grew>>20, size>>20)
	} else {
		t.Logf("heap grew by at most %.1f MiB for a %d MiB document", float64(grew)/(1<<20), size>>20)
	}
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

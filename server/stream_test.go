package server

import (
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lockd-mcp/lockd-mcp/internal/heapwatch"
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
	ts, l := hugeServer(t)
	heap := heapwatch.Start()
	uploadHuge(t, ts, l)
	grew := heap.Stop()
	checkHeapGrowth(t, grew, hugeSize)
	ts.release(l, false)
	g, err := ts.client.Post(ts.base+"/v1/get?key=huge&public=1", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, g.Body)
	g.Body.Close()
	if g.StatusCode != 200 || n < hugeSize/2 {
		t.Fatalf("get: %d, %d bytes", g.StatusCode, n)
	}
}

// TestMutateMemoryStaysFlat runs /v1/mutate over a 64 MiB document: the
// current document streams through the mutation into the new blob, so the
// heap holds neither of them.
func TestMutateMemoryStaysFlat(t *testing.T) {
	ts, l := hugeServer(t)
	uploadHuge(t, ts, l)
	heap := heapwatch.Start()
	r := ts.post("/v1/mutate"+l.q(), `{"mutations":["/zz/count=+1","/member________________________________________=gone"]}`, l.hdr())
	checkHeapGrowth(t, heap.Stop(), hugeSize)
	wantStatus(t, r, 200, "")
	if read, _ := strconv.ParseInt(r.Header.Get("X-Lockd-Mutate-Bytes-Read"), 10, 64); read < hugeSize/2 {
		t.Fatalf("mutate read %d bytes of a %d MiB document", read, hugeSize>>20)
	}
	g := ts.post("/v1/get"+l.q(), nil, l.hdr())
	if !strings.HasPrefix(string(g.Body), `{"member________________________________________":"gone",`) || !strings.HasSuffix(string(g.Body), `,"zz":{"count":1}}`) {
		t.Fatalf("mutated document starts %.80q and ends %q", g.Body, g.Body[max(0, len(g.Body)-40):])
	}
}

// hugeSize is the document the memory tests stream.
const hugeSize = 64 << 20

// hugeServer starts a disk-backed server that takes hugeSize documents and
// holds a lease on the key "huge".
func hugeServer(t *testing.T) (*testServer, lease) {
	t.Helper()
	if testing.Short() {
		t.Skip("streams 64 MiB")
	}
	ts := startTCP(t, Config{Store: "disk://" + filepath.Join(t.TempDir(), "data"), JSONMaxBytes: 2 * hugeSize})
	return ts, ts.acquire("default", "huge", nil)
}

// uploadHuge streams a generated hugeSize document through /v1/update.
func uploadHuge(t *testing.T, ts *testServer, l lease) {
	t.Helper()
	req, _ := http.NewRequest("POST", ts.base+"/v1/update"+l.q(), &docReader{n: hugeSize})
	for k, v := range l.hdr() {
		req.Header.Set(k, v)
	}
	res, err := ts.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("update: %d %s", res.StatusCode, body)
	}
}

// checkHeapGrowth fails when the live heap grew by half of a size-byte
// document: any buffering of it shows, while garbage, which depends on
// collector pacing and on what earlier tests left in the process, does not.
func checkHeapGrowth(t *testing.T, g heapwatch.Growth, size int64) {
	t.Helper()
	if g.Live > size/2 {
		t.Fatalf("live heap grew by %d MiB while streaming a %d MiB document", g.Live>>20, size>>20)
	}
	t.Logf("live heap grew by at most %.1f MiB (heap with garbage %.1f MiB) for a %d MiB document",
		float64(g.Live)/(1<<20), float64(g.Heap)/(1<<20), size>>20)
}

package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/client"
	"github.com/lockd-mcp/lockd-mcp/client/inprocess"
	"github.com/lockd-mcp/lockd-mcp/server"
)

// BenchmarkCycle compares one acquire→save→release cycle through the SDK
// with the same three HTTP exchanges (same bodies and headers, including
// the CAS guards the session sends) made with bare net/http, both against
// the in-process server over its unix socket. The difference is what the SDK
// costs on top of the wire.
func BenchmarkCycle(b *testing.B) {
	ctx := context.Background()
	ip, err := inprocess.New(ctx, server.Config{Store: "mem://", Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer ip.Close(ctx)

	b.Run("sdk", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			lease, err := ip.Acquire(ctx, api.AcquireRequest{Key: "bench-sdk", Owner: "bench", TTLSeconds: 30, BlockSecs: client.BlockNoWait})
			if err != nil {
				b.Fatal(err)
			}
			if err := lease.Save(ctx, map[string]int{"n": i}); err != nil {
				b.Fatal(err)
			}
			if err := lease.Release(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})

	// raw makes the SDK's exchanges without a deadline; raw-timeout adds
	// the 15s per-request bound the SDK (and lockd's own SDK, through
	// http.Client.Timeout) puts on them, which costs a few allocations per
	// request in net/http and context.
	for _, timeout := range []time.Duration{0, client.DefaultHTTPTimeout} {
		name := "raw"
		if timeout > 0 {
			name = "raw-timeout"
		}
		b.Run(name, func(b *testing.B) { benchRawCycle(b, ip.SocketPath(), timeout) })
	}
}

func benchRawCycle(b *testing.B, socket string, timeout time.Duration) {
	ctx := context.Background()
	{
		hc := &http.Client{Timeout: timeout, Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", socket)
			},
			MaxIdleConns: client.DefaultMaxIdleConns, MaxIdleConnsPerHost: client.DefaultMaxIdleConnsPerHost,
		}}
		defer hc.CloseIdleConnections()
		post := func(path string, header http.Header, body []byte, out any) http.Header {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://lockd"+path, bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			req.Header = header
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("%s: %d", path, resp.StatusCode)
			}
			if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			return resp.Header
		}

		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			body, _ := json.Marshal(api.AcquireRequest{Namespace: "default", Key: "bench-raw", Owner: "bench", TTLSeconds: 30, BlockSecs: client.BlockNoWait})
			var acq api.AcquireResponse
			acqHdr := post("/v1/acquire", http.Header{"Content-Type": {"application/json"}}, body, &acq)
			token := strconv.FormatInt(acq.FencingToken, 10)
			// The SDK tags the calls on a lease with the correlation id of
			// its grant (WIRE §8.9), so the mirror does too.
			corr := acq.CorrelationID
			if corr == "" {
				corr = acqHdr.Get(api.HeaderCorrelationID)
			}

			state, _ := json.Marshal(map[string]int{"n": i})
			h := http.Header{"Content-Type": {"application/json"}, api.HeaderLeaseID: {acq.LeaseID}, api.HeaderTxnID: {acq.TxnID}, api.HeaderFencingToken: {token}, api.HeaderCorrelationID: {corr}}
			if acq.Version > 0 {
				h[api.HeaderIfVersion] = []string{strconv.FormatInt(acq.Version, 10)}
			}
			if acq.StateETag != "" {
				h[api.HeaderIfStateETag] = []string{acq.StateETag}
			}
			var upd api.UpdateResponse
			post("/v1/update?namespace=default&key=bench-raw", h, state, &upd)

			rel, _ := json.Marshal(api.ReleaseRequest{Namespace: "default", Key: "bench-raw", LeaseID: acq.LeaseID, TxnID: acq.TxnID})
			var out api.ReleaseResponse
			post("/v1/release", http.Header{"Content-Type": {"application/json"}, api.HeaderFencingToken: {token}, api.HeaderCorrelationID: {corr}}, rel, &out)
		}
	}
}

// jsonGenerator produces a valid JSON document of exactly size bytes,
// {"items":["xxxx…","xxxx…",…,"x…"]}, without ever holding it.
type jsonGenerator struct {
	size, off int64
	chunk     []byte
}

const genHead, genTail = `{"items":[`, `"end"]}`

func newJSONGenerator(size int64) *jsonGenerator {
	item := append(append([]byte{'"'}, bytes.Repeat([]byte{'x'}, 1022)...), '"', ',') // 1 KiB per item
	return &jsonGenerator{size: size, chunk: bytes.Repeat(item, 64)}
}

func (g *jsonGenerator) Read(p []byte) (int, error) {
	if g.off >= g.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && g.off < g.size {
		var src []byte
		var pos int64
		switch tailStart := g.size - int64(len(genTail)); {
		case g.off < int64(len(genHead)):
			src, pos = []byte(genHead), g.off
		case g.off >= tailStart:
			src, pos = []byte(genTail), g.off-tailStart
		default:
			// Body: repeated items, then padding spaces so the tail lands
			// exactly at size (whitespace between values is valid JSON).
			bodyOff := g.off - int64(len(genHead))
			bodyLen := tailStart - int64(len(genHead))
			full := bodyLen / int64(len(g.chunk)) * int64(len(g.chunk))
			if bodyOff < full {
				src, pos = g.chunk, bodyOff%int64(len(g.chunk))
			} else {
				src, pos = bytes.Repeat([]byte{' '}, int(bodyLen-full)), bodyOff-full
			}
		}
		c := copy(p[n:], src[pos:])
		if limit := g.size - g.off; int64(c) > limit {
			c = int(limit)
		}
		n += c
		g.off += int64(c)
	}
	return n, nil
}

// BenchmarkUpdateStream1GiB streams a generated 1 GiB document through
// UpdateStream and reports the peak growth of the client's heap. The
// receiving end reads the body like a server and keeps nothing: an embedded
// server in the same process would store the document in the very heap
// being measured.
func BenchmarkUpdateStream1GiB(b *testing.B) {
	const size = 1 << 30
	dir, err := os.MkdirTemp("", "lockd-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	socket := filepath.Join(dir, "sink.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		b.Fatal(err)
	}
	var received atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/acquire":
			io.WriteString(w, `{"namespace":"default","lease_id":"dc3rt69ksdu9l1n1tqmg","txn_id":"dc3rt69ksdu9l1n1tqn0","key":"big","owner":"b","expires_at_unix":4102444800,"fencing_token":1}`)
		case "/v1/update":
			n, _ := io.Copy(io.Discard, r.Body)
			received.Store(n)
			fmt.Fprintf(w, `{"new_version":1,"new_state_etag":"e","bytes":%d,"metadata":{}}`, n)
		default:
			io.WriteString(w, `{"released":true}`)
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()

	ctx := context.Background()
	cli, err := client.New("unix://"+socket, client.WithDisableMTLS(true))
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	lease, err := cli.Acquire(ctx, api.AcquireRequest{Key: "big", Owner: "b"})
	if err != nil {
		b.Fatal(err)
	}

	b.SetBytes(size)
	var peak uint64
	for b.Loop() {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapInuse
		var maxInuse atomic.Uint64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			var ms runtime.MemStats
			t := time.NewTicker(5 * time.Millisecond)
			defer t.Stop()
			for {
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > maxInuse.Load() {
					maxInuse.Store(ms.HeapInuse)
				}
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		})
		res, err := lease.UpdateStream(ctx, newJSONGenerator(size), client.UpdateOptions{})
		close(stop)
		wg.Wait()
		if err != nil {
			b.Fatal(err)
		}
		if res.BytesWritten != size || received.Load() != size {
			b.Fatalf("server got %d bytes, want %d", received.Load(), size)
		}
		if grow := maxInuse.Load() - min(base, maxInuse.Load()); grow > peak {
			peak = grow
		}
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	if peak >= 16<<20 {
		b.Errorf("peak heap growth %.1f MiB, want < 16 MiB", float64(peak)/(1<<20))
	}
}

// TestJSONGenerator checks the benchmark's generator makes valid JSON of the
// requested size.
func TestJSONGenerator(t *testing.T) {
	for _, size := range []int64{int64(len(genHead) + len(genTail)), 5000, 70000, 1 << 20} {
		data, err := io.ReadAll(newJSONGenerator(size))
		if err != nil || int64(len(data)) != size || !json.Valid(data) {
			t.Fatalf("size %d: got %d bytes, valid=%v, err=%v", size, len(data), json.Valid(data), err)
		}
	}
}

package server

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The cycle benchmark measures acquire -> update (1 KiB) -> release with 8
// concurrent HTTP clients over loopback TCP, beside a no-op server that
// reads the same requests and answers fixed bodies on the same net/http
// stack (the floor any server pays). Run it with
//
//	go test ./server -run TestCycleFloorRatio -cycles=10s -v
var cyclesFlag = flag.Duration("cycles", 0, "run the cycle throughput comparison for this long per server")

const benchWorkers = 8

var benchDoc = func() []byte {
	var b strings.Builder
	b.WriteString(`{"owner":"bench","items":[`)
	for i := 0; b.Len() < 1000; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"n":%d,"s":"item-%04d"}`, i, i)
	}
	b.WriteString(`]}`)
	s := b.String()
	return []byte(s + strings.Repeat(" ", 1024-len(s)))
}()

// cycleClient runs acquire/update/release cycles against base.
type cycleClient struct {
	base   string
	client *http.Client
}

func newCycleClient(base string) *cycleClient {
	tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, DisableCompression: true,
		DialContext: (&net.Dialer{}).DialContext}
	return &cycleClient{base: base, client: &http.Client{Transport: tr}}
}

func (c *cycleClient) call(method, path string, body []byte, hdr map[string]string) ([]byte, http.Header, int, error) {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, nil, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header[k] = []string{v}
	}
	res, err := c.client.Do(req)
	if err != nil {
		return nil, nil, 0, err
	}
	data, err := io.ReadAll(res.Body)
	res.Body.Close()
	return data, res.Header, res.StatusCode, err
}

// cycle is one lease cycle of the floor-ratio benchmark.
func (c *cycleClient) cycle(key string) error { return c.commit("bench", key, benchDoc) }

// commit is one acquire/update/release cycle with doc.
func (c *cycleClient) commit(ns, key string, doc []byte) error {
	body, _, st, err := c.call("POST", "/v1/acquire", []byte(`{"namespace":"`+ns+`","key":"`+key+`","owner":"bench","ttl_seconds":30,"block_seconds":-1}`), nil)
	if err != nil || st != 200 {
		return fmt.Errorf("acquire: %d %s %v", st, body, err)
	}
	var a struct {
		LeaseID string `json:"lease_id"`
		TxnID   string `json:"txn_id"`
		Fencing int64  `json:"fencing_token"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return err
	}
	tok := strconv.FormatInt(a.Fencing, 10)
	hdr := map[string]string{"X-Lease-Id": a.LeaseID, "X-Txn-Id": a.TxnID, "X-Fencing-Token": tok}
	if body, _, st, err = c.call("POST", "/v1/update?namespace="+ns+"&key="+key, doc, hdr); err != nil || st != 200 {
		return fmt.Errorf("update: %d %s %v", st, body, err)
	}
	body, _, st, err = c.call("POST", "/v1/release", []byte(`{"namespace":"`+ns+`","key":"`+key+`","lease_id":"`+a.LeaseID+`","txn_id":"`+a.TxnID+`"}`),
		map[string]string{"X-Fencing-Token": tok})
	if err != nil || st != 200 {
		return fmt.Errorf("release: %d %s %v", st, body, err)
	}
	return nil
}

type cycleResult struct {
	cycles   int
	elapsed  time.Duration
	p50, p99 time.Duration
}

func (r cycleResult) rate() float64 { return float64(r.cycles) / r.elapsed.Seconds() }

// runCycles drives benchWorkers workers until n cycles (n > 0) or dur ends.
// Latencies are also appended to all when it is not nil.
func runCycles(base string, n int, dur time.Duration, all *[]time.Duration) (cycleResult, error) {
	c := newCycleClient(base)
	defer c.client.CloseIdleConnections()
	var (
		mu      sync.Mutex
		lat     []time.Duration
		count   atomic.Int64
		firstEr error
		wg      sync.WaitGroup
	)
	deadline := time.Now().Add(dur)
	start := time.Now()
	for w := 0; w < benchWorkers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			key := "k" + strconv.Itoa(w)
			local := make([]time.Duration, 0, 4096)
			for {
				if n > 0 && count.Add(1) > int64(n) {
					break
				}
				if n <= 0 && time.Now().After(deadline) {
					break
				}
				t0 := time.Now()
				if err := c.cycle(key); err != nil {
					mu.Lock()
					if firstEr == nil {
						firstEr = err
					}
					mu.Unlock()
					return
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstEr != nil {
		return cycleResult{}, firstEr
	}
	if all != nil {
		*all = append(*all, lat...)
	}
	slices.Sort(lat)
	res := cycleResult{cycles: len(lat), elapsed: elapsed}
	if len(lat) > 0 {
		res.p50 = lat[len(lat)/2]
		res.p99 = lat[len(lat)*99/100]
	}
	return res, nil
}

// startFloor runs the no-op server: it reads each request fully and answers
// fixed bodies shaped like the real ones.
func startFloor(t testing.TB) (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	acquire := []byte(`{"namespace":"bench","lease_id":"dc3rt69ksdu9l1n1tqmg","txn_id":"dc3rt69ksdu9l1n1tqn0","key":"k","owner":"bench","expires_at_unix":1795669687,"version":0,"fencing_token":1,"correlation_id":"01a21640-887c-7894-82c9-171157b23812"}` + "\n")
	update := []byte(`{"new_version":1,"new_state_etag":"ed76d27d1563210fbfa36dff79e60488610ffb7b522c76d0f5d839b82adb3c44","bytes":1000,"metadata":{}}` + "\n")
	release := []byte(`{"released":true}` + "\n")
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h := w.Header()
		h["Content-Type"] = hdrJSON
		var body []byte
		switch r.URL.Path {
		case "/v1/acquire":
			h["X-Fencing-Token"] = hdrOne
			h["X-Key-Version"] = hdrZero
			h["X-Correlation-Id"] = []string{"01a21640-887c-7894-82c9-171157b23812"}
			body = acquire
		case "/v1/update":
			h["X-Key-Version"] = hdrOne
			h["Etag"] = []string{"ed76d27d1563210fbfa36dff79e60488610ffb7b522c76d0f5d839b82adb3c44"}
			body = update
		default:
			body = release
		}
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
		w.Write(body)
	})}
	go hs.Serve(ln)
	return "http://" + ln.Addr().String(), func() { hs.Close() }
}

// TestCycleFloorRatio runs the floor, mem and disk servers in interleaved
// windows (so load from elsewhere on a shared machine hits all three alike)
// and reports each rate as a fraction of the floor's.
func TestCycleFloorRatio(t *testing.T) {
	if *cyclesFlag <= 0 {
		t.Skip("set -cycles=10s to run the throughput comparison")
	}
	const rounds = 5
	window := *cyclesFlag / rounds
	floorURL, stopFloor := startFloor(t)
	defer stopFloor()
	targets := []struct{ name, url string }{{"floor", floorURL}}
	for _, st := range []struct{ name, store string }{{"mem", "mem://"}, {"disk", "disk://" + filepath.Join(t.TempDir(), "data")}} {
		ts := startTCP(t, Config{Store: st.store})
		targets = append(targets, struct{ name, url string }{st.name, ts.base})
	}
	results := make([]cycleResult, len(targets))
	lats := make([][]time.Duration, len(targets))
	for _, tg := range targets {
		if _, err := runCycles(tg.url, 1000, 0, nil); err != nil { // warm up
			t.Fatal(err)
		}
	}
	for r := 0; r < rounds; r++ {
		for i, tg := range targets {
			res, err := runCycles(tg.url, 0, window, &lats[i])
			if err != nil {
				t.Fatal(err)
			}
			results[i].cycles += res.cycles
			results[i].elapsed += res.elapsed
		}
	}
	for i, tg := range targets {
		slices.Sort(lats[i])
		results[i].p50, results[i].p99 = lats[i][len(lats[i])/2], lats[i][len(lats[i])*99/100]
		r := results[i]
		t.Logf("%-6s %7.0f cycles/s  p50 %8s  p99 %8s  (%d cycles in %s)  %.2f of floor",
			tg.name, r.rate(), r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.cycles,
			r.elapsed.Round(time.Millisecond), r.rate()/results[0].rate())
	}
}

// BenchmarkCycle reports cycles/s of the real server per store (b.N cycles
// over 8 workers).
func BenchmarkCycle(b *testing.B) {
	b.Run("floor", func(b *testing.B) {
		u, stop := startFloor(b)
		defer stop()
		benchCycles(b, u)
	})
	for _, st := range []struct{ name, url string }{{"mem", "mem://"}, {"disk", "disk://" + filepath.Join(b.TempDir(), "data")}} {
		b.Run(st.name, func(b *testing.B) {
			h, err := Start(context.Background(), Config{Store: st.url, Listen: "127.0.0.1:0", Logger: quietLogger()})
			if err != nil {
				b.Fatal(err)
			}
			defer h.Stop(context.Background(), WithDrainTimeout(0))
			benchCycles(b, h.URL())
		})
	}
}

func benchCycles(b *testing.B, base string) {
	b.ResetTimer()
	r, err := runCycles(base, b.N, 0, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(r.rate(), "cycles/s")
	b.ReportMetric(float64(r.p50.Microseconds()), "p50-µs")
	b.ReportMetric(float64(r.p99.Microseconds()), "p99-µs")
}

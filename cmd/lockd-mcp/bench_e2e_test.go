package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/client"
	"github.com/mark3labs/mcp-go/mcp"
)

// Benchmarks run only with -bench; use -benchtime=1x for the 1 GiB ones.

func p50(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// benchProtocols are the protocol revisions the stdio benchmarks run
// under. MCP clients in the field negotiate 2025-11-25 or earlier through
// the initialize handshake; 2026-07-28 is the stateless revision, where
// mcp-go's client re-encodes every request several times to carry _meta
// and mirror headers (client CPU, not lockd-mcp's: see srv-cpu).
var benchProtocols = []string{mcp.LATEST_LEGACY_PROTOCOL_VERSION, mcp.LATEST_PROTOCOL_VERSION}

// BenchmarkCycleMCPvsSDK times acquire → state_update (1 KiB) → release
// through the stdio MCP path and through the SDK against the same server,
// and reports both p50s, their ratio (target ≤ 1.5) and the CPU lockd-mcp
// spent per MCP cycle.
//
// It also times lockd_lock_status, a tool call that never reaches the
// server, through the same client: the cost of one tool call to lockd-mcp
// and back on its own. The MCP cycle cannot be cheaper than three such
// round trips plus the server's own work, which the SDK cycle bounds from
// below (lockd-mcp reaches the server through the same SDK, from another
// process), so floor = (sdk + 3·noop) / sdk is the lowest ratio a stdio
// server could report here.
func BenchmarkCycleMCPvsSDK(b *testing.B) {
	for _, proto := range benchProtocols {
		b.Run("proto="+proto, func(b *testing.B) { benchCycle(b, proto) })
	}
}

func benchCycle(b *testing.B, proto string) {
	h := startLockd(b, "mem://", 0)
	p := startMCPProto(b, proto, "bench", "--server", h.URL(), "--disable-mtls", "--log-level", "warn")
	cli, err := client.New(h.URL(), client.WithDisableMTLS(true), client.WithDefaultNamespace("mcp"))
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	doc := `{"pad":"` + strings.Repeat("x", 1024-10) + `"}`
	ctx := context.Background()
	var mcpT, sdkT, noopT []time.Duration
	var srvCPU time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		p.fast("lockd_lock_status", map[string]any{})
		noopT = append(noopT, time.Since(start))

		cpu0 := procCPU(b, p.cmd.Process.Pid)
		start = time.Now()
		l := p.fast("lockd_lock_acquire", map[string]any{"key": "cycle-mcp", "auto_keepalive": false})
		p.fast("lockd_state_update", map[string]any{"key": "cycle-mcp", "lease_id": l["lease_id"], "payload_text": doc})
		p.fast("lockd_lock_release", map[string]any{"key": "cycle-mcp", "lease_id": l["lease_id"]})
		mcpT = append(mcpT, time.Since(start))
		srvCPU += procCPU(b, p.cmd.Process.Pid) - cpu0

		start = time.Now()
		s, err := cli.Acquire(ctx, api.AcquireRequest{Key: "cycle-sdk", Owner: "bench", TTLSeconds: 30, BlockSecs: api.BlockNoWait})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := cli.UpdateBytes(ctx, "cycle-sdk", s.LeaseID, []byte(doc), client.UpdateOptions{}); err != nil {
			b.Fatal(err)
		}
		if err := s.Release(ctx); err != nil {
			b.Fatal(err)
		}
		sdkT = append(sdkT, time.Since(start))
	}
	b.StopTimer()
	m, s, noop := p50(mcpT), p50(sdkT), p50(noopT)
	b.ReportMetric(float64(m.Microseconds()), "mcp-p50-µs")
	b.ReportMetric(float64(s.Microseconds()), "sdk-p50-µs")
	b.ReportMetric(float64(m)/float64(s), "mcp/sdk")
	b.ReportMetric(float64(noop.Microseconds()), "noop-p50-µs")
	b.ReportMetric(float64(s+3*noop)/float64(s), "floor")
	b.ReportMetric(float64(srvCPU.Microseconds())/float64(b.N), "srv-cpu-µs/cycle")
}

// BenchmarkStdioProcs compares the MCP tool cycle through lockd-mcp on one
// P (its default) and on GOMAXPROCS=2, interleaved against one server.
func BenchmarkStdioProcs(b *testing.B) {
	h := startLockd(b, "mem://", 0)
	args := []string{"--server", h.URL(), "--disable-mtls", "--log-level", "warn"}
	one := launchMCP(b, mcp.LATEST_LEGACY_PROTOCOL_VERSION, "bench-1p", []string{"LOCKD_MCP_HOME=" + b.TempDir()}, args...)
	two := launchMCP(b, mcp.LATEST_LEGACY_PROTOCOL_VERSION, "bench-2p", []string{"LOCKD_MCP_HOME=" + b.TempDir(), "GOMAXPROCS=2"}, args...)
	doc := `{"pad":"` + strings.Repeat("x", 1024-10) + `"}`
	var oneT, twoT []time.Duration
	var oneCPU, twoCPU time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, run := range []struct {
			p   *mcpProc
			d   *[]time.Duration
			cpu *time.Duration
		}{{one, &oneT, &oneCPU}, {two, &twoT, &twoCPU}} {
			cpu0 := procCPU(b, run.p.cmd.Process.Pid)
			*run.d = append(*run.d, cycle(b, run.p, "procs", doc))
			*run.cpu += procCPU(b, run.p.cmd.Process.Pid) - cpu0
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(p50(oneT).Microseconds()), "1p-p50-µs")
	b.ReportMetric(float64(p50(twoT).Microseconds()), "2p-p50-µs")
	b.ReportMetric(float64(oneCPU.Microseconds())/float64(b.N), "1p-cpu-µs/cycle")
	b.ReportMetric(float64(twoCPU.Microseconds())/float64(b.N), "2p-cpu-µs/cycle")
}

// procCPU is the user+system CPU time pid has used, from /proc/<pid>/stat
// (clock ticks of 10 ms, so sum it over many iterations).
func procCPU(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the parenthesised command name; utime and stime are the
	// 14th and 15th fields of the whole line.
	rest := string(data[strings.LastIndexByte(string(data), ')')+2:])
	f := strings.Fields(rest)
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// fast calls a tool that must succeed without the output-schema check, so
// the benchmark times the server and not the test's validator.
func (p *mcpProc) fast(name string, args map[string]any) map[string]any {
	res := p.call(name, args)
	if res.IsError {
		p.t.Fatalf("%s failed: %s", name, text(res))
	}
	return structured(p.t, res)
}

// vmHWM is the peak resident set size of pid, from /proc/<pid>/status.
func vmHWM(b *testing.B, pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	b.Fatal("no VmHWM")
	return 0
}

const (
	gib   = 1 << 30
	chunk = 256 << 10
)

// bigDocChunk returns chunk i of a 1 GiB JSON document {"d":"aaa…"}.
func bigDocChunk(i, n int) string {
	body := strings.Repeat("a", chunk)
	switch i {
	case 0:
		return `{"d":"` + body[6:]
	case n - 1:
		return body[2:] + `"}`
	}
	return body
}

func bigServer(b *testing.B, proto string) (*mcpProc, string) {
	h := startLockd(b, "disk://"+b.TempDir(), 2*gib)
	root := b.TempDir()
	p := startMCPProto(b, proto, "bench", "--server", h.URL(), "--disable-mtls", "--log-level", "warn", "--allow-root", root)
	return p, root
}

// cpuMark is the CPU used so far by lockd-mcp and by this test process
// (the MCP client and the lockd server), to say who a big write waited on.
type cpuMark struct{ srv, test time.Duration }

func markCPU(b *testing.B, p *mcpProc) cpuMark {
	return cpuMark{procCPU(b, p.cmd.Process.Pid), procCPU(b, os.Getpid())}
}

// reportBig reports throughput, lockd-mcp's peak RSS and the CPU spent per
// GiB by lockd-mcp and by the test process, and checks the targets
// (≥ 50 MB/s, ≤ 64 MiB).
func reportBig(b *testing.B, p *mcpProc, elapsed time.Duration, start cpuMark) {
	end := markCPU(b, p)
	srvCPU, testCPU := end.srv-start.srv, end.test-start.test
	rss := vmHWM(b, p.cmd.Process.Pid)
	mbps := float64(gib) / 1e6 / elapsed.Seconds()
	b.ReportMetric(mbps, "MB/s")
	b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(srvCPU.Seconds(), "srv-cpu-s/GiB")
	b.ReportMetric(testCPU.Seconds(), "client+lockd-cpu-s/GiB")
	b.Logf("%.1f MB/s, peak RSS %.1f MiB, CPU: lockd-mcp %.1fs, test process (MCP client + lockd server) %.1fs",
		mbps, float64(rss)/(1<<20), srvCPU.Seconds(), testCPU.Seconds())
	if rss > 64<<20 {
		b.Errorf("peak RSS %d MiB > 64 MiB", rss>>20)
	}
	if mbps < 50 {
		b.Errorf("throughput %.1f MB/s < 50 MB/s (CPU: lockd-mcp %.1fs, MCP client + lockd server %.1fs)", mbps, srvCPU.Seconds(), testCPU.Seconds())
	}
}

// BenchmarkWriteStream1GiB writes a 1 GiB state through
// lockd_state_write_stream_append in 256 KiB chunks.
func BenchmarkWriteStream1GiB(b *testing.B) {
	for _, proto := range benchProtocols {
		b.Run("proto="+proto, func(b *testing.B) { benchWriteStream(b, proto) })
	}
}

func benchWriteStream(b *testing.B, proto string) {
	p, _ := bigServer(b, proto)
	n := gib / chunk
	for i := 0; i < b.N; i++ {
		cpu0 := markCPU(b, p)
		start := time.Now()
		l := p.ok("lockd_lock_acquire", map[string]any{"key": "big", "ttl_seconds": 60})
		sid := p.ok("lockd_state_write_stream_begin", map[string]any{"key": "big", "lease_id": l["lease_id"]})["stream_id"]
		for c := 0; c < n; c++ {
			p.fast("lockd_state_write_stream_append", map[string]any{"stream_id": sid, "chunk_text": bigDocChunk(c, n)})
		}
		p.ok("lockd_state_write_stream_commit", map[string]any{"stream_id": sid, "expected_bytes": gib})
		p.ok("lockd_lock_release", map[string]any{"key": "big", "lease_id": l["lease_id"]})
		reportBig(b, p, time.Since(start), cpu0)
	}
}

// BenchmarkPayloadPath1GiB writes the same 1 GiB state from a file through
// lockd_state_update payload_path.
func BenchmarkPayloadPath1GiB(b *testing.B) {
	p, root := bigServer(b, mcp.LATEST_PROTOCOL_VERSION)
	path := filepath.Join(root, "big.json")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	n := gib / chunk
	for c := 0; c < n; c++ {
		_, _ = w.WriteString(bigDocChunk(c, n))
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cpu0 := markCPU(b, p)
		start := time.Now()
		l := p.ok("lockd_lock_acquire", map[string]any{"key": "bigfile", "ttl_seconds": 60})
		p.ok("lockd_state_update", map[string]any{"key": "bigfile", "lease_id": l["lease_id"], "payload_path": path})
		p.ok("lockd_lock_release", map[string]any{"key": "bigfile", "lease_id": l["lease_id"]})
		reportBig(b, p, time.Since(start), cpu0)
	}
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Benchmarks of the daemon path; they run only with -bench.

// cycle runs acquire → state_update (1 KiB) → release through p.
func cycle(b *testing.B, p *mcpProc, key, doc string) time.Duration {
	start := time.Now()
	l := p.call("lockd_lock_acquire", map[string]any{"key": key, "auto_keepalive": false})
	if l.IsError {
		b.Fatalf("acquire: %s", text(l))
	}
	lid := structured(b, l)["lease_id"]
	if r := p.call("lockd_state_update", map[string]any{"key": key, "lease_id": lid, "payload_text": doc}); r.IsError {
		b.Fatalf("update: %s", text(r))
	}
	if r := p.call("lockd_lock_release", map[string]any{"key": key, "lease_id": lid}); r.IsError {
		b.Fatalf("release: %s", text(r))
	}
	return time.Since(start)
}

// BenchmarkDaemonCycle times the acquire → update → release tool cycle
// through the shared daemon (disk store) and, interleaved, through a private
// in-process server on mem:// and on disk. daemon/mem is the figure the
// issue asks for (target ≤ 1.3); daemon/inproc-disk isolates the cost of
// the daemon path itself from the cost of durable commits, and
// serve-mem/inproc-mem measures the process boundary alone (a separate
// serve process on mem:// over a unix socket).
//
// Each round also times a bare fdatasync of a small append in the
// daemon's data directory. The daemon cycle makes one release durable, so
// it cannot beat serve-mem plus that fsync: floor = (serve-mem + fsync) /
// inproc-mem is the lowest daemon/mem ratio this machine allows.
func BenchmarkDaemonCycle(b *testing.B) {
	l := daemonHome(b)
	pd := startMCPHome(b, "bench-daemon", l, nil, "--log-level", "warn")
	pm := startMCPHome(b, "bench-mem", l, nil, "--log-level", "warn", "--store", "mem://")
	pk := startMCPHome(b, "bench-disk", l, nil, "--log-level", "warn", "--store", "disk://"+filepath.Join(b.TempDir(), "store"))
	// The daemon's process boundary without the disk: serve on mem:// on a
	// unix socket, reached with --server.
	sock := filepath.Join(l.Home, "mem.sock")
	srv := exec.Command(binPath, "serve", "--listen", "unix://"+sock, "--store", "mem://", "--log-level", "warn")
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	if !waitFor(5*time.Second, func() bool { _, err := os.Stat(sock); return err == nil }) {
		b.Fatal("serve on mem:// did not come up")
	}
	ps := startMCPHome(b, "bench-serve-mem", l, nil, "--log-level", "warn", "--server", "unix://"+sock, "--disable-mtls")
	doc := `{"pad":"` + strings.Repeat("x", 1024-10) + `"}`
	for _, p := range []*mcpProc{pd, pm, pk, ps} { // warm up: daemon start, pools
		cycle(b, p, "warm", doc)
	}
	probe, err := os.OpenFile(filepath.Join(l.Home, "fsync-probe"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer probe.Close()
	frame := make([]byte, 1500)
	var dT, mT, kT, sT, fT []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := probe.WriteAt(frame, int64(i%1024)*int64(len(frame))); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := syscall.Fdatasync(int(probe.Fd())); err != nil {
			b.Fatal(err)
		}
		fT = append(fT, time.Since(start))
		dT = append(dT, cycle(b, pd, "cycle-daemon", doc))
		mT = append(mT, cycle(b, pm, "cycle-mem", doc))
		kT = append(kT, cycle(b, pk, "cycle-disk", doc))
		sT = append(sT, cycle(b, ps, "cycle-serve-mem", doc))
	}
	b.StopTimer()
	d, m, k, sm := p50(dT), p50(mT), p50(kT), p50(sT)
	b.ReportMetric(float64(d.Microseconds()), "daemon-p50-µs")
	b.ReportMetric(float64(m.Microseconds()), "inproc-mem-p50-µs")
	b.ReportMetric(float64(k.Microseconds()), "inproc-disk-p50-µs")
	b.ReportMetric(float64(d)/float64(m), "daemon/mem")
	b.ReportMetric(float64(d)/float64(k), "daemon/inproc-disk")
	b.ReportMetric(float64(sm.Microseconds()), "serve-mem-p50-µs")
	b.ReportMetric(float64(sm)/float64(m), "serve-mem/inproc-mem")
	fs := p50(fT)
	b.ReportMetric(float64(fs.Microseconds()), "fdatasync-p50-µs")
	b.ReportMetric(float64(sm+fs)/float64(m), "floor")
}

// BenchmarkDaemonColdStart times, with no daemon running, starting a
// lockd-mcp process, the MCP handshake and a first tool call that needs
// the store (target ≤ 300 ms), and the same once the daemon runs.
func BenchmarkDaemonColdStart(b *testing.B) {
	var cold, warm []time.Duration
	for i := 0; i < b.N; i++ {
		l := daemonHome(b)
		start := time.Now()
		p := startMCPHome(b, "cold", l, nil, "--log-level", "warn")
		if r := p.call("lockd_get", map[string]any{"key": "nothing"}); r.IsError {
			b.Fatalf("first call: %s", text(r))
		}
		cold = append(cold, time.Since(start))
		start = time.Now()
		q := startMCPHome(b, "warm", l, nil, "--log-level", "warn")
		if r := q.call("lockd_get", map[string]any{"key": "nothing"}); r.IsError {
			b.Fatalf("first call: %s", text(r))
		}
		warm = append(warm, time.Since(start))
		b.StopTimer()
		_ = p.c.Close()
		_ = q.c.Close()
		killDaemon(b, l)
		b.StartTimer()
	}
	b.ReportMetric(float64(p50(cold).Microseconds())/1000, "cold-p50-ms")
	b.ReportMetric(float64(p50(warm).Microseconds())/1000, "warm-p50-ms")
}

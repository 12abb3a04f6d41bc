package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The shared daemon, end to end: real lockd-mcp processes over stdio, a
// real daemon on a unix socket in a temporary $LOCKD_MCP_HOME.

func TestDaemonSharedByConcurrentProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	l := daemonHome(t)
	const n = 8
	procs := make([]*mcpProc, n)
	var wg sync.WaitGroup
	for i := range procs {
		wg.Go(func() {
			procs[i] = startMCPHome(t, fmt.Sprintf("agent%d", i), l, nil)
			// The first tool call needs the daemon: all eight race for it.
			procs[i].ok("lockd_state_put", map[string]any{"key": fmt.Sprintf("p%d", i), "payload_text": fmt.Sprintf(`{"from":%d}`, i)})
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if got := readyLines(t, l); got != 1 {
		t.Errorf("%d daemons came up, want exactly 1:\n%s", got, must(os.ReadFile(l.LogFile())))
	}
	sharedSocketMode(t, l)
	hint := procs[3].ok("lockd_hint", map[string]any{})
	if src, _ := hint["source"].(string); !strings.HasPrefix(src, "daemon:") || !strings.Contains(src, l.Socket()) {
		t.Errorf("lockd_hint source = %q, want the daemon mode and socket", src)
	}
	if notes := fmt.Sprint(hint["notes"]); !strings.Contains(notes, "Mode daemon") {
		t.Errorf("lockd_hint notes do not name the mode: %s", notes)
	}
	// Every process sees every other's writes: one store.
	for i := range n {
		got := procs[(i+1)%n].ok("lockd_get", map[string]any{"key": fmt.Sprintf("p%d", i)})
		if got["payload_text"] != fmt.Sprintf(`{"from":%d}`, i) {
			t.Errorf("p%d read by another process: %v", i, got)
		}
	}
	// A lease taken in one process blocks the key in the others.
	won := procs[0].ok("lockd_lock_acquire", map[string]any{"key": "task/1", "ttl_seconds": 30})
	for _, p := range procs[1:] {
		msg := p.fails("lockd_lock_acquire", map[string]any{"key": "task/1"})
		if !strings.Contains(msg, won["owner"].(string)) {
			t.Fatalf("conflict does not name the holder %s: %s", won["owner"], msg)
		}
	}
	code, out, errOut := runCLI(t, l, "daemon", "status", "--json")
	var full map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &full) != nil {
		t.Fatalf("daemon status: %d %s %s", code, out, errOut)
	}
	if full["live_leases"].(float64) < 1 || full["connections"].(float64) < n {
		t.Errorf("status = %s, want ≥1 live lease and ≥%d connections", out, n)
	}
}

func TestDaemonHolderCrashAndCleanExit(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	l := daemonHome(t)
	holder := startMCPHome(t, "holder", l, nil)
	other := startMCPHome(t, "other", l, nil)
	holder.ok("lockd_lock_acquire", map[string]any{"key": "crash", "ttl_seconds": 2})
	// SIGKILL: no release happens; the lease lives until its TTL.
	if err := holder.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_, _ = holder.cmd.Process.Wait()
	other.fails("lockd_lock_acquire", map[string]any{"key": "crash"})
	start := time.Now()
	other.ok("lockd_lock_acquire", map[string]any{"key": "crash", "block_seconds": 10})
	if waited := time.Since(start); waited > 4*time.Second {
		t.Errorf("key free only after %s, want about the 2 s TTL", waited)
	}

	clean := startMCPHome(t, "clean", l, nil)
	clean.ok("lockd_lock_acquire", map[string]any{"key": "clean", "ttl_seconds": 60})
	if err := clean.c.Close(); err != nil { // stdin EOF
		t.Fatalf("clean exit: %v", err)
	}
	// Free at once, not after the 60 s TTL.
	other.ok("lockd_lock_acquire", map[string]any{"key": "clean"})
}

func TestDaemonKilledMidRunRestartsWithoutLosingWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	l := daemonHome(t)
	p := startMCPHome(t, "writer", l, nil)
	p.ok("lockd_state_put", map[string]any{"key": "w-first", "payload_text": `{"n":-1}`})
	// A session lease with keepalive, held when the daemon dies.
	p.ok("lockd_lock_acquire", map[string]any{"key": "kept", "ttl_seconds": 3})
	first := daemonPID(l)
	killed := make(chan int, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		pid := daemonPID(l)
		_ = syscall.Kill(pid, syscall.SIGKILL)
		killed <- pid
	}()
	var acked []int
	var failures []string
	deadline := time.Now().Add(2 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		res := p.call("lockd_state_put", map[string]any{"key": fmt.Sprintf("w%d", i), "payload_text": fmt.Sprintf(`{"n":%d}`, i)})
		if res.IsError {
			failures = append(failures, text(res))
			continue
		}
		acked = append(acked, i)
	}
	if pid := <-killed; pid != first {
		t.Fatalf("killed pid %d, first daemon was %d", pid, first)
	}
	second := daemonPID(l)
	if second == 0 || second == first {
		t.Fatalf("daemon not restarted: pid %d (first %d)", second, first)
	}
	if len(failures) > 1 {
		t.Errorf("%d calls failed around one crash, want at most the one in flight: %q", len(failures), failures)
	}
	for _, f := range failures {
		// A put cut by the crash either had a request in flight (outcome
		// unknown) or lost the lease it took between its steps (nothing
		// committed); both say so and both can be repeated.
		if !strings.Contains(f, "unknown whether") && !strings.Contains(f, "nothing was committed") {
			t.Errorf("a failure around the crash is neither the outcome-unknown nor the nothing-committed error: %s", f)
		}
	}
	// Every acknowledged write survived the crash, read through the
	// restarted daemon.
	for _, i := range append([]int{-1}, acked...) {
		key := fmt.Sprintf("w%d", i)
		if i < 0 {
			key = "w-first"
		}
		got := p.ok("lockd_get", map[string]any{"key": key})
		if got["payload_text"] != fmt.Sprintf(`{"n":%d}`, i) {
			t.Fatalf("acknowledged write %s lost after the daemon crash: %v", key, got)
		}
	}
	// A lease held through the crashed daemon is gone with it; the session
	// says so loudly (lost, with the renewal error) instead of pretending,
	// and the key is free for other agents.
	if !waitFor(5*time.Second, func() bool {
		leases, _ := p.ok("lockd_lock_status", map[string]any{})["leases"].([]any)
		return len(leases) == 1 && leases[0].(map[string]any)["lost"] == true
	}) {
		t.Errorf("session lease not reported lost after the daemon crash: %v", p.ok("lockd_lock_status", map[string]any{}))
	}
	other := startMCPHome(t, "other", l, nil)
	other.ok("lockd_lock_acquire", map[string]any{"key": "kept"})
	t.Logf("%d writes acknowledged across the crash (daemon %d → %d), %d failed in flight", len(acked), first, second, len(failures))
}

func TestDaemonIdleExitOnlyWithoutConnectionsAndLeases(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	l := daemonHome(t)
	env := []string{"LOCKD_MCP_DAEMON_IDLE_EXIT=1s"}
	p := startMCPHome(t, "idle", l, env)
	p.ok("lockd_lock_acquire", map[string]any{"key": "held", "ttl_seconds": 4, "auto_keepalive": false})
	pid := daemonPID(l)
	// Connected (and holding a lease): well past the idle period, alive.
	time.Sleep(2 * time.Second)
	if daemonPID(l) != pid {
		t.Fatal("daemon exited while a client was connected")
	}
	// The client dies: no connection, but the lease lives until its TTL.
	_ = p.cmd.Process.Kill()
	_, _ = p.cmd.Process.Wait()
	time.Sleep(1500 * time.Millisecond)
	if daemonPID(l) != pid {
		t.Fatal("daemon exited while a lease was live")
	}
	// TTL (≈4 s after acquire) plus the 1 s idle period.
	if !waitFor(6*time.Second, func() bool { return daemonPID(l) == 0 }) {
		t.Fatal("daemon did not exit once idle without connections and leases")
	}
	if _, err := os.Stat(l.Socket()); !os.IsNotExist(err) {
		t.Errorf("socket left behind after idle exit: %v", err)
	}
	if data := string(must(os.ReadFile(l.LogFile()))); !strings.Contains(data, "idle with no connection and no lease") {
		t.Errorf("log does not say why it stopped:\n%s", data)
	}
}

func TestDaemonSecondOnSameDataDirFails(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	l := daemonHome(t)
	if code, out, errOut := runCLI(t, l, "daemon", "start"); code != 0 {
		t.Fatalf("daemon start: %d %s %s", code, out, errOut)
	}
	pid := daemonPID(l)
	other := filepath.Join(l.Home, "other.sock")
	code, _, errOut := runCLI(t, l, "serve", "--listen", "unix://"+other, "--store", l.Store())
	if code != 3 || !strings.Contains(errOut, "pid "+strconv.Itoa(pid)) || !strings.Contains(errOut, "is using this data directory") {
		t.Errorf("second daemon: exit %d, stderr %q; want status 3 naming pid %d", code, errOut, pid)
	}
	// A live socket is never taken over, whatever the store.
	code, _, errOut = runCLI(t, l, "serve", "--listen", l.URL(), "--store", "mem://")
	if code == 0 || !strings.Contains(errOut, "another server is listening") {
		t.Errorf("serve on a live socket: exit %d, %q", code, errOut)
	}
	if code, out, _ := runCLI(t, l, "daemon", "status"); code != 0 || !strings.Contains(out, "pid:          "+strconv.Itoa(pid)) {
		t.Errorf("daemon hurt by the attempts: %d %s", code, out)
	}
	if code, out, errOut := runCLI(t, l, "daemon", "stop", "--drain", "1s"); code != 0 || !strings.Contains(out, "stopped daemon pid") {
		t.Errorf("daemon stop: %d %s %s", code, out, errOut)
	}
	if daemonPID(l) != 0 {
		t.Error("daemon still holds the data directory after stop")
	}
}

func TestDaemonStaleSocketReplaced(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	l := daemonHome(t)
	if code, _, errOut := runCLI(t, l, "daemon", "start"); code != 0 {
		t.Fatal(errOut)
	}
	first := killDaemon(t, l)
	if _, err := os.Stat(l.Socket()); err != nil {
		t.Fatalf("SIGKILL should leave the socket file behind: %v", err)
	}
	code, _, errOut := runCLI(t, l, "daemon", "status")
	if code == 0 || !strings.Contains(errOut, "stale socket") {
		t.Errorf("status of a stale socket: %d %q", code, errOut)
	}
	p := startMCPHome(t, "after-crash", l, nil)
	p.ok("lockd_state_put", map[string]any{"key": "k", "payload_text": `{}`})
	if pid := daemonPID(l); pid == 0 || pid == first {
		t.Errorf("no new daemon after the stale socket: %d", pid)
	}
	sharedSocketMode(t, l)
}

func TestDaemonOlderVersionReplaced(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	old := filepath.Join(t.TempDir(), "lockd-mcp-old")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=v0.0.1", "-o", old, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build old binary: %v\n%s", err, out)
	}
	l := daemonHome(t)
	if code, _, errOut := runBin(t, old, l, "daemon", "start"); code != 0 {
		t.Fatal(errOut)
	}
	oldPID := daemonPID(l)
	p := startMCPHome(t, "new", l, nil)
	p.ok("lockd_state_put", map[string]any{"key": "k", "payload_text": `{}`})
	code, out, _ := runCLI(t, l, "daemon", "status", "--json")
	var st map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("status: %d %s", code, out)
	}
	if st["version"] != "dev" || int(st["pid"].(float64)) == oldPID {
		t.Errorf("old v0.0.1 daemon (pid %d) not replaced: %s", oldPID, out)
	}
	// The old binary, in turn, uses the newer daemon instead of fighting.
	if code, _, errOut := runBin(t, old, l, "daemon", "start"); code != 0 || daemonPID(l) != int(st["pid"].(float64)) {
		t.Errorf("old client replaced a newer daemon: %d %s", code, errOut)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		return []byte(err.Error())
	}
	return b
}

package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lockd-mcp/lockd-mcp/internal/daemon"
)

// daemonStatus is `lockd-mcp daemon status --json`.
func daemonStatusJSON(t testing.TB, l daemon.Layout) daemon.Status {
	t.Helper()
	code, out, errOut := runCLI(t, l, "daemon", "status", "--json")
	var st daemon.Status
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("daemon status: %d %s %s", code, out, errOut)
	}
	return st
}

// A stdio lockd-mcp that has talked to the daemon keeps a connection to
// it; that alone, with no lease anywhere, keeps the daemon from its idle
// exit. Once the process is gone the daemon exits after the idle period.
func TestDaemonConnectionWithoutLeaseKeepsItAlive(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	l := daemonHome(t)
	p := startMCPHome(t, "conn", l, []string{"LOCKD_MCP_DAEMON_IDLE_EXIT=1s"})
	// The one-shot put acquires and releases: no lease is left.
	p.ok("lockd_state_put", map[string]any{"key": "k", "payload_text": `{}`})
	pid := daemonPID(l)
	if st := daemonStatusJSON(t, l); st.LiveLeases != 0 || st.Connections < 2 || st.IdleExitSeconds != 1 {
		t.Fatalf("status %+v: want no lease, the client's connection besides the status request's, idle exit 1 s", st)
	}
	time.Sleep(2 * time.Second) // twice the idle period
	if got := daemonPID(l); got != pid {
		t.Fatalf("daemon (pid %d) exited while a client was connected without a lease (now pid %d)", pid, got)
	}
	if err := p.c.Close(); err != nil {
		t.Fatal(err)
	}
	if !waitFor(4*time.Second, func() bool { return daemonPID(l) == 0 }) {
		t.Fatal("daemon did not exit once the client was gone")
	}
	if data := string(must(os.ReadFile(l.LogFile()))); !strings.Contains(data, "idle with no connection and no lease") {
		t.Errorf("log does not say why it stopped:\n%s", data)
	}
}

// sessionOf is the session id of pid: field 6 of /proc/<pid>/stat.
func sessionOf(t testing.TB, pid string) int {
	t.Helper()
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	rest := string(data[strings.LastIndexByte(string(data), ')')+2:])
	fields := strings.Fields(rest) // state, ppid, pgrp, session, ...
	sid, err := strconv.Atoi(fields[3])
	if err != nil {
		t.Fatalf("/proc/%s/stat: %q", pid, data)
	}
	return sid
}

// The daemon a stdio process spawns leads a session of its own, so the MCP
// client's process group and terminal cannot take it down.
func TestDaemonRunsInItsOwnSession(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	l := daemonHome(t)
	p := startMCPHome(t, "sess", l, nil)
	p.ok("lockd_state_put", map[string]any{"key": "k", "payload_text": `{}`})
	pid := daemonPID(l)
	if pid == 0 {
		t.Fatal("no daemon")
	}
	mine := sessionOf(t, "self")
	if got := sessionOf(t, strconv.Itoa(p.cmd.Process.Pid)); got != mine {
		t.Errorf("stdio lockd-mcp is in session %d, want the test's %d", got, mine)
	}
	if got := sessionOf(t, strconv.Itoa(pid)); got != pid || got == mine {
		t.Errorf("daemon pid %d is in session %d (test: %d), want its own session", pid, got, mine)
	}
}

// `daemon logs` prints the daemon's log; -f keeps following it until
// interrupted.
func TestDaemonLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	l := daemonHome(t)
	if code, out, errOut := runCLI(t, l, "daemon", "logs"); code == 0 || !strings.Contains(errOut, "daemon log") || out != "" {
		t.Errorf("logs before any daemon: exit %d, stdout %q, stderr %q; want a failure naming the log", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, l, "daemon", "start"); code != 0 {
		t.Fatal(errOut)
	}
	code, out, errOut := runCLI(t, l, "daemon", "logs")
	if code != 0 || !strings.Contains(out, "lockd-mcp serve ready") || out != string(must(os.ReadFile(l.LogFile()))) {
		t.Errorf("logs: exit %d, stdout %q, stderr %q; want the log file", code, out, errOut)
	}

	follow := exec.Command(binPath, "daemon", "logs", "-f")
	follow.Env = append(os.Environ(), "LOCKD_MCP_HOME="+l.Home)
	var fout lockedBuffer
	follow.Stdout = &fout
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- follow.Wait() }()
	defer func() {
		_ = follow.Process.Kill()
	}()
	if code, _, errOut := runCLI(t, l, "daemon", "stop", "--drain", "0s"); code != 0 {
		t.Fatal(errOut)
	}
	if !waitFor(3*time.Second, func() bool { return strings.Contains(fout.String(), "msg=stopped") }) {
		t.Fatalf("logs -f did not show lines appended later: %q", fout.String())
	}
	_ = follow.Process.Signal(syscall.SIGINT)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("logs -f after SIGINT: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Error("logs -f ignored SIGINT")
	}
}

// `daemon stop` drains as documented (README: "lease holders get
// --drain-timeout to finish"; `daemon --help`: "drain (lease holders may
// finish) and exit"; README: "A clean stop loses nothing and keeps
// leases"): a holder keeps its lease and may
// keep writing during the drain; the stop waits for the drain while the
// lease is held, and returns early once the holder releases. The clean stop
// keeps the lease and its staged write, so the holder carries on through
// the daemon its next call starts.
func TestDaemonStopLetsHoldersFinish(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	l := daemonHome(t)
	// What the help promises.
	if code, _, errOut := runCLI(t, l, "daemon", "--help"); code != 0 || !strings.Contains(errOut, "drain (lease holders may finish) and exit") || !strings.Contains(errOut, "keeps leases and staged writes") {
		t.Errorf("daemon --help: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, l, "daemon", "stop", "--help"); code != 0 || !strings.Contains(errOut, "how long lease holders may keep working") {
		t.Errorf("daemon stop --help: exit %d, %q", code, errOut)
	}
	holder := startMCPHome(t, "holder", l, nil)
	other := startMCPHome(t, "other", l, nil)
	holder.ok("lockd_state_put", map[string]any{"key": "k", "payload_text": `{"v":"committed"}`})
	lease := holder.ok("lockd_lock_acquire", map[string]any{"key": "k", "ttl_seconds": 3})
	lid := lease["lease_id"]
	holder.ok("lockd_state_update", map[string]any{"key": "k", "lease_id": lid, "payload_text": `{"v":"staged"}`})

	type result struct {
		code     int
		out, err string
		took     time.Duration
	}
	stop := func(drain string) <-chan result {
		draining := func() int { return strings.Count(string(must(os.ReadFile(l.LogFile()))), "stopping on request") }
		before := draining()
		ch := make(chan result, 1)
		start := time.Now()
		go func() {
			code, out, errOut := runCLI(t, l, "daemon", "stop", "--drain", drain)
			ch <- result{code, out, errOut, time.Since(start)}
		}()
		if !waitFor(3*time.Second, func() bool { return draining() > before }) {
			t.Fatal("the daemon never started draining")
		}
		return ch
	}

	// 1. The holder does not release: it keeps working during the drain,
	// and the stop takes the whole drain.
	first := daemonPID(l)
	done := stop("1500ms")
	holder.ok("lockd_state_update", map[string]any{"key": "k", "lease_id": lid, "payload_text": `{"v":"during-drain"}`})
	r := <-done
	if r.code != 0 || !strings.Contains(r.out, "stopped daemon pid "+strconv.Itoa(first)+" (1 live leases when asked)") {
		t.Fatalf("daemon stop: exit %d, %q %q", r.code, r.out, r.err)
	}
	if r.took < 1400*time.Millisecond || r.took > 6*time.Second {
		t.Errorf("stop with a held lease took %s, want the 1.5 s drain", r.took)
	}
	// The lease and its staged write outlived the stop: the holder's next
	// call (its keepalive, within a second) started a new daemon.
	if got := holder.ok("lockd_get", map[string]any{"key": "k", "lease_id": lid}); got["payload_text"] != `{"v":"during-drain"}` {
		t.Errorf("staged view after the stop: %v", got)
	}
	if pid := daemonPID(l); pid == 0 || pid == first {
		t.Errorf("no new daemon after the stop: pid %d (first %d)", pid, first)
	}
	if st := sessionLease(holder, lid); st == nil || st["lost"] != false {
		t.Errorf("holder's lease after the stop: %v, want it kept", st)
	}
	if msg := other.fails("lockd_lock_acquire", map[string]any{"key": "k"}); !strings.Contains(msg, lease["owner"].(string)) {
		t.Errorf("key free after the stop: %s", msg)
	}
	if got := other.ok("lockd_get", map[string]any{"key": "k"}); got["payload_text"] != `{"v":"committed"}` {
		t.Errorf("committed view after the stop: %v", got)
	}

	// 2. The holder releases during the drain: the release commits, and
	// the stop returns without waiting out the drain.
	second := daemonPID(l)
	done = stop("5s")
	holder.ok("lockd_lock_release", map[string]any{"key": "k", "lease_id": lid})
	r = <-done
	if r.code != 0 || !strings.Contains(r.out, "stopped daemon pid "+strconv.Itoa(second)) || r.took > 4*time.Second {
		t.Errorf("daemon stop after the holder released: exit %d in %s, %q %q; want it before the 5 s drain", r.code, r.took, r.out, r.err)
	}
	if got := other.ok("lockd_get", map[string]any{"key": "k"}); got["payload_text"] != `{"v":"during-drain"}` {
		t.Errorf("after the release during the drain: %v, want the write committed", got)
	}
}

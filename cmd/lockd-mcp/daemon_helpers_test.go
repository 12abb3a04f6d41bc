package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lockd-mcp/lockd-mcp/internal/daemon"
	"github.com/mark3labs/mcp-go/mcp"
)

// daemonHome is a temporary $LOCKD_MCP_HOME whose daemon (whoever started
// it) is SIGKILLed when the test ends, so no test leaves a process behind.
func daemonHome(t testing.TB) daemon.Layout {
	t.Helper()
	// A short path: the socket must fit sun_path.
	dir, err := os.MkdirTemp("", "lmd-")
	if err != nil {
		t.Fatal(err)
	}
	l := daemon.Layout{Home: dir}
	t.Cleanup(func() {
		killDaemon(t, l)
		os.RemoveAll(dir)
	})
	return l
}

// killDaemon SIGKILLs the process holding the layout's data directory.
func killDaemon(t testing.TB, l daemon.Layout) int {
	t.Helper()
	held, pid := daemon.DataDirHeld(l.DataDir())
	if !held || pid <= 0 {
		return 0
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if held, _ := daemon.DataDirHeld(l.DataDir()); !held {
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("daemon pid %d survived SIGKILL", pid)
	return 0
}

// daemonPID is the pid holding the data directory, 0 if none.
func daemonPID(l daemon.Layout) int {
	if held, pid := daemon.DataDirHeld(l.DataDir()); held {
		return pid
	}
	return 0
}

// startMCPHome starts lockd-mcp with LOCKD_MCP_HOME=l.Home plus env and
// initialises an MCP session with it.
func startMCPHome(t testing.TB, name string, l daemon.Layout, env []string, args ...string) *mcpProc {
	t.Helper()
	env = append([]string{"LOCKD_MCP_HOME=" + l.Home}, env...)
	return launchMCP(t, mcp.LATEST_LEGACY_PROTOCOL_VERSION, name, env, args...)
}

// runCLI runs the built binary with LOCKD_MCP_HOME=l.Home and returns its
// exit status, stdout and stderr.
func runCLI(t testing.TB, l daemon.Layout, args ...string) (int, string, string) {
	t.Helper()
	return runBin(t, binPath, l, args...)
}

func runBin(t testing.TB, bin string, l daemon.Layout, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "LOCKD_MCP_HOME="+l.Home)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

// readyLines counts the daemons that came up in the layout's log.
func readyLines(t testing.TB, l daemon.Layout) int {
	t.Helper()
	data, err := os.ReadFile(l.LogFile())
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "lockd-mcp serve ready")
}

// waitFor polls cond until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

// sharedSocketMode checks the socket and its directory are private.
func sharedSocketMode(t testing.TB, l daemon.Layout) {
	t.Helper()
	fi, err := os.Stat(l.Socket())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket %s mode %v, want a 0600 socket", l.Socket(), fi.Mode())
	}
	di, err := os.Stat(filepath.Dir(l.Socket()))
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("socket directory mode %v, want 0700", di.Mode().Perm())
	}
}

package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// exampleServer is a client's MCP server entry as the example configs
// write it.
type exampleServer struct {
	Command string            `json:"command"`
	Args    []string          `json:"args"`
	Env     map[string]string `json:"env"`
}

// TestExampleConfigsRun starts lockd-mcp exactly as each example client
// configuration describes it (the binary under test standing in for
// "lockd-mcp" on PATH) and takes a lease through it, so a config that
// names a wrong flag or variable fails here instead of in someone's IDE.
func TestExampleConfigsRun(t *testing.T) {
	l := daemonHome(t)
	workspace := t.TempDir()
	for _, tc := range []struct {
		file, table string
	}{
		{"claude_desktop_config.json", "mcpServers"},
		{"cursor-mcp.json", "mcpServers"},
		{"vscode-mcp.json", "servers"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("..", "..", "examples", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var cfg map[string]map[string]exampleServer
			if err := json.Unmarshal(data, &cfg); err != nil {
				t.Fatalf("%s is not valid JSON: %v", tc.file, err)
			}
			srv, ok := cfg[tc.table]["lockd"]
			if !ok || srv.Command != "lockd-mcp" {
				t.Fatalf("%s: no %s.lockd entry running lockd-mcp: %+v", tc.file, tc.table, cfg)
			}
			args := make([]string, len(srv.Args))
			for i, a := range srv.Args {
				args[i] = strings.ReplaceAll(a, "${workspaceFolder}", workspace)
			}
			var env []string
			for k, v := range srv.Env {
				env = append(env, k+"="+v)
			}
			p := startMCPHome(t, tc.file, l, env, args...)
			lease := p.ok("lockd_lock_acquire", map[string]any{"key": "example/" + tc.file, "ttl_seconds": 5})
			p.ok("lockd_lock_release", map[string]any{"key": "example/" + tc.file, "lease_id": lease["lease_id"]})
		})
	}
}

// TestExampleCommandLines checks the Codex TOML and the Claude Code script
// name the binary and only flags lockd-mcp knows.
func TestExampleCommandLines(t *testing.T) {
	fs, _ := newMCPFlagSet(nil)
	known := func(flag string) bool { return fs.Lookup(strings.TrimLeft(flag, "-")) != nil }
	toml, err := os.ReadFile(filepath.Join("..", "..", "examples", "codex-config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[mcp_servers.lockd]", `command = "lockd-mcp"`} {
		if !strings.Contains(string(toml), want) {
			t.Errorf("codex-config.toml lacks %s", want)
		}
	}
	script, err := os.ReadFile(filepath.Join("..", "..", "examples", "claude-code.sh"))
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, m := range regexp.MustCompile(`claude mcp add .*-- lockd-mcp(.*)`).FindAllStringSubmatch(string(script), -1) {
		lines++
		for _, f := range strings.Fields(m[1]) {
			if strings.HasPrefix(f, "-") && !known(f) {
				t.Errorf("claude-code.sh passes unknown flag %s", f)
			}
		}
	}
	if lines == 0 {
		t.Fatal("claude-code.sh has no `claude mcp add ... -- lockd-mcp` line")
	}
}

// TestExampleClientProgram runs examples/client against the built binary.
func TestExampleClientProgram(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH to run the example")
	}
	cmd := exec.Command(goBin, "run", "../../examples/client", "-bin", binPath)
	cmd.Env = append(os.Environ(), "LOCKD_MCP_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("examples/client: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "tools") || !strings.Contains(string(out), "lease ") {
		t.Fatalf("examples/client printed:\n%s", out)
	}
}

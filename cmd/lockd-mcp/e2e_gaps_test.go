package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/client"
	"github.com/mark3labs/mcp-go/mcp"
)

// rawMCP drives lockd-mcp over its real stdin/stdout pipes with hand-written
// JSON-RPC lines. Unlike mcp-go's client it sees every stdout line (mcp-go
// skips lines that are not JSON) and leaves stdin open, so the process can
// be stopped by a signal alone.
type rawMCP struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *lockedBuffer
	lines  chan string // every stdout line, closed at EOF
	seen   []string    // the lines read so far
	done   chan struct{}
	state  *os.ProcessState
	nextID int
}

func startRaw(t testing.TB, env []string, args ...string) *rawMCP {
	t.Helper()
	r := &rawMCP{t: t, stderr: &lockedBuffer{}, lines: make(chan string, 64), done: make(chan struct{})}
	r.cmd = exec.Command(binPath, args...)
	r.cmd.Env = append(append(os.Environ(), "LOCKD_MCP_HOME="+t.TempDir()), env...)
	r.cmd.Stderr = r.stderr
	var err error
	if r.stdin, err = r.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
		close(r.lines)
		_ = r.cmd.Wait()
		r.state = r.cmd.ProcessState
		close(r.done)
	}()
	t.Cleanup(func() {
		_ = r.stdin.Close()
		select {
		case <-r.done:
		case <-time.After(5 * time.Second):
			_ = r.cmd.Process.Kill()
			<-r.done
		}
		if t.Failed() {
			t.Logf("lockd-mcp stderr:\n%s", r.stderr.String())
		}
	})
	return r
}

// send writes one JSON-RPC message as one line.
func (r *rawMCP) send(msg map[string]any) {
	r.t.Helper()
	msg["jsonrpc"] = "2.0"
	data, err := json.Marshal(msg)
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.stdin.Write(append(data, '\n')); err != nil {
		r.t.Fatalf("write stdin: %v", err)
	}
}

// request sends a request and returns its response, keeping every line read
// on the way in r.seen.
func (r *rawMCP) request(method string, params any) map[string]any {
	r.t.Helper()
	r.nextID++
	id := r.nextID
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	r.send(msg)
	timeout := time.After(20 * time.Second)
	for {
		select {
		case line, ok := <-r.lines:
			if !ok {
				r.t.Fatalf("%s: stdout closed before the response\nstderr:\n%s", method, r.stderr.String())
			}
			r.seen = append(r.seen, line)
			var resp map[string]any
			if json.Unmarshal([]byte(line), &resp) != nil {
				continue // reported by the purity check
			}
			if resp["id"] == float64(id) && resp["method"] == nil {
				return resp
			}
		case <-timeout:
			r.t.Fatalf("%s: no response within 20 s\nstderr:\n%s", method, r.stderr.String())
		}
	}
}

// initialize runs the legacy handshake.
func (r *rawMCP) initialize() {
	r.t.Helper()
	resp := r.request("initialize", map[string]any{
		"protocolVersion": mcp.LATEST_LEGACY_PROTOCOL_VERSION,
		"capabilities":    map[string]any{},
		"clientInfo":      map[string]any{"name": "raw", "version": "1"},
	})
	if resp["result"] == nil {
		r.t.Fatalf("initialize: %v", resp)
	}
	r.send(map[string]any{"method": "notifications/initialized"})
}

// tool calls a tool and returns its result object.
func (r *rawMCP) tool(name string, args map[string]any) map[string]any {
	r.t.Helper()
	resp := r.request("tools/call", map[string]any{"name": name, "arguments": args})
	res, _ := resp["result"].(map[string]any)
	if res == nil {
		r.t.Fatalf("%s: %v", name, resp)
	}
	return res
}

// toolOK calls a tool that must succeed and returns its structured content.
func (r *rawMCP) toolOK(name string, args map[string]any) map[string]any {
	r.t.Helper()
	res := r.tool(name, args)
	if res["isError"] == true {
		r.t.Fatalf("%s(%v) failed: %v", name, args, res["content"])
	}
	sc, _ := res["structuredContent"].(map[string]any)
	return sc
}

// wait returns the exit status once the process has exited within d, or
// fails the test.
func (r *rawMCP) wait(d time.Duration) *os.ProcessState {
	r.t.Helper()
	select {
	case <-r.done:
		return r.state
	case <-time.After(d):
		r.t.Fatalf("lockd-mcp still running %s later\nstderr:\n%s", d, r.stderr.String())
		return nil
	}
}

// checkJSONRPCLines fails the test for any line that is not one JSON-RPC
// 2.0 message: a request, a notification, a result or an error.
func checkJSONRPCLines(t testing.TB, lines []string) {
	t.Helper()
	for i, line := range lines {
		var msg map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &msg); err != nil {
			t.Errorf("stdout line %d is not a JSON object: %q", i+1, line)
			continue
		}
		if string(msg["jsonrpc"]) != `"2.0"` {
			t.Errorf("stdout line %d lacks jsonrpc 2.0: %q", i+1, line)
		}
		_, hasMethod := msg["method"]
		_, hasID := msg["id"]
		_, hasResult := msg["result"]
		_, hasError := msg["error"]
		switch {
		case hasMethod: // request or notification
		case hasID && hasResult != hasError: // response
		default:
			t.Errorf("stdout line %d is not a request, notification or response: %q", i+1, line)
		}
	}
}

func resultText(res map[string]any) string {
	var parts []string
	content, _ := res["content"].([]any)
	for _, c := range content {
		if m, ok := c.(map[string]any); ok && m["type"] == "text" {
			parts = append(parts, m["text"].(string))
		}
	}
	return strings.Join(parts, "\n")
}

// sdkClient is a plain SDK client on a test server, the "other agent" that
// checks what a lockd-mcp process left behind.
func sdkClient(t testing.TB, url, ns string) *client.Client {
	t.Helper()
	cli, err := client.New(url, client.WithDisableMTLS(true), client.WithDefaultNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// committed is the committed document of key, read without a lease.
func committed(t testing.TB, cli *client.Client, key string) string {
	t.Helper()
	resp, err := cli.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Close()
	data, err := resp.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// A commit whose expected_bytes or expected_sha256 does not match what was
// appended fails naming the field, aborts the stream, and stages nothing:
// after the lease is released (a commit), the previous document is intact.
func TestE2EWriteStreamCommitMismatchStagesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	p := startMCP(t, "mismatch", "--store", "mem://")
	const before = `{"v":"before"}`
	p.ok("lockd_state_put", map[string]any{"key": "doc", "payload_text": before})
	const doc = `{"v":"streamed","n":[1,2,3]}`
	sum := sha256.Sum256([]byte(doc))
	wrongSum := sha256.Sum256([]byte(doc + " "))
	for _, tt := range []struct {
		field string
		args  map[string]any
	}{
		{"expected_bytes", map[string]any{"expected_bytes": len(doc) + 1, "expected_sha256": hex.EncodeToString(sum[:])}},
		{"expected_sha256", map[string]any{"expected_bytes": len(doc), "expected_sha256": hex.EncodeToString(wrongSum[:])}},
	} {
		t.Run(tt.field, func(t *testing.T) {
			lid := p.ok("lockd_lock_acquire", map[string]any{"key": "doc", "ttl_seconds": 30})["lease_id"]
			sid := p.ok("lockd_state_write_stream_begin", map[string]any{"key": "doc", "lease_id": lid})["stream_id"].(string)
			p.ok("lockd_state_write_stream_append", map[string]any{"stream_id": sid, "chunk_text": doc[:10]})
			p.ok("lockd_state_write_stream_append", map[string]any{"stream_id": sid, "chunk_text": doc[10:]})
			args := map[string]any{"stream_id": sid}
			for k, v := range tt.args {
				args[k] = v
			}
			msg := p.fails("lockd_state_write_stream_commit", args)
			if !strings.Contains(msg, tt.field) || !strings.Contains(msg, "aborted") || !strings.Contains(msg, "nothing staged") {
				t.Errorf("commit with a wrong %s: %q, want it named and the abort said", tt.field, msg)
			}
			if st := p.ok("lockd_state_write_stream_status", map[string]any{"stream_id": sid}); st["aborted"] != true ||
				!strings.Contains(fmt.Sprint(st["abort_reason"]), tt.field) || st["can_commit"] != false {
				t.Errorf("stream after the mismatch: %v, want aborted naming %s", st, tt.field)
			}
			// A retry of the commit with the right values cannot revive it.
			if msg := p.fails("lockd_state_write_stream_commit", map[string]any{"stream_id": sid, "expected_bytes": len(doc), "expected_sha256": hex.EncodeToString(sum[:])}); !strings.Contains(msg, "aborted") {
				t.Errorf("commit after the abort: %q", msg)
			}
			// Staged view under the lease: still the old document.
			if got := p.ok("lockd_get", map[string]any{"key": "doc", "lease_id": lid})["payload_text"]; got != before {
				t.Errorf("staged view after the aborted stream: %v, want %s", got, before)
			}
			p.ok("lockd_lock_release", map[string]any{"key": "doc", "lease_id": lid})
			got := p.ok("lockd_get", map[string]any{"key": "doc"})
			if got["payload_text"] != before || got["version"] != float64(1) {
				t.Errorf("after release: %v, want %s at version 1", got, before)
			}
		})
	}
}

// A stream holding a complete, valid JSON document stages nothing when it
// is aborted, explicitly or by the idle timeout: releasing the lease (which
// commits staged writes) leaves the committed document as it was.
func TestE2EWriteStreamAbortAndIdleStageNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	const before = `{"v":"before"}`
	const valid = `{"v":"would-be-valid","complete":true}`
	p := startMCP(t, "abort", "--store", "mem://", "--stream-idle-timeout", "1s")
	p.ok("lockd_state_put", map[string]any{"key": "doc", "payload_text": before})

	// Explicit abort.
	lid := p.ok("lockd_lock_acquire", map[string]any{"key": "doc"})["lease_id"]
	sid := p.ok("lockd_state_write_stream_begin", map[string]any{"key": "doc", "lease_id": lid})["stream_id"]
	p.ok("lockd_state_write_stream_append", map[string]any{"stream_id": sid, "chunk_text": valid})
	if a := p.ok("lockd_state_write_stream_abort", map[string]any{"stream_id": sid}); a["aborted"] != true || a["bytes_received"] != float64(len(valid)) {
		t.Errorf("abort: %v", a)
	}
	p.ok("lockd_lock_release", map[string]any{"key": "doc", "lease_id": lid})
	if got := p.ok("lockd_get", map[string]any{"key": "doc"}); got["payload_text"] != before || got["version"] != float64(1) {
		t.Errorf("after abort and release: %v, want %s at version 1", got, before)
	}

	// Idle timeout: no append or commit for longer than 1 s.
	lid = p.ok("lockd_lock_acquire", map[string]any{"key": "doc"})["lease_id"]
	begin := p.ok("lockd_state_write_stream_begin", map[string]any{"key": "doc", "lease_id": lid})
	sid = begin["stream_id"]
	if exp := begin["upload_expires_at_unix"].(float64); exp > float64(time.Now().Add(3*time.Second).Unix()) {
		t.Errorf("upload_expires_at_unix %v is not about 1 s away", exp)
	}
	p.ok("lockd_state_write_stream_append", map[string]any{"stream_id": sid, "chunk_text": valid})
	time.Sleep(1400 * time.Millisecond)
	if st := p.ok("lockd_state_write_stream_status", map[string]any{"stream_id": sid}); st["aborted"] != true || !strings.Contains(fmt.Sprint(st["abort_reason"]), "idle") {
		t.Errorf("status after the idle timeout: %v", st)
	}
	msg := p.fails("lockd_state_write_stream_commit", map[string]any{"stream_id": sid, "expected_bytes": len(valid)})
	if !strings.Contains(msg, "aborted") || !strings.Contains(msg, "idle") || !strings.Contains(msg, "nothing was staged") {
		t.Errorf("commit after the idle timeout: %q, want a clear abort naming the idle timeout", msg)
	}
	p.ok("lockd_lock_release", map[string]any{"key": "doc", "lease_id": lid})
	if got := p.ok("lockd_get", map[string]any{"key": "doc"}); got["payload_text"] != before || got["version"] != float64(1) {
		t.Errorf("after idle abort and release: %v, want %s at version 1", got, before)
	}
}

// SIGTERM and SIGINT end a stdio lockd-mcp cleanly while it holds a lease
// with a staged write and stdin stays open: exit status 0 at once, the key
// is free for another client immediately (not after its TTL), and the
// staged write was rolled back.
func TestE2ESignalReleasesWithRollback(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	h := startLockd(t, "mem://", 0)
	cli := sdkClient(t, h.URL(), "sig")
	ctx := context.Background()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			key := "k-" + strings.ReplaceAll(sig.String(), " ", "")
			r := startRaw(t, nil, "--server", h.URL(), "--disable-mtls", "--namespace", "sig")
			r.initialize()
			r.toolOK("lockd_state_put", map[string]any{"key": key, "payload_text": `{"v":"committed"}`})
			lease := r.toolOK("lockd_lock_acquire", map[string]any{"key": key, "ttl_seconds": 60})
			r.toolOK("lockd_state_update", map[string]any{"key": key, "lease_id": lease["lease_id"], "payload_text": `{"v":"staged"}`})
			if err := r.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			st := r.wait(5 * time.Second)
			if took := time.Since(start); st.ExitCode() != 0 || took > 3*time.Second {
				t.Errorf("after %v: exit %v in %s, want status 0 promptly\nstderr:\n%s", sig, st, took, r.stderr.String())
			}
			if !strings.Contains(r.stderr.String(), "released lease at shutdown with rollback") {
				t.Errorf("stderr does not report the rollback release:\n%s", r.stderr.String())
			}
			sess, err := cli.Acquire(ctx, api.AcquireRequest{Key: key, Owner: "checker", TTLSeconds: 5, BlockSecs: api.BlockNoWait})
			if err != nil {
				t.Fatalf("lease still held after %v: %v", sig, err)
			}
			_ = sess.Release(ctx)
			if got := committed(t, cli, key); got != `{"v":"committed"}` {
				t.Errorf("state after %v = %s, want the committed version (rollback)", sig, got)
			}
		})
	}
}

// stdout carries JSON-RPC only, even at debug log level and when calls
// fail; the logs go to stderr.
func TestE2EStdoutIsOnlyJSONRPC(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	r := startRaw(t, nil, "--store", "mem://", "--log-level", "debug")
	r.initialize()
	list := r.request("tools/list", nil)
	if tools, _ := list["result"].(map[string]any)["tools"].([]any); len(tools) == 0 {
		t.Fatalf("tools/list: %v", list)
	}
	// A tool error (isError result) and a protocol error (unknown tool).
	if res := r.tool("lockd_get", map[string]any{"key": "k", "limit": "ten"}); res["isError"] != true || !strings.Contains(resultText(res), "limit") {
		t.Errorf("bad lockd_get: %v", res)
	}
	if resp := r.request("tools/call", map[string]any{"name": "no_such_tool", "arguments": map[string]any{}}); resp["error"] == nil {
		t.Errorf("unknown tool: %v, want a JSON-RPC error", resp)
	}
	r.toolOK("lockd_state_put", map[string]any{"key": "k", "payload_text": `{"a":1}`})
	// A line that is not JSON gets a parse error, still on one JSON line.
	if _, err := io.WriteString(r.stdin, "this is not json\n"); err != nil {
		t.Fatal(err)
	}
	r.request("ping", nil)
	_ = r.stdin.Close()
	if st := r.wait(10 * time.Second); st.ExitCode() != 0 {
		t.Errorf("exit %v after stdin EOF", st)
	}
	for line := range r.lines {
		r.seen = append(r.seen, line)
	}
	if len(r.seen) < 7 {
		t.Errorf("only %d stdout lines: %q", len(r.seen), r.seen)
	}
	checkJSONRPCLines(t, r.seen)
	parseErrors := 0
	for _, line := range r.seen {
		if strings.Contains(line, `"code":-32700`) {
			parseErrors++
		}
	}
	if parseErrors != 1 {
		t.Errorf("%d parse errors on stdout, want 1: %q", parseErrors, r.seen)
	}
	logs := r.stderr.String()
	// (Nothing in this session logs at debug level; the level only must
	// not send anything to stdout.)
	for _, want := range []string{"level=INFO", "lockd-mcp ready on stdio", "mcp session ended"} {
		if !strings.Contains(logs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, logs)
		}
	}
}

func TestE2EVersionAndHelp(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	l := daemonHome(t)
	code, out, errOut := runCLI(t, l, "version")
	if code != 0 || !strings.HasPrefix(out, "lockd-mcp ") || strings.Count(out, "\n") != 1 || errOut != "" {
		t.Errorf("version: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for _, arg := range []string{"--help", "-h"} {
		code, out, errOut = runCLI(t, l, arg)
		if code != 0 || out != "" {
			t.Errorf("%s: exit %d, stdout %q; want 0 and nothing on stdout", arg, code, out)
		}
		for _, want := range []string{"usage:", "-store", "-server", "-namespace", "-inline-max-bytes", "-stream-idle-timeout", "-allow-root", "LOCKD_MCP_"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("%s: usage on stderr lacks %q:\n%s", arg, want, errOut)
			}
		}
	}
	if daemonPID(l) != 0 {
		t.Error("--help started the daemon")
	}
}

// --inline-max-bytes caps what lockd_get returns inline; next_offset
// continues the read. lockd_hint reports the limit (262144 by default).
func TestE2EInlineMaxBytes(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	def := startMCP(t, "inline", "--store", "mem://")
	if got := def.ok("lockd_hint", nil)["inline_max_payload_bytes"]; got != float64(262144) {
		t.Errorf("default inline_max_payload_bytes = %v, want 262144", got)
	}
	p := startMCP(t, "inline", "--store", "mem://", "--inline-max-bytes", "16")
	if got := p.ok("lockd_hint", nil)["inline_max_payload_bytes"]; got != float64(16) {
		t.Errorf("inline_max_payload_bytes = %v, want 16", got)
	}
	const doc = `{"name":"forty-byte-document","n":12345}`
	if len(doc) != 40 {
		t.Fatalf("doc is %d bytes", len(doc))
	}
	p.ok("lockd_state_put", map[string]any{"key": "doc", "payload_text": doc})
	var got strings.Builder
	offset := 0
	for i := 0; ; i++ {
		args := map[string]any{"key": "doc"}
		if offset > 0 {
			args["offset"] = offset
		}
		if i == 1 {
			args["limit"] = 1000 // a larger limit is still capped
		}
		r := p.ok("lockd_get", args)
		text, _ := r["payload_text"].(string)
		end := min(offset+16, len(doc))
		if text != doc[offset:end] || r["payload_bytes"] != float64(40) || r["payload_mode"] != "inline" {
			t.Fatalf("read at offset %d: %v, want %q of 40 bytes", offset, r, doc[offset:end])
		}
		got.WriteString(text)
		if end == len(doc) {
			if _, has := r["next_offset"]; has {
				t.Errorf("last page has next_offset: %v", r)
			}
			break
		}
		if r["next_offset"] != float64(end) {
			t.Fatalf("read at offset %d: next_offset %v, want %d", offset, r["next_offset"], end)
		}
		offset = end
	}
	if got.String() != doc {
		t.Errorf("pages joined = %q, want %q", got.String(), doc)
	}
}

// The MCP mode reads its flags from LOCKD_MCP_* variables.
func TestE2EMCPFlagsFromEnv(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	a, b := t.TempDir(), t.TempDir()
	outside := t.TempDir()
	env := []string{
		"LOCKD_MCP_HOME=" + t.TempDir(),
		"LOCKD_MCP_STORE=mem://",
		"LOCKD_MCP_NAMESPACE=team",
		"LOCKD_MCP_ALLOW_ROOTS=" + a + string(os.PathListSeparator) + b,
		"LOCKD_MCP_INLINE_MAX_BYTES=8",
	}
	p := launchMCP(t, mcp.LATEST_LEGACY_PROTOCOL_VERSION, "env", env)
	hint := p.ok("lockd_hint", nil)
	if hint["default_namespace"] != "team" || hint["inline_max_payload_bytes"] != float64(8) {
		t.Errorf("hint: %v, want namespace team and inline limit 8", hint)
	}
	roots := fmt.Sprint(hint["allow_roots"])
	for _, dir := range []string{a, b} {
		if !strings.Contains(roots, dir) {
			t.Errorf("allow_roots %s lacks %s", roots, dir)
		}
	}
	if strings.Contains(roots, outside) {
		t.Errorf("allow_roots %s contains %s", roots, outside)
	}
	// The namespace applies to calls that name none.
	p.ok("lockd_state_put", map[string]any{"key": "k", "payload_text": `{"team":true}`})
	if got := p.ok("lockd_get", map[string]any{"key": "k", "namespace": "team", "output_path": filepath.Join(b, "k.json")}); got["namespace"] != "team" || got["bytes_written"] != float64(13) {
		t.Errorf("get in namespace team: %v", got)
	}
	if got := p.ok("lockd_get", map[string]any{"key": "k", "namespace": "mcp"}); got["found"] != false {
		t.Errorf("the default namespace mcp was used: %v", got)
	}
	// Both roots are allowed, nothing else.
	if data, err := os.ReadFile(filepath.Join(b, "k.json")); err != nil || string(data) != `{"team":true}` {
		t.Errorf("output_path in the second root: %q %v", data, err)
	}
	p.ok("lockd_get", map[string]any{"key": "k", "output_path": filepath.Join(a, "k.json")})
	if msg := p.fails("lockd_get", map[string]any{"key": "k", "output_path": filepath.Join(outside, "k.json")}); !strings.Contains(msg, "output_path") {
		t.Errorf("output_path outside the roots: %s", msg)
	}
}

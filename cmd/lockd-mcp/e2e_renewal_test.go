package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/server"
	"github.com/mark3labs/mcp-go/mcp"
)

// releaseBehind releases a lease granted to a lockd-mcp session with a
// plain HTTP call, behind that session's back.
func releaseBehind(t testing.TB, url string, lease map[string]any) {
	t.Helper()
	body, _ := json.Marshal(api.ReleaseRequest{Namespace: lease["namespace"].(string), Key: lease["key"].(string), LeaseID: lease["lease_id"].(string), TxnID: lease["txn_id"].(string)})
	req, err := http.NewRequest(http.MethodPost, url+"/v1/release", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(api.HeaderFencingToken, strconv.FormatInt(int64(lease["fencing_token"].(float64)), 10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if data, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusOK {
		t.Fatalf("release behind the session's back: %d %s", resp.StatusCode, data)
	}
}

// warnings returns the "warning: " text items of a tool result.
func warnings(res *mcp.CallToolResult) []string {
	var out []string
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok && strings.HasPrefix(tc.Text, "warning: ") {
			out = append(out, tc.Text)
		}
	}
	return out
}

// sessionLease is the lockd_lock_status entry of leaseID.
func sessionLease(p *mcpProc, leaseID any) map[string]any {
	p.t.Helper()
	for _, l := range p.ok("lockd_lock_status", nil)["leases"].([]any) {
		if m := l.(map[string]any); m["lease_id"] == leaseID {
			return m
		}
	}
	return nil
}

// A session lease taken away behind the session's back (released by
// another client, then granted to it) fails its next background renewal:
// lockd_lock_status shows it lost with the error, and the next tool result
// touching the lease carries the warning, once.
func TestE2ERenewalLossWarnsOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	h := startLockd(t, "mem://", 0)
	cli := sdkClient(t, h.URL(), "mcp")
	p := startMCP(t, "renew", "--server", h.URL(), "--disable-mtls")
	ctx := context.Background()
	// ttl 1 s: the renewer runs every 333 ms.
	lease := p.ok("lockd_lock_acquire", map[string]any{"key": "stolen", "ttl_seconds": 1})
	lid := lease["lease_id"]
	releaseBehind(t, h.URL(), lease)
	thief, err := cli.Acquire(ctx, api.AcquireRequest{Key: "stolen", Owner: "thief", TTLSeconds: 30, BlockSecs: api.BlockNoWait})
	if err != nil {
		t.Fatal(err)
	}
	defer thief.Release(ctx)
	var st map[string]any
	if !waitFor(5*time.Second, func() bool { st = sessionLease(p, lid); return st != nil && st["lost"] == true }) {
		t.Fatalf("lease not reported lost: %v", st)
	}
	if st["renewal_failed"] != true || !strings.Contains(fmt.Sprint(st["renewal_error"]), "lease") {
		t.Errorf("status of the lost lease: %v, want renewal_failed and the error", st)
	}
	// lockd_lock_status does not consume the warning; the first call that
	// touches the lease shows it, even though that call fails itself.
	res := p.call("lockd_state_update", map[string]any{"key": "stolen", "lease_id": lid, "payload_text": `{"late":true}`})
	if w := warnings(res); len(w) != 1 || !strings.Contains(w[0], "lease "+lid.(string)+" on mcp/stolen is lost") || !strings.Contains(w[0], "lockd_lock_acquire") {
		t.Errorf("first call touching the lost lease (isError %v): %q, want one renewal warning", res.IsError, text(res))
	}
	res = p.call("lockd_get", map[string]any{"key": "stolen", "lease_id": lid})
	if w := warnings(res); len(w) != 0 {
		t.Errorf("warning repeated on the second call: %q", w)
	}
	// Later writes under it still say the lease was lost, not that a
	// fencing token is missing (the SDK has forgotten the lease).
	if msg := p.fails("lockd_state_update", map[string]any{"key": "stolen", "lease_id": lid, "payload_text": `{"later":true}`}); !strings.Contains(msg, "was lost earlier") || !strings.Contains(msg, "lockd_lock_acquire") {
		t.Errorf("a later write under the lost lease: %q", msg)
	}
	// Still listed as lost until released.
	if st := sessionLease(p, lid); st == nil || st["lost"] != true {
		t.Errorf("lost lease no longer listed: %v", st)
	}
	// Releasing it cannot commit anything, and says so.
	if msg := p.fails("lockd_lock_release", map[string]any{"key": "stolen", "lease_id": lid}); !strings.Contains(msg, "was lost before this release") || !strings.Contains(msg, "committed nothing") {
		t.Errorf("release of the lost lease: %q", msg)
	}
	if st := sessionLease(p, lid); st != nil {
		t.Errorf("released lost lease still listed: %v", st)
	}
}

// failingKeepalives is a proxy in front of a lockd server that answers
// keepalives with a 500 while failing is set, as a server in trouble does.
type failingKeepalives struct {
	failing  atomic.Bool
	failures atomic.Int64 // keepalive requests refused so far
	url      string
}

func proxyFailingKeepalives(t testing.TB, target string) *failingKeepalives {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	f := &failingKeepalives{}
	rp := httputil.NewSingleHostReverseProxy(u)
	// A transport of its own: a connection pooled by another test can be
	// stale, and a POST on it fails instead of being retried.
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	rp.Transport = tr
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		t.Logf("proxy %s: %v", r.URL.Path, err)
		w.WriteHeader(http.StatusBadGateway)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/keepalive" && f.failing.Load() {
			f.failures.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"error":"internal_error","detail":"injected keepalive failure"}`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// Background renewals that keep failing (the lease is not lost, the server
// refuses): lockd_lock_status shows the failure, the next tool result
// touching the lease warns once, further failed retries of the same error
// do not warn again, and a new failure after a successful renewal does.
func TestE2ERenewalFailureWarnsOncePerEpisode(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Parallel()
	h := startLockd(t, "mem://", 0)
	proxy := proxyFailingKeepalives(t, h.URL())
	p := startMCP(t, "flaky", "--server", proxy.url, "--disable-mtls")
	// ttl 4 s: renewals every 1.33 s, retries after a failure every 0.67 s.
	lease := p.ok("lockd_lock_acquire", map[string]any{"key": "flaky", "ttl_seconds": 4})
	lid := lease["lease_id"]
	proxy.failing.Store(true)
	var st map[string]any
	if !waitFor(4*time.Second, func() bool { st = sessionLease(p, lid); return st["renewal_failed"] == true }) {
		t.Fatalf("renewal failure not reported: %v", st)
	}
	if st["lost"] != false || !strings.Contains(fmt.Sprint(st["renewal_error"]), "injected keepalive failure") {
		t.Errorf("status after a failed renewal: %v", st)
	}
	touch := func() *mcp.CallToolResult {
		t.Helper()
		res := p.call("lockd_state_update", map[string]any{"key": "flaky", "lease_id": lid, "payload_text": `{"n":1}`})
		if res.IsError {
			t.Fatalf("update under a lease that is still valid: %s", text(res))
		}
		return res
	}
	seen := proxy.failures.Load()
	if w := warnings(touch()); len(w) != 1 || !strings.Contains(w[0], "injected keepalive failure") || !strings.Contains(w[0], "may expire") {
		t.Fatalf("first call touching the lease after a failed renewal: warnings %q, want one", w)
	}
	// The renewer sends one keepalive at a time, so once the proxy sees the
	// second request after the warning, the first one's failure is recorded.
	if !waitFor(3*time.Second, func() bool { return proxy.failures.Load() >= seen+2 }) {
		t.Fatalf("renewer stopped retrying: %d failures", proxy.failures.Load())
	}
	if w := warnings(touch()); len(w) != 0 {
		t.Errorf("the same failure warned again after a retry: %q", w)
	}
	proxy.failing.Store(false)
	if !waitFor(3*time.Second, func() bool { st = sessionLease(p, lid); return st["renewal_failed"] == false }) {
		t.Fatalf("renewal did not recover: %v", st)
	}
	if w := warnings(touch()); len(w) != 0 {
		t.Errorf("warning after the renewal recovered: %q", w)
	}
	// A new failure after a success warns again.
	proxy.failing.Store(true)
	if !waitFor(4*time.Second, func() bool { st = sessionLease(p, lid); return st["renewal_failed"] == true }) {
		t.Fatalf("second renewal failure not reported: %v", st)
	}
	if w := warnings(touch()); len(w) != 1 {
		t.Errorf("a new failure after a successful renewal: warnings %q, want one", w)
	}
	proxy.failing.Store(false)
	p.ok("lockd_lock_release", map[string]any{"key": "flaky", "lease_id": lid})
}

// When the lockd server behind --server drains, the SDK releases the
// session's leases with rollback (drain-aware shutdown), even right after
// acknowledging a write under them. The session must not hide that: the
// lease shows as lost, and lockd_lock_release fails saying nothing was
// committed instead of answering released=true.
func TestE2EServerDrainLossIsReported(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	dir := t.TempDir()
	h := startLockd(t, "disk://"+dir, 0)
	p := startMCP(t, "drained", "--server", h.URL(), "--disable-mtls")
	p.ok("lockd_state_put", map[string]any{"key": "k", "payload_text": `{"v":"committed"}`})
	lease := p.ok("lockd_lock_acquire", map[string]any{"key": "k", "ttl_seconds": 30, "auto_keepalive": false})
	lid := lease["lease_id"]
	stopped := make(chan error, 1)
	go func() { stopped <- h.Stop(context.Background(), server.WithDrainTimeout(5*time.Second)) }()
	if !waitFor(3*time.Second, func() bool {
		resp, err := http.Get(h.URL() + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.Header.Get(api.HeaderShutdownImminent) == "true"
	}) {
		t.Fatal("server never announced its drain")
	}
	// Holders may still write during a drain; the answer announces it.
	p.ok("lockd_state_update", map[string]any{"key": "k", "lease_id": lid, "payload_text": `{"v":"staged"}`})
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("drain did not end: the lease was not released by the SDK")
	}
	var st map[string]any
	if !waitFor(2*time.Second, func() bool { st = sessionLease(p, lid); return st != nil && st["lost"] == true }) {
		t.Fatalf("lease released by the SDK's drain handler is not shown lost: %v", st)
	}
	if !strings.Contains(fmt.Sprint(st["renewal_error"]), "shutting down") {
		t.Errorf("lost lease status does not say why: %v", st)
	}
	res := p.call("lockd_lock_release", map[string]any{"key": "k", "lease_id": lid})
	if !res.IsError || !strings.Contains(text(res), "was lost before this release") || !strings.Contains(text(res), "committed nothing") {
		t.Errorf("release after the drain rolled the lease back: isError %v %q", res.IsError, text(res))
	}
	if w := warnings(res); len(w) != 1 || !strings.Contains(w[0], "is lost") {
		t.Errorf("release after the loss: warnings %q, want the loss once", w)
	}
	// The acknowledged write was indeed rolled back.
	h2, err := server.Start(context.Background(), server.Config{Store: "disk://" + dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Stop(context.Background(), server.WithDrainTimeout(0))
	if got := committed(t, sdkClient(t, h2.URL(), "mcp"), "k"); got != `{"v":"committed"}` {
		t.Errorf("state after the drain = %s, want the committed version", got)
	}
}

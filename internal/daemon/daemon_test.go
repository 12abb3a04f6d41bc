package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestOlderThan(t *testing.T) {
	for _, tt := range []struct {
		theirs, mine string
		want         bool
	}{
		{"v1.2.3", "v1.2.3", false},
		{"v1.2.3", "v1.2.4", true},
		{"v1.10.0", "v1.9.9", false},
		{"v1.2.3-rc1", "v1.2.3", true},
		{"v1.2.3", "v1.2.3-rc1", false},
		{"v1.2.3", "dev", true},  // a developer build takes over
		{"dev", "v1.2.3", false}, // and a release does not fight back
		{"dev", "dev", false},
		{"abc", "def", true},
	} {
		if got := olderThan(tt.theirs, tt.mine); got != tt.want {
			t.Errorf("olderThan(%q, %q) = %v, want %v", tt.theirs, tt.mine, got, tt.want)
		}
	}
}

func TestPrepareNarrowsHomeAndChecksSocketLength(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	l := Layout{Home: home}
	if err := l.Prepare(); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{l.Home, l.DataDir(), l.LogDir()} {
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v, want 0700", dir, fi.Mode(), err)
		}
	}
	long := Layout{Home: "/tmp/" + strings.Repeat("x", 110)}
	if err := long.Prepare(); err == nil || !strings.Contains(err.Error(), "LOCKD_MCP_HOME") {
		t.Errorf("long socket path: %v", err)
	}
}

func TestMonitorIdleNeedsNoConnectionsAndNoLeases(t *testing.T) {
	m := NewMonitor(MonitorConfig{Version: "v9", IdleExit: 60 * time.Millisecond})
	var leases atomic.Int64
	m.Attach(leases.Load)
	done := make(chan struct{})
	defer close(done)
	m.ConnState(nil, http.StateNew)
	leases.Store(1)
	idle := m.Idle(done)
	select {
	case <-idle:
		t.Fatal("idle with a connection and a lease")
	case <-time.After(200 * time.Millisecond):
	}
	m.ConnState(nil, http.StateClosed)
	select {
	case <-idle:
		t.Fatal("idle with a live lease")
	case <-time.After(200 * time.Millisecond):
	}
	leases.Store(0)
	select {
	case <-idle:
	case <-time.After(2 * time.Second):
		t.Fatal("not idle without connections and leases")
	}
	if !m.Snapshot().Stopping {
		t.Error("status does not say stopping after the idle timer fired")
	}
}

func TestMonitorRoutes(t *testing.T) {
	m := NewMonitor(MonitorConfig{Version: "v9", Socket: "/s", Store: "mem://"})
	m.Attach(func() int64 { return 2 })
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := m.Wrap(next)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Header().Get(HeaderVersion) != "v9" || rec.Code != http.StatusTeapot {
		t.Errorf("healthz: %d %v", rec.Code, rec.Header())
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/update", nil))
	if rec.Code != http.StatusTeapot || rec.Header().Get(HeaderVersion) != "" {
		t.Errorf("lockd routes must pass through untouched: %d %v", rec.Code, rec.Header())
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, StatusPath, nil))
	var st Status
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.LiveLeases != 2 || st.Version != "v9" || st.PID != os.Getpid() {
		t.Errorf("status: %v %s", err, rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, StopPath+"?drain=bogus", nil))
	if rec.Code != http.StatusBadRequest {
		t.Errorf("stop with a bad drain: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, StopPath+"?drain=2s", nil))
	if rec.Code != http.StatusAccepted {
		t.Fatalf("stop: %d", rec.Code)
	}
	select {
	case d := <-m.StopRequested():
		if d != 2*time.Second {
			t.Errorf("drain %s", d)
		}
	default:
		t.Error("stop not delivered")
	}
}

// fakeDaemon serves handler on the layout's socket.
func fakeDaemon(t *testing.T, l Layout, handler http.Handler) (stop func()) {
	t.Helper()
	if err := l.Prepare(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", l.Socket())
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler}
	go srv.Serve(ln)
	return func() { srv.Close() }
}

// dropConn kills the connection without an answer, as a daemon dying
// mid-request does.
func dropConn(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

func TestTransportInFlightWritesAreNotResent(t *testing.T) {
	home, err := os.MkdirTemp("", "lmt-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(home)
	l := Layout{Home: home}
	var updates, gets atomic.Int64
	stop := fakeDaemon(t, l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.Header().Set(HeaderVersion, "dev")
		case "/v1/update":
			updates.Add(1)
			dropConn(w)
		case "/v1/get":
			if gets.Add(1) == 1 {
				dropConn(w)
				return
			}
			w.Write([]byte("ok"))
		}
	}))
	// /bin/false as the daemon: a start attempt fails fast and visibly.
	st, err := NewStarter(Options{Layout: l, Version: "dev", Executable: "/bin/false", StartTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	hc := NewTransport(st, nil).HTTPClient()
	ctx := context.Background()
	post := func(path string) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://lockd"+path, bytes.NewReader([]byte(`{"v":1}`)))
		return hc.Do(req)
	}

	_, err = post("/v1/update")
	var ou *OutcomeUnknownError
	if !errors.As(err, &ou) || !strings.Contains(err.Error(), "unknown whether") {
		t.Fatalf("broken write: %v, want OutcomeUnknownError", err)
	}
	// The SDK's automatic resend of the same write is refused locally.
	if _, err = post("/v1/update"); !errors.As(err, &ou) || updates.Load() != 1 {
		t.Fatalf("resend: %v, server saw %d updates, want 1", err, updates.Load())
	}

	// A read broken in flight is resent and succeeds.
	resp, err := post("/v1/get")
	if err != nil {
		t.Fatalf("safe resend: %v", err)
	}
	resp.Body.Close()
	if gets.Load() != 2 {
		t.Errorf("get sent %d times, want 2", gets.Load())
	}

	// Nobody on the socket: the dialer asks the starter, whose daemon
	// fails, and the error names the log file.
	stop()
	os.Remove(l.Socket())
	_, err = post("/v1/get")
	if err == nil || !strings.Contains(err.Error(), l.LogFile()) {
		t.Fatalf("no daemon: %v, want an error naming %s", err, l.LogFile())
	}
}

package daemon

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// An open connection alone, with no lease anywhere, keeps the daemon from
// going idle; the idle period starts when the last connection closes.
func TestMonitorOpenConnectionWithoutLeaseIsNotIdle(t *testing.T) {
	m := NewMonitor(MonitorConfig{Version: "v9", IdleExit: 60 * time.Millisecond})
	var leases atomic.Int64
	m.Attach(leases.Load)
	done := make(chan struct{})
	defer close(done)
	m.ConnState(nil, http.StateNew)
	m.ConnState(nil, http.StateActive)
	m.ConnState(nil, http.StateIdle) // a pooled keep-alive connection
	idle := m.Idle(done)
	select {
	case <-idle:
		t.Fatal("idle with an open connection and no lease")
	case <-time.After(300 * time.Millisecond): // five idle periods
	}
	if st := m.Snapshot(); st.Stopping || st.Connections != 1 || st.LiveLeases != 0 {
		t.Errorf("status %+v, want one connection, no lease, not stopping", st)
	}
	closed := time.Now()
	m.ConnState(nil, http.StateClosed)
	select {
	case <-idle:
		if waited := time.Since(closed); waited < 60*time.Millisecond {
			t.Errorf("idle %s after the last connection closed, before the 60 ms period", waited)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("not idle after the last connection closed")
	}
}

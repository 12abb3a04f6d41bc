package tools

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockd-mcp/lockd-mcp/client"
)

// fakeSession is a SessionEnd the test ends by hand.
type fakeSession struct {
	once sync.Once
	done chan struct{}
	mu   sync.Mutex
	err  error
}

func newFakeSession() *fakeSession { return &fakeSession{done: make(chan struct{})} }

func (f *fakeSession) Done() <-chan struct{} { return f.done }
func (f *fakeSession) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}
func (f *fakeSession) end(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
	f.once.Do(func() { close(f.done) })
}

// A session the SDK ends as lost (its drain handler released it) makes the
// tracked lease lost, warned about once; a session released normally does
// not.
func TestLeaseManagerWatchesTheSDKSession(t *testing.T) {
	m := NewLeaseManager(nil, nil)
	lost, released := newFakeSession(), newFakeSession()
	if err := m.Track(LeaseInfo{Namespace: "ns", Key: "a", LeaseID: "L1"}, lost); err != nil {
		t.Fatal(err)
	}
	if err := m.Track(LeaseInfo{Namespace: "ns", Key: "b", LeaseID: "L2"}, released); err != nil {
		t.Fatal(err)
	}
	released.end(client.ErrSessionReleased)
	lost.end(fmt.Errorf("%w: ns/a lease L1: server is shutting down (Shutdown-Imminent)", client.ErrLeaseLost))
	deadline := time.Now().Add(2 * time.Second)
	for info, _ := m.Get("L1"); !info.Lost; info, _ = m.Get("L1") {
		if time.Now().After(deadline) {
			t.Fatalf("lease not marked lost: %+v", info)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if info, _ := m.Get("L1"); !info.RenewalFailed || !strings.Contains(info.RenewalError, "shutting down") {
		t.Errorf("lost lease: %+v", info)
	}
	w := m.Warning("L1")
	if !strings.Contains(w, "L1 on ns/a is lost") || !strings.Contains(w, "shutting down") {
		t.Errorf("warning %q", w)
	}
	if again := m.Warning("L1"); again != "" {
		t.Errorf("second warning %q, want none", again)
	}
	time.Sleep(20 * time.Millisecond)
	if info, _ := m.Get("L2"); info.Lost || info.RenewalFailed || m.Warning("L2") != "" {
		t.Errorf("released session marked as a failure: %+v", info)
	}
	// Close skips the lost lease (nothing to release) and stops watchers.
	m.Forget("L2")
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// The same renewal error again is not news; a different one, or the loss,
// is.
func TestLeaseRecordFailureWarnsOncePerError(t *testing.T) {
	m := NewLeaseManager(nil, nil)
	if err := m.Track(LeaseInfo{Namespace: "ns", Key: "k", LeaseID: "L"}, nil); err != nil {
		t.Fatal(err)
	}
	fail := func(err error, lost bool) {
		m.mu.Lock()
		m.leases["L"].recordFailure(err, lost)
		m.mu.Unlock()
	}
	timeout := errors.New("keepalive ns/k: timeout")
	fail(timeout, false)
	if w := m.Warning("L"); !strings.Contains(w, "timeout") || !strings.Contains(w, "may expire") {
		t.Errorf("first failure: %q", w)
	}
	fail(timeout, false) // RenewalError differs (it carries the time); the error does not
	if w := m.Warning("L"); w != "" {
		t.Errorf("same failure again: %q, want no new warning", w)
	}
	fail(errors.New("keepalive ns/k: 500"), false)
	if w := m.Warning("L"); !strings.Contains(w, "500") {
		t.Errorf("different failure: %q", w)
	}
	fail(errors.New("keepalive ns/k: 500"), true)
	if w := m.Warning("L"); !strings.Contains(w, "is lost") {
		t.Errorf("loss: %q", w)
	}
	fail(errors.New("keepalive ns/k: other"), false)
	if info, _ := m.Get("L"); !info.Lost || m.Warning("L") != "" {
		t.Errorf("after the loss: %+v, want it final and already reported", info)
	}
}

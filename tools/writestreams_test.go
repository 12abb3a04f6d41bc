package tools

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lockd-mcp/lockd-mcp/client"
)

// stalledChunk is far larger than what loopback socket buffers absorb, so a
// write of it into a stream whose server never reads must block in the pipe.
const stalledChunk = 64 << 20

// stalledRegistry returns a registry on a real client whose server accepts
// /v1/update and then never reads the body nor answers: the stalled upstream
// of the bug. entered is signalled once the request reached the handler.
func stalledRegistry(t *testing.T, idle time.Duration) (*StreamRegistry, <-chan struct{}) {
	t.Helper()
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case entered <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	// Cleanups run last-in first-out: release the handlers before Close,
	// which waits for them.
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	cli, err := client.New(srv.URL, client.WithDisableMTLS(true), client.WithFailureRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	return NewStreamRegistry(cli, idle, nil), entered
}

type appendOutcome struct {
	err error
	at  time.Time
}

// beginBlockedAppend opens a stream on a stalled upstream and starts an
// append that blocks in the pipe; it returns once the append is stuck.
func beginBlockedAppend(ctx context.Context, t *testing.T, r *StreamRegistry, entered <-chan struct{}) (*writeStream, []byte, <-chan appendOutcome) {
	t.Helper()
	token := int64(1)
	s, err := r.Begin("default", "k", "lease-1", client.UpdateOptions{FencingToken: &token})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the update request never reached the server")
	}
	chunk := make([]byte, stalledChunk)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	out := make(chan appendOutcome, 1)
	go func() {
		_, err := r.Append(ctx, s.id, chunk)
		out <- appendOutcome{err, time.Now()}
	}()
	select {
	case o := <-out:
		t.Fatalf("append returned (%v) although the server never reads; the test cannot stall it", o.err)
	case <-time.After(300 * time.Millisecond):
	}
	return s, chunk, out
}

// waitAppend checks the blocked append ended with an error soon after start.
func waitAppend(t *testing.T, out <-chan appendOutcome, start time.Time, want string) {
	t.Helper()
	select {
	case o := <-out:
		if o.err == nil || !strings.Contains(o.err.Error(), want) {
			t.Fatalf("blocked append returned %v, want an error containing %q", o.err, want)
		}
		if d := o.at.Sub(start); d > time.Second {
			t.Fatalf("blocked append returned %s after the unblocking call", d)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("blocked append still blocked after the stream was ended")
	}
}

// checkExactBookkeeping checks status counts exactly the bytes the pipe took:
// a prefix of the chunk, with the matching sha256.
func checkExactBookkeeping(t *testing.T, r *StreamRegistry, id string, chunk []byte) {
	t.Helper()
	st, err := r.Status(id)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Aborted || st.CanCommit {
		t.Fatalf("status = %+v, want aborted and not committable", st)
	}
	if st.BytesReceived < 0 || st.BytesReceived >= int64(len(chunk)) {
		t.Fatalf("bytes_received = %d, want a strict prefix of the %d-byte chunk", st.BytesReceived, len(chunk))
	}
	sum := sha256.Sum256(chunk[:st.BytesReceived])
	if st.PayloadSHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("payload_sha256 does not match the first %d bytes of the chunk", st.BytesReceived)
	}
}

// TestWriteStreamAbortUnblocksStalledAppend: abort of a stream whose append
// is blocked on a server that never reads returns at once, fails the append,
// and meanwhile a second append and commit are refused rather than queued.
func TestWriteStreamAbortUnblocksStalledAppend(t *testing.T) {
	r, entered := stalledRegistry(t, time.Minute)
	s, chunk, out := beginBlockedAppend(context.Background(), t, r, entered)

	// Status must not wait for the blocked write either.
	st, err := r.Status(s.id)
	if err != nil {
		t.Fatal(err)
	}
	if st.CanCommit || st.Aborted {
		t.Fatalf("status during a blocked append = %+v, want not committable, not aborted", st)
	}
	wantBusy := "an append is already in progress on stream " + s.id
	if _, err := r.Append(context.Background(), s.id, []byte("x")); err == nil || !strings.Contains(err.Error(), wantBusy) {
		t.Fatalf("concurrent append = %v, want %q", err, wantBusy)
	}
	if _, err := r.Commit(context.Background(), s.id, nil, ""); err == nil || !strings.Contains(err.Error(), wantBusy) {
		t.Fatalf("commit during an append = %v, want %q", err, wantBusy)
	}

	start := time.Now()
	done := make(chan error, 1)
	go func() {
		_, err := r.Abort(s.id, "test abort")
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Second):
		t.Fatal("abort did not return within a second while an append was blocked")
	}
	waitAppend(t, out, start, "test abort")
	checkExactBookkeeping(t, r, s.id, chunk)
}

// TestWriteStreamCloseUnblocksStalledAppend: shutdown (Close) with an append
// blocked on a stalled server returns at once and fails the append.
func TestWriteStreamCloseUnblocksStalledAppend(t *testing.T) {
	r, entered := stalledRegistry(t, time.Minute)
	s, chunk, out := beginBlockedAppend(context.Background(), t, r, entered)

	start := time.Now()
	done := make(chan struct{})
	go func() {
		r.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("Close did not return within a second while an append was blocked")
	}
	waitAppend(t, out, start, "server shutting down")
	checkExactBookkeeping(t, r, s.id, chunk)
}

// TestWriteStreamIdleTimeoutUnblocksStalledAppend: a write stuck for a whole
// idle period is aborted by the idle timer, which must not wait for it.
func TestWriteStreamIdleTimeoutUnblocksStalledAppend(t *testing.T) {
	const idle = 500 * time.Millisecond
	r, entered := stalledRegistry(t, idle)
	s, chunk, out := beginBlockedAppend(context.Background(), t, r, entered)
	waitAppend(t, out, time.Now().Add(idle-300*time.Millisecond), "idle for")
	checkExactBookkeeping(t, r, s.id, chunk)
}

// TestWriteStreamCancelledAppendAborts: a caller giving up on a blocked
// append aborts the stream, since closing the pipe is the only way out.
func TestWriteStreamCancelledAppendAborts(t *testing.T) {
	r, entered := stalledRegistry(t, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, chunk, out := beginBlockedAppend(ctx, t, r, entered)
	start := time.Now()
	cancel()
	waitAppend(t, out, start, "append cancelled")
	checkExactBookkeeping(t, r, s.id, chunk)
}

package tools

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/lockd-mcp/lockd-mcp/client"
)

// StreamRegistry holds the open state write streams of this process. Each
// stream is one client.UpdateStream request whose body is the read end of an
// io.Pipe; appends write into the other end, so a chunk reaches the server
// before the append returns (backpressure, not memory) and the process never
// holds more than the chunk in flight.
//
// A pipe write blocks for as long as the server does not read, possibly
// forever, so no lock is ever held across one (or across waiting for the
// server's answer): abort, the idle timeout and shutdown must always be able
// to take the stream's lock and cancel the request, which is what unblocks
// the writer.
type StreamRegistry struct {
	cli    *client.Client
	idle   time.Duration
	logger *slog.Logger

	mu      sync.Mutex
	streams map[string]*writeStream
	closed  bool
}

// errAborted is the upstream cause when a stream is aborted; the SDK sees a
// failed body read and the server stages nothing.
var errAborted = errors.New("write stream aborted")

type writeStream struct {
	id                    string
	namespace, key, lease string

	cancel context.CancelFunc
	pw     *io.PipeWriter
	done   chan struct{} // closed when the upstream request returns
	result *client.UpdateResult
	err    error

	mu    sync.Mutex // guards the fields below; never held across pipe I/O
	bytes int64
	hash  hash.Hash
	// writing is set while an append is inside pw.Write, outside mu; it
	// keeps appends (and commit) from interleaving with that write.
	writing    bool
	committing bool
	finished   bool   // committed or aborted
	abortedWhy string // non-empty once aborted
	idleTimer  *time.Timer
	expiresAt  time.Time
}

// NewStreamRegistry returns an empty registry; idle is the abort timeout for
// streams left without appends (--stream-idle-timeout).
func NewStreamRegistry(cli *client.Client, idle time.Duration, logger *slog.Logger) *StreamRegistry {
	if idle <= 0 {
		idle = 2 * time.Minute
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &StreamRegistry{cli: cli, idle: idle, logger: logger, streams: map[string]*writeStream{}}
}

func newStreamID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "ws_" + hex.EncodeToString(b[:])
}

// Begin opens the upstream request at once, so lease and guard errors
// surface on the first append rather than at commit.
func (r *StreamRegistry) Begin(ns, key, leaseID string, opts client.UpdateOptions) (*writeStream, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errors.New("server is shutting down")
	}
	// The request outlives the begin call, so it gets its own context; abort,
	// idle timeout and shutdown cancel it.
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &writeStream{
		id: newStreamID(), namespace: ns, key: key, lease: leaseID,
		cancel: cancel, pw: pw, done: make(chan struct{}), hash: sha256.New(),
	}
	go func() {
		defer close(s.done)
		s.result, s.err = r.cli.UpdateStream(ctx, key, leaseID, pr, opts)
		// Unblock a writer stuck in an append when the server gave up early.
		_ = pr.CloseWithError(fmt.Errorf("upstream request ended: %w", errOr(s.err, io.ErrClosedPipe)))
	}()
	s.expiresAt = time.Now().Add(r.idle)
	s.idleTimer = time.AfterFunc(r.idle, func() { r.abort(s, fmt.Sprintf("idle for %s", r.idle)) })
	r.streams[s.id] = s
	return s, nil
}

func errOr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}

// get returns an open stream or an error that says what happened to it.
func (r *StreamRegistry) get(id string) (*writeStream, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.streams[id]
	if !ok {
		return nil, failf("argument stream_id: unknown stream %q; start one with lockd_state_write_stream_begin", id)
	}
	return s, nil
}

// Append writes one chunk straight into the upstream request. The write runs
// without the stream's lock (see StreamRegistry); the writing flag rejects a
// concurrent append instead. If ctx ends while the write is blocked, the
// stream is aborted: the only way to unblock the write is to close the pipe.
func (r *StreamRegistry) Append(ctx context.Context, id string, chunk []byte) (*writeStream, error) {
	s, err := r.get(id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if err := s.usable(); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	s.writing = true
	// A write that is blocked for a whole idle period counts as idle, so the
	// timer keeps running (restarted here) and can abort a stalled upstream.
	s.expiresAt = time.Now().Add(r.idle)
	s.idleTimer.Reset(r.idle)
	s.mu.Unlock()

	stop := context.AfterFunc(ctx, func() { r.abort(s, "append cancelled by the caller") })
	n, werr := s.pw.Write(chunk)
	stop()

	s.mu.Lock()
	s.writing = false
	// Count only what the pipe took: a failed write may have sent part of
	// the chunk, and status must describe exactly what the server got.
	s.bytes += int64(n)
	s.hash.Write(chunk[:n])
	if werr == nil {
		if !s.finished {
			s.expiresAt = time.Now().Add(r.idle)
			s.idleTimer.Reset(r.idle)
		}
		s.mu.Unlock()
		return s, nil
	}
	if s.abortedWhy != "" {
		why := s.abortedWhy
		s.mu.Unlock()
		return nil, failf("argument stream_id: stream %s was aborted during this append (%s) after %d of its %d bytes; nothing was staged, begin a new stream", s.id, why, n, len(chunk))
	}
	// The upstream request ended early: report its own error. The pipe is
	// closed only as that request finishes, so done closes promptly; wait
	// for it without the lock so an abort is never held up.
	s.finished = true
	s.idleTimer.Stop()
	s.mu.Unlock()
	<-s.done
	r.forget(s.id)
	if s.err != nil {
		return nil, fmt.Errorf("stream %s failed upstream: %w", s.id, s.err)
	}
	return nil, failf("stream %s closed upstream before commit: %v; begin a new stream", s.id, werr)
}

func (s *writeStream) usable() error {
	switch {
	case s.abortedWhy != "":
		return failf("argument stream_id: stream %s was aborted (%s); nothing was staged, begin a new stream", s.id, s.abortedWhy)
	case s.finished:
		return failf("argument stream_id: stream %s is already committed", s.id)
	case s.committing:
		return failf("argument stream_id: stream %s is committing", s.id)
	case s.writing:
		return failf("argument stream_id: an append is already in progress on stream %s; wait for it", s.id)
	}
	return nil
}

// Commit closes the body, waits for the server's answer and checks the
// caller's expectations first: a mismatch aborts, so nothing is staged. The
// wait runs without the stream's lock, so abort and shutdown can cancel a
// commit the server never answers.
func (r *StreamRegistry) Commit(ctx context.Context, id string, expectedBytes *int64, expectedSHA string) (*writeStream, error) {
	s, err := r.get(id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if err := s.usable(); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	sum := hex.EncodeToString(s.hash.Sum(nil))
	if expectedBytes != nil && *expectedBytes != s.bytes {
		defer s.mu.Unlock()
		r.abortLocked(s, "expected_bytes mismatch")
		return nil, failf("argument expected_bytes=%d but %d bytes were appended; the stream was aborted and nothing staged, begin again", *expectedBytes, s.bytes)
	}
	if expectedSHA != "" && expectedSHA != sum {
		defer s.mu.Unlock()
		r.abortLocked(s, "expected_sha256 mismatch")
		return nil, failf("argument expected_sha256=%s but the appended bytes hash to %s; the stream was aborted and nothing staged, begin again", expectedSHA, sum)
	}
	s.idleTimer.Stop()
	s.committing = true
	_ = s.pw.Close()
	s.mu.Unlock()

	select {
	case <-s.done:
	case <-ctx.Done():
		// The caller gave up; cancel so the server does not stage a write
		// nobody will see acknowledged.
		r.abort(s, "commit cancelled")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.committing = false
	if s.abortedWhy != "" {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, failf("argument stream_id: stream %s was aborted during commit (%s); nothing was staged, begin a new stream", s.id, s.abortedWhy)
	}
	s.finished = true
	r.forget(s.id)
	if s.err != nil {
		return nil, s.err
	}
	return s, nil
}

// Abort cancels the upstream request; nothing is staged.
func (r *StreamRegistry) Abort(id, reason string) (*writeStream, error) {
	s, err := r.get(id)
	if err != nil {
		return nil, err
	}
	r.abort(s, reason)
	return s, nil
}

func (r *StreamRegistry) abort(s *writeStream, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.abortLocked(s, reason)
}

func (r *StreamRegistry) abortLocked(s *writeStream, reason string) {
	if s.finished {
		return
	}
	if reason == "" {
		reason = "aborted by caller"
	}
	s.abortedWhy = reason
	s.finished = true
	s.idleTimer.Stop()
	// Cancel first: the request must fail, never see a clean EOF.
	s.cancel()
	_ = s.pw.CloseWithError(errAborted)
	// The request was cancelled, so done closes promptly. Holding the lock
	// here is safe: nothing else holds it while doing I/O.
	<-s.done
	if s.committing && s.err == nil {
		// The server answered the commit before the cancel reached it: the
		// write is staged, so this abort lost the race and Commit reports
		// the success.
		s.abortedWhy = ""
		return
	}
	r.logger.Info("write stream aborted", "stream_id", s.id, "key", s.key, "reason", reason, "bytes", s.bytes)
	// Keep the tombstone briefly so a late append learns why.
	time.AfterFunc(r.idle, func() { r.forget(s.id) })
}

func (r *StreamRegistry) forget(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.streams, id)
}

// Status reports a stream without changing it.
func (r *StreamRegistry) Status(id string) (StreamStatusResult, error) {
	s, err := r.get(id)
	if err != nil {
		return StreamStatusResult{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return StreamStatusResult{
		StreamID: s.id, BytesReceived: s.bytes, PayloadSHA256: hex.EncodeToString(s.hash.Sum(nil)),
		Aborted: s.abortedWhy != "", AbortReason: s.abortedWhy, Committing: s.committing,
		CanCommit: !s.finished && !s.committing && !s.writing, UploadInProgress: !s.finished,
		UploadCompleted: s.finished && s.abortedWhy == "", UploadExpiresAtUnix: s.expiresAt.Unix(),
	}, nil
}

// Close aborts every open stream (shutdown).
func (r *StreamRegistry) Close() {
	r.mu.Lock()
	r.closed = true
	open := make([]*writeStream, 0, len(r.streams))
	for _, s := range r.streams {
		open = append(open, s)
	}
	r.mu.Unlock()
	for _, s := range open {
		r.abort(s, "server shutting down")
	}
}

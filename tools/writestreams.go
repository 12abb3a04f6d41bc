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

	mu         sync.Mutex // serialises appends, commit and abort
	bytes      int64
	hash       hash.Hash
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

// Append writes one chunk straight into the upstream request.
func (r *StreamRegistry) Append(ctx context.Context, id string, chunk []byte) (*writeStream, error) {
	s, err := r.get(id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return nil, err
	}
	s.idleTimer.Stop()
	if _, err := s.pw.Write(chunk); err != nil {
		// The upstream request ended early: report its own error.
		<-s.done
		s.finished = true
		r.forget(s.id)
		if s.err != nil {
			return nil, fmt.Errorf("stream %s failed upstream: %w", s.id, s.err)
		}
		return nil, failf("stream %s closed upstream before commit: %v; begin a new stream", s.id, err)
	}
	s.bytes += int64(len(chunk))
	s.hash.Write(chunk)
	s.expiresAt = time.Now().Add(r.idle)
	s.idleTimer.Reset(r.idle)
	return s, nil
}

func (s *writeStream) usable() error {
	switch {
	case s.abortedWhy != "":
		return failf("argument stream_id: stream %s was aborted (%s); nothing was staged, begin a new stream", s.id, s.abortedWhy)
	case s.finished:
		return failf("argument stream_id: stream %s is already committed", s.id)
	case s.committing:
		return failf("argument stream_id: stream %s is committing", s.id)
	}
	return nil
}

// Commit closes the body, waits for the server's answer and checks the
// caller's expectations first: a mismatch aborts, so nothing is staged.
func (r *StreamRegistry) Commit(ctx context.Context, id string, expectedBytes *int64, expectedSHA string) (*writeStream, error) {
	s, err := r.get(id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return nil, err
	}
	sum := hex.EncodeToString(s.hash.Sum(nil))
	if expectedBytes != nil && *expectedBytes != s.bytes {
		r.abortLocked(s, "expected_bytes mismatch")
		return nil, failf("argument expected_bytes=%d but %d bytes were appended; the stream was aborted and nothing staged, begin again", *expectedBytes, s.bytes)
	}
	if expectedSHA != "" && expectedSHA != sum {
		r.abortLocked(s, "expected_sha256 mismatch")
		return nil, failf("argument expected_sha256=%s but the appended bytes hash to %s; the stream was aborted and nothing staged, begin again", expectedSHA, sum)
	}
	s.idleTimer.Stop()
	s.committing = true
	_ = s.pw.Close()
	select {
	case <-s.done:
	case <-ctx.Done():
		// The caller gave up; cancel so the server does not stage a write
		// nobody will see acknowledged.
		r.abortLocked(s, "commit cancelled")
		return nil, ctx.Err()
	}
	s.committing, s.finished = false, true
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
	<-s.done
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
		CanCommit: !s.finished && !s.committing, UploadInProgress: !s.finished,
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

package tools

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"strconv"

	"github.com/lockd-mcp/lockd-mcp/client"
)

// streamsToolset holds the large-payload tools: chunked state writes over
// stdio and state reads streamed to a file.
func streamsToolset() Toolset {
	return Toolset{
		Name:        "streams",
		Description: "Large state payloads: chunked writes and reads to files.",
		Read: []Tool{
			newTool("lockd_state_stream", "lockd.state.stream",
				"Stream a key's state to output_path (no size limit).",
				Annotations{ReadOnly: true, Idempotent: true}, stateStream),
			newTool("lockd_state_write_stream_status", "lockd.state.write_stream.status",
				"Report a write stream: bytes received, sha256 so far, whether it can commit.",
				Annotations{ReadOnly: true, Idempotent: true}, writeStreamStatus),
		},
		Write: []Tool{
			newTool("lockd_state_write_stream_begin", "lockd.state.write_stream.begin",
				"Start a chunked state write under a lease. Then _append chunks, then _commit (or _abort).",
				Annotations{}, writeStreamBegin),
			newTool("lockd_state_write_stream_append", "lockd.state.write_stream.append",
				"Append one chunk (chunk_text or chunk_base64) to a write stream; it goes straight to the server.",
				Annotations{}, writeStreamAppend).liftable("chunk_text", "chunk_base64"),
			newTool("lockd_state_write_stream_commit", "lockd.state.write_stream.commit",
				"Finish a write stream, checking expected_bytes / expected_sha256; the write is staged until release.",
				Annotations{}, writeStreamCommit),
			newTool("lockd_state_write_stream_abort", "lockd.state.write_stream.abort",
				"Abort a write stream; nothing is staged.",
				Annotations{Idempotent: true}, writeStreamAbort),
		},
	}
}

// StreamArgs are the arguments of lockd_state_stream.
type StreamArgs struct {
	Key        string `json:"key" jsonschema:"required,minLength=1"`
	OutputPath string `json:"output_path" jsonschema:"required,minLength=1" jsonschema_description:"File under an allowed root."`
	Namespace  string `json:"namespace,omitempty"`
	LeaseID    string `json:"lease_id,omitempty"`
	Public     *bool  `json:"public,omitempty"`
}

// StreamResult describes the written file.
type StreamResult struct {
	Namespace             string `json:"namespace"`
	Key                   string `json:"key"`
	Found                 bool   `json:"found"`
	Version               int64  `json:"version"`
	ETag                  string `json:"etag,omitempty"`
	OutputPath            string `json:"output_path"`
	BytesWritten          int64  `json:"bytes_written"`
	DownloadURL           string `json:"download_url,omitempty"`
	DownloadMethod        string `json:"download_method,omitempty"`
	DownloadExpiresAtUnix int64  `json:"download_expires_at_unix,omitempty"`
}

func stateStream(ctx context.Context, d *Deps, a StreamArgs) (StreamResult, error) {
	ns := d.ns(a.Namespace)
	path, err := d.Roots.WritePath("output_path", a.OutputPath)
	if err != nil {
		return StreamResult{}, err
	}
	res := StreamResult{Namespace: ns, Key: a.Key, OutputPath: path}
	resp, err := d.get(ctx, ns, a.Key, a.LeaseID, a.Public)
	if err != nil {
		if errors.Is(err, client.ErrStateNotFound) {
			return res, nil
		}
		return StreamResult{}, err
	}
	defer resp.Close()
	res.Found, res.ETag = resp.HasState, resp.ETag
	res.Version, _ = strconv.ParseInt(resp.Version, 10, 64)
	if !resp.HasState {
		return res, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return StreamResult{}, failf("argument output_path: %v", err)
	}
	n, err := io.Copy(f, resp.Reader())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return StreamResult{}, failf("writing output_path: %v", err)
	}
	res.BytesWritten = n
	return res, nil
}

// StreamBeginArgs are the arguments of lockd_state_write_stream_begin.
type StreamBeginArgs struct {
	Key         string `json:"key" jsonschema:"required,minLength=1"`
	LeaseID     string `json:"lease_id" jsonschema:"required,minLength=1"`
	Namespace   string `json:"namespace,omitempty"`
	QueryHidden *bool  `json:"query_hidden,omitempty"`
	Guards
}

// StreamBeginResult identifies the new stream.
type StreamBeginResult struct {
	StreamID            string `json:"stream_id"`
	UploadExpiresAtUnix int64  `json:"upload_expires_at_unix" jsonschema_description:"Aborted if idle past this."`
	UploadMethod        string `json:"upload_method,omitempty"`
	UploadURL           string `json:"upload_url,omitempty"`
}

func writeStreamBegin(_ context.Context, d *Deps, a StreamBeginArgs) (StreamBeginResult, error) {
	ns := d.ns(a.Namespace)
	opts := withHidden(d.updateOptions(ns, a.LeaseID, a.Guards), a.QueryHidden)
	s, err := d.Streams.Begin(ns, a.Key, a.LeaseID, opts)
	if err != nil {
		return StreamBeginResult{}, err
	}
	return StreamBeginResult{StreamID: s.id, UploadExpiresAtUnix: s.expiresAt.Unix()}, nil
}

// StreamAppendArgs are the arguments of lockd_state_write_stream_append.
type StreamAppendArgs struct {
	StreamID    string `json:"stream_id" jsonschema:"required,minLength=1"`
	ChunkText   string `json:"chunk_text,omitempty"`
	ChunkBase64 string `json:"chunk_base64,omitempty"`
}

// StreamAppendResult is the running total.
type StreamAppendResult struct {
	StreamID      string `json:"stream_id"`
	BytesReceived int64  `json:"bytes_received"`
}

func writeStreamAppend(ctx context.Context, d *Deps, a StreamAppendArgs) (StreamAppendResult, error) {
	text, hasText := argBytes(ctx, "chunk_text", a.ChunkText)
	b64, hasB64 := argBytes(ctx, "chunk_base64", a.ChunkBase64)
	var chunk []byte
	switch {
	case hasText == hasB64:
		return StreamAppendResult{}, failf("give exactly one of chunk_text, chunk_base64")
	case hasText:
		chunk = text
	default:
		chunk = make([]byte, base64.StdEncoding.DecodedLen(len(b64)))
		n, err := base64.StdEncoding.Decode(chunk, b64)
		if err != nil {
			return StreamAppendResult{}, failf("argument chunk_base64 is not valid base64: %v", err)
		}
		chunk = chunk[:n]
	}
	s, err := d.Streams.Append(ctx, a.StreamID, chunk)
	if err != nil {
		return StreamAppendResult{}, err
	}
	d.touchLease(s.lease)
	return StreamAppendResult{StreamID: s.id, BytesReceived: s.bytes}, nil
}

// StreamCommitArgs are the arguments of lockd_state_write_stream_commit.
type StreamCommitArgs struct {
	StreamID       string `json:"stream_id" jsonschema:"required,minLength=1"`
	ExpectedBytes  *int64 `json:"expected_bytes,omitempty" jsonschema:"minimum=0"`
	ExpectedSHA256 string `json:"expected_sha256,omitempty" jsonschema:"pattern=^[0-9a-f]{64}$" jsonschema_description:"Lowercase hex."`
}

// StreamCommitResult is the staged write.
type StreamCommitResult struct {
	StreamID      string `json:"stream_id"`
	BytesReceived int64  `json:"bytes_received"`
	Bytes         int64  `json:"bytes"`
	NewVersion    int64  `json:"new_version"`
	NewStateETag  string `json:"new_state_etag"`
	QueryHidden   bool   `json:"query_hidden"`
}

func writeStreamCommit(ctx context.Context, d *Deps, a StreamCommitArgs) (StreamCommitResult, error) {
	stop := d.startProgress(ctx, 0, "committing stream "+a.StreamID)
	s, err := d.Streams.Commit(ctx, a.StreamID, a.ExpectedBytes, a.ExpectedSHA256)
	stop()
	if err != nil {
		return StreamCommitResult{}, err
	}
	d.touchLease(s.lease)
	r := toUpdateResult(s.result)
	return StreamCommitResult{
		StreamID: s.id, BytesReceived: s.bytes, Bytes: r.Bytes, NewVersion: r.NewVersion,
		NewStateETag: r.NewStateETag, QueryHidden: r.QueryHidden,
	}, nil
}

// StreamAbortArgs are the arguments of lockd_state_write_stream_abort.
type StreamAbortArgs struct {
	StreamID string `json:"stream_id" jsonschema:"required,minLength=1"`
	Reason   string `json:"reason,omitempty"`
}

// StreamAbortResult confirms the abort.
type StreamAbortResult struct {
	StreamID      string `json:"stream_id"`
	Aborted       bool   `json:"aborted"`
	BytesReceived int64  `json:"bytes_received"`
}

func writeStreamAbort(_ context.Context, d *Deps, a StreamAbortArgs) (StreamAbortResult, error) {
	s, err := d.Streams.Abort(a.StreamID, a.Reason)
	if err != nil {
		return StreamAbortResult{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.abortedWhy == "" {
		return StreamAbortResult{}, failf("argument stream_id: stream %s was already committed", s.id)
	}
	return StreamAbortResult{StreamID: s.id, Aborted: true, BytesReceived: s.bytes}, nil
}

// StreamStatusArgs are the arguments of lockd_state_write_stream_status.
type StreamStatusArgs struct {
	StreamID string `json:"stream_id" jsonschema:"required,minLength=1"`
}

// StreamStatusResult is a stream's progress.
type StreamStatusResult struct {
	StreamID                  string `json:"stream_id"`
	BytesReceived             int64  `json:"bytes_received"`
	PayloadSHA256             string `json:"payload_sha256"`
	CanCommit                 bool   `json:"can_commit"`
	Committing                bool   `json:"committing"`
	Aborted                   bool   `json:"aborted"`
	AbortReason               string `json:"abort_reason,omitempty"`
	UploadInProgress          bool   `json:"upload_in_progress"`
	UploadCompleted           bool   `json:"upload_completed"`
	UploadCapabilityAvailable bool   `json:"upload_capability_available"`
	UploadExpiresAtUnix       int64  `json:"upload_expires_at_unix"`
}

func writeStreamStatus(_ context.Context, d *Deps, a StreamStatusArgs) (StreamStatusResult, error) {
	return d.Streams.Status(a.StreamID)
}

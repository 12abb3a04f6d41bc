package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/internal/storage"
)

// WriteConditions are the compare-and-set guards of a staged write. They
// compare against the caller's staged values when its txn staged something,
// else against the committed ones.
type WriteConditions struct {
	IfVersion    int64
	HasIfVersion bool
	IfETag       string
}

// viewLocked returns the version and ETag the lease holder of txnID sees.
func viewLocked(rec *keyRecord, txnID string) (int64, string) {
	st := rec.Staged
	if !st.present() || st.TxnID != txnID {
		return rec.Version, rec.ETag
	}
	switch {
	case st.State:
		return st.Version, st.ETag
	case st.Remove:
		return st.Version, ""
	}
	return st.Version, rec.ETag
}

// checkWriteLocked validates the lease and the conditions of a staged write.
func checkWriteLocked(ent *entry, ref LeaseRef, cond WriteConditions, now int64) error {
	if err := validateLocked(ent, ref, true, now); err != nil {
		return err
	}
	if st := ent.rec.Staged; st.present() && st.TxnID != ref.TxnID {
		return newError(api.ErrCodeTxnMismatch, "key has changes staged by txn %s, which awaits its decision: retry after it commits or rolls back", st.TxnID)
	}
	ver, etag := viewLocked(&ent.rec, ref.TxnID)
	if cond.HasIfVersion && cond.IfVersion != ver {
		return newError(api.ErrCodeVersionConflict, "state version mismatch").withCurrent(ver, ent.rec.ETag)
	}
	if cond.IfETag != "" && cond.IfETag != etag {
		return newError(api.ErrCodeETagMismatch, "state etag mismatch").withCurrent(ver, etag)
	}
	return nil
}

// stagedBase returns the staged record ref's txn builds on: its own staged
// change, or a fresh one at committed version + 1.
func stagedBase(rec *keyRecord, txnID string) stagedRecord {
	if rec.Staged.present() && rec.Staged.TxnID == txnID {
		return rec.Staged
	}
	return stagedRecord{TxnID: txnID, Version: rec.Version + 1}
}

func metaOf(hidden bool) api.MetadataAttributes {
	if hidden {
		t := true
		return api.MetadataAttributes{QueryHidden: &t}
	}
	return api.MetadataAttributes{}
}

// hiddenViewLocked is the query_hidden value the lease holder sees.
func hiddenViewLocked(rec *keyRecord, txnID string) bool {
	if st := rec.Staged; st.present() && st.TxnID == txnID && st.Hidden != nil {
		return *st.Hidden
	}
	return rec.Hidden
}

// UpdateRequest stages a new JSON document under a lease.
type UpdateRequest struct {
	LeaseRef
	Cond WriteConditions
	// Body is the raw document; it is validated and compacted as it streams.
	Body io.Reader
	// MaxBytes caps the raw body size.
	MaxBytes int64
	// ExpectedSHA256 (32 bytes) and ExpectedBytes (>= 0) check the raw body;
	// nil and -1 disable them.
	ExpectedSHA256 []byte
	ExpectedBytes  int64
}

// UpdateResult reports the staged document.
type UpdateResult struct {
	Version  int64
	ETag     string
	Bytes    int64
	Metadata api.MetadataAttributes
}

// Update streams req.Body into a staged document. The lease and conditions
// are checked before the body is read (to fail fast) and again under the
// key lock before the staged record commits.
func (e *Engine) Update(ctx context.Context, req UpdateRequest) (UpdateResult, error) {
	ent := e.entry(keyID{req.Namespace, req.Key}, false)
	if ent == nil {
		return UpdateResult{}, leaseRequired()
	}
	ent.mu.Lock()
	err := checkWriteLocked(ent, req.LeaseRef, req.Cond, nowNanos())
	ent.mu.Unlock()
	if err != nil {
		return UpdateResult{}, err
	}
	doc, err := e.writeDocument(ctx, req.Body, req.MaxBytes, req.ExpectedSHA256, req.ExpectedBytes)
	if err != nil {
		return UpdateResult{}, err
	}
	res, err := e.stageDocument(ctx, ent, req.LeaseRef, req.Cond, doc)
	if err != nil {
		e.freeBlob(ctx, doc.ref)
	}
	return res, err
}

type writtenDoc struct {
	ref  storage.BlobRef
	etag string
}

func (e *Engine) stageDocument(ctx context.Context, ent *entry, ref LeaseRef, cond WriteConditions, doc writtenDoc) (UpdateResult, error) {
	ent.mu.Lock()
	defer ent.mu.Unlock()
	if err := checkWriteLocked(ent, ref, cond, nowNanos()); err != nil {
		return UpdateResult{}, err
	}
	nr := ent.rec
	st := stagedBase(&nr, ref.TxnID)
	var free []storage.BlobRef
	if st.Blob.ID != "" {
		free = append(free, st.Blob)
	}
	st.State, st.Remove, st.Blob, st.ETag = true, false, doc.ref, doc.etag
	nr.Staged = st
	err := e.stageKey(ctx, ent.id, &nr, st.TxnID, free)
	if err != nil {
		return UpdateResult{}, err
	}
	ent.rec = nr
	return UpdateResult{Version: st.Version, ETag: st.ETag, Bytes: doc.ref.Size, Metadata: metaOf(hiddenViewLocked(&nr, ref.TxnID))}, nil
}

// Document streaming: bodies up to spillAt compacted bytes are gathered in
// memory and written in one WriteBlob; larger ones switch to a pipe so
// memory stays flat whatever the document size.
const (
	readChunk = 32 << 10
	spillAt   = 1 << 20
	flushAt   = 64 << 10
)

var (
	readBufPool = sync.Pool{New: func() any { b := make([]byte, readChunk); return &b }}
	outBufPool  = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}
)

// blobPipe streams compacted bytes into a WriteBlob running concurrently.
type blobPipe struct {
	pw   *io.PipeWriter
	done chan struct{}
	ref  storage.BlobRef
	err  error
}

func (e *Engine) startPipe(ctx context.Context) *blobPipe {
	pr, pw := io.Pipe()
	p := &blobPipe{pw: pw, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.ref, p.err = e.store.WriteBlob(ctx, pr)
		pr.CloseWithError(p.err)
	}()
	return p
}

func (p *blobPipe) abort(e *Engine, ctx context.Context, cause error) {
	p.pw.CloseWithError(cause)
	<-p.done
	if p.err == nil {
		e.freeBlob(ctx, p.ref)
	}
}

func invalidBody(format string, args ...any) error {
	return newError(api.ErrCodeInvalidBody, format, args...)
}

// writeDocument validates and compacts a raw JSON body into a new blob,
// checking the raw size and SHA-256 the caller announced.
func (e *Engine) writeDocument(ctx context.Context, body io.Reader, maxBytes int64, expSHA []byte, expBytes int64) (writtenDoc, error) {
	bufp := readBufPool.Get().(*[]byte)
	defer readBufPool.Put(bufp)
	outp := outBufPool.Get().(*[]byte)
	out := (*outp)[:0]
	defer func() {
		if cap(out) <= 4*spillAt {
			*outp = out[:0]
			outBufPool.Put(outp)
		}
	}()
	var rawHash hash.Hash
	if expSHA != nil {
		rawHash = sha256.New()
	}
	docHash := sha256.New()
	var c compactor
	var raw, size int64
	var pipe *blobPipe
	fail := func(err error) (writtenDoc, error) {
		if pipe != nil {
			pipe.abort(e, ctx, err)
		}
		return writtenDoc{}, err
	}
	flush := func() error {
		docHash.Write(out)
		size += int64(len(out))
		_, err := pipe.pw.Write(out)
		out = out[:0]
		return err
	}
	buf := *bufp
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			raw += int64(n)
			if raw > maxBytes {
				return fail(invalidBody("state document exceeds the JSON size limit of %d bytes: send a smaller document or raise --json-max", maxBytes))
			}
			if rawHash != nil {
				rawHash.Write(buf[:n])
			}
			var err error
			if out, err = c.write(out, buf[:n]); err != nil {
				return fail(invalidBody("state must be valid JSON: %v", err))
			}
			if pipe == nil && len(out) >= spillAt {
				pipe = e.startPipe(ctx)
			}
			if pipe != nil && len(out) >= flushAt {
				if err := flush(); err != nil {
					return fail(fmt.Errorf("engine: stream document: %w", err))
				}
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fail(fmt.Errorf("engine: read document: %w", rerr))
		}
	}
	if err := c.finish(); err != nil {
		return fail(invalidBody("state must be valid JSON: %v", err))
	}
	if expBytes >= 0 && raw != expBytes {
		return fail(newError(api.ErrCodeExpectedBytesMismatch, "body has %d bytes but X-Expected-Bytes says %d", raw, expBytes))
	}
	if expSHA != nil {
		if got := rawHash.Sum(nil); !bytes.Equal(got, expSHA) {
			return fail(newError(api.ErrCodeExpectedSHA256Mismatch, "body SHA-256 is %x but X-Expected-SHA256 says %x", got, expSHA))
		}
	}
	var ref storage.BlobRef
	if pipe != nil {
		if err := flush(); err != nil {
			return fail(fmt.Errorf("engine: stream document: %w", err))
		}
		pipe.pw.Close()
		<-pipe.done
		if pipe.err != nil {
			return writtenDoc{}, fmt.Errorf("engine: write document: %w", pipe.err)
		}
		ref = pipe.ref
	} else {
		docHash.Write(out)
		size = int64(len(out))
		var err error
		if ref, err = e.store.WriteBlob(ctx, bytes.NewReader(out)); err != nil {
			return writtenDoc{}, fmt.Errorf("engine: write document: %w", err)
		}
	}
	if ref.Size == 0 {
		ref.Size = size
	}
	var sum [sha256.Size]byte
	return writtenDoc{ref: ref, etag: hex.EncodeToString(docHash.Sum(sum[:0]))}, nil
}

// GetResult is a readable state document. Body is nil when there is no
// state (HTTP 204).
type GetResult struct {
	Body         io.ReadCloser
	Size         int64
	ETag         string
	Version      int64
	FencingToken int64
}

// Get opens the document of a key: the lease holder's staged view when lease
// is set, else the committed (public) document.
func (e *Engine) Get(ctx context.Context, ns, key string, lease *LeaseRef) (GetResult, error) {
	ent := e.entry(keyID{ns, key}, false)
	if ent == nil {
		if lease != nil {
			return GetResult{}, leaseRequired()
		}
		return GetResult{}, nil
	}
	ent.mu.Lock()
	defer ent.mu.Unlock()
	rec := &ent.rec
	var res GetResult
	blob, etag, ver := rec.Blob, rec.ETag, rec.Version
	staged := false
	if lease != nil {
		if err := validateLocked(ent, *lease, false, nowNanos()); err != nil {
			return GetResult{}, err
		}
		res.FencingToken = rec.Fencing
		if st := rec.Staged; st.present() && st.TxnID == rec.Lease.TxnID {
			switch {
			case st.Remove:
				return res, nil
			case st.State:
				blob, etag, ver, staged = st.Blob, st.ETag, st.Version, true
			}
		}
	}
	if blob.ID == "" {
		return res, nil
	}
	// Open under the key lock: a concurrent commit may free the blob, and
	// the store keeps already-opened blobs readable.
	rc, err := e.store.OpenBlob(ctx, blob)
	if err != nil {
		if errors.Is(err, storage.ErrBlobNotFound) && staged {
			return GetResult{}, newError(api.ErrCodeStagedStateMissing, "staged state is missing: roll back and write it again")
		}
		return GetResult{}, fmt.Errorf("engine: open document: %w", err)
	}
	res.Body, res.Size, res.ETag, res.Version = rc, blob.Size, etag, ver
	return res, nil
}

// Describe returns the committed view of a key and its lease record.
func (e *Engine) Describe(ns, key string) api.DescribeResponse {
	out := api.DescribeResponse{Namespace: ns, Key: key}
	ent := e.entry(keyID{ns, key}, false)
	if ent == nil {
		m := metaOf(false)
		out.Metadata = &m
		return out
	}
	ent.mu.Lock()
	rec := ent.rec
	ent.mu.Unlock()
	out.Version, out.StateETag, out.UpdatedAt = rec.Version, rec.ETag, rec.UpdatedAt
	m := metaOf(rec.Hidden)
	out.Metadata = &m
	if rec.Lease.held() {
		out.LeaseID, out.Owner, out.ExpiresAt = rec.Lease.ID, rec.Lease.Owner, rec.Lease.Expires/int64(time.Second)
	}
	return out
}

// SetMetadata stages the query_hidden attribute.
func (e *Engine) SetMetadata(ctx context.Context, ref LeaseRef, cond WriteConditions, hidden bool) (int64, api.MetadataAttributes, error) {
	ent := e.entry(keyID{ref.Namespace, ref.Key}, false)
	if ent == nil {
		return 0, api.MetadataAttributes{}, leaseRequired()
	}
	ent.mu.Lock()
	defer ent.mu.Unlock()
	if err := checkWriteLocked(ent, ref, cond, nowNanos()); err != nil {
		return 0, api.MetadataAttributes{}, err
	}
	nr := ent.rec
	st := stagedBase(&nr, ref.TxnID)
	h := hidden
	st.Hidden = &h
	nr.Staged = st
	err := e.stageKey(ctx, ent.id, &nr, st.TxnID, nil)
	if err != nil {
		return 0, api.MetadataAttributes{}, err
	}
	ent.rec = nr
	return st.Version, metaOf(hidden), nil
}

// Remove stages the deletion of a key's document. With no document in the
// caller's view it stages nothing and reports removed=false. X-If-Version is
// not enforced on remove (WIRE §4.8); callers pass only IfETag.
func (e *Engine) Remove(ctx context.Context, ref LeaseRef, cond WriteConditions) (bool, int64, error) {
	ent := e.entry(keyID{ref.Namespace, ref.Key}, false)
	if ent == nil {
		return false, 0, leaseRequired()
	}
	ent.mu.Lock()
	defer ent.mu.Unlock()
	if err := checkWriteLocked(ent, ref, cond, nowNanos()); err != nil {
		return false, 0, err
	}
	ver, etag := viewLocked(&ent.rec, ref.TxnID)
	if etag == "" {
		return false, ver, nil
	}
	nr := ent.rec
	st := stagedBase(&nr, ref.TxnID)
	if nr.Staged.present() && nr.Staged.TxnID == ref.TxnID {
		st.Version++
	}
	var free []storage.BlobRef
	if st.Blob.ID != "" {
		free = append(free, st.Blob)
	}
	st.State, st.Remove, st.Blob, st.ETag = false, true, storage.BlobRef{}, ""
	nr.Staged = st
	err := e.stageKey(ctx, ent.id, &nr, st.TxnID, free)
	if err != nil {
		return false, 0, err
	}
	ent.rec = nr
	return true, st.Version, nil
}

// ParseExpectedSHA256 decodes an X-Expected-SHA256 value.
func ParseExpectedSHA256(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		return nil, newError(api.ErrCodeInvalidExpectedSHA256, "X-Expected-SHA256 must be 64 hex characters, got %q", truncate(s))
	}
	return b, nil
}

// ParseExpectedBytes decodes an X-Expected-Bytes value.
func ParseExpectedBytes(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, newError(api.ErrCodeInvalidExpectedBytes, "X-Expected-Bytes must be a byte count >= 0, got %q", truncate(s))
	}
	return n, nil
}

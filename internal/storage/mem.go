package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
)

// Mem is the memory Store (mem://): everything lives in maps and is lost at
// exit. It exists so the engine and server tests run without a disk, and it
// follows the same contract as the disk store, minus durability.
type Mem struct {
	mu      sync.Mutex
	closed  bool
	records map[RecordKey][]byte
	blobs   map[string][]byte
}

// NewMem returns an empty memory store.
func NewMem() *Mem {
	return &Mem{records: make(map[RecordKey][]byte), blobs: make(map[string][]byte)}
}

var _ Store = (*Mem)(nil)

// Load calls fn for every record. Values are copies, so the caller may keep
// or modify them.
func (m *Mem) Load(ctx context.Context, fn func(Record) error) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	// Copy out under the lock so fn may call back into the store.
	recs := make([]Record, 0, len(m.records))
	for k, v := range m.records {
		recs = append(recs, Record{RecordKey: k, Value: bytes.Clone(v)})
	}
	m.mu.Unlock()
	for _, r := range recs {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("storage: mem load: %w", err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// WriteBlob reads r to the end and keeps its bytes.
func (m *Mem) WriteBlob(ctx context.Context, r io.Reader) (BlobRef, error) {
	if err := ctx.Err(); err != nil {
		return BlobRef{}, fmt.Errorf("storage: mem write blob: %w", err)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return BlobRef{}, fmt.Errorf("storage: mem write blob: reading body: %w", err)
	}
	id, err := newBlobID()
	if err != nil {
		return BlobRef{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return BlobRef{}, ErrClosed
	}
	m.blobs[id] = data
	return BlobRef{ID: id, Size: int64(len(data))}, nil
}

// OpenBlob returns a reader over the blob. Blob bytes are never mutated, so
// the reader stays valid after the blob is freed.
func (m *Mem) OpenBlob(ctx context.Context, ref BlobRef) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage: mem open blob %q: %w", ref.ID, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	data, ok := m.blobs[ref.ID]
	if !ok {
		return nil, fmt.Errorf("storage: mem open blob %q: %w", ref.ID, ErrBlobNotFound)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// Append is Commit: memory has no slower durable step to skip.
func (m *Mem) Append(ctx context.Context, b Batch) error { return m.Commit(ctx, b) }

// Commit applies the batch under one lock, which is all atomicity means here.
func (m *Mem) Commit(ctx context.Context, b Batch) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: mem commit: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	for _, p := range b.Puts {
		m.records[p.RecordKey] = bytes.Clone(p.Value)
	}
	for _, k := range b.Deletes {
		delete(m.records, k)
	}
	for _, f := range b.Free {
		delete(m.blobs, f.ID)
	}
	return nil
}

// Retain drops every blob for which live returns false.
func (m *Mem) Retain(ctx context.Context, live func(BlobRef) bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storage: mem retain: %w", err)
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	refs := make([]BlobRef, 0, len(m.blobs))
	for id, data := range m.blobs {
		refs = append(refs, BlobRef{ID: id, Size: int64(len(data))})
	}
	m.mu.Unlock()
	// live runs without the lock: it is the caller's code.
	for _, ref := range refs {
		if !live(ref) {
			m.mu.Lock()
			if !m.closed {
				delete(m.blobs, ref.ID)
			}
			m.mu.Unlock()
		}
	}
	return nil
}

// Close drops everything; later calls fail with ErrClosed. Closing twice is
// a no-op so deferred and explicit closes can coexist.
func (m *Mem) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	m.records, m.blobs = nil, nil
	return nil
}

// blobIDBytes is the size of a blob id before hex encoding: 128 random bits
// make collisions across restarts a non-issue without persisting a counter.
const blobIDBytes = 16

// newBlobID returns 32 lowercase hex digits. Hex ids are safe as file names,
// so the disk store can use them directly under blobs/.
func newBlobID() (string, error) {
	var b [blobIDBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("storage: minting blob id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

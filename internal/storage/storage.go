package storage

import (
	"context"
	"errors"
	"io"
)

// ErrBlobNotFound is returned by OpenBlob for an unknown or freed blob.
var ErrBlobNotFound = errors.New("storage: blob not found")

// ErrClosed is returned by every method called after Close.
var ErrClosed = errors.New("storage: store is closed")

// ErrLocked is returned by Open when another process holds the data
// directory.
var ErrLocked = errors.New("storage: data directory is locked by another process")

// RecordKey names one engine record.
type RecordKey struct {
	Namespace string
	Key       string
}

// Record is one engine record: an opaque value under a namespace and key.
type Record struct {
	RecordKey
	Value []byte
}

// BlobRef names a blob. ID is chosen by the store; Size is the byte count.
type BlobRef struct {
	ID   string `json:"id"`
	Size int64  `json:"size"`
}

// Batch is a set of changes that Commit applies atomically: after a crash
// either all of it or none of it is visible to Load. Within a batch, puts
// apply in order (the last put of a key wins), then deletes, then frees.
type Batch struct {
	// Puts replaces the value of each record.
	Puts []Record
	// Deletes removes records; deleting an absent record is not an error.
	Deletes []RecordKey
	// Free lists blobs no longer referenced once the batch is durable. The
	// store reclaims them after the commit; readers that already opened them
	// keep reading.
	Free []BlobRef
}

// Store persists engine records and document blobs.
//
// Concurrency: every method is safe for concurrent use. Commits from
// different goroutines may be grouped into one durable write; each Commit
// call still returns only once its own batch is durable.
type Store interface {
	// Load calls fn once for every record as of the last durable commit, in
	// no particular order. It is called once, before any Commit.
	Load(ctx context.Context, fn func(Record) error) error
	// WriteBlob stores the bytes of r as a new blob and returns its ref. The
	// blob is durable once any Commit called after WriteBlob returned has
	// returned (the engine writes the blob, then commits the record that
	// references it); a blob never referenced by a committed record may be
	// reclaimed by Retain at the next start.
	WriteBlob(ctx context.Context, r io.Reader) (BlobRef, error)
	// OpenBlob opens a blob for reading.
	OpenBlob(ctx context.Context, ref BlobRef) (io.ReadCloser, error)
	// Commit makes the batch durable and atomic. Once the batch is handed to
	// the log, Commit waits for the outcome even if ctx ends, so a caller
	// never sees an ambiguous result.
	Commit(ctx context.Context, b Batch) error
	// Append adds the batch to the commit order like Commit but returns
	// without waiting for it to be durable. It becomes durable when any
	// Commit called after Append returned has returned; a crash before
	// that loses it whole, and loses every batch after it too, never an
	// earlier one. Load sees it once it is durable.
	Append(ctx context.Context, b Batch) error
	// Retain reclaims every blob for which live returns false. The engine
	// calls it once after Load, with the refs its records hold.
	Retain(ctx context.Context, live func(BlobRef) bool) error
	// Close releases the store (and, for disk, its directory lock).
	Close() error
}

// Package storage is the persistence seam under the engine: a small Store
// interface with a memory backend (mem://) and a durable disk backend
// (disk:///path), both opened through Open.
//
// The engine keeps the live view of every key in memory and uses a Store for
// two things only: to make each change durable before it is acknowledged
// (Commit), and to hold document bodies, which may be far larger than memory
// (blobs). Records are opaque bytes to the store; the engine owns their
// encoding. The store never interprets keys, so any namespace or key is safe:
// names never become file names.
package storage

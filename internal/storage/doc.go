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
//
// # Disk layout
//
//	LOCK                     flock held while open; holds the holder's pid
//	wal-<16 hex>.log         log segments, appended by one writer goroutine
//	snap-<16 hex>.snap       the newest checkpoint (at most one after cleanup)
//	snap-<16 hex>.snap.tmp   a checkpoint being written; removed at open
//	blobs/<32 hex>           blobs larger than 64 KiB, one file each
//
// Log segments and snapshots are sequences of frames: a 16-byte header
// (magic, payload length, CRC32C of the payload, CRC32C of the header) and a
// payload of entries. A log frame is one commit: a synced mark (the offset
// up to which the segment was durable when the frame was written), the
// small blobs written since the previous frame, then the batch. A snapshot
// is frames of records and small blobs, closed by an end entry that counts
// them. Snapshot N holds the state after every segment numbered below N.
// Small blobs are read back with pread from the frame that holds them; the
// index of their offsets, and every record, live in memory.
//
// # Durability
//
// The committing goroutine writes its own frame (under one mutex, so file
// order is commit order) and a syncer goroutine fdatasyncs whatever was
// written while its previous fsync ran: that is the group commit, and
// writes overlap the fsync in flight. Commit returns only after an
// fdatasync that began after its frame's write returned has succeeded, so
// an ack never precedes the fsync covering its bytes. Append writes a frame
// without waiting: the next fsync covers it, and since the log is one
// ordered file, no frame after it survives a crash that loses it. A
// segment's directory entry is fsynced before anything is written to it,
// and a segment is fully fsynced before the next one is created; a large
// blob's file and directory entry are fsynced before WriteBlob returns, and
// small blobs ride in the next frame, so a blob is durable when the Commit
// that follows it is. A crash can therefore damage only frames at the end
// of the last segment that no completed fsync covered, and none of those
// was acknowledged. At open a bad frame there is cut off with everything
// after it (and the cut fsynced) when no later valid frame carries a synced
// mark past it; a bad frame that a later frame records as durable, a bad
// frame in an earlier segment, or any damage in a snapshot stops the open
// with an error naming the file and offset. (Damage to acknowledged frames
// that nothing was written after is indistinguishable from a torn write, as
// in any log.) A frame is applied whole or not at all, so batches are
// atomic and the recovered state is exactly a prefix of the commit sequence
// containing every acknowledged commit. A failed write or fsync is sticky:
// every waiting and later commit fails, and the next open recovers from
// what is really on disk. A checkpoint drains the log, starts a new
// segment, writes snap-N.tmp, fsyncs it, renames it to snap-N.snap and
// fsyncs the directory before it deletes the segments below N, so at every
// instant the files on disk hold either the old snapshot and all its
// segments or the new snapshot and all of its own. TestDiskCrash proves
// this paragraph by SIGKILLing a process mid-commit (and mid-checkpoint)
// and checking every acknowledged commit.
//
// # Reclaiming space
//
// A blob freed by a batch leaves the index once that batch is durable; its
// file is unlinked then, and a small blob's bytes are dropped by the next
// checkpoint, which copies only live ones. Readers that already opened a
// blob keep reading: a file stays readable after unlink, and a segment or
// snapshot stays open until its last reader closes. A checkpoint starts when
// the log since the last snapshot exceeds max(CheckpointBytes, snapshot
// size), which bounds the rewrite cost to a constant factor of the log.
// Retain removes blobs no record references, such as those written before a
// crash and never committed.
package storage

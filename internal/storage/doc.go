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
//	wal-<16 hex>.log         log segments, zero-filled ahead and written in place
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
// ordered file, no frame after it survives a crash that loses it.
//
// Segments are preallocated: a background goroutine creates the next one,
// writes zeros over its full size (DiskOptions.SegmentBytes, 8 MiB), and
// fsyncs it and the directory while the active one fills, and frames are
// then written over those zeros (the segment started at open is appended
// to until the store has logged 256 KiB, so a short-lived store writes no
// zeros). On ext4 an fdatasync after an append
// must commit the journal (size and block map changed) while one after
// overwriting written blocks is a pure data flush; fallocate is not enough,
// as converting its unwritten extents on first write is journalled again.
// A frame that would run past the zeros goes to the next segment instead,
// after the log is drained, so a segment is fully fsynced before a frame is
// written to the next one; a prepared segment's directory entry and zeros
// are durable before it is used. A large blob's file and directory entry
// are fsynced before WriteBlob returns, and small blobs ride in the next
// frame, so a blob is durable when the Commit that follows it is. A crash
// can therefore damage only frames at the end of the last segment written
// to that no completed fsync covered, and none of those was acknowledged;
// it can also leave a prepared segment, whole or cut short, that holds
// nothing but zeros. At open such blank segments after the last one written
// to are removed; in every segment, zeros from a frame boundary to the end
// of the file are the end of the log (a frame starts with its magic, so it
// is never all zeros). In the last segment a bad frame is cut off with
// everything after it (and the cut fsynced) when no later valid frame
// carries a synced mark past it; a bad frame that a later frame records as
// durable, a bad frame or anything but zeros after the frames of an earlier
// segment, or any damage in a snapshot stops the open with an error naming
// the file and offset. (Damage to acknowledged frames that nothing was
// written after is indistinguishable from a torn write, as in any log.)
// Close drops an unused prepared segment and cuts the active segment's
// unused zeros. A frame is applied whole or not at all, so batches are
// atomic and the recovered state is exactly a prefix of the commit sequence
// containing every acknowledged commit. A failed write or fsync is sticky:
// every waiting and later commit fails, and the next open recovers from
// what is really on disk. A checkpoint drains the log, switches to the
// next segment, writes snap-N.tmp, fsyncs it, renames it to snap-N.snap and
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

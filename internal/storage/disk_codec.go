package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Frame layout, shared by log segments and snapshots (all integers little
// endian):
//
//	magic      uint32  frameMagic
//	length     uint32  payload bytes
//	payloadCRC uint32  CRC32C of the payload
//	headerCRC  uint32  CRC32C of the 12 bytes above
//	payload    [length]byte
//
// The header has its own checksum so a damaged length is detected instead of
// being trusted: recovery can then tell a torn tail (the last write, never
// acknowledged) from damage to acknowledged data, which must stop the open.
const (
	frameMagic      uint32 = 0x314b444c // "LDK1" read as little endian bytes
	frameHeaderSize        = 16
	// maxFramePayload bounds one frame so a damaged length never asks for a
	// huge allocation; the log splits nothing, so it also bounds one group.
	maxFramePayload = 1 << 30
)

// Entry kinds inside a payload.
const (
	entryBlob   byte = 'b' // id[16], len-prefixed bytes: a small blob
	entryBatch  byte = 't' // one Batch: puts, deletes, frees
	entryRecord byte = 'r' // snapshot only: one live record
	entryEnd    byte = 'e' // snapshot only: record and blob counts, last entry
	// entrySynced opens each log frame: the segment offset up to which the
	// log was known durable when the frame was written. Frames are written
	// while earlier ones are still being fsynced, so a crash can leave
	// several unsynced frames at the tail, in any state; this mark tells
	// recovery whether a bad frame could have been acknowledged.
	entrySynced byte = 's'
)

func crc32c(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }

// beginFrame reserves room for a frame header at the end of buf; the caller
// appends the payload and calls finishFrame with the returned start.
func beginFrame(buf []byte) ([]byte, int) {
	start := len(buf)
	return append(buf, make([]byte, frameHeaderSize)...), start
}

// finishFrame fills in the header of the frame that starts at start.
func finishFrame(buf []byte, start int) {
	h := buf[start : start+frameHeaderSize]
	payload := buf[start+frameHeaderSize:]
	binary.LittleEndian.PutUint32(h[0:], frameMagic)
	binary.LittleEndian.PutUint32(h[4:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[8:], crc32c(payload))
	binary.LittleEndian.PutUint32(h[12:], crc32c(h[:12]))
}

// frameError says why a scan stopped before the end of a file. Torn means the
// damage can only be an unacknowledged last write; otherwise the file holds
// damaged data that was once durable.
type frameError struct {
	Off    int64
	Torn   bool
	Reason string
}

func (e *frameError) Error() string {
	kind := "corrupt frame"
	if e.Torn {
		kind = "torn tail"
	}
	return fmt.Sprintf("%s at offset %d: %s", kind, e.Off, e.Reason)
}

// parseHeader returns the payload length and CRC if h is a well-formed header.
func parseHeader(h []byte) (length, sum uint32, ok bool) {
	if len(h) < frameHeaderSize || binary.LittleEndian.Uint32(h[0:]) != frameMagic ||
		binary.LittleEndian.Uint32(h[12:]) != crc32c(h[:12]) {
		return 0, 0, false
	}
	length = binary.LittleEndian.Uint32(h[4:])
	return length, binary.LittleEndian.Uint32(h[8:]), length <= maxFramePayload
}

// scanFrames reads the frames of r, which is size bytes long, calling fn with
// each verified payload and the file offset of its frame. The payload buffer
// is reused: fn copies what it keeps. scanFrames returns the end of the last
// good frame; when it stops early the error is a *frameError (or fn's error).
//
// A bad frame is torn when it is the file's last: its verified header says it
// ends at or past the end of the file, or its header is unreadable and no
// well-formed frame follows it. Anything else is damage to data that was
// followed by a later write, and so was fsynced: a hard error.
//
// With zeroEnd (log segments, which are preallocated with zeros and written
// in place), a region of nothing but zeros from a frame boundary to the end
// of the file is the end of the log: scanFrames returns its offset and nil.
// A frame is never all zeros (it starts with the magic), so this cannot
// hide a frame; zeros followed by anything else are still classified.
func scanFrames(r io.ReaderAt, size int64, zeroEnd bool, fn func(off int64, payload []byte) error) (int64, error) {
	var hdr [frameHeaderSize]byte
	var payload []byte
	off := int64(0)
	for off < size {
		n := min(size-off, frameHeaderSize)
		if _, err := r.ReadAt(hdr[:n], off); err != nil {
			return off, fmt.Errorf("reading frame header at offset %d: %w", off, err)
		}
		if zeroEnd && allZero(hdr[:n]) {
			zero, err := zeroFrom(r, off+n, size)
			if err != nil {
				return off, err
			}
			if zero {
				return off, nil
			}
		}
		if n < frameHeaderSize {
			return off, classifyBadFrame(r, off, size, "partial frame header")
		}
		length, sum, ok := parseHeader(hdr[:])
		if !ok {
			return off, classifyBadFrame(r, off, size, "bad frame header")
		}
		end := off + frameHeaderSize + int64(length)
		if end > size {
			return off, &frameError{Off: off, Torn: true, Reason: fmt.Sprintf("frame of %d bytes runs past end of file (%d)", length, size)}
		}
		if cap(payload) < int(length) {
			payload = make([]byte, length)
		}
		payload = payload[:length]
		if _, err := r.ReadAt(payload, off+frameHeaderSize); err != nil {
			return off, fmt.Errorf("reading frame payload at offset %d: %w", off, err)
		}
		if crc32c(payload) != sum {
			return off, classifyBadFrame(r, off, size, "payload checksum mismatch")
		}
		if err := fn(off, payload); err != nil {
			return off, err
		}
		off = end
	}
	return off, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// zeroFrom reports whether r holds only zeros from off to size. It reads in
// bounded chunks: the zero tail of a preallocated segment is megabytes.
func zeroFrom(r io.ReaderAt, off, size int64) (bool, error) {
	buf := make([]byte, min(size-off, 256<<10))
	for off < size {
		b := buf[:min(size-off, int64(len(buf)))]
		if _, err := r.ReadAt(b, off); err != nil {
			return false, fmt.Errorf("reading tail at offset %d: %w", off, err)
		}
		if !allZero(b) {
			return false, nil
		}
		off += int64(len(b))
	}
	return true, nil
}

// classifyBadFrame decides whether the bad frame at off is a torn tail or
// damage to durable data. Every frame after off is searched for; the bad
// frame could have been acknowledged only if some later valid frame was
// written when the log was already durable past off, which its synced mark
// records. Otherwise the bad frame and everything after it belong to writes
// that no completed fsync covered, so none of them was acknowledged: torn.
// Frames without a mark (older stores, snapshots) count as written when
// everything before them was durable, the rule of one frame per fsync. The
// search reads the rest of the file, which only happens on recovery from a
// damaged tail.
func classifyBadFrame(r io.ReaderAt, off, size int64, reason string) error {
	rest := make([]byte, size-off)
	if _, err := r.ReadAt(rest, off); err != nil {
		return fmt.Errorf("reading tail at offset %d: %w", off, err)
	}
	var magic [4]byte
	binary.LittleEndian.PutUint32(magic[:], frameMagic)
	for i := 1; i < len(rest); {
		j := bytes.Index(rest[i:], magic[:])
		if j < 0 {
			break
		}
		i += j
		if length, sum, ok := parseHeader(rest[i:]); ok {
			end := i + frameHeaderSize + int(length)
			if end <= len(rest) && crc32c(rest[i+frameHeaderSize:end]) == sum {
				at := off + int64(i)
				if syncedMark(rest[i+frameHeaderSize:end], at) > off {
					return &frameError{Off: off, Reason: fmt.Sprintf("%s followed by a valid frame at offset %d written after it was durable", reason, at)}
				}
				i = end
				continue
			}
		}
		i++
	}
	return &frameError{Off: off, Torn: true, Reason: reason}
}

// syncedMark returns the durable offset a log frame at off recorded, or off
// itself for a frame without the mark.
func syncedMark(payload []byte, off int64) int64 {
	if len(payload) < 2 || payload[0] != entrySynced {
		return off
	}
	v, n := binary.Uvarint(payload[1:])
	if n <= 0 {
		return off
	}
	return int64(v)
}

func appendSynced(buf []byte, durable int64) []byte {
	buf = append(buf, entrySynced)
	return binary.AppendUvarint(buf, uint64(durable))
}

// batchSize is the encoded size of b, checked before anything is written.
func batchSize(b *Batch) int {
	n := 1 + uvarintLen(len(b.Puts)) + uvarintLen(len(b.Deletes)) + uvarintLen(len(b.Free))
	for _, p := range b.Puts {
		n += strLen(len(p.Namespace)) + strLen(len(p.Key)) + strLen(len(p.Value))
	}
	for _, k := range b.Deletes {
		n += strLen(len(k.Namespace)) + strLen(len(k.Key))
	}
	for _, f := range b.Free {
		n += strLen(len(f.ID))
	}
	return n
}

func strLen(n int) int { return uvarintLen(n) + n }

func uvarintLen(n int) int {
	l := 1
	for ; n >= 0x80; n >>= 7 {
		l++
	}
	return l
}

// appendBatch encodes one batch entry.
func appendBatch(buf []byte, b *Batch) []byte {
	buf = append(buf, entryBatch)
	buf = binary.AppendUvarint(buf, uint64(len(b.Puts)))
	for _, p := range b.Puts {
		buf = appendString(buf, p.Namespace)
		buf = appendString(buf, p.Key)
		buf = appendBytes(buf, p.Value)
	}
	buf = binary.AppendUvarint(buf, uint64(len(b.Deletes)))
	for _, k := range b.Deletes {
		buf = appendString(buf, k.Namespace)
		buf = appendString(buf, k.Key)
	}
	buf = binary.AppendUvarint(buf, uint64(len(b.Free)))
	for _, f := range b.Free {
		buf = appendString(buf, f.ID)
	}
	return buf
}

// appendBlob encodes a small blob entry and returns where its bytes start
// relative to the start of buf, so the caller can index it by file offset.
func appendBlob(buf []byte, id [blobIDBytes]byte, data []byte) ([]byte, int) {
	buf = append(buf, entryBlob)
	buf = append(buf, id[:]...)
	buf = binary.AppendUvarint(buf, uint64(len(data)))
	pos := len(buf)
	return append(buf, data...), pos
}

func appendRecord(buf []byte, k RecordKey, v []byte) []byte {
	buf = append(buf, entryRecord)
	buf = appendString(buf, k.Namespace)
	buf = appendString(buf, k.Key)
	return appendBytes(buf, v)
}

func appendEnd(buf []byte, records, blobs int) []byte {
	buf = append(buf, entryEnd)
	buf = binary.AppendUvarint(buf, uint64(records))
	return binary.AppendUvarint(buf, uint64(blobs))
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

func appendBytes(buf, p []byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(p)))
	return append(buf, p...)
}

// entryVisitor receives decoded entries. Slices handed to it alias the
// payload except record values, which are copied. Nil funcs reject the kind.
type entryVisitor struct {
	blob   func(id [blobIDBytes]byte, pos, size int) error
	batch  func(puts []Record, deletes []RecordKey, frees []string) error
	record func(Record) error
	end    func(records, blobs uint64) error
}

var errShortPayload = errors.New("entry runs past end of payload")

// decodePayload walks the entries of a verified payload. A payload whose
// checksum matched but does not decode is damage or a format mismatch, never
// a torn write, so every error here is fatal to the caller.
func decodePayload(p []byte, v *entryVisitor) error {
	d := decoder{b: p}
	for d.pos < len(d.b) && d.err == nil {
		start := d.pos
		kind := d.byte()
		var err error
		switch {
		case kind == entryBlob && v.blob != nil:
			var id [blobIDBytes]byte
			copy(id[:], d.fixed(blobIDBytes))
			n := d.length()
			pos := d.pos
			d.fixed(n)
			if d.err == nil {
				err = v.blob(id, pos, n)
			}
		case kind == entryBatch && v.batch != nil:
			puts := make([]Record, d.count(3))
			for i := range puts {
				puts[i] = Record{RecordKey: RecordKey{Namespace: d.str(), Key: d.str()}, Value: bytes.Clone(d.bytes())}
			}
			dels := make([]RecordKey, d.count(2))
			for i := range dels {
				dels[i] = RecordKey{Namespace: d.str(), Key: d.str()}
			}
			frees := make([]string, d.count(1))
			for i := range frees {
				frees[i] = d.str()
			}
			if d.err == nil {
				err = v.batch(puts, dels, frees)
			}
		case kind == entryRecord && v.record != nil:
			r := Record{RecordKey: RecordKey{Namespace: d.str(), Key: d.str()}, Value: bytes.Clone(d.bytes())}
			if d.err == nil {
				err = v.record(r)
			}
		case kind == entrySynced && start == 0:
			// Only recovery's classification reads the mark.
			d.uvarint()
		case kind == entryEnd && v.end != nil:
			recs, blobs := d.uvarint(), d.uvarint()
			if d.err == nil {
				err = v.end(recs, blobs)
			}
		default:
			if d.err == nil {
				d.err = fmt.Errorf("unexpected entry kind %q", kind)
			}
		}
		if d.err != nil {
			return fmt.Errorf("entry at payload offset %d: %w", start, d.err)
		}
		if err != nil {
			return err
		}
	}
	return d.err
}

// decoder reads the payload encoding; the first error sticks and turns every
// later read into a zero value, so decode loops need one check at the end.
type decoder struct {
	b   []byte
	pos int
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) byte() byte {
	if d.err != nil || d.pos >= len(d.b) {
		d.fail(errShortPayload)
		return 0
	}
	d.pos++
	return d.b[d.pos-1]
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.pos:])
	if n <= 0 {
		d.fail(errors.New("bad varint"))
		return 0
	}
	d.pos += n
	return v
}

// length reads a byte count and checks it fits in the rest of the payload.
func (d *decoder) length() int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)-d.pos) {
		d.fail(errShortPayload)
		return 0
	}
	return int(n)
}

// count reads an element count; each element takes at least minBytes, which
// bounds the allocation a damaged count can cause.
func (d *decoder) count(minBytes int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)-d.pos)/uint64(minBytes) {
		d.fail(errShortPayload)
		return 0
	}
	return int(n)
}

func (d *decoder) fixed(n int) []byte {
	if d.err != nil || n > len(d.b)-d.pos {
		d.fail(errShortPayload)
		return nil
	}
	d.pos += n
	return d.b[d.pos-n : d.pos]
}

func (d *decoder) bytes() []byte { return d.fixed(d.length()) }

func (d *decoder) str() string { return string(d.bytes()) }

package storage

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzScanFrames feeds arbitrary bytes to the recovery path: framing, torn
// tail classification and entry decoding. It must never panic or allocate
// without bound; it may only accept frames, report a torn tail or fail.
func FuzzScanFrames(f *testing.F) {
	var id [blobIDBytes]byte
	copy(id[:], "0123456789abcdef")
	batch := appendBatch(nil, &Batch{
		Puts:    []Record{put("ns", "k", "v"), put("", "", "")},
		Deletes: []RecordKey{rk("ns", "gone")},
		Free:    []BlobRef{{ID: "00112233445566778899aabbccddeeff", Size: 3}},
	})
	withBlob, _ := appendBlob(append([]byte(nil), batch...), id, []byte("blob bytes"))
	snap := appendEnd(appendRecord(nil, rk("a", "b"), []byte("c")), 1, 0)
	two := append(frame(withBlob), frame(batch)...)
	f.Add([]byte{})
	f.Add(frame(batch))
	f.Add(two)
	f.Add(two[:len(two)-5])
	f.Add(frame(snap))
	f.Add(append(make([]byte, 20), frame(batch)...))
	f.Add(frame([]byte{entryBatch, 0xff, 0xff, 0xff, 0xff, 0x0f}))
	f.Add(frame([]byte{entryBlob}))
	// Preallocated segments: frames, then zeros; a torn frame, then zeros;
	// zeros where a frame should be, then a frame.
	f.Add(append(bytes.Clone(two), make([]byte, 64)...))
	f.Add(append(bytes.Clone(two[:len(two)-5]), make([]byte, 64)...))
	f.Add(append(append(frame(batch), make([]byte, 32)...), frame(batch)...))
	corrupt := bytes.Clone(two)
	corrupt[frameHeaderSize+1] ^= 1
	f.Add(corrupt)

	f.Fuzz(func(t *testing.T, data []byte) {
		var frames int
		v := &entryVisitor{
			blob: func(_ [blobIDBytes]byte, pos, size int) error {
				if pos < 0 || size < 0 {
					t.Fatalf("blob at %d size %d", pos, size)
				}
				return nil
			},
			batch:  func([]Record, []RecordKey, []string) error { return nil },
			record: func(Record) error { return nil },
			end:    func(uint64, uint64) error { return nil },
		}
		good, err := scanFrames(bytes.NewReader(data), int64(len(data)), true, func(off int64, payload []byte) error {
			frames++
			if off+frameHeaderSize+int64(len(payload)) > int64(len(data)) {
				t.Fatalf("frame at %d with %d bytes runs past %d", off, len(payload), len(data))
			}
			decodePayload(payload, v)
			return nil
		})
		if good < 0 || good > int64(len(data)) {
			t.Fatalf("good offset %d outside [0,%d]", good, len(data))
		}
		var fe *frameError
		// A clean scan ends at the end of the data or where only the zeros
		// of a preallocated segment are left.
		if err == nil && good != int64(len(data)) && !allZero(data[good:]) {
			t.Fatalf("clean scan stopped at %d of %d before non-zero bytes", good, len(data))
		}
		if err != nil && (!errors.As(err, &fe) || fe.Off != good) {
			t.Fatalf("scan error %v does not locate the damage at %d", err, good)
		}
	})
}

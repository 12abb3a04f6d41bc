package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/lockd-mcp/lockd-mcp/internal/storage"
)

// Key records are written on every acknowledged change, so they use a
// compact binary form rather than JSON:
//
//	0x01 (format) | varint version | str etag | str blob id | varint blob size
//	| varint updated | varint fencing | byte flags
//	[lease: str id | str owner | varint expires | str txn]
//	[staged: str txn | varint version | str blob id | varint blob size | str etag]
//
// where str is a uvarint length followed by the bytes. Records that start
// with '{' are the JSON form of earlier builds and still decode.
const keyRecordFormat = 1

const (
	flagHidden = 1 << iota
	flagLease
	flagLeaseExplicit
	flagStaged
	flagStagedState
	flagStagedRemove
	flagStagedHiddenSet
	flagStagedHidden
)

var recBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendKeyRecord(b []byte, r *keyRecord) []byte {
	b = append(b, keyRecordFormat)
	b = binary.AppendVarint(b, r.Version)
	b = appendStr(b, r.ETag)
	b = appendStr(b, r.Blob.ID)
	b = binary.AppendVarint(b, r.Blob.Size)
	b = binary.AppendVarint(b, r.UpdatedAt)
	b = binary.AppendVarint(b, r.Fencing)
	var flags byte
	if r.Hidden {
		flags |= flagHidden
	}
	if r.Lease.held() {
		flags |= flagLease
		if r.Lease.Explicit {
			flags |= flagLeaseExplicit
		}
	}
	st := &r.Staged
	if st.present() {
		flags |= flagStaged
		if st.State {
			flags |= flagStagedState
		}
		if st.Remove {
			flags |= flagStagedRemove
		}
		if st.Hidden != nil {
			flags |= flagStagedHiddenSet
			if *st.Hidden {
				flags |= flagStagedHidden
			}
		}
	}
	b = append(b, flags)
	if r.Lease.held() {
		b = appendStr(b, r.Lease.ID)
		b = appendStr(b, r.Lease.Owner)
		b = binary.AppendVarint(b, r.Lease.Expires)
		b = appendStr(b, r.Lease.TxnID)
	}
	if st.present() {
		b = appendStr(b, st.TxnID)
		b = binary.AppendVarint(b, st.Version)
		b = appendStr(b, st.Blob.ID)
		b = binary.AppendVarint(b, st.Blob.Size)
		b = appendStr(b, st.ETag)
	}
	return b
}

var errShortRecord = errors.New("truncated key record")

type recReader struct {
	b   []byte
	err error
}

func (r *recReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errShortRecord
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recReader) str() string {
	if r.err != nil {
		return ""
	}
	l, n := binary.Uvarint(r.b)
	if n <= 0 || uint64(len(r.b)-n) < l {
		r.err = errShortRecord
		return ""
	}
	s := string(r.b[n : n+int(l)])
	r.b = r.b[n+int(l):]
	return s
}

func (r *recReader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errShortRecord
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func decodeBinaryKeyRecord(b []byte) (keyRecord, error) {
	var k keyRecord
	rd := recReader{b: b[1:]}
	k.Version = rd.varint()
	k.ETag = rd.str()
	k.Blob = storage.BlobRef{ID: rd.str(), Size: rd.varint()}
	k.UpdatedAt = rd.varint()
	k.Fencing = rd.varint()
	flags := rd.byte()
	k.Hidden = flags&flagHidden != 0
	if flags&flagLease != 0 {
		k.Lease = leaseRecord{ID: rd.str(), Owner: rd.str(), Expires: rd.varint(), TxnID: rd.str(), Explicit: flags&flagLeaseExplicit != 0}
	}
	if flags&flagStaged != 0 {
		st := stagedRecord{TxnID: rd.str(), Version: rd.varint()}
		st.Blob = storage.BlobRef{ID: rd.str(), Size: rd.varint()}
		st.ETag = rd.str()
		st.State, st.Remove = flags&flagStagedState != 0, flags&flagStagedRemove != 0
		if flags&flagStagedHiddenSet != 0 {
			h := flags&flagStagedHidden != 0
			st.Hidden = &h
		}
		k.Staged = st
	}
	switch {
	case rd.err != nil:
	case flags&flagLease != 0 && k.Lease.ID == "", flags&flagLease == 0 && flags&flagLeaseExplicit != 0:
		rd.err = errors.New("malformed lease in key record")
	case flags&flagStaged != 0 && k.Staged.TxnID == "",
		flags&flagStaged == 0 && flags&(flagStagedState|flagStagedRemove|flagStagedHiddenSet|flagStagedHidden) != 0,
		flags&flagStagedHiddenSet == 0 && flags&flagStagedHidden != 0:
		rd.err = errors.New("malformed staged change in key record")
	}
	if rd.err == nil && len(rd.b) != 0 {
		rd.err = errors.New("trailing bytes in key record")
	}
	if rd.err != nil {
		return keyRecord{}, fmt.Errorf("engine: decode key record: %w", rd.err)
	}
	return k, nil
}

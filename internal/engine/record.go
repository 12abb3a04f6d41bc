package engine

import (
	"encoding/json"
	"fmt"

	"github.com/lockd-mcp/lockd-mcp/internal/storage"
)

// Reserved record namespaces. User namespaces can never start with '.', so
// these cannot collide with keys.
const (
	txnNamespace    = ".txns"
	nsConfNamespace = ".namespaces"
)

// keyRecord is the durable metadata of one key; the engine keeps the same
// struct in memory as the live view. Document bodies live in store blobs.
type keyRecord struct {
	// Version is the committed version; it starts at 0 and grows by one per
	// committed transaction that changed the key.
	Version int64 `json:"v,omitempty"`
	// ETag is the committed state ETag, "" when there is no state.
	ETag string `json:"e,omitempty"`
	// Blob holds the committed document, zero when there is none.
	Blob storage.BlobRef `json:"b,omitzero"`
	// UpdatedAt is the unix second of the last commit.
	UpdatedAt int64 `json:"u,omitempty"`
	// Fencing is the token of the latest grant; it only ever grows.
	Fencing int64 `json:"f,omitempty"`
	// Hidden is the committed query_hidden attribute.
	Hidden bool `json:"h,omitempty"`
	// Lease is the current (possibly expired) lease, zero when free.
	Lease leaseRecord `json:"l,omitzero"`
	// Staged is the change staged by a transaction, zero when none.
	Staged stagedRecord `json:"s,omitzero"`
}

// leaseRecord is an exclusive lease on a key.
type leaseRecord struct {
	ID    string `json:"id"`
	Owner string `json:"o"`
	// Expires is the expiry in unix nanoseconds.
	Expires int64  `json:"x"`
	TxnID   string `json:"t"`
	// Explicit marks a lease that joined a caller-named transaction.
	Explicit bool `json:"j,omitempty"`
}

func (l leaseRecord) held() bool { return l.ID != "" }

// stagedRecord is the uncommitted change of one transaction on a key. A
// staged record with neither State nor Remove carries attributes only.
type stagedRecord struct {
	TxnID   string `json:"t"`
	Version int64  `json:"v"`
	// State means Blob/ETag/Size hold a new document.
	State  bool            `json:"st,omitempty"`
	Remove bool            `json:"rm,omitempty"`
	Blob   storage.BlobRef `json:"b,omitzero"`
	ETag   string          `json:"e,omitempty"`
	Hidden *bool           `json:"h,omitempty"`
}

func (s stagedRecord) present() bool { return s.TxnID != "" }

func decodeKeyRecord(b []byte) (keyRecord, error) {
	if len(b) > 0 && b[0] == keyRecordFormat {
		return decodeBinaryKeyRecord(b)
	}
	var r keyRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("engine: decode key record: %w", err)
	}
	return r, nil
}

// txnRecord is the durable decision record of a transaction that was named
// by a caller (joined leases or the /v1/txn endpoints).
type txnRecord struct {
	State        string      `json:"s"`
	Participants [][2]string `json:"p,omitempty"`
	// Expires is the unix second after which a pending txn rolls back.
	Expires int64 `json:"x,omitempty"`
	// Decided is the unix second of the commit/rollback decision; decided
	// records are forgotten after a retention period.
	Decided int64 `json:"d,omitempty"`
}

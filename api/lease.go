package api

// BlockNoWait makes an acquire try exactly once and fail with 409 "waiting"
// when the key is held. A block_seconds of 0 waits indefinitely; >0 waits up
// to that many seconds.
const BlockNoWait int64 = -1

// AcquireRequest is the body of POST /v1/acquire.
type AcquireRequest struct {
	Namespace   string `json:"namespace,omitempty"`
	Key         string `json:"key"`
	Owner       string `json:"owner"`
	TTLSeconds  int64  `json:"ttl_seconds"`
	BlockSecs   int64  `json:"block_seconds"`
	IfNotExists bool   `json:"if_not_exists,omitempty"`
	TxnID       string `json:"txn_id,omitempty"`
}

// AcquireResponse is the 200 body of POST /v1/acquire. Version and StateETag
// describe the committed state of the key at the time of the grant.
type AcquireResponse struct {
	Namespace     string `json:"namespace"`
	LeaseID       string `json:"lease_id"`
	TxnID         string `json:"txn_id"`
	Key           string `json:"key"`
	Owner         string `json:"owner"`
	ExpiresAt     int64  `json:"expires_at_unix"`
	Version       int64  `json:"version"`
	StateETag     string `json:"state_etag,omitempty"`
	FencingToken  int64  `json:"fencing_token"`
	RetryAfter    int64  `json:"retry_after_seconds,omitempty"`
	CorrelationID string `json:"correlation_id,omitempty"`
}

// KeepAliveRequest is the body of POST /v1/keepalive. The X-Txn-ID header,
// when present, overrides TxnID.
type KeepAliveRequest struct {
	Namespace  string `json:"namespace,omitempty"`
	Key        string `json:"key"`
	LeaseID    string `json:"lease_id"`
	TTLSeconds int64  `json:"ttl_seconds"`
	TxnID      string `json:"txn_id,omitempty"`
}

// KeepAliveResponse is the 200 body of POST /v1/keepalive.
type KeepAliveResponse struct {
	ExpiresAt int64 `json:"expires_at_unix"`
}

// ReleaseRequest is the body of POST /v1/release. Rollback discards the
// changes staged under the lease's transaction instead of committing them.
type ReleaseRequest struct {
	Namespace string `json:"namespace,omitempty"`
	Key       string `json:"key"`
	LeaseID   string `json:"lease_id"`
	TxnID     string `json:"txn_id,omitempty"`
	Rollback  bool   `json:"rollback,omitempty"`
}

// ReleaseResponse is the 200 body of POST /v1/release.
type ReleaseResponse struct {
	Released bool `json:"released"`
}

// DescribeResponse is the 200 body of GET /v1/describe: the committed view of
// a key plus its lease record, which may already be expired.
type DescribeResponse struct {
	Namespace string              `json:"namespace"`
	Key       string              `json:"key"`
	Owner     string              `json:"owner,omitempty"`
	LeaseID   string              `json:"lease_id,omitempty"`
	ExpiresAt int64               `json:"expires_at_unix,omitempty"`
	Version   int64               `json:"version"`
	StateETag string              `json:"state_etag,omitempty"`
	UpdatedAt int64               `json:"updated_at_unix,omitempty"`
	Metadata  *MetadataAttributes `json:"metadata,omitempty"`
}

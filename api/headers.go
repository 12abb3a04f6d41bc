package api

// Header names of the lockd v1 wire.
const (
	HeaderLeaseID          = "X-Lease-ID"
	HeaderTxnID            = "X-Txn-ID"
	HeaderFencingToken     = "X-Fencing-Token"
	HeaderIfVersion        = "X-If-Version"
	HeaderIfStateETag      = "X-If-State-ETag"
	HeaderExpectedSHA256   = "X-Expected-SHA256"
	HeaderExpectedBytes    = "X-Expected-Bytes"
	HeaderMetaQueryHidden  = "X-Lockd-Meta-Query-Hidden"
	HeaderCorrelationID    = "X-Correlation-Id"
	HeaderKeyVersion       = "X-Key-Version"
	HeaderETag             = "ETag"
	HeaderIfMatch          = "If-Match"
	HeaderRetryAfter       = "Retry-After"
	HeaderQRFState         = "X-Lockd-QRF-State"
	HeaderShutdownImminent = "Shutdown-Imminent"

	HeaderQueryReturn   = "X-Lockd-Query-Return"
	HeaderQueryCursor   = "X-Lockd-Query-Cursor"
	HeaderQueryIndexSeq = "X-Lockd-Query-Index-Seq"
	HeaderQueryMetadata = "X-Lockd-Query-Metadata"

	HeaderMutateCandidatesSeen    = "X-Lockd-Mutate-Candidates-Seen"
	HeaderMutateCandidatesWritten = "X-Lockd-Mutate-Candidates-Written"
	HeaderMutateBytesRead         = "X-Lockd-Mutate-Bytes-Read"
	HeaderMutateBytesWritten      = "X-Lockd-Mutate-Bytes-Written"
	HeaderMutateBytesCaptured     = "X-Lockd-Mutate-Bytes-Captured"
	HeaderMutateSpillCount        = "X-Lockd-Mutate-Spill-Count"
	HeaderMutateSpillBytes        = "X-Lockd-Mutate-Spill-Bytes"

	HeaderAttachmentID        = "X-Attachment-ID"
	HeaderAttachmentName      = "X-Attachment-Name"
	HeaderAttachmentSize      = "X-Attachment-Size"
	HeaderAttachmentCreatedAt = "X-Attachment-Created-At"
	HeaderAttachmentUpdatedAt = "X-Attachment-Updated-At"
	HeaderAttachmentSHA256    = "X-Attachment-SHA256"
)

// ContentTypeNDJSON is the media type of query document streams.
const ContentTypeNDJSON = "application/x-ndjson"

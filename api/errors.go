package api

// ErrorResponse is the JSON envelope of every error a handler produces.
// ErrorCode is stable and machine-readable; Detail is for humans.
type ErrorResponse struct {
	ErrorCode         string `json:"error"`
	Detail            string `json:"detail,omitempty"`
	CurrentVersion    int64  `json:"current_version,omitempty"`
	CurrentETag       string `json:"current_etag,omitempty"`
	LeaderEndpoint    string `json:"leader_endpoint,omitempty"`
	RetryAfterSeconds int64  `json:"retry_after_seconds,omitempty"`
}

// Error makes ErrorResponse usable as an error value.
func (e ErrorResponse) Error() string {
	if e.Detail == "" {
		return e.ErrorCode
	}
	return e.ErrorCode + ": " + e.Detail
}

// Error codes of the lockd v1 wire (WIRE.md §2).
const (
	ErrCodeAlreadyExists                  = "already_exists"
	ErrCodeWaiting                        = "waiting"
	ErrCodeLeaseRequired                  = "lease_required"
	ErrCodeLeaseExpired                   = "lease_expired"
	ErrCodeFencingMismatch                = "fencing_mismatch"
	ErrCodeMissingTxn                     = "missing_txn"
	ErrCodeTxnMismatch                    = "txn_mismatch"
	ErrCodeVersionConflict                = "version_conflict"
	ErrCodeETagMismatch                   = "etag_mismatch"
	ErrCodeExpectedSHA256Mismatch         = "expected_sha256_mismatch"
	ErrCodeExpectedBytesMismatch          = "expected_bytes_mismatch"
	ErrCodeCASMismatch                    = "cas_mismatch"
	ErrCodeLeaseConflict                  = "lease_conflict"
	ErrCodeQueueMessageLeaseMismatch      = "queue_message_lease_mismatch"
	ErrCodeTxnPending                     = "txn_pending"
	ErrCodeTxnConflict                    = "txn_conflict"
	ErrCodeIndexFlushBusy                 = "index_flush_busy"
	ErrCodeNamespaceConfigConflict        = "namespace_config_conflict"
	ErrCodeNotFound                       = "not_found"
	ErrCodeTxnNotFound                    = "txn_not_found"
	ErrCodeAttachmentNotFound             = "attachment_not_found"
	ErrCodeStagedStateMissing             = "staged_state_missing"
	ErrCodeStateNotFound                  = "state_not_found"
	ErrCodeDocumentTooLarge               = "document_too_large"
	ErrCodeAttachmentTooLarge             = "attachment_too_large"
	ErrCodeContextCanceled                = "context_canceled"
	ErrCodeThrottled                      = "throttled"
	ErrCodeShutdownDraining               = "shutdown_draining"
	ErrCodeNodePassive                    = "node_passive"
	ErrCodeStateNotPublished              = "state_not_published"
	ErrCodeQueueBusy                      = "queue_busy"
	ErrCodeQueueDisabled                  = "queue_disabled"
	ErrCodeQueryDisabled                  = "query_disabled"
	ErrCodeIndexUnavailable               = "index_unavailable"
	ErrCodeNamespaceForbidden             = "namespace_forbidden"
	ErrCodeQueueStateKeepaliveUnsupported = "queue_state_keepalive_unsupported"
	ErrCodeMethodNotAllowed               = "method_not_allowed"
	ErrCodeInternal                       = "internal_error"

	ErrCodeInvalidBody            = "invalid_body"
	ErrCodeInvalidNamespace       = "invalid_namespace"
	ErrCodeInvalidKey             = "invalid_key"
	ErrCodeInvalidTTL             = "invalid_ttl"
	ErrCodeInvalidTxn             = "invalid_txn"
	ErrCodeInvalidTxnID           = "invalid_txn_id"
	ErrCodeInvalidState           = "invalid_state"
	ErrCodeInvalidVersion         = "invalid_version"
	ErrCodeInvalidFencingToken    = "invalid_fencing_token"
	ErrCodeInvalidExpectedSHA256  = "invalid_expected_sha256"
	ErrCodeInvalidExpectedBytes   = "invalid_expected_bytes"
	ErrCodeInvalidMetadata        = "invalid_metadata"
	ErrCodeInvalidMutations       = "invalid_mutations"
	ErrCodeInvalidSelector        = "invalid_selector"
	ErrCodeInvalidFields          = "invalid_fields"
	ErrCodeInvalidEngine          = "invalid_engine"
	ErrCodeInvalidRefresh         = "invalid_refresh"
	ErrCodeInvalidReturn          = "invalid_return"
	ErrCodeInvalidCursor          = "invalid_cursor"
	ErrCodeInvalidLimit           = "invalid_limit"
	ErrCodeInvalidMode            = "invalid_mode"
	ErrCodeInvalidMaxBytes        = "invalid_max_bytes"
	ErrCodeInvalidContentType     = "invalid_content_type"
	ErrCodeMultipartError         = "multipart_error"
	ErrCodeInvalidQueue           = "invalid_queue"
	ErrCodeInvalidNackIntent      = "invalid_nack_intent"
	ErrCodeInvalidNackLastError   = "invalid_nack_last_error"
	ErrCodeInvalidNamespaceReq    = "invalid_namespace_request"
	ErrCodeQueryEngineUnavailable = "query_engine_unavailable"
	ErrCodeMissingKey             = "missing_key"
	ErrCodeMissingOwner           = "missing_owner"
	ErrCodeMissingLease           = "missing_lease"
	ErrCodeMissingQueue           = "missing_queue"
	ErrCodeMissingFields          = "missing_fields"
	ErrCodeMissingParams          = "missing_params"
	ErrCodeMissingBody            = "missing_body"
	ErrCodeMissingAttachment      = "missing_attachment"
	ErrCodeMissingFencingToken    = "missing_fencing_token"
	ErrCodeMissingTxnID           = "missing_txn_id"
)

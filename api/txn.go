package api

// Transaction decision states.
const (
	TxnStatePending  = "pending"
	TxnStateCommit   = "commit"
	TxnStateRollback = "rollback"
)

// TxnParticipant names a key enlisted in a transaction.
type TxnParticipant struct {
	Namespace   string `json:"namespace"`
	Key         string `json:"key"`
	BackendHash string `json:"backend_hash,omitempty"`
}

// TxnDecisionRequest is the body of POST /v1/txn/decide, /commit and /rollback.
type TxnDecisionRequest struct {
	TxnID             string           `json:"txn_id"`
	State             string           `json:"state,omitempty"`
	Participants      []TxnParticipant `json:"participants,omitempty"`
	ExpiresAtUnix     int64            `json:"expires_at_unix,omitempty"`
	TCTerm            uint64           `json:"tc_term,omitempty"`
	TargetBackendHash string           `json:"target_backend_hash,omitempty"`
}

// TxnDecisionResponse reports the recorded decision, which may be an earlier
// one than the request asked for.
type TxnDecisionResponse struct {
	TxnID string `json:"txn_id"`
	State string `json:"state"`
}

// TxnReplayRequest is the body of POST /v1/txn/replay.
type TxnReplayRequest struct {
	TxnID string `json:"txn_id"`
}

// TxnReplayResponse is the 200 body of POST /v1/txn/replay.
type TxnReplayResponse struct {
	TxnID string `json:"txn_id"`
	State string `json:"state"`
}

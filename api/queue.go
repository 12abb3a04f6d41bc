package api

import "encoding/json"

// EnqueueRequest is the "meta" part of a POST /v1/queue/enqueue multipart body.
type EnqueueRequest struct {
	Namespace                string         `json:"namespace,omitempty"`
	Queue                    string         `json:"queue"`
	DelaySeconds             int64          `json:"delay_seconds,omitempty"`
	VisibilityTimeoutSeconds int64          `json:"visibility_timeout_seconds,omitempty"`
	TTLSeconds               int64          `json:"ttl_seconds,omitempty"`
	MaxAttempts              int            `json:"max_attempts,omitempty"`
	Attributes               map[string]any `json:"attributes,omitempty"`
	PayloadContentType       string         `json:"payload_content_type,omitempty"`
}

// EnqueueResponse is the 200 body of POST /v1/queue/enqueue.
type EnqueueResponse struct {
	Namespace                string `json:"namespace"`
	Queue                    string `json:"queue"`
	MessageID                string `json:"message_id"`
	Attempts                 int    `json:"attempts"`
	MaxAttempts              int    `json:"max_attempts"`
	FailureAttempts          int    `json:"failure_attempts,omitempty"`
	NotVisibleUntilUnix      int64  `json:"not_visible_until_unix"`
	VisibilityTimeoutSeconds int64  `json:"visibility_timeout_seconds"`
	PayloadBytes             int64  `json:"payload_bytes"`
	CorrelationID            string `json:"correlation_id,omitempty"`
}

// DequeueRequest is the body of POST /v1/queue/dequeue, dequeueWithState,
// subscribe and subscribeWithState. WaitSeconds -1 tries once, 0 waits
// indefinitely, >0 waits that long.
type DequeueRequest struct {
	Namespace                string `json:"namespace,omitempty"`
	Queue                    string `json:"queue"`
	Owner                    string `json:"owner"`
	TxnID                    string `json:"txn_id,omitempty"`
	VisibilityTimeoutSeconds int64  `json:"visibility_timeout_seconds,omitempty"`
	WaitSeconds              int64  `json:"wait_seconds,omitempty"`
	PageSize                 int    `json:"page_size,omitempty"`
	StartAfter               string `json:"start_after,omitempty"`
}

// Message is a delivered queue message envelope. The State* fields are set by
// the *WithState deliveries only.
type Message struct {
	Namespace                string         `json:"namespace"`
	Queue                    string         `json:"queue"`
	MessageID                string         `json:"message_id"`
	Attempts                 int            `json:"attempts"`
	MaxAttempts              int            `json:"max_attempts"`
	FailureAttempts          int            `json:"failure_attempts,omitempty"`
	NotVisibleUntilUnix      int64          `json:"not_visible_until_unix"`
	VisibilityTimeoutSeconds int64          `json:"visibility_timeout_seconds"`
	Attributes               map[string]any `json:"attributes,omitempty"`
	PayloadContentType       string         `json:"payload_content_type,omitempty"`
	PayloadBytes             int64          `json:"payload_bytes"`
	CorrelationID            string         `json:"correlation_id,omitempty"`
	LeaseID                  string         `json:"lease_id"`
	LeaseExpiresAtUnix       int64          `json:"lease_expires_at_unix"`
	FencingToken             int64          `json:"fencing_token"`
	TxnID                    string         `json:"txn_id"`
	MetaETag                 string         `json:"meta_etag"`
	StateETag                string         `json:"state_etag,omitempty"`
	StateLeaseID             string         `json:"state_lease_id,omitempty"`
	StateLeaseExpiresAtUnix  int64          `json:"state_lease_expires_at_unix,omitempty"`
	StateFencingToken        int64          `json:"state_fencing_token,omitempty"`
	StateTxnID               string         `json:"state_txn_id,omitempty"`
}

// DequeueResponse is the JSON "meta" part of each delivery in a dequeue or
// subscribe multipart response.
type DequeueResponse struct {
	Message    *Message `json:"message,omitempty"`
	NextCursor string   `json:"next_cursor,omitempty"`
}

// AckRequest is the body of POST /v1/queue/ack.
type AckRequest struct {
	Namespace         string `json:"namespace,omitempty"`
	Queue             string `json:"queue"`
	MessageID         string `json:"message_id"`
	LeaseID           string `json:"lease_id"`
	FencingToken      int64  `json:"fencing_token,omitempty"`
	MetaETag          string `json:"meta_etag,omitempty"`
	TxnID             string `json:"txn_id,omitempty"`
	StateETag         string `json:"state_etag,omitempty"`
	StateLeaseID      string `json:"state_lease_id,omitempty"`
	StateFencingToken int64  `json:"state_fencing_token,omitempty"`
}

// AckResponse is the 200 body of POST /v1/queue/ack.
type AckResponse struct {
	Acked         bool   `json:"acked"`
	CorrelationID string `json:"correlation_id,omitempty"`
}

// NackIntent says whether a nack counts as a failed attempt.
type NackIntent string

// Nack intents.
const (
	NackIntentFailure NackIntent = "failure"
	NackIntentDefer   NackIntent = "defer"
)

// NackRequest is the body of POST /v1/queue/nack.
type NackRequest struct {
	Namespace         string          `json:"namespace,omitempty"`
	Queue             string          `json:"queue"`
	MessageID         string          `json:"message_id"`
	LeaseID           string          `json:"lease_id"`
	FencingToken      int64           `json:"fencing_token,omitempty"`
	MetaETag          string          `json:"meta_etag"`
	TxnID             string          `json:"txn_id,omitempty"`
	DelaySeconds      int64           `json:"delay_seconds,omitempty"`
	Intent            NackIntent      `json:"intent,omitempty"`
	LastError         json.RawMessage `json:"last_error,omitempty"`
	StateETag         string          `json:"state_etag,omitempty"`
	StateLeaseID      string          `json:"state_lease_id,omitempty"`
	StateFencingToken int64           `json:"state_fencing_token,omitempty"`
}

// NackResponse is the 200 body of POST /v1/queue/nack.
type NackResponse struct {
	Requeued      bool   `json:"requeued"`
	MetaETag      string `json:"meta_etag"`
	CorrelationID string `json:"correlation_id,omitempty"`
}

// ExtendRequest is the body of POST /v1/queue/extend.
type ExtendRequest struct {
	Namespace         string `json:"namespace,omitempty"`
	Queue             string `json:"queue"`
	MessageID         string `json:"message_id"`
	LeaseID           string `json:"lease_id"`
	FencingToken      int64  `json:"fencing_token,omitempty"`
	MetaETag          string `json:"meta_etag"`
	TxnID             string `json:"txn_id,omitempty"`
	ExtendBySeconds   int64  `json:"extend_by_seconds,omitempty"`
	StateLeaseID      string `json:"state_lease_id,omitempty"`
	StateFencingToken int64  `json:"state_fencing_token,omitempty"`
}

// ExtendResponse is the 200 body of POST /v1/queue/extend.
type ExtendResponse struct {
	LeaseExpiresAtUnix       int64  `json:"lease_expires_at_unix"`
	VisibilityTimeoutSeconds int64  `json:"visibility_timeout_seconds"`
	MetaETag                 string `json:"meta_etag"`
	StateLeaseExpiresAtUnix  int64  `json:"state_lease_expires_at_unix,omitempty"`
	CorrelationID            string `json:"correlation_id,omitempty"`
}

// QueueStatsRequest is the body of POST /v1/queue/stats.
type QueueStatsRequest struct {
	Namespace string `json:"namespace,omitempty"`
	Queue     string `json:"queue"`
}

// QueueStatsResponse is the 200 body of POST /v1/queue/stats.
type QueueStatsResponse struct {
	Namespace               string `json:"namespace"`
	Queue                   string `json:"queue"`
	WaitingConsumers        int    `json:"waiting_consumers"`
	PendingCandidates       int    `json:"pending_candidates"`
	TotalConsumers          int    `json:"total_consumers"`
	HasActiveWatcher        bool   `json:"has_active_watcher"`
	Available               bool   `json:"available"`
	HeadMessageID           string `json:"head_message_id,omitempty"`
	HeadEnqueuedAtUnix      int64  `json:"head_enqueued_at_unix,omitempty"`
	HeadNotVisibleUntilUnix int64  `json:"head_not_visible_until_unix,omitempty"`
	HeadAgeSeconds          int64  `json:"head_age_seconds,omitempty"`
	CorrelationID           string `json:"correlation_id,omitempty"`
}

// QueueWatchRequest is the body of POST /v1/queue/watch.
type QueueWatchRequest struct {
	Namespace string `json:"namespace,omitempty"`
	Queue     string `json:"queue"`
}

// QueueWatchEvent is the data of a "queue_watch" server-sent event.
type QueueWatchEvent struct {
	Namespace     string `json:"namespace"`
	Queue         string `json:"queue"`
	Available     bool   `json:"available"`
	HeadMessageID string `json:"head_message_id,omitempty"`
	ChangedAtUnix int64  `json:"changed_at_unix"`
	CorrelationID string `json:"correlation_id,omitempty"`
}

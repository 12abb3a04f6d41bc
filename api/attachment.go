package api

// AttachmentInfo describes one attachment of a key.
type AttachmentInfo struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Size            int64  `json:"size"`
	PlaintextSHA256 string `json:"plaintext_sha256,omitempty"`
	ContentType     string `json:"content_type,omitempty"`
	CreatedAtUnix   int64  `json:"created_at_unix,omitempty"`
	UpdatedAtUnix   int64  `json:"updated_at_unix,omitempty"`
}

// AttachResponse is the 200 body of an attachment upload. Noop is true when
// prevent_overwrite found an existing attachment and nothing was written.
type AttachResponse struct {
	Attachment AttachmentInfo `json:"attachment"`
	Noop       bool           `json:"noop,omitempty"`
	Version    int64          `json:"version"`
}

// AttachmentListResponse is the 200 body of GET /v1/attachments. Attachments
// is sent as null when empty, as the reference server does.
type AttachmentListResponse struct {
	Namespace   string           `json:"namespace"`
	Key         string           `json:"key"`
	Attachments []AttachmentInfo `json:"attachments"`
}

// DeleteAttachmentResponse is the 200 body of DELETE /v1/attachment.
type DeleteAttachmentResponse struct {
	Deleted bool  `json:"deleted"`
	Version int64 `json:"version"`
}

// DeleteAllAttachmentsResponse is the 200 body of DELETE /v1/attachments.
type DeleteAllAttachmentsResponse struct {
	Deleted int   `json:"deleted"`
	Version int64 `json:"version"`
}

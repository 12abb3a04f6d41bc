package api

// MetadataAttributes are the user-visible attributes of a key. QueryHidden
// keeps the key out of /v1/query results; get still serves it.
type MetadataAttributes struct {
	QueryHidden *bool `json:"query_hidden,omitempty"`
}

// Hidden reports whether the attributes mark the key as hidden from queries.
func (m MetadataAttributes) Hidden() bool { return m.QueryHidden != nil && *m.QueryHidden }

// UpdateResponse is the 200 body of POST /v1/update and POST /v1/mutate.
// NewVersion and NewStateETag are the staged values until the lease commits.
type UpdateResponse struct {
	NewVersion   int64              `json:"new_version"`
	NewStateETag string             `json:"new_state_etag"`
	BytesWritten int64              `json:"bytes"`
	Metadata     MetadataAttributes `json:"metadata"`
}

// MutateRequest is the body of POST /v1/mutate: LQL mutation expressions
// applied in order to the lease-visible document.
type MutateRequest struct {
	Namespace string   `json:"namespace,omitempty"`
	Mutations []string `json:"mutations"`
}

// MetadataUpdateRequest is the optional body of POST /v1/metadata.
type MetadataUpdateRequest struct {
	QueryHidden *bool `json:"query_hidden,omitempty"`
}

// MetadataUpdateResponse is the 200 body of POST /v1/metadata.
type MetadataUpdateResponse struct {
	Namespace string             `json:"namespace"`
	Key       string             `json:"key"`
	Version   int64              `json:"version"`
	Metadata  MetadataAttributes `json:"metadata"`
}

// RemoveResponse is the 200 body of POST /v1/remove. Removed is false when
// there was nothing to remove; nothing is staged then.
type RemoveResponse struct {
	Removed    bool  `json:"removed"`
	NewVersion int64 `json:"new_version"`
}

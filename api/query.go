package api

import "github.com/lockd-mcp/lockd-mcp/lql"

// Selector is the JSON AST form of an LQL selector; see package lql.
type Selector = lql.Selector

// QueryReturn selects what /v1/query answers with.
type QueryReturn string

// Query return modes.
const (
	QueryReturnKeys      QueryReturn = "keys"
	QueryReturnDocuments QueryReturn = "documents"
)

// QueryRequest is the optional body of POST /v1/query.
type QueryRequest struct {
	Namespace string         `json:"namespace,omitempty"`
	Selector  Selector       `json:"selector,omitzero"`
	Limit     int            `json:"limit,omitempty"`
	Cursor    string         `json:"cursor,omitempty"`
	Fields    map[string]any `json:"fields,omitempty"`
	Return    QueryReturn    `json:"return,omitempty"`
}

// QueryResponse is the keys-mode 200 body of POST /v1/query.
type QueryResponse struct {
	Namespace string            `json:"namespace"`
	Keys      []string          `json:"keys,omitempty"`
	Cursor    string            `json:"cursor,omitempty"`
	IndexSeq  uint64            `json:"index_seq,omitempty"`
	Metadata  map[string]string `json:"metadata,omitempty"`
}

// QueryDocumentRow is one NDJSON row of a documents-mode query. The SDK parses
// rows positionally, so the field order here is part of the wire.
type QueryDocumentRow struct {
	Namespace string `json:"ns"`
	Key       string `json:"key"`
	Version   int64  `json:"ver,omitempty"`
	Document  []byte `json:"-"`
}

// IndexFlushRequest is the optional body of POST /v1/index/flush.
type IndexFlushRequest struct {
	Namespace string `json:"namespace,omitempty"`
	Mode      string `json:"mode,omitempty"`
}

// IndexFlushResponse is the 200/202 body of POST /v1/index/flush.
type IndexFlushResponse struct {
	Namespace string `json:"namespace"`
	Mode      string `json:"mode"`
	Accepted  bool   `json:"accepted"`
	Flushed   bool   `json:"flushed"`
	Pending   bool   `json:"pending"`
	IndexSeq  uint64 `json:"index_seq,omitempty"`
	FlushID   string `json:"flush_id,omitempty"`
}

// Query engines and namespace engine settings.
const (
	EngineAuto  = "auto"
	EngineIndex = "index"
	EngineScan  = "scan"
	EngineNone  = "none"
)

// NamespaceQueryConfig is a namespace's query-engine preference.
type NamespaceQueryConfig struct {
	PreferredEngine string `json:"preferred_engine"`
	FallbackEngine  string `json:"fallback_engine"`
}

// NamespaceConfigRequest is the body of POST /v1/namespace.
type NamespaceConfigRequest struct {
	Namespace string                `json:"namespace,omitempty"`
	Query     *NamespaceQueryConfig `json:"query,omitempty"`
}

// NamespaceConfigResponse is the 200 body of /v1/namespace.
type NamespaceConfigResponse struct {
	Namespace string               `json:"namespace"`
	Query     NamespaceQueryConfig `json:"query"`
}

package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/lockd-mcp/lockd-mcp/api"
)

// The hot endpoints (acquire, update, release) avoid encoding/json's
// per-request decoder and encoder allocations: bodies are read into a pooled
// buffer and decoded with json.Unmarshal after a cheap check of the
// top-level keys, and the responses are appended by hand. Anything unusual
// falls back to the general path, which stays the reference for errors.

// Allowed top-level fields of the strictly decoded hot bodies; a test keeps
// them in step with the api types.
var (
	acquireFields   = []string{"namespace", "key", "owner", "ttl_seconds", "block_seconds", "if_not_exists", "txn_id"}
	keepAliveFields = []string{"namespace", "key", "lease_id", "ttl_seconds", "txn_id"}
	releaseFields   = []string{"namespace", "key", "lease_id", "txn_id", "rollback"}
)

var bodyPool = sync.Pool{New: func() any { return bytes.NewBuffer(make([]byte, 0, 1024)) }}

// decodeStrictFast decodes a strict JSON body into v. fields lists the
// accepted top-level keys of v.
func decodeStrictFast(body io.Reader, v any, fields []string) error {
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 64<<10 {
			bodyPool.Put(buf)
		}
	}()
	if _, err := buf.ReadFrom(body); err != nil {
		var mbe *http.MaxBytesError
		if asMaxBytes(err, &mbe) {
			return invalidBody("request body exceeds the limit of " + strconv.FormatInt(mbe.Limit, 10) + " bytes")
		}
		return invalidBody("failed to read request: " + err.Error())
	}
	data := buf.Bytes()
	if knownKeysOnly(data, fields) && json.Unmarshal(data, v) == nil {
		return nil
	}
	// Slow path: the decoder produces the contract's error messages.
	return decodeJSON(bytes.NewReader(data), v, true, false)
}

func asMaxBytes(err error, target **http.MaxBytesError) bool {
	mbe, ok := err.(*http.MaxBytesError)
	if ok {
		*target = mbe
	}
	return ok
}

// knownKeysOnly reports whether data is a JSON object whose top-level keys
// are all plain (escape-free) members of fields. It does not validate the
// rest of the document; json.Unmarshal does that.
func knownKeysOnly(data []byte, fields []string) bool {
	i := skipWS(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i++
	for {
		i = skipWS(data, i)
		if i >= len(data) {
			return false
		}
		if data[i] == '}' {
			return true
		}
		if data[i] == ',' {
			i = skipWS(data, i+1)
		}
		if i >= len(data) || data[i] != '"' {
			return false
		}
		end := bytes.IndexByte(data[i+1:], '"')
		if end < 0 {
			return false
		}
		key := data[i+1 : i+1+end]
		if bytes.IndexByte(key, '\\') >= 0 || !knownField(key, fields) {
			return false
		}
		i = skipWS(data, i+2+end)
		if i >= len(data) || data[i] != ':' {
			return false
		}
		if i = skipValue(data, i+1); i < 0 {
			return false
		}
	}
}

func knownField(key []byte, fields []string) bool {
	for _, f := range fields {
		if string(key) == f {
			return true
		}
	}
	return false
}

func skipWS(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just after the value that starts at or
// after i (for scalars, the index of the ',' or '}' that ends it). It is
// only exact on valid JSON, which is all it needs: json.Unmarshal rejects
// the rest.
func skipValue(data []byte, i int) int {
	i = skipWS(data, i)
	depth := 0
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			i++
			for i < len(data) && data[i] != '"' {
				if data[i] == '\\' {
					i++
				}
				i++
			}
			i++
		case c == '{' || c == '[':
			depth++
			i++
		case c == '}' || c == ']':
			if depth == 0 {
				return i
			}
			depth--
			i++
		case c == ',' && depth == 0:
			return i
		default:
			i++
		}
		if depth == 0 && (c == '"' || c == '}' || c == ']') {
			return i
		}
	}
	return i
}

// appendJSONString appends s as a JSON string exactly as encoding/json
// would; only plain printable ASCII takes the fast path.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			enc, _ := json.Marshal(s)
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendAcquireResponse(b []byte, r *api.AcquireResponse) []byte {
	b = append(b, `{"namespace":`...)
	b = appendJSONString(b, r.Namespace)
	b = append(b, `,"lease_id":`...)
	b = appendJSONString(b, r.LeaseID)
	b = append(b, `,"txn_id":`...)
	b = appendJSONString(b, r.TxnID)
	b = append(b, `,"key":`...)
	b = appendJSONString(b, r.Key)
	b = append(b, `,"owner":`...)
	b = appendJSONString(b, r.Owner)
	b = append(b, `,"expires_at_unix":`...)
	b = strconv.AppendInt(b, r.ExpiresAt, 10)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, r.Version, 10)
	if r.StateETag != "" {
		b = append(b, `,"state_etag":`...)
		b = appendJSONString(b, r.StateETag)
	}
	b = append(b, `,"fencing_token":`...)
	b = strconv.AppendInt(b, r.FencingToken, 10)
	if r.RetryAfter != 0 {
		b = append(b, `,"retry_after_seconds":`...)
		b = strconv.AppendInt(b, r.RetryAfter, 10)
	}
	if r.CorrelationID != "" {
		b = append(b, `,"correlation_id":`...)
		b = appendJSONString(b, r.CorrelationID)
	}
	return append(b, "}\n"...)
}

func appendUpdateResponse(b []byte, r *api.UpdateResponse) []byte {
	b = append(b, `{"new_version":`...)
	b = strconv.AppendInt(b, r.NewVersion, 10)
	b = append(b, `,"new_state_etag":`...)
	b = appendJSONString(b, r.NewStateETag)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, r.BytesWritten, 10)
	switch {
	case r.Metadata.QueryHidden == nil:
		b = append(b, `,"metadata":{}`...)
	case *r.Metadata.QueryHidden:
		b = append(b, `,"metadata":{"query_hidden":true}`...)
	default:
		b = append(b, `,"metadata":{"query_hidden":false}`...)
	}
	return append(b, "}\n"...)
}

var respPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// writeBytes writes a prepared JSON body.
func writeBytes(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = hdrJSON
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	w.Write(body)
}

// writeAppended builds a body with fn in a pooled buffer and writes it.
func writeAppended(w http.ResponseWriter, fn func([]byte) []byte) {
	bp := respPool.Get().(*[]byte)
	b := fn((*bp)[:0])
	writeBytes(w, http.StatusOK, b)
	if cap(b) <= 8<<10 {
		*bp = b[:0]
		respPool.Put(bp)
	}
}

package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/internal/engine"
	"github.com/lockd-mcp/lockd-mcp/internal/ids"
)

// Shared header values. net/http only reads them, so one slice serves every
// response and the hot path skips header-key canonicalisation.
var (
	hdrJSON = []string{"application/json"}
	hdrTrue = []string{"true"}
	hdrZero = []string{"0"}
	hdrOne  = []string{"1"}
)

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeJSON writes v as the JSON body (with the encoder's trailing newline).
func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		bufPool.Put(buf)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h["Content-Type"] = hdrJSON
	h["Content-Length"] = []string{strconv.Itoa(buf.Len())}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
	if buf.Cap() <= 64<<10 {
		bufPool.Put(buf)
	}
}

// correlationID returns the request's X-Correlation-Id when it is 1-128
// printable ASCII characters after trimming, else a fresh UUIDv7.
func correlationID(r *http.Request) string {
	v := strings.TrimSpace(r.Header.Get(api.HeaderCorrelationID))
	if v == "" || len(v) > 128 {
		return ids.NewUUIDv7()
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return ids.NewUUIDv7()
		}
	}
	return v
}

// writeError writes err as the api.ErrorResponse envelope. Engine errors
// carry their code; a cancelled request gets 409 waiting as on the reference
// server; anything else is logged and becomes 500 internal_error.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var resp api.ErrorResponse
	var ee *engine.Error
	switch {
	case errors.As(err, &ee):
		resp = ee.ErrorResponse
		if resp.ErrorCode == api.ErrCodeShutdownDraining {
			resp.RetryAfterSeconds = s.drainRetryAfter()
		}
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		resp = api.ErrorResponse{ErrorCode: api.ErrCodeWaiting, Detail: "request cancelled", RetryAfterSeconds: 1}
	default:
		s.log.Error("request failed", "path", r.URL.Path, "err", err)
		resp = api.ErrorResponse{ErrorCode: api.ErrCodeInternal, Detail: "internal server error"}
	}
	h := w.Header()
	if s.drainUntil.Load() != 0 {
		// The request may have started (and blocked) before the drain.
		h[api.HeaderShutdownImminent] = hdrTrue
	}
	h[api.HeaderCorrelationID] = []string{correlationID(r)}
	if resp.RetryAfterSeconds > 0 {
		h[api.HeaderRetryAfter] = []string{strconv.FormatInt(resp.RetryAfterSeconds, 10)}
	}
	writeJSON(w, statusFor(resp.ErrorCode), resp)
}

// fail is a shorthand for handler-level validation errors.
func (s *server) fail(w http.ResponseWriter, r *http.Request, code, detail string) {
	s.writeError(w, r, &engine.Error{ErrorResponse: api.ErrorResponse{ErrorCode: code, Detail: detail}})
}

// statusFor maps a wire error code to its HTTP status (WIRE §2).
func statusFor(code string) int {
	switch code {
	case api.ErrCodeAlreadyExists, api.ErrCodeWaiting, api.ErrCodeTxnMismatch, api.ErrCodeVersionConflict,
		api.ErrCodeETagMismatch, api.ErrCodeExpectedSHA256Mismatch, api.ErrCodeExpectedBytesMismatch,
		api.ErrCodeCASMismatch, api.ErrCodeLeaseConflict, api.ErrCodeQueueMessageLeaseMismatch,
		api.ErrCodeTxnPending, api.ErrCodeTxnConflict, api.ErrCodeIndexFlushBusy, api.ErrCodeNamespaceConfigConflict:
		return http.StatusConflict
	case api.ErrCodeLeaseRequired, api.ErrCodeLeaseExpired, api.ErrCodeFencingMismatch,
		api.ErrCodeNamespaceForbidden, api.ErrCodeQueueStateKeepaliveUnsupported:
		return http.StatusForbidden
	case api.ErrCodeNotFound, api.ErrCodeTxnNotFound, api.ErrCodeAttachmentNotFound,
		api.ErrCodeStagedStateMissing, api.ErrCodeStateNotFound:
		return http.StatusNotFound
	case api.ErrCodeDocumentTooLarge, api.ErrCodeAttachmentTooLarge:
		return http.StatusRequestEntityTooLarge
	case api.ErrCodeContextCanceled:
		return http.StatusRequestTimeout
	case api.ErrCodeThrottled:
		return http.StatusTooManyRequests
	case api.ErrCodeShutdownDraining, api.ErrCodeNodePassive, api.ErrCodeStateNotPublished, api.ErrCodeQueueBusy:
		return http.StatusServiceUnavailable
	case api.ErrCodeQueueDisabled, api.ErrCodeQueryDisabled, api.ErrCodeIndexUnavailable:
		return http.StatusNotImplemented
	case api.ErrCodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case api.ErrCodeInternal:
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

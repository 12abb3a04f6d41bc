package engine

import (
	"errors"
	"fmt"

	"github.com/lockd-mcp/lockd-mcp/api"
)

// Error is a failure the caller can act on: a wire error code with the facts
// that go with it (current version and ETag, a retry hint). The server turns
// it into the api.ErrorResponse envelope; anything that is not an *Error is an
// internal failure.
type Error struct {
	api.ErrorResponse
}

// Error implements error.
func (e *Error) Error() string { return e.ErrorResponse.Error() }

// Code returns the wire error code of err, or "" when err is not an *Error.
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.ErrorCode
	}
	return ""
}

func newError(code, format string, args ...any) *Error {
	detail := format
	if len(args) > 0 {
		detail = fmt.Sprintf(format, args...)
	}
	return &Error{api.ErrorResponse{ErrorCode: code, Detail: detail}}
}

// withCurrent attaches the current version and ETag a caller needs to retry
// a conditional write.
func (e *Error) withCurrent(version int64, etag string) *Error {
	e.CurrentVersion = version
	e.CurrentETag = etag
	return e
}

// ErrDraining is returned by Acquire while the server drains.
var ErrDraining = &Error{api.ErrorResponse{ErrorCode: api.ErrCodeShutdownDraining, Detail: "server is shutting down: retry against another server or after it restarts"}}

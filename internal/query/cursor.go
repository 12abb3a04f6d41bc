package query

import (
	"encoding/base64"
	"strings"

	"github.com/lockd-mcp/lockd-mcp/api"
)

// Cursors are opaque to clients: base64url (no padding) of a versioned
// payload "q1:" + the last key returned. Results are produced in key order
// and a page resumes strictly after that key, so a key present for the
// whole pagination is returned exactly once whatever is written meanwhile;
// the version prefix leaves room for richer cursors later.
const cursorPrefix = "q1:"

// EncodeCursor returns the cursor that resumes after lastKey.
func EncodeCursor(lastKey string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + lastKey))
}

// DecodeCursor returns the key a cursor resumes after ("" for no cursor).
func DecodeCursor(cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(cursor, "="))
	if err != nil || !strings.HasPrefix(string(raw), cursorPrefix) {
		return "", newError(api.ErrCodeInvalidCursor, "cursor %q is not one this server issued", cursor)
	}
	return string(raw[len(cursorPrefix):]), nil
}

// Error is a query failure with a wire error code (api.ErrCode*).
type Error struct {
	api.ErrorResponse
}

func (e *Error) Error() string { return e.ErrorResponse.Error() }

func newError(code, format string, args ...any) *Error {
	return &Error{api.ErrorResponse{ErrorCode: code, Detail: sprintf(format, args...)}}
}

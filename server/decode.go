package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/internal/engine"
)

func invalidBody(detail string) error {
	return &engine.Error{ErrorResponse: api.ErrorResponse{ErrorCode: api.ErrCodeInvalidBody, Detail: detail}}
}

// decodeJSON reads one JSON value from body into v. Strict mode rejects
// unknown fields and a second value (WIRE §1.3); allowEmpty treats an empty
// body as {}.
func decodeJSON(body io.Reader, v any, strict, allowEmpty bool) error {
	dec := json.NewDecoder(body)
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) && allowEmpty {
			return nil
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return invalidBody("request body exceeds the limit of " + strconv.FormatInt(mbe.Limit, 10) + " bytes")
		}
		return invalidBody("failed to parse request: " + err.Error())
	}
	if strict {
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return invalidBody("request body exceeds the limit of " + strconv.FormatInt(mbe.Limit, 10) + " bytes")
			}
			return invalidBody("unexpected trailing JSON value")
		}
	}
	return nil
}

func errMissing(code, detail string) error {
	return &engine.Error{ErrorResponse: api.ErrorResponse{ErrorCode: code, Detail: detail}}
}

// fencingToken parses the required X-Fencing-Token header.
func fencingToken(r *http.Request) (int64, error) {
	v := strings.TrimSpace(r.Header.Get(api.HeaderFencingToken))
	if v == "" {
		return 0, errMissing(api.ErrCodeMissingFencingToken, "X-Fencing-Token header required")
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, errMissing(api.ErrCodeInvalidFencingToken, "X-Fencing-Token must be a decimal integer, got "+strconv.Quote(v))
	}
	return n, nil
}

// conditions parses X-If-Version and X-If-State-ETag.
func conditions(r *http.Request) (engine.WriteConditions, error) {
	var c engine.WriteConditions
	if v := strings.TrimSpace(r.Header.Get(api.HeaderIfVersion)); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return c, errMissing(api.ErrCodeInvalidVersion, "X-If-Version must be a decimal integer, got "+strconv.Quote(v))
		}
		c.IfVersion, c.HasIfVersion = n, true
	}
	c.IfETag = unquote(r.Header.Get(api.HeaderIfStateETag))
	return c, nil
}

// unquote strips whitespace and surrounding double quotes from an ETag.
func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	return s
}

// truthy reports whether a query flag is set (1, true, on, yes).
func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "on", "yes":
		return true
	}
	return false
}

// queryHiddenHeader parses X-Lockd-Meta-Query-Hidden; ok is false when absent.
func queryHiddenHeader(r *http.Request) (hidden, ok bool, err error) {
	v := strings.TrimSpace(r.Header.Get(api.HeaderMetaQueryHidden))
	if v == "" {
		return false, false, nil
	}
	b, perr := strconv.ParseBool(v)
	if perr != nil {
		return false, false, errMissing(api.ErrCodeInvalidMetadata, "X-Lockd-Meta-Query-Hidden must be true or false, got "+strconv.Quote(v))
	}
	return b, true, nil
}

package client

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
)

// Sentinel errors. APIError values match them through errors.Is, so callers
// never compare error codes by hand.
var (
	// ErrAlreadyExists: a create-only acquire (IfNotExists) met an existing key.
	ErrAlreadyExists = errors.New("lockd: key already exists")
	// ErrStateNotFound: the server reported missing state (state_not_found,
	// staged_state_missing).
	ErrStateNotFound = errors.New("lockd: state not found")
	// ErrMissingFencingToken: a lease-bound call has no fencing token, either
	// because the SDK never saw one for the lease or because the server says so.
	ErrMissingFencingToken = errors.New("lockd: fencing token required")
	// ErrLeaseConflict: the lease is held by someone else (waiting).
	ErrLeaseConflict = errors.New("lockd: lease held by another owner")
	// ErrLeaseLost: the lease is gone (lease_required, lease_expired), or the
	// SDK gave it up (drain, failed keepalive past expiry).
	ErrLeaseLost = errors.New("lockd: lease lost")
	// ErrLeaseExpired: the lease expired before the call (lease_expired).
	ErrLeaseExpired = errors.New("lockd: lease expired")
	// ErrFencingMismatch: a newer lease fenced this holder out.
	ErrFencingMismatch = errors.New("lockd: fencing token mismatch")
	// ErrVersionConflict: a compare-and-set guard failed (version_conflict,
	// etag_mismatch); reload and retry.
	ErrVersionConflict = errors.New("lockd: version conflict")
	// ErrThrottled: the server's perimeter defence refused the call (429).
	ErrThrottled = errors.New("lockd: throttled")
	// ErrSessionReleased: the lease session was released by its owner.
	ErrSessionReleased = errors.New("lockd: lease session released")
)

// APIError is an error response from a lockd server.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Response is the decoded error envelope; its ErrorCode is the stable code.
	Response api.ErrorResponse
	// Body is the raw response body, kept for diagnostics.
	Body []byte
	// RetryAfter is the server's retry hint, from the Retry-After header or
	// the envelope's retry_after_seconds.
	RetryAfter time.Duration
	// QRFState is the lowercased X-Lockd-QRF-State header (429 responses).
	QRFState string
}

// Error renders the status, code and detail, plus the hints a caller needs
// to decide what to do next.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("lockd: ")
	b.WriteString(strconv.Itoa(e.Status))
	if code := e.Response.ErrorCode; code != "" {
		b.WriteByte(' ')
		b.WriteString(code)
	} else if text := http.StatusText(e.Status); text != "" {
		b.WriteByte(' ')
		b.WriteString(strings.ToLower(text))
	}
	if e.Response.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Response.Detail)
	}
	if e.Response.CurrentVersion != 0 {
		fmt.Fprintf(&b, " (current version %d)", e.Response.CurrentVersion)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.QRFState != "" {
		fmt.Fprintf(&b, " (qrf %s)", e.QRFState)
	}
	return b.String()
}

// Code returns the stable error code of the envelope.
func (e *APIError) Code() string { return e.Response.ErrorCode }

// RetryAfterDuration returns the server's retry hint (zero when none).
func (e *APIError) RetryAfterDuration() time.Duration { return e.RetryAfter }

// Is maps error codes to the package sentinels.
func (e *APIError) Is(target error) bool {
	code := e.Response.ErrorCode
	switch target {
	case ErrAlreadyExists:
		return code == api.ErrCodeAlreadyExists
	case ErrStateNotFound:
		return code == api.ErrCodeStateNotFound || code == api.ErrCodeStagedStateMissing
	case ErrMissingFencingToken:
		return code == api.ErrCodeMissingFencingToken
	case ErrLeaseConflict:
		return code == api.ErrCodeWaiting
	case ErrLeaseLost:
		return code == api.ErrCodeLeaseRequired || code == api.ErrCodeLeaseExpired
	case ErrLeaseExpired:
		return code == api.ErrCodeLeaseExpired
	case ErrFencingMismatch:
		return code == api.ErrCodeFencingMismatch
	case ErrVersionConflict:
		return code == api.ErrCodeVersionConflict || code == api.ErrCodeETagMismatch
	case ErrThrottled:
		return e.Status == http.StatusTooManyRequests || code == api.ErrCodeThrottled
	}
	return false
}

// IsAlreadyExists reports whether err says a create-only acquire met an
// existing key. It is the same test as errors.Is(err, ErrAlreadyExists).
func IsAlreadyExists(err error) bool { return errors.Is(err, ErrAlreadyExists) }

// maxErrorBody bounds how much of an error body is kept; envelopes are tiny,
// and a misbehaving proxy must not make the SDK buffer megabytes.
const maxErrorBody = 64 << 10

// newAPIError consumes and closes resp.Body.
func newAPIError(resp *http.Response) *APIError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_ = resp.Body.Close()
	e := &APIError{Status: resp.StatusCode, Body: body}
	if len(body) > 0 {
		_ = json.Unmarshal(body, &e.Response)
	}
	e.RetryAfter = parseRetryAfter(resp.Header.Get(api.HeaderRetryAfter), time.Now())
	if e.RetryAfter == 0 && e.Response.RetryAfterSeconds > 0 {
		e.RetryAfter = time.Duration(e.Response.RetryAfterSeconds) * time.Second
	}
	e.QRFState = strings.ToLower(strings.TrimSpace(resp.Header.Get(api.HeaderQRFState)))
	return e
}

// parseRetryAfter accepts decimal seconds ("12", "1.5") or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// apiCode returns the error code when err carries an APIError.
func apiCode(err error) string {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Response.ErrorCode
	}
	return ""
}

// isLeaseGone reports errors after which a lease can never be used again.
func isLeaseGone(err error) bool {
	switch apiCode(err) {
	case api.ErrCodeLeaseRequired, api.ErrCodeLeaseExpired, api.ErrCodeFencingMismatch:
		return true
	}
	return false
}

// tlsVerifyError marks a failed server-certificate check. Retrying cannot fix
// it, so the acquire loop treats it as fatal.
type tlsVerifyError struct{ err error }

func (e *tlsVerifyError) Error() string {
	return "lockd: server certificate rejected: " + e.err.Error()
}
func (e *tlsVerifyError) Unwrap() error { return e.err }

func isTLSVerifyError(err error) bool {
	var te *tlsVerifyError
	var ce *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &te) || errors.As(err, &ce) || errors.As(err, &ua) ||
		errors.As(err, &hn) || errors.As(err, &ci)
}

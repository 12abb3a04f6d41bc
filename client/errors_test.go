package client

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
)

func TestAPIErrorIs(t *testing.T) {
	tests := []struct {
		code   string
		status int
		want   []error
		not    []error
	}{
		{api.ErrCodeAlreadyExists, 409, []error{ErrAlreadyExists}, []error{ErrLeaseConflict, ErrVersionConflict}},
		{api.ErrCodeWaiting, 409, []error{ErrLeaseConflict}, []error{ErrAlreadyExists}},
		{api.ErrCodeLeaseRequired, 403, []error{ErrLeaseLost}, []error{ErrLeaseExpired, ErrFencingMismatch}},
		{api.ErrCodeLeaseExpired, 403, []error{ErrLeaseLost, ErrLeaseExpired}, []error{ErrFencingMismatch}},
		{api.ErrCodeFencingMismatch, 403, []error{ErrFencingMismatch}, []error{ErrLeaseLost}},
		{api.ErrCodeVersionConflict, 409, []error{ErrVersionConflict}, []error{ErrLeaseConflict}},
		{api.ErrCodeETagMismatch, 409, []error{ErrVersionConflict}, nil},
		{api.ErrCodeMissingFencingToken, 400, []error{ErrMissingFencingToken}, nil},
		{api.ErrCodeStateNotFound, 404, []error{ErrStateNotFound}, nil},
		{api.ErrCodeStagedStateMissing, 404, []error{ErrStateNotFound}, nil},
		{api.ErrCodeThrottled, 429, []error{ErrThrottled}, []error{ErrLeaseConflict}},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			err := fmt.Errorf("wrapped: %w", &APIError{Status: tt.status, Response: api.ErrorResponse{ErrorCode: tt.code}})
			for _, target := range tt.want {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(%s, %v) = false, want true", tt.code, target)
				}
			}
			for _, target := range tt.not {
				if errors.Is(err, target) {
					t.Errorf("errors.Is(%s, %v) = true, want false", tt.code, target)
				}
			}
		})
	}
	if !IsAlreadyExists(&APIError{Status: 409, Response: api.ErrorResponse{ErrorCode: "already_exists"}}) {
		t.Error("IsAlreadyExists = false")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"12", 12 * time.Second},
		{" 1.5 ", 1500 * time.Millisecond},
		{"0", 0},
		{"-3", 0},
		{now.Add(7 * time.Second).Format(http.TimeFormat), 7 * time.Second},
		{now.Add(-7 * time.Second).Format(http.TimeFormat), 0},
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestNewAPIError(t *testing.T) {
	tests := []struct {
		name      string
		header    map[string]string
		body      string
		wantRetry time.Duration
		wantQRF   string
		wantCode  string
	}{
		{"header seconds", map[string]string{"Retry-After": "3", "X-Lockd-QRF-State": "Engaged"}, `{"error":"throttled"}`, 3 * time.Second, "engaged", "throttled"},
		{"body fallback", nil, `{"error":"waiting","retry_after_seconds":4}`, 4 * time.Second, "", "waiting"},
		{"not json", nil, `404 page not found`, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			for k, v := range tt.header {
				rec.Header().Set(k, v)
			}
			rec.WriteHeader(429)
			rec.WriteString(tt.body)
			ae := newAPIError(rec.Result())
			if ae.RetryAfter != tt.wantRetry || ae.QRFState != tt.wantQRF || ae.Code() != tt.wantCode {
				t.Fatalf("got retry=%v qrf=%q code=%q", ae.RetryAfter, ae.QRFState, ae.Code())
			}
			if string(ae.Body) != tt.body {
				t.Fatalf("body = %q", ae.Body)
			}
		})
	}
}

func TestNormalizeCorrelationID(t *testing.T) {
	long := make([]byte, MaxCorrelationIDLength+1)
	for i := range long {
		long[i] = 'a'
	}
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"  abc-1 ", "abc-1", true},
		{"", "", false},
		{"   ", "", false},
		{"tab\there", "", false},
		{"naïve", "", false},
		{string(long[:MaxCorrelationIDLength]), string(long[:MaxCorrelationIDLength]), true},
		{string(long), "", false},
	}
	for _, tt := range tests {
		got, ok := NormalizeCorrelationID(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("NormalizeCorrelationID(%q) = %q, %v", tt.in, got, ok)
		}
	}
}

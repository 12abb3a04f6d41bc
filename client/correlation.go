package client

import (
	"context"
	"net/http"
	"strings"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/internal/ids"
)

// MaxCorrelationIDLength is the longest correlation id a server accepts.
const MaxCorrelationIDLength = 128

type correlationKey struct{}

// WithCorrelationID returns a context whose requests carry id as
// X-Correlation-Id. An invalid id (see NormalizeCorrelationID) leaves ctx
// unchanged, because the server would silently replace it anyway.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	norm, ok := NormalizeCorrelationID(id)
	if !ok {
		return ctx
	}
	return context.WithValue(ctx, correlationKey{}, norm)
}

// CorrelationIDFromContext returns the correlation id set with
// WithCorrelationID, or "".
func CorrelationIDFromContext(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	id, _ := ctx.Value(correlationKey{}).(string)
	return id
}

// CorrelationIDFromResponse returns the X-Correlation-Id header of resp.
func CorrelationIDFromResponse(resp *http.Response) string {
	if resp == nil {
		return ""
	}
	return strings.TrimSpace(resp.Header.Get(api.HeaderCorrelationID))
}

// GenerateCorrelationID mints a fresh id (a UUIDv7, like the server's own).
func GenerateCorrelationID() string { return ids.NewUUIDv7() }

// NormalizeCorrelationID trims id and reports whether the server would
// accept it: 1 to MaxCorrelationIDLength printable ASCII characters.
func NormalizeCorrelationID(id string) (string, bool) {
	id = strings.TrimSpace(id)
	if id == "" || len(id) > MaxCorrelationIDLength {
		return "", false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 || id[i] > 0x7e {
			return "", false
		}
	}
	return id, true
}

// WithCorrelationTransport wraps base (nil means http.DefaultTransport) so
// that every request carries id as X-Correlation-Id, overwriting any value
// already set. An invalid id returns base unchanged.
func WithCorrelationTransport(base http.RoundTripper, id string) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	norm, ok := NormalizeCorrelationID(id)
	if !ok {
		return base
	}
	return &correlationTransport{base: base, id: norm}
}

// WithCorrelationHTTPClient returns a shallow copy of cli (a new client when
// cli is nil) whose transport sets X-Correlation-Id to id on every request.
func WithCorrelationHTTPClient(cli *http.Client, id string) *http.Client {
	var out http.Client
	if cli != nil {
		out = *cli
	}
	out.Transport = WithCorrelationTransport(out.Transport, id)
	return &out
}

type correlationTransport struct {
	base http.RoundTripper
	id   string
}

func (t *correlationTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// A RoundTripper must not modify the caller's request.
	clone := req.Clone(req.Context())
	clone.Header.Set(api.HeaderCorrelationID, t.id)
	return t.base.RoundTrip(clone)
}

package daemon

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// OutcomeUnknownError is returned for a write whose connection to the
// daemon broke after the request was sent: the daemon may or may not have
// applied it before it died. It is retryable once the caller has looked.
type OutcomeUnknownError struct {
	Method, Path string
	Err          error
}

func (e *OutcomeUnknownError) Error() string {
	return fmt.Sprintf("the connection to the lockd-mcp daemon broke while %s %s was in flight (the daemon is restarted on the next call), so it is unknown whether it took effect; read the key again (lockd_get / lockd_describe) and retry if it did not: %v", e.Method, e.Path, e.Err)
}

func (e *OutcomeUnknownError) Unwrap() error { return e.Err }

// Retryable is true: the request may be sent again after checking.
func (e *OutcomeUnknownError) Retryable() bool { return true }

// errRepeated is the cause reported when the SDK resends a request whose
// outcome is unknown.
var errRepeated = errors.New("not resent automatically: its first attempt may have been applied")

// poisonWindow is how long an identical resend of a write with an unknown
// outcome is refused. The SDK retries transport failures within about a
// second, always with the same method, URL, headers and body; an agent
// that reads the error and retries on purpose comes later.
const poisonWindow = 3 * time.Second

// Transport is the http.RoundTripper of clients of the daemon. It dials
// the socket and, when nobody answers, has the Starter start the daemon
// and dials again: nothing was sent yet, so that is safe for any request.
// A request whose connection broke after it was sent is resent once when
// it is safe to repeat (reads, keepalive, acquire: a duplicate acquire
// meets its own lease, never a silent second grant), and otherwise fails
// with OutcomeUnknownError.
type Transport struct {
	starter *Starter
	base    *http.Transport
	logger  *slog.Logger

	// checked is set once an Ensure succeeded. Until then every dial waits
	// for one, so no request reaches a daemon that is being replaced for
	// its version.
	checked atomic.Bool

	mu       sync.Mutex
	poisoned map[[32]byte]time.Time
}

// NewTransport returns a transport for the starter's socket.
func NewTransport(starter *Starter, logger *slog.Logger) *Transport {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t := &Transport{starter: starter, logger: logger, poisoned: map[[32]byte]time.Time{}}
	t.base = &http.Transport{
		DialContext:         t.dial,
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 64,
		// Shorter than the daemon's 2 min idle timeout, so the client,
		// not the daemon, closes idle connections and no request races a
		// server-side close.
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return t
}

// HTTPClient returns an *http.Client using t, for client.WithHTTPClient.
func (t *Transport) HTTPClient() *http.Client { return &http.Client{Transport: t} }

// CloseIdleConnections drops pooled connections, so the daemon can go idle.
func (t *Transport) CloseIdleConnections() { t.base.CloseIdleConnections() }

// dialError marks a failure before anything was sent.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

func (t *Transport) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	socket := t.starter.Layout().Socket()
	if !t.checked.Load() {
		if err := t.starter.Ensure(ctx); err != nil {
			return nil, &dialError{err}
		}
		t.checked.Store(true)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socket)
	if err == nil {
		return c, nil
	}
	if !NotRunning(err) {
		return nil, &dialError{err}
	}
	t.logger.Info("no lockd-mcp daemon answers; starting it", "socket", socket)
	if err := t.starter.Ensure(ctx); err != nil {
		return nil, &dialError{err}
	}
	c, err = d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, &dialError{err}
	}
	return c, nil
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	safe := safeToRepeat(req)
	var fp [32]byte
	haveFP := false
	if !safe && t.anyPoisoned() {
		if fp, haveFP = fingerprint(req); haveFP && t.isPoisoned(fp) {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, &OutcomeUnknownError{Method: req.Method, Path: req.URL.Path, Err: errRepeated}
		}
	}
	resp, err := t.base.RoundTrip(req)
	if err == nil || req.Context().Err() != nil {
		return resp, err
	}
	var de *dialError
	if errors.As(err, &de) {
		return nil, err
	}
	// The daemon behind this connection is gone or going, and so are the
	// other pooled connections to it; without this a resend could pick
	// one that the kernel closed a moment ago.
	t.base.CloseIdleConnections()
	if safe {
		return t.resend(req, err)
	}
	if !haveFP {
		fp, haveFP = fingerprint(req)
	}
	if haveFP {
		t.poison(fp)
	}
	t.logger.Warn("daemon connection broke during a write; outcome unknown", "method", req.Method, "path", req.URL.Path, "err", err)
	return nil, &OutcomeUnknownError{Method: req.Method, Path: req.URL.Path, Err: err}
}

// safeResends bounds the resends of a safe request. One is not enough: a
// dial can land in the accept queue of a daemon that is being killed and
// be reset a moment later, before the socket starts refusing.
const safeResends = 3

// resend repeats a safe request whose connection broke in flight.
func (t *Transport) resend(req *http.Request, err error) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return nil, err
	}
	pause := 10 * time.Millisecond
	for range safeResends {
		t.logger.Info("daemon connection broke; resending a safe request", "path", req.URL.Path, "err", err)
		again := req.Clone(req.Context())
		if req.GetBody != nil {
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, err
			}
			again.Body = body
		}
		var resp *http.Response
		resp, err = t.base.RoundTrip(again)
		var de *dialError
		if err == nil || req.Context().Err() != nil || errors.As(err, &de) {
			return resp, err
		}
		t.base.CloseIdleConnections()
		select {
		case <-req.Context().Done():
			return nil, err
		case <-time.After(pause):
		}
		pause *= 3
	}
	return nil, err
}

// safeToRepeat lists the lockd calls that may be sent twice: reads,
// keepalive (it only extends), acquire (a duplicate meets the first
// grant's lease and fails or waits visibly) and index flush.
func safeToRepeat(req *http.Request) bool {
	switch req.URL.Path {
	case "/healthz", "/readyz", "/v1/get", "/v1/describe", "/v1/query", "/v1/keepalive",
		"/v1/acquire", "/v1/index/flush", StatusPath:
		return true
	case "/v1/namespace":
		return req.Method == http.MethodGet
	}
	return false
}

// fingerprint identifies a request by method, URL, headers and body; false
// when the body cannot be replayed (a stream, which the SDK never resends).
func fingerprint(req *http.Request) ([32]byte, bool) {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", req.Method, req.URL.String())
	keys := make([]string, 0, len(req.Header))
	for k := range req.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "%s: %q\n", k, req.Header[k])
	}
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return [32]byte{}, false
		}
		body, err := req.GetBody()
		if err != nil {
			return [32]byte{}, false
		}
		_, err = io.Copy(h, body)
		body.Close()
		if err != nil {
			return [32]byte{}, false
		}
	}
	var out [32]byte
	h.Sum(out[:0])
	return out, true
}

func (t *Transport) poison(fp [32]byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	for k, until := range t.poisoned {
		if now.After(until) {
			delete(t.poisoned, k)
		}
	}
	t.poisoned[fp] = now.Add(poisonWindow)
}

func (t *Transport) anyPoisoned() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.poisoned) > 0
}

func (t *Transport) isPoisoned(fp [32]byte) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	until, ok := t.poisoned[fp]
	if ok && time.Now().After(until) {
		delete(t.poisoned, fp)
		return false
	}
	return ok
}

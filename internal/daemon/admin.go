package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
)

// AdminClient talks to a daemon's health and admin routes over its socket.
// It keeps no connection open between calls: an idle admin connection
// would keep the daemon from ever going idle.
type AdminClient struct {
	socket string
	hc     *http.Client
}

// NewAdminClient returns a client for the daemon on socket.
func NewAdminClient(socket string) *AdminClient {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableKeepAlives: true,
	}
	return &AdminClient{socket: socket, hc: &http.Client{Transport: tr}}
}

// Health is what a probe of /healthz learned.
type Health struct {
	// Version is the daemon's HeaderVersion, empty when it sent none (a
	// server that is not a lockd-mcp daemon).
	Version string
	// Draining is true while the daemon is stopping (Shutdown-Imminent).
	Draining bool
}

// Probe asks /healthz. An error satisfying NotRunning means nobody listens
// on the socket (no file, or a stale one that refuses connections).
func (a *AdminClient) Probe(ctx context.Context) (Health, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://lockd/healthz", nil)
	if err != nil {
		return Health{}, err
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return Health{}, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Health{}, fmt.Errorf("daemon health check on %s: HTTP %d", a.socket, resp.StatusCode)
	}
	return Health{
		Version:  resp.Header.Get(HeaderVersion),
		Draining: resp.Header.Get(api.HeaderShutdownImminent) == "true",
	}, nil
}

// Status fetches the daemon's status.
func (a *AdminClient) Status(ctx context.Context) (Status, error) {
	return a.admin(ctx, http.MethodGet, StatusPath)
}

// Stop asks the daemon to drain for at most drain (negative: its own
// --drain-timeout) and exit. It returns once the request is accepted; use
// WaitGone to wait for the exit.
func (a *AdminClient) Stop(ctx context.Context, drain time.Duration) (Status, error) {
	path := StopPath
	if drain >= 0 {
		path += "?drain=" + url.QueryEscape(drain.String())
	}
	return a.admin(ctx, http.MethodPost, path)
}

// WaitGone polls until nobody answers on the socket.
func (a *AdminClient) WaitGone(ctx context.Context) error {
	for {
		if _, err := a.Probe(ctx); NotRunning(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("daemon on %s still answers: %w", a.socket, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (a *AdminClient) admin(ctx context.Context, method, path string) (Status, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://lockd"+path, nil)
	if err != nil {
		return Status{}, err
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return Status{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusAccepted {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return Status{}, fmt.Errorf("%s %s: HTTP %d: %s (is this a lockd-mcp daemon?)", method, path, resp.StatusCode, body)
	}
	var st Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return Status{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return st, nil
}

// NotRunning reports whether err means no daemon listens on the socket:
// the file is missing, or it refuses connections (a stale socket of a
// killed daemon).
func NotRunning(err error) bool {
	return err != nil && (errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT))
}

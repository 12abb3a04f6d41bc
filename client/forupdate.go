package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
)

// AcquireForUpdateHandler runs while the lease is held. Its context is
// cancelled (with the loss as cause) if the lease is lost.
type AcquireForUpdateHandler func(context.Context, *AcquireForUpdateContext) error

// AcquireForUpdateContext gives the handler the held session and the state
// read right after acquiring.
type AcquireForUpdateContext struct {
	// Session is the held lease.
	Session *LeaseSession
	// State is the lease holder's view of the state when the handler
	// started. Load consumes it; it is closed when the handler returns.
	State *StateSnapshot

	mu       sync.Mutex
	consumed bool
}

// AcquireForUpdate acquires req, reads the state, runs handler with the
// lease kept alive in the background (every max(ttl/2, 1s)), and releases
// the lease when handler returns: committing when it returns nil, rolling
// back when it returns an error, so a half-done update never becomes
// visible. Only the acquire+get handshake is retried (bounded by
// WithForUpdateTimeout); the handler runs once. A lost lease cancels the
// handler's context and makes AcquireForUpdate return an error matching
// ErrLeaseLost.
func (c *Client) AcquireForUpdate(ctx context.Context, req api.AcquireRequest, handler AcquireForUpdateHandler, opts ...AcquireOption) (err error) {
	if handler == nil {
		return errors.New("lockd: AcquireForUpdate needs a handler")
	}
	sess, snap, err := c.forUpdateHandshake(ctx, req, opts)
	if err != nil {
		return err
	}
	sess.startKeepAlive()

	hctx, hcancel := context.WithCancelCause(ctx)
	defer hcancel(nil)
	go func() {
		select {
		case <-sess.Done():
			hcancel(sess.Err())
		case <-hctx.Done():
		}
	}()

	af := &AcquireForUpdateContext{Session: sess, State: snap}
	released := false
	defer func() {
		// A panicking handler still gets its lease rolled back.
		if !released {
			_ = snap.Close()
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.set.closeTimeout)
			_ = sess.ReleaseWithOptions(rctx, ReleaseOptions{Rollback: true})
			cancel()
		}
	}()
	herr := handler(hctx, af)
	_ = snap.Close()

	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.set.closeTimeout)
	defer cancel()
	rerr := sess.ReleaseWithOptions(rctx, ReleaseOptions{Rollback: herr != nil})
	released = true
	if herr != nil {
		if rerr != nil && errors.Is(rerr, ErrLeaseLost) {
			return errors.Join(herr, rerr)
		}
		return herr
	}
	return rerr
}

// forUpdateHandshake acquires and reads, retrying the pair when the read
// fails for a transient reason.
func (c *Client) forUpdateHandshake(ctx context.Context, req api.AcquireRequest, opts []AcquireOption) (*LeaseSession, *StateSnapshot, error) {
	cfg := newAcquireConfig(opts)
	hsctx, cancel := context.WithTimeout(ctx, c.set.forUpdateTimeout)
	defer cancel()
	delay := cfg.BaseDelay
	for attempt := 0; ; attempt++ {
		sess, err := c.Acquire(hsctx, req, opts...)
		if err != nil {
			return nil, nil, err
		}
		// The snapshot is read with the caller's context: it stays open
		// while the handler runs, after the handshake bound has passed.
		snap, err := sess.get(ctx, noTimeout)
		if err == nil {
			return sess, snap, nil
		}
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), c.set.closeTimeout)
		_ = sess.ReleaseWithOptions(rctx, ReleaseOptions{Rollback: true})
		rcancel()
		if !transient(err) || (cfg.FailureRetries >= 0 && attempt >= cfg.FailureRetries) {
			return nil, nil, fmt.Errorf("acquire for update: %w", err)
		}
		if serr := sleepCtx(hsctx, delay); serr != nil {
			return nil, nil, fmt.Errorf("acquire for update: %w (last error: %v)", serr, err)
		}
		delay = min(time.Duration(float64(delay)*cfg.Multiplier), cfg.MaxDelay)
	}
}

// transient reports failures worth another attempt: transport errors,
// throttling and server errors.
func transient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || isTLSVerifyError(err) {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status == http.StatusTooManyRequests || ae.Status >= 500
	}
	return true
}

// KeepAlive renews the lease for ttl.
func (a *AcquireForUpdateContext) KeepAlive(ctx context.Context, ttl time.Duration) (*api.KeepAliveResponse, error) {
	return a.Session.KeepAlive(ctx, ttl)
}

// Load decodes the state into v: the snapshot read at the start the first
// time, a fresh read afterwards. Without state v is left untouched.
func (a *AcquireForUpdateContext) Load(ctx context.Context, v any) error {
	a.mu.Lock()
	first := !a.consumed && a.State != nil
	a.consumed = true
	a.mu.Unlock()
	if first {
		return a.State.Decode(v)
	}
	return a.Session.Load(ctx, v)
}

// Save stages v, encoded as JSON, as the new state.
func (a *AcquireForUpdateContext) Save(ctx context.Context, v any, opts ...UpdateOption) error {
	return a.Session.Save(ctx, v, opts...)
}

// Update stages the JSON document read from body.
func (a *AcquireForUpdateContext) Update(ctx context.Context, body io.Reader, opts ...UpdateOption) (*UpdateResult, error) {
	return a.Session.Update(ctx, body, opts...)
}

// UpdateBytes stages body as the JSON document.
func (a *AcquireForUpdateContext) UpdateBytes(ctx context.Context, body []byte, opts ...UpdateOption) (*UpdateResult, error) {
	return a.Session.UpdateBytes(ctx, body, opts...)
}

// UpdateWithOptions stages the document read from body with explicit guards.
func (a *AcquireForUpdateContext) UpdateWithOptions(ctx context.Context, body io.Reader, opts UpdateOptions) (*UpdateResult, error) {
	return a.Session.UpdateWithOptions(ctx, body, opts)
}

// Mutate applies LQL mutations on the server.
func (a *AcquireForUpdateContext) Mutate(ctx context.Context, mutations []string, opts ...UpdateOption) (*UpdateResult, error) {
	return a.Session.Mutate(ctx, mutations, opts...)
}

// MutateWithOptions applies LQL mutations on the server with explicit guards.
func (a *AcquireForUpdateContext) MutateWithOptions(ctx context.Context, mutations []string, opts UpdateOptions) (*UpdateResult, error) {
	return a.Session.MutateWithOptions(ctx, mutations, opts)
}

// MutateLocal applies LQL mutations in this process and streams the result.
func (a *AcquireForUpdateContext) MutateLocal(ctx context.Context, mutations []string, options MutateLocalOptions) (*UpdateResult, error) {
	return a.Session.MutateLocal(ctx, mutations, options)
}

// UpdateMetadata stages a metadata change.
func (a *AcquireForUpdateContext) UpdateMetadata(ctx context.Context, meta MetadataOptions) (*MetadataResult, error) {
	return a.Session.UpdateMetadata(ctx, meta)
}

// Remove stages the removal of the state.
func (a *AcquireForUpdateContext) Remove(ctx context.Context) (*api.RemoveResponse, error) {
	return a.Session.Remove(ctx)
}

// RemoveWithOptions stages the removal with explicit guards.
func (a *AcquireForUpdateContext) RemoveWithOptions(ctx context.Context, opts RemoveOptions) (*api.RemoveResponse, error) {
	return a.Session.RemoveWithOptions(ctx, opts)
}

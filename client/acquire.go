package client

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
)

// AcquireConfig is the retry policy of Acquire and of the AcquireForUpdate
// handshake.
type AcquireConfig struct {
	// BaseDelay is the first sleep after a retryable failure.
	BaseDelay time.Duration
	// MaxDelay caps the sleep.
	MaxDelay time.Duration
	// Multiplier grows the sleep after each attempt.
	Multiplier float64
	// Jitter offsets the sleep by up to ±Jitter once it has reached MaxDelay,
	// so waiters that collided once do not collide forever.
	Jitter time.Duration
	// FailureRetries bounds retries of failures other than lease conflicts
	// (transport errors, 400s); <0 retries without bound.
	FailureRetries int

	autoKeepAlive bool
}

// AcquireOption customises one Acquire call.
type AcquireOption func(*AcquireConfig)

// WithAcquireBackoff sets the retry sleep: base, cap and growth factor.
func WithAcquireBackoff(base, max time.Duration, multiplier float64) AcquireOption {
	return func(c *AcquireConfig) {
		c.BaseDelay, c.MaxDelay, c.Multiplier = base, max, multiplier
	}
}

// WithAcquireJitter sets the ± jitter applied once the sleep hits its cap;
// zero disables it.
func WithAcquireJitter(jitter time.Duration) AcquireOption {
	return func(c *AcquireConfig) { c.Jitter = jitter }
}

// WithAcquireFailureRetries bounds retries of non-conflict failures; <0
// retries without bound.
func WithAcquireFailureRetries(n int) AcquireOption {
	return func(c *AcquireConfig) { c.FailureRetries = n }
}

// WithAutoKeepAlive makes the returned session renew its lease in the
// background every max(ttl/2, 1s) until it is released. A lease that cannot
// be renewed is reported through LeaseSession.Done and Err.
func WithAutoKeepAlive() AcquireOption {
	return func(c *AcquireConfig) { c.autoKeepAlive = true }
}

func newAcquireConfig(opts []AcquireOption) AcquireConfig {
	cfg := AcquireConfig{
		BaseDelay:      DefaultAcquireBaseDelay,
		MaxDelay:       DefaultAcquireMaxDelay,
		Multiplier:     DefaultAcquireMultiplier,
		Jitter:         DefaultAcquireJitter,
		FailureRetries: DefaultAcquireFailureRetries,
	}
	if len(opts) > 0 {
		// Options see a heap copy so the common no-option call stays
		// allocation-free.
		p := new(AcquireConfig)
		*p = cfg
		for _, opt := range opts {
			if opt != nil {
				opt(p)
			}
		}
		cfg = *p
	}
	if cfg.BaseDelay <= 0 {
		cfg.BaseDelay = DefaultAcquireBaseDelay
	}
	if cfg.MaxDelay < cfg.BaseDelay {
		cfg.MaxDelay = cfg.BaseDelay
	}
	if cfg.Multiplier < 1 {
		cfg.Multiplier = 1
	}
	return cfg
}

// Acquire obtains the lease on req.Key and returns a session that sends the
// lease id, txn id, fencing token and CAS guards on every call.
//
// BlockSecs decides how long to wait for a held lease: BlockNoWait tries once
// and returns the first error; BlockWaitForever waits until ctx ends; a
// positive value is a client-side deadline. While waiting, conflicts (409),
// throttling (429) and server errors (5xx) are retried without limit, other
// failures up to FailureRetries times, each sleep being the larger of the
// backoff and the server's Retry-After. 403s, already_exists and TLS
// verification failures end the loop at once.
func (c *Client) Acquire(ctx context.Context, req api.AcquireRequest, opts ...AcquireOption) (*LeaseSession, error) {
	cfg := newAcquireConfig(opts)
	req.Namespace = c.namespaceOr(req.Namespace)
	var deadline time.Time
	if req.BlockSecs > 0 {
		deadline = time.Now().Add(time.Duration(req.BlockSecs) * time.Second)
	}
	delay := cfg.BaseDelay
	failures := 0
	for {
		attempt := req
		if !deadline.IsZero() {
			remaining := time.Until(deadline)
			attempt.BlockSecs = max(1, int64(math.Ceil(remaining.Seconds())))
		}
		sess, err := c.acquireOnce(ctx, attempt, cfg)
		if err == nil {
			return sess, nil
		}
		err = fmt.Errorf("acquire %s/%s: %w", req.Namespace, req.Key, err)
		if req.BlockSecs == BlockNoWait || ctx.Err() != nil {
			return nil, err
		}
		switch classifyAcquireError(err) {
		case acquireFatal:
			return nil, err
		case acquireFailure:
			failures++
			if cfg.FailureRetries >= 0 && failures > cfg.FailureRetries {
				return nil, err
			}
		}
		sleep := delay
		if delay >= cfg.MaxDelay && cfg.Jitter > 0 {
			sleep += time.Duration(rand.Int64N(int64(2*cfg.Jitter))) - cfg.Jitter
		}
		var ae *APIError
		if errors.As(err, &ae) && ae.RetryAfter > sleep {
			sleep = ae.RetryAfter
		}
		if !deadline.IsZero() {
			remaining := time.Until(deadline)
			if remaining <= 0 {
				return nil, err
			}
			sleep = min(sleep, remaining)
		}
		c.logger.Debug("lockd: acquire retry", "key", req.Key, "sleep", sleep, "error", err)
		if serr := sleepCtx(ctx, sleep); serr != nil {
			return nil, fmt.Errorf("%w (last error: %v)", serr, err)
		}
		delay = min(time.Duration(float64(delay)*cfg.Multiplier), cfg.MaxDelay)
	}
}

type acquireClass int

const (
	acquireConflict acquireClass = iota // retried without counting
	acquireFailure                      // retried FailureRetries times
	acquireFatal                        // returned at once
)

// classifyAcquireError applies WIRE §8.3.
func classifyAcquireError(err error) acquireClass {
	if isTLSVerifyError(err) || errors.Is(err, context.Canceled) {
		return acquireFatal
	}
	var ae *APIError
	if !errors.As(err, &ae) {
		return acquireFailure
	}
	switch {
	case ae.Response.ErrorCode == api.ErrCodeAlreadyExists, ae.Status == http.StatusForbidden:
		return acquireFatal
	case ae.Status == http.StatusConflict, ae.Status == http.StatusTooManyRequests, ae.Status >= 500:
		return acquireConflict
	}
	return acquireFailure
}

func (c *Client) acquireOnce(ctx context.Context, req api.AcquireRequest, cfg AcquireConfig) (*LeaseSession, error) {
	cl, err := jsonCall("/v1/acquire", req)
	if err != nil {
		return nil, err
	}
	// Only a no-wait acquire is bounded by the HTTP timeout; a waiting one is
	// held open by the server for as long as the caller allows.
	if req.BlockSecs != BlockNoWait {
		cl.timeout = noTimeout
	}
	var resp api.AcquireResponse
	hdr, ep, err := c.doJSON(ctx, &cl, &resp)
	if err != nil {
		return nil, err
	}
	if resp.CorrelationID == "" {
		resp.CorrelationID = hdr.Get(api.HeaderCorrelationID)
	}
	if resp.FencingToken <= 0 {
		resp.FencingToken, _ = strconv.ParseInt(hdr.Get(api.HeaderFencingToken), 10, 64)
	}
	if resp.Namespace == "" {
		resp.Namespace = req.Namespace
	}
	ttl := time.Duration(req.TTLSeconds) * time.Second
	if ttl <= 0 {
		ttl = time.Until(time.Unix(resp.ExpiresAt, 0)).Round(time.Second)
	}
	sess := c.newSession(resp, ep, ttl)
	if cfg.autoKeepAlive {
		sess.startKeepAlive()
	}
	return sess, nil
}

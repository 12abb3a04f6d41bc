package client

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
)

// LeaseSession is a held lease. The embedded AcquireResponse is the grant as
// the server returned it and never changes; the live fencing token, version
// and ETag the session sends are available through CurrentFencingToken,
// CurrentVersion and CurrentETag.
//
// Like an etcd session, a LeaseSession makes the end of the lease visible:
// Done is closed once the session is released or lost, and Err says which.
// A lease is lost when the server reports it gone (lease_required,
// lease_expired, fencing_mismatch), when background keepalive cannot renew
// it before it expires, or when the granting server starts draining.
//
// Methods are safe for concurrent use, but staged writes of one lease are
// ordered by the CAS guards, so concurrent writers on one session will see
// version conflicts.
type LeaseSession struct {
	api.AcquireResponse

	client   *Client
	endpoint *endpoint
	ttl      time.Duration
	done     chan struct{}

	mu        sync.Mutex
	token     int64
	tokenText string // token in decimal, formatted once per token value
	version   int64
	etag      string
	expiresAt int64
	state     sessionState
	err       error
	draining  bool
	serverOff bool // the server has already been told to release
	stopKA    context.CancelFunc

	releaseMu sync.Mutex // one release exchange at a time
}

type sessionState int

const (
	sessionActive sessionState = iota
	sessionReleased
	sessionLost
)

// ReleaseOptions selects commit or rollback on release.
type ReleaseOptions struct {
	// Rollback discards the changes staged under the lease instead of
	// committing them.
	Rollback bool
}

// leaseRef is everything a lease-bound request needs (WIRE §1.7, §8.1).
type leaseRef struct {
	namespace, key, leaseID, txnID string
	token                          int64
	tokenText                      string // token formatted, when known
	preferred                      *endpoint
	corr                           string
}

// tokenHeader is the X-Fencing-Token value. A session formats its token
// once rather than on every call it makes.
func (r leaseRef) tokenHeader() string {
	if r.tokenText != "" {
		return r.tokenText
	}
	return formatInt(r.token)
}

func (r leaseRef) headers(cl *call) {
	cl.setHeader(api.HeaderLeaseID, r.leaseID)
	cl.setHeader(api.HeaderFencingToken, r.tokenHeader())
	if r.txnID != "" {
		cl.setHeader(api.HeaderTxnID, r.txnID)
	}
}

func (c *Client) newSession(resp api.AcquireResponse, ep *endpoint, ttl time.Duration) *LeaseSession {
	s := &LeaseSession{
		AcquireResponse: resp,
		client:          c,
		endpoint:        ep,
		ttl:             ttl,
		done:            make(chan struct{}),
		token:           resp.FencingToken,
		version:         resp.Version,
		etag:            resp.StateETag,
		expiresAt:       resp.ExpiresAt,
	}
	c.mu.Lock()
	c.leases[resp.LeaseID] = leaseInfo{token: resp.FencingToken, txnID: resp.TxnID, namespace: resp.Namespace, key: resp.Key}
	c.sessions[s] = struct{}{}
	c.mu.Unlock()
	return s
}

func (s *LeaseSession) ref() leaseRef {
	s.mu.Lock()
	token := s.token
	if s.tokenText == "" {
		s.tokenText = formatInt(token)
	}
	text := s.tokenText
	s.mu.Unlock()
	return leaseRef{
		namespace: s.Namespace, key: s.Key, leaseID: s.LeaseID, txnID: s.TxnID,
		token: token, tokenText: text, preferred: s.endpoint, corr: s.CorrelationID,
	}
}

// Done returns a channel closed when the session ends, by release or loss.
func (s *LeaseSession) Done() <-chan struct{} { return s.done }

// Err returns nil while the session is active, ErrSessionReleased after a
// release, and an error matching ErrLeaseLost (and its cause) after a loss.
func (s *LeaseSession) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// CurrentFencingToken returns the fencing token the session sends.
func (s *LeaseSession) CurrentFencingToken() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token
}

// CurrentVersion returns the version the session last saw (staged or
// committed); it is sent as X-If-Version on the next write when > 0.
func (s *LeaseSession) CurrentVersion() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

// CurrentETag returns the state ETag the session last saw; it is sent as
// X-If-State-ETag on the next write when non-empty.
func (s *LeaseSession) CurrentETag() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.etag
}

// LeaseExpiresAt returns the lease expiry after the last successful acquire
// or keepalive.
func (s *LeaseSession) LeaseExpiresAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Unix(s.expiresAt, 0)
}

// observe records the version, ETag and fencing token a response reported.
func (s *LeaseSession) observe(version int64, etag string, setETag bool, token int64) {
	s.mu.Lock()
	if version > 0 {
		s.version = version
	}
	if setETag {
		s.etag = etag
	}
	if token > 0 && token != s.token {
		s.token, s.tokenText = token, ""
	}
	s.mu.Unlock()
}

// check returns the session's error if it can no longer be used, and
// converts lease-gone answers into a loss.
func (s *LeaseSession) check(err error) error {
	if err != nil && isLeaseGone(err) {
		s.markLost(err)
	}
	return err
}

func (s *LeaseSession) active() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != sessionActive {
		return s.err
	}
	return nil
}

// markLost ends the session as lost. It is loud on purpose: the log line and
// the closed Done channel are how a holder learns it no longer owns the key.
func (s *LeaseSession) markLost(cause error) {
	if s.finish(sessionLost, fmt.Errorf("%w: %s/%s lease %s: %w", ErrLeaseLost, s.Namespace, s.Key, s.LeaseID, cause)) {
		s.client.logger.Warn("lockd: lease lost", "namespace", s.Namespace, "key", s.Key, "lease_id", s.LeaseID, "cause", cause)
	}
}

// finish moves an active session to its final state once.
func (s *LeaseSession) finish(state sessionState, err error) bool {
	s.mu.Lock()
	if s.state != sessionActive {
		s.mu.Unlock()
		return false
	}
	s.state, s.err = state, err
	stop := s.stopKA
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
	close(s.done)
	s.client.mu.Lock()
	delete(s.client.sessions, s)
	s.client.mu.Unlock()
	return true
}

// Release ends the lease and commits what was staged under it. Releasing a
// released session is a no-op; releasing a lost one returns the loss.
func (s *LeaseSession) Release(ctx context.Context) error {
	return s.ReleaseWithOptions(ctx, ReleaseOptions{})
}

// ReleaseWithOptions ends the lease, committing or (Rollback) discarding
// the staged changes.
func (s *LeaseSession) ReleaseWithOptions(ctx context.Context, opts ReleaseOptions) error {
	s.releaseMu.Lock()
	defer s.releaseMu.Unlock()
	s.mu.Lock()
	state, lostErr, serverOff := s.state, s.err, s.serverOff
	s.mu.Unlock()
	switch {
	case state == sessionReleased:
		return nil
	case state == sessionLost && serverOff:
		return lostErr
	}
	_, err := s.client.release(ctx, s.ref(), opts.Rollback)
	if state == sessionLost {
		// Best effort: a lost lease may still hold staged data on a server
		// that is reachable again; the caller needs to hear about the loss.
		s.mu.Lock()
		s.serverOff = err == nil
		s.mu.Unlock()
		return lostErr
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.serverOff = true
	s.mu.Unlock()
	if !s.finish(sessionReleased, ErrSessionReleased) {
		// Lost while the release was in flight (drain, keepalive).
		return s.Err()
	}
	return nil
}

// Close releases the session with a background context bounded by the
// client's close timeout. It is safe to call more than once.
func (s *LeaseSession) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.client.set.closeTimeout)
	defer cancel()
	return s.Release(ctx)
}

// KeepAlive renews the lease for ttl (zero asks for the server default).
func (s *LeaseSession) KeepAlive(ctx context.Context, ttl time.Duration) (*api.KeepAliveResponse, error) {
	if err := s.active(); err != nil {
		return nil, err
	}
	resp, err := s.client.keepAlive(ctx, s.ref(), ttlSeconds(ttl))
	if err != nil {
		return nil, s.check(err)
	}
	s.mu.Lock()
	s.expiresAt = resp.ExpiresAt
	s.mu.Unlock()
	return resp, nil
}

// startKeepAlive renews the lease every max(ttl/2, 1s) until the session
// ends. A renewal that fails with a lease error, or no renewal before the
// lease expires, marks the session lost.
func (s *LeaseSession) startKeepAlive() {
	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	if s.state != sessionActive || s.stopKA != nil {
		s.mu.Unlock()
		cancel()
		return
	}
	s.stopKA = cancel
	s.mu.Unlock()
	interval := max(s.ttl/2, time.Second)
	go func() {
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			kctx, kcancel := context.WithTimeout(ctx, s.client.set.keepAliveTimeout)
			_, err := s.KeepAlive(kctx, s.ttl)
			kcancel()
			if err == nil || ctx.Err() != nil || s.active() != nil {
				continue
			}
			s.client.logger.Warn("lockd: keepalive failed", "key", s.Key, "lease_id", s.LeaseID, "error", err)
			if !time.Now().Before(s.LeaseExpiresAt()) {
				s.markLost(fmt.Errorf("lease expired without a successful keepalive: %w", err))
			}
		}
	}()
}

// drainEndpoint handles Shutdown-Imminent from ep (WIRE §8.8): every open
// session granted by ep is reported lost and its lease released with
// rollback in the background, so the key is free before the node goes away
// and nothing half-written is committed on the holder's behalf.
func (c *Client) drainEndpoint(ep *endpoint) {
	c.mu.Lock()
	var victims []*LeaseSession
	for s := range c.sessions {
		if s.endpoint == ep && s.beginDrain() {
			victims = append(victims, s)
		}
	}
	c.mu.Unlock()
	for _, s := range victims {
		c.logger.Warn("lockd: server draining, releasing lease", "endpoint", ep.url, "key", s.Key, "lease_id", s.LeaseID)
		go s.drainRelease()
	}
}

func (s *LeaseSession) beginDrain() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != sessionActive || s.draining {
		return false
	}
	s.draining = true
	return true
}

var errServerDraining = errors.New("server is shutting down (Shutdown-Imminent)")

func (s *LeaseSession) drainRelease() {
	s.markLost(errServerDraining)
	ctx, cancel := context.WithTimeout(context.Background(), s.client.set.closeTimeout)
	defer cancel()
	s.releaseMu.Lock()
	defer s.releaseMu.Unlock()
	_, err := s.client.release(ctx, s.ref(), true)
	s.mu.Lock()
	s.serverOff = err == nil
	s.mu.Unlock()
	if err != nil {
		s.client.logger.Warn("lockd: drain release failed", "key", s.Key, "lease_id", s.LeaseID, "error", err)
	}
}

// KeepAlive renews a lease by id; the fencing token and txn id come from
// the lease registry (see RegisterLeaseToken).
func (c *Client) KeepAlive(ctx context.Context, req api.KeepAliveRequest) (*api.KeepAliveResponse, error) {
	ref, err := c.resolveLease(req.Namespace, req.Key, req.LeaseID, req.TxnID, nil)
	if err != nil {
		return nil, err
	}
	return c.keepAlive(ctx, ref, req.TTLSeconds)
}

func (c *Client) keepAlive(ctx context.Context, ref leaseRef, ttlSecs int64) (*api.KeepAliveResponse, error) {
	cl, err := jsonCall("/v1/keepalive", api.KeepAliveRequest{
		Namespace: ref.namespace, Key: ref.key, LeaseID: ref.leaseID, TTLSeconds: ttlSecs, TxnID: ref.txnID,
	})
	if err != nil {
		return nil, err
	}
	ref.headers(&cl)
	cl.timeout, cl.preferred, cl.retry, cl.corr = c.set.keepAliveTimeout, ref.preferred, true, ref.corr
	var out api.KeepAliveResponse
	if _, _, err := c.doJSON(ctx, &cl, &out); err != nil {
		return nil, fmt.Errorf("keepalive %s/%s: %w", ref.namespace, ref.key, err)
	}
	return &out, nil
}

// Release releases a lease by id. Without a known fencing token there is
// nothing the server would accept, so it reports success without a request
// (WIRE §8.1).
func (c *Client) Release(ctx context.Context, req api.ReleaseRequest) (*api.ReleaseResponse, error) {
	leaseID := c.leaseOr(req.LeaseID)
	info, ok := c.leaseInfo(leaseID)
	if !ok || info.token <= 0 {
		c.logger.Debug("lockd: release without fencing token, nothing to send", "lease_id", leaseID)
		c.forgetLease(leaseID)
		return &api.ReleaseResponse{Released: true}, nil
	}
	ref, err := c.resolveLease(req.Namespace, req.Key, leaseID, req.TxnID, nil)
	if err != nil {
		return nil, err
	}
	if s := c.sessionFor(leaseID); s != nil {
		if err := s.ReleaseWithOptions(ctx, ReleaseOptions{Rollback: req.Rollback}); err != nil {
			return nil, err
		}
		return &api.ReleaseResponse{Released: true}, nil
	}
	return c.release(ctx, ref, req.Rollback)
}

func (c *Client) sessionFor(leaseID string) *LeaseSession {
	c.mu.Lock()
	defer c.mu.Unlock()
	for s := range c.sessions {
		if s.LeaseID == leaseID {
			return s
		}
	}
	return nil
}

// release implements WIRE §8.7: preferred endpoint first, 403
// lease_required counts as success, and after success the same release goes
// to every other endpoint, best effort, so no node keeps a stale lease.
func (c *Client) release(ctx context.Context, ref leaseRef, rollback bool) (*api.ReleaseResponse, error) {
	cl, err := jsonCall("/v1/release", api.ReleaseRequest{
		Namespace: ref.namespace, Key: ref.key, LeaseID: ref.leaseID, TxnID: ref.txnID, Rollback: rollback,
	})
	if err != nil {
		return nil, err
	}
	cl.setHeader(api.HeaderFencingToken, ref.tokenHeader())
	cl.preferred, cl.retry, cl.corr = ref.preferred, true, ref.corr
	out := &api.ReleaseResponse{}
	_, ep, err := c.doJSON(ctx, &cl, out)
	if err != nil {
		if apiCode(err) != api.ErrCodeLeaseRequired {
			return nil, fmt.Errorf("release %s/%s: %w", ref.namespace, ref.key, err)
		}
		out.Released = true
	}
	c.forgetLease(ref.leaseID)
	if len(c.endpoints) > 1 {
		c.broadcast(ctx, &cl, ep)
	}
	return out, nil
}

// broadcast sends cl to every endpoint except skip, ignoring the results.
func (c *Client) broadcast(ctx context.Context, cl *call, skip *endpoint) {
	ctx = context.WithoutCancel(ctx)
	single := *cl
	single.timeout = c.set.closeTimeout
	var wg sync.WaitGroup
	for _, ep := range c.endpoints {
		if ep == skip {
			continue
		}
		wg.Go(func() {
			// Each exchange needs its own call: send records the
			// request's timeout in it, and finish must end that one.
			one := single
			resp, err := c.send(ctx, ep, &one)
			if err == nil {
				one.finish(resp)
			}
		})
	}
	wg.Wait()
}

// resolveLease fills in what a client-level call did not say: the default
// namespace, the sticky lease, and the txn id and fencing token from the
// lease registry.
func (c *Client) resolveLease(namespace, key, leaseID, txnID string, token *int64) (leaseRef, error) {
	ref := leaseRef{namespace: c.namespaceOr(namespace), key: key, leaseID: c.leaseOr(leaseID), txnID: strings.TrimSpace(txnID)}
	if ref.leaseID == "" {
		return ref, errors.New("lockd: lease id required")
	}
	info, _ := c.leaseInfo(ref.leaseID)
	if ref.txnID == "" {
		ref.txnID = info.txnID
	}
	if ref.key == "" {
		ref.key = info.key
	}
	if s := c.sessionFor(ref.leaseID); s != nil {
		ref.preferred, ref.corr = s.endpoint, s.CorrelationID
	}
	switch {
	case token != nil && *token > 0:
		ref.token = *token
	case info.token > 0:
		ref.token = info.token
	default:
		return ref, fmt.Errorf("lease %s: %w", ref.leaseID, ErrMissingFencingToken)
	}
	return ref, nil
}

func ttlSeconds(ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	return int64(math.Ceil(ttl.Seconds()))
}

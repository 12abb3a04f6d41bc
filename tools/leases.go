package tools

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/client"
)

// LeaseInfo is what lockd_lock_status reports about one session lease.
type LeaseInfo struct {
	Namespace     string `json:"namespace"`
	Key           string `json:"key"`
	LeaseID       string `json:"lease_id"`
	TxnID         string `json:"txn_id"`
	Owner         string `json:"owner"`
	FencingToken  int64  `json:"fencing_token"`
	TTLSeconds    int64  `json:"ttl_seconds"`
	ExpiresAtUnix int64  `json:"expires_at_unix"`
	AutoKeepalive bool   `json:"auto_keepalive"`
	// RenewalFailed is true while the last background renewal failed.
	RenewalFailed bool   `json:"renewal_failed"`
	RenewalError  string `json:"renewal_error,omitempty"`
	// Lost is true once the server said the lease is gone; it stays listed
	// until released so the loss is never hidden.
	Lost bool `json:"lost"`
}

// LeaseManager tracks the leases acquired through tools in this process:
// renews them in the background when asked, records renewal failures, and
// releases every one with rollback at shutdown. It is the MCP-session
// counterpart of an etcd concurrency.Session: keepalive is automatic and a
// loss is loud.
type LeaseManager struct {
	cli    *client.Client
	logger *slog.Logger

	mu     sync.Mutex
	leases map[string]*sessionLease // by lease id
	closed bool
	wg     sync.WaitGroup
}

type sessionLease struct {
	info     LeaseInfo
	reported bool // the current renewal failure was shown in a tool result
	// lastErr is the last renewal error as returned, without the time
	// RenewalError adds, so a retry failing the same way is not news.
	lastErr string
	// stop ends the background renewer (nil without auto_keepalive),
	// unwatch the watcher of the SDK session.
	stop, unwatch context.CancelFunc
}

// recordFailure notes a failed renewal or, with lost, the loss of the
// lease. A warning is due when the failure is news: the first one, a
// different error than the last, or the loss. A loss is final.
func (l *sessionLease) recordFailure(err error, lost bool) {
	if l.info.Lost {
		return
	}
	if !l.info.RenewalFailed || l.lastErr != err.Error() || lost {
		l.reported = false
	}
	l.lastErr = err.Error()
	l.info.RenewalFailed = true
	l.info.RenewalError = fmt.Sprintf("%s at %s", err.Error(), time.Now().UTC().Format(time.RFC3339))
	l.info.Lost = lost
}

// SessionEnd is the part of a *client.LeaseSession the manager watches:
// the SDK ends a session on its own, e.g. releasing it with rollback when
// the granting server announces its shutdown (drain-aware shutdown).
type SessionEnd interface {
	Done() <-chan struct{}
	Err() error
}

// NewLeaseManager returns an empty manager.
func NewLeaseManager(cli *client.Client, logger *slog.Logger) *LeaseManager {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &LeaseManager{cli: cli, logger: logger, leases: map[string]*sessionLease{}}
}

// renewInterval is the safe fraction of the TTL between renewals: a third,
// so two renewals can fail transiently before the lease expires.
func renewInterval(ttl time.Duration) time.Duration {
	return max(ttl/3, 100*time.Millisecond)
}

// Track starts tracking a granted lease and, with auto, renews it every
// renewInterval(ttl) until Forget or Close. sess, when not nil, is the SDK
// session of the grant: if the SDK ends it as lost, so is the lease here.
func (m *LeaseManager) Track(info LeaseInfo, sess SessionEnd) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("lease manager is shut down")
	}
	if old, ok := m.leases[info.LeaseID]; ok {
		old.end()
	}
	l := &sessionLease{info: info}
	if info.AutoKeepalive {
		ctx, cancel := context.WithCancel(context.Background())
		l.stop = cancel
		m.wg.Add(1)
		go m.keepalive(ctx, info)
	}
	if sess != nil {
		ctx, cancel := context.WithCancel(context.Background())
		l.unwatch = cancel
		m.wg.Add(1)
		go m.watch(ctx, info, sess)
	}
	m.leases[info.LeaseID] = l
	return nil
}

// end stops the renewer and the watcher.
func (l *sessionLease) end() {
	if l.stop != nil {
		l.stop()
	}
	if l.unwatch != nil {
		l.unwatch()
	}
}

// watch marks the lease lost when the SDK ends its session with a loss.
// Without it a drain-aware release (rollback) by the SDK would go unseen:
// a write acknowledged just before would be undone, and a later
// lockd_lock_release would find nothing to release and report success.
func (m *LeaseManager) watch(ctx context.Context, info LeaseInfo, sess SessionEnd) {
	defer m.wg.Done()
	select {
	case <-ctx.Done():
		return
	case <-sess.Done():
	}
	err := sess.Err()
	if !errors.Is(err, client.ErrLeaseLost) {
		return // released through the SDK: not a loss
	}
	m.mu.Lock()
	l, ok := m.leases[info.LeaseID]
	if ok {
		l.recordFailure(err, true)
		if l.stop != nil {
			l.stop() // nothing left to renew
		}
	}
	m.mu.Unlock()
	if ok {
		m.logger.Warn("lease lost", "key", info.Key, "namespace", info.Namespace, "lease_id", info.LeaseID, "err", err)
	}
}

func (m *LeaseManager) keepalive(ctx context.Context, info LeaseInfo) {
	defer m.wg.Done()
	ttl := time.Duration(info.TTLSeconds) * time.Second
	interval := renewInterval(ttl)
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		callCtx, cancel := context.WithTimeout(ctx, max(interval, time.Second))
		res, err := m.cli.KeepAlive(callCtx, api.KeepAliveRequest{
			Namespace: info.Namespace, Key: info.Key, LeaseID: info.LeaseID,
			TTLSeconds: info.TTLSeconds, TxnID: info.TxnID,
		})
		cancel()
		if ctx.Err() != nil {
			return
		}
		lost := err != nil && (errors.Is(err, client.ErrLeaseLost) || errors.Is(err, client.ErrFencingMismatch))
		m.mu.Lock()
		l, ok := m.leases[info.LeaseID]
		if ok && l.info.Lost {
			// The watcher saw the SDK end the session meanwhile.
			m.mu.Unlock()
			return
		}
		if ok {
			if err != nil {
				l.recordFailure(err, lost)
			} else {
				l.info.RenewalFailed = false
				l.info.RenewalError = ""
				l.info.ExpiresAtUnix = res.ExpiresAt
			}
		}
		m.mu.Unlock()
		if !ok {
			return
		}
		if err != nil {
			m.logger.Warn("lease renewal failed", "key", info.Key, "namespace", info.Namespace, "lease_id", info.LeaseID, "err", err)
			if lost {
				return
			}
			// Retry sooner: the lease is still alive for up to two intervals.
			timer.Reset(interval / 2)
			continue
		}
		timer.Reset(interval)
	}
}

// Get returns the tracked lease with that id.
func (m *LeaseManager) Get(leaseID string) (LeaseInfo, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.leases[leaseID]
	if !ok {
		return LeaseInfo{}, false
	}
	return l.info, true
}

// Find returns the tracked lease on namespace/key, if this session holds one.
func (m *LeaseManager) Find(namespace, key string) (LeaseInfo, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range m.leases {
		if l.info.Namespace == namespace && l.info.Key == key {
			return l.info, true
		}
	}
	return LeaseInfo{}, false
}

// Warning returns, once per failure, a message about a failed background
// renewal of leaseID, for the next tool result that touches the lease.
func (m *LeaseManager) Warning(leaseID string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.leases[leaseID]
	if !ok || !l.info.RenewalFailed || l.reported {
		return ""
	}
	l.reported = true
	if l.info.Lost {
		return fmt.Sprintf("lease %s on %s/%s is lost (%s): this session can no longer commit what was staged under it; acquire the key again with lockd_lock_acquire and redo the writes", l.info.LeaseID, l.info.Namespace, l.info.Key, l.info.RenewalError)
	}
	return fmt.Sprintf("background renewal of lease %s on %s/%s failed (%s); the lease may expire", l.info.LeaseID, l.info.Namespace, l.info.Key, l.info.RenewalError)
}

// Renewed records an explicit keepalive.
func (m *LeaseManager) Renewed(leaseID string, ttlSeconds, expiresAt int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.leases[leaseID]; ok {
		l.info.ExpiresAtUnix = expiresAt
		l.info.RenewalFailed, l.info.RenewalError, l.info.Lost = false, "", false
		if ttlSeconds > 0 && ttlSeconds != l.info.TTLSeconds && l.stop != nil {
			// Restart the renewer at the new TTL's pace.
			info := l.info
			info.TTLSeconds = ttlSeconds
			l.stop()
			ctx, cancel := context.WithCancel(context.Background())
			l.stop = cancel
			l.info.TTLSeconds = ttlSeconds
			m.wg.Add(1)
			go m.keepalive(ctx, info)
		}
	}
}

// Forget stops tracking (and renewing) a lease, e.g. after release.
func (m *LeaseManager) Forget(leaseID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.leases[leaseID]; ok {
		l.end()
		delete(m.leases, leaseID)
	}
}

// List returns the tracked leases sorted by namespace and key.
func (m *LeaseManager) List() []LeaseInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]LeaseInfo, 0, len(m.leases))
	for _, l := range m.leases {
		out = append(out, l.info)
	}
	slices.SortFunc(out, func(a, b LeaseInfo) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out
}

// Close stops every renewer and releases every tracked lease with rollback:
// a session that ends mid-task must not commit half its work.
func (m *LeaseManager) Close(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	leases := make([]LeaseInfo, 0, len(m.leases))
	for id, l := range m.leases {
		l.end()
		leases = append(leases, l.info)
		delete(m.leases, id)
	}
	m.mu.Unlock()
	m.wg.Wait()
	var errs []error
	for _, l := range leases {
		if l.Lost {
			continue
		}
		_, err := m.cli.Release(ctx, api.ReleaseRequest{
			Namespace: l.Namespace, Key: l.Key, LeaseID: l.LeaseID, TxnID: l.TxnID, Rollback: true,
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("release %s/%s: %w", l.Namespace, l.Key, err))
			continue
		}
		m.logger.Info("released lease at shutdown with rollback", "namespace", l.Namespace, "key", l.Key, "lease_id", l.LeaseID)
	}
	return errors.Join(errs...)
}

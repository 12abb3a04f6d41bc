package engine

import (
	"context"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/internal/storage"
)

// AcquireRequest asks for the exclusive lease of a key. Namespace and Key are
// normalised (see NormalizeNamespace, NormalizeKey).
type AcquireRequest struct {
	Namespace, Key string
	Owner          string
	TTLSeconds     int64
	// BlockSeconds: -1 tries once, 0 waits until the key frees or ctx ends,
	// >0 waits that long, < -1 waits up to Options.AcquireBlockMax.
	BlockSeconds int64
	IfNotExists  bool
	// TxnID, when set, joins that (validated) transaction.
	TxnID string
}

// AcquireResult describes a granted lease and the committed state of the key.
type AcquireResult struct {
	LeaseID, TxnID string
	ExpiresAt      int64 // unix seconds
	Version        int64
	StateETag      string
	FencingToken   int64
}

// Acquire grants the lease of a key, waiting in FIFO order behind earlier
// waiters while it is held. Waiters are woken (never polled) when the lease
// is released, expires or is rolled back.
func (e *Engine) Acquire(ctx context.Context, req AcquireRequest) (AcquireResult, error) {
	if e.Draining() {
		return AcquireResult{}, ErrDraining
	}
	ent := e.entry(keyID{req.Namespace, req.Key}, true)
	ttl := e.ResolveTTL(req.TTLSeconds)
	noWait := req.BlockSeconds == api.BlockNoWait
	var timeout <-chan time.Time
	switch {
	case req.BlockSeconds > 0:
		t := time.NewTimer(time.Duration(req.BlockSeconds) * time.Second)
		defer t.Stop()
		timeout = t.C
	case req.BlockSeconds < -1:
		t := time.NewTimer(e.opts.AcquireBlockMax)
		defer t.Stop()
		timeout = t.C
	}
	var me *waiter
	for {
		ent.mu.Lock()
		now := nowNanos()
		l := ent.rec.Lease
		keepStaged := false
		if l.held() && now >= l.Expires {
			var rollbackAll bool
			if rollbackAll, keepStaged = e.expiredTxnAction(l, ent.id, now); rollbackAll {
				// The expired holder's txn spans other keys: roll all of it
				// back (that takes every participant's lock), then look again.
				ent.mu.Unlock()
				if _, err := e.finishTxn(ctx, l.TxnID, api.TxnStateRollback, nil, false); err != nil {
					e.leaveQueue(ent, me)
					return AcquireResult{}, err
				}
				// If another goroutine is applying an earlier decision of
				// that txn, let it take the key lock first.
				runtime.Gosched()
				continue
			}
		}
		if req.IfNotExists && ent.exists {
			e.leaveQueueLocked(ent, me)
			rec := ent.rec
			ent.mu.Unlock()
			return AcquireResult{}, newError(api.ErrCodeAlreadyExists, "key %q already exists in namespace %q: acquire without if_not_exists to use it", req.Key, req.Namespace).withCurrent(rec.Version, rec.ETag)
		}
		free := !l.held() || now >= l.Expires
		if free && ent.reserved == nil && len(ent.waiters) > 0 && ent.waiters[0] != me {
			// Earlier waiters go first.
			ent.wakeNextLocked()
		}
		if free && (ent.reserved == nil || ent.reserved == me) {
			if me != nil {
				ent.reserved = nil
				if i := slices.Index(ent.waiters, me); i >= 0 {
					ent.waiters = slices.Delete(ent.waiters, i, i+1)
				}
			}
			res, err := e.grantLocked(ctx, ent, req, ttl, now, keepStaged)
			if err != nil {
				ent.wakeNextLocked()
			}
			ent.mu.Unlock()
			return res, err
		}
		if noWait {
			err := waitingError(ent, now)
			ent.mu.Unlock()
			return AcquireResult{}, err
		}
		if me == nil {
			me = &waiter{ready: make(chan struct{})}
			ent.waiters = append(ent.waiters, me)
		} else if ent.reserved == me || !slices.Contains(ent.waiters, me) {
			// Woken but the key was taken again: keep our place at the front.
			if ent.reserved == me {
				ent.reserved = nil
			}
			me.ready = make(chan struct{})
			ent.waiters = slices.Insert(ent.waiters, 0, me)
		}
		ready := me.ready
		ent.mu.Unlock()
		select {
		case <-ready:
			continue
		case <-timeout:
			ent.mu.Lock()
			e.leaveQueueLocked(ent, me)
			err := waitingError(ent, nowNanos())
			ent.mu.Unlock()
			return AcquireResult{}, err
		case <-ctx.Done():
			e.leaveQueue(ent, me)
			return AcquireResult{}, ctx.Err()
		case <-e.draining:
			e.leaveQueue(ent, me)
			return AcquireResult{}, ErrDraining
		}
	}
}

// expiredTxnAction says what clearing the expired lease l of key id takes:
// rollbackAll when its txn must roll back as a whole (it spans other keys,
// was joined by name or is recorded), keepStaged when the txn is prepared
// (pending, not expired) and its staged change must outlive the lease.
func (e *Engine) expiredTxnAction(l leaseRecord, id keyID, now int64) (rollbackAll, keepStaged bool) {
	t := e.txns.get(l.TxnID)
	if t == nil {
		return false, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pendingProtected(now / int64(time.Second)) {
		return false, true
	}
	if t.explicit || t.recorded || t.state != "" {
		return true, false
	}
	for _, n := range t.names {
		if n != id {
			return true, false
		}
	}
	return false, false
}

func waitingError(ent *entry, now int64) error {
	retry := int64(1)
	if l := ent.rec.Lease; l.held() && l.Expires > now {
		retry = max(1, (l.Expires-now+int64(time.Second)-1)/int64(time.Second))
	}
	err := newError(api.ErrCodeWaiting, "lease already held").withCurrent(ent.rec.Version, ent.rec.ETag)
	err.RetryAfterSeconds = retry
	return err
}

func (e *Engine) leaveQueue(ent *entry, me *waiter) {
	if me == nil {
		return
	}
	ent.mu.Lock()
	e.leaveQueueLocked(ent, me)
	ent.mu.Unlock()
}

// leaveQueueLocked removes a waiter that gives up; if it held the
// reservation, the next waiter gets its turn.
func (e *Engine) leaveQueueLocked(ent *entry, me *waiter) {
	if me == nil {
		return
	}
	if ent.reserved == me {
		ent.reserved = nil
		ent.wakeNextLocked()
		return
	}
	if i := slices.Index(ent.waiters, me); i >= 0 {
		ent.waiters = slices.Delete(ent.waiters, i, i+1)
	}
}

// wakeNextLocked hands the next turn to the head waiter if the key is free.
func (ent *entry) wakeNextLocked() {
	if ent.reserved != nil || len(ent.waiters) == 0 {
		return
	}
	if l := ent.rec.Lease; l.held() && nowNanos() < l.Expires {
		return
	}
	w := ent.waiters[0]
	ent.waiters = slices.Delete(ent.waiters, 0, 1)
	ent.reserved = w
	close(w.ready)
}

// grantLocked takes the lease for req. The previous (expired) holder's
// private staged changes are discarded in the same batch.
func (e *Engine) grantLocked(ctx context.Context, ent *entry, req AcquireRequest, ttl time.Duration, now int64, keepStaged bool) (AcquireResult, error) {
	old := ent.rec
	nr := old
	var free []storage.BlobRef
	if old.Lease.held() {
		if !keepStaged && old.Staged.present() && old.Staged.TxnID == old.Lease.TxnID {
			discardStaged(&nr, &free)
		}
		nr.Lease = leaseRecord{}
	}
	leaseID := e.xid.New()
	txnID, explicit := req.TxnID, req.TxnID != ""
	if !explicit {
		txnID = e.xid.New()
	}
	if _, err := e.txns.enlist(txnID, ent.id, explicit); err != nil {
		return AcquireResult{}, err
	}
	nr.Fencing++
	nr.Lease = leaseRecord{ID: leaseID, Owner: req.Owner, Expires: now + int64(ttl), TxnID: txnID, Explicit: explicit}
	var err error
	if grantNeedsDurability(&old) {
		err = e.commitKey(ctx, ent.id, &nr, free)
	} else {
		err = e.appendKey(ctx, ent.id, &nr, free)
	}
	if err != nil {
		e.txns.forget(txnID, ent.id)
		return AcquireResult{}, err
	}
	if old.Lease.held() {
		if !keepStaged {
			e.txns.forget(old.Lease.TxnID, ent.id)
		}
	} else {
		e.activeLeases.Add(1)
	}
	ent.rec, ent.exists = nr, true
	ent.expiredID = ""
	e.armTimer(ent, ttl)
	return AcquireResult{
		LeaseID:      nr.Lease.ID,
		TxnID:        txnID,
		ExpiresAt:    nr.Lease.Expires / int64(time.Second),
		Version:      nr.Version,
		StateETag:    nr.ETag,
		FencingToken: nr.Fencing,
	}, nil
}

// armTimer (re)schedules the expiry check of ent's lease.
func (e *Engine) armTimer(ent *entry, d time.Duration) {
	if ent.timer == nil {
		ent.timer = time.AfterFunc(d, func() { e.onLeaseTimer(ent) })
		return
	}
	ent.timer.Reset(d)
}

// onLeaseTimer clears an expired lease: its private staged changes are
// discarded, a txn spanning other keys rolls back as a whole, and the next
// waiter is woken.
func (e *Engine) onLeaseTimer(ent *entry) {
	if e.closed.Load() {
		return
	}
	ent.mu.Lock()
	l := ent.rec.Lease
	if !l.held() {
		ent.mu.Unlock()
		return
	}
	now := nowNanos()
	if now < l.Expires {
		ent.timer.Reset(time.Duration(l.Expires - now))
		ent.mu.Unlock()
		return
	}
	rollbackAll, keepStaged := e.expiredTxnAction(l, ent.id, now)
	if rollbackAll {
		ent.mu.Unlock()
		if _, err := e.finishTxn(context.Background(), l.TxnID, api.TxnStateRollback, nil, false); err != nil {
			e.log.Error("roll back txn of expired lease", "txn_id", l.TxnID, "err", err)
			e.retryTimer(ent)
			return
		}
		ent.mu.Lock()
		if !ent.rec.Lease.held() {
			ent.expiredID = l.ID
		}
		ent.mu.Unlock()
		return
	}
	nr := ent.rec
	nr.Lease = leaseRecord{}
	var free []storage.BlobRef
	if nr.Staged.present() && nr.Staged.TxnID == l.TxnID && !keepStaged {
		discardStaged(&nr, &free)
	}
	err := e.commitKey(context.Background(), ent.id, &nr, free)
	if err != nil {
		ent.mu.Unlock()
		e.log.Error("clear expired lease", "namespace", ent.id.ns, "key", ent.id.key, "err", err)
		e.retryTimer(ent)
		return
	}
	e.setRecordLocked(ent, nr)
	ent.expiredID = l.ID
	ent.mu.Unlock()
	if !keepStaged {
		e.txns.forget(l.TxnID, ent.id)
	}
}

func (e *Engine) retryTimer(ent *entry) {
	ent.mu.Lock()
	if ent.timer != nil {
		ent.timer.Reset(time.Second)
	}
	ent.mu.Unlock()
}

// LeaseRef identifies the lease a request presents.
type LeaseRef struct {
	Namespace, Key string
	LeaseID        string
	FencingToken   int64
	TxnID          string
}

// validateLocked checks ref against ent's lease in the wire's order
// (WIRE §3.2): lease_required, lease_expired, fencing_mismatch, then, when
// checkTxn is set, missing_txn and txn_mismatch.
func validateLocked(ent *entry, ref LeaseRef, checkTxn bool, now int64) error {
	l := ent.rec.Lease
	if !l.held() && ref.LeaseID != "" && ref.LeaseID == ent.expiredID {
		return newError(api.ErrCodeLeaseExpired, "lease expired").withCurrent(ent.rec.Version, ent.rec.ETag)
	}
	if !l.held() || l.ID != ref.LeaseID {
		return newError(api.ErrCodeLeaseRequired, "active lease required").withCurrent(ent.rec.Version, ent.rec.ETag)
	}
	if now >= l.Expires {
		return newError(api.ErrCodeLeaseExpired, "lease expired").withCurrent(ent.rec.Version, ent.rec.ETag)
	}
	if ref.FencingToken != ent.rec.Fencing {
		return newError(api.ErrCodeFencingMismatch, "fencing token mismatch").withCurrent(ent.rec.Version, ent.rec.ETag)
	}
	if checkTxn {
		if ref.TxnID == "" {
			return newError(api.ErrCodeMissingTxn, "X-Txn-ID required: send the txn_id returned by acquire")
		}
		if ref.TxnID != l.TxnID {
			return newError(api.ErrCodeTxnMismatch, "txn %s does not match the lease's txn", ref.TxnID)
		}
	}
	return nil
}

func leaseRequired() error {
	return newError(api.ErrCodeLeaseRequired, "active lease required")
}

// KeepAlive extends a lease to now + ttl.
func (e *Engine) KeepAlive(ctx context.Context, ref LeaseRef, ttlSeconds int64) (int64, error) {
	if isQueueStateKey(ref.Key) {
		return 0, newError(api.ErrCodeQueueStateKeepaliveUnsupported, "keepalive is not supported on queue state keys: extend the message instead")
	}
	ent := e.entry(keyID{ref.Namespace, ref.Key}, false)
	if ent == nil {
		return 0, leaseRequired()
	}
	ttl := e.ResolveTTL(ttlSeconds)
	ent.mu.Lock()
	defer ent.mu.Unlock()
	now := nowNanos()
	if err := validateLocked(ent, ref, true, now); err != nil {
		return 0, err
	}
	nr := ent.rec
	nr.Lease.Expires = now + int64(ttl)
	// Not awaited: a crash ends every lease anyway (recoverAfterCrash).
	err := e.appendKey(ctx, ent.id, &nr, nil)
	if err != nil {
		return 0, err
	}
	ent.rec = nr
	e.armTimer(ent, ttl)
	return nr.Lease.Expires / int64(time.Second), nil
}

func isQueueStateKey(key string) bool {
	rest, ok := strings.CutPrefix(key, "q/")
	if !ok {
		return false
	}
	_, rest, ok = strings.Cut(rest, "/")
	return ok && strings.HasPrefix(rest, "state/")
}

// Release ends a lease, committing (or with rollback discarding) what its
// txn staged. It is idempotent: a lease that is gone, expired, superseded
// or fenced out answers success without touching the current holder.
func (e *Engine) Release(ctx context.Context, ref LeaseRef, rollback bool) error {
	ent := e.entry(keyID{ref.Namespace, ref.Key}, false)
	if ent == nil {
		return nil
	}
	ent.mu.Lock()
	now := nowNanos()
	l := ent.rec.Lease
	if !l.held() || l.ID != ref.LeaseID || now >= l.Expires || ref.FencingToken != ent.rec.Fencing {
		ent.mu.Unlock()
		return nil
	}
	if ref.TxnID != l.TxnID {
		ent.mu.Unlock()
		return newError(api.ErrCodeTxnMismatch, "txn %s does not match the lease's txn", ref.TxnID)
	}
	decision := api.TxnStateCommit
	if rollback {
		decision = api.TxnStateRollback
	}
	if !e.claimPrivateTxn(l.TxnID, ent.id) {
		ent.mu.Unlock()
		_, err := e.finishTxn(ctx, l.TxnID, decision, nil, false)
		return err
	}
	// Fast path: a private txn of this key alone, decided under its lock.
	nr := ent.rec
	nr.Lease = leaseRecord{}
	var free []storage.BlobRef
	if nr.Staged.present() && nr.Staged.TxnID == l.TxnID {
		if rollback {
			discardStaged(&nr, &free)
		} else {
			promote(&nr, now/int64(time.Second), &free)
		}
	}
	err := e.commitKey(ctx, ent.id, &nr, free)
	if err != nil {
		e.unclaimTxn(l.TxnID)
		ent.mu.Unlock()
		return err
	}
	e.setRecordLocked(ent, nr)
	ent.mu.Unlock()
	if t := e.txns.get(l.TxnID); t != nil {
		e.txns.remove(t)
	}
	return nil
}

// claimPrivateTxn marks txnID decided when it is a private txn of id alone,
// so no lease can join it while the caller commits under the key lock.
func (e *Engine) claimPrivateTxn(txnID string, id keyID) bool {
	t := e.txns.get(txnID)
	if t == nil {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.explicit || t.recorded || t.state != "" || len(t.names) > 1 || (len(t.names) == 1 && t.names[0] != id) {
		return false
	}
	t.state = api.TxnStateCommit // provisional: blocks enlistment
	return true
}

func (e *Engine) unclaimTxn(txnID string) {
	if t := e.txns.get(txnID); t != nil {
		t.mu.Lock()
		t.state = ""
		t.mu.Unlock()
	}
}

package tools

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/client"
)

// lockToolset holds the session-bound lease tools.
func lockToolset() Toolset {
	return Toolset{
		Name:        "lock",
		Description: "Exclusive leases with TTL and fencing tokens, renewed by this session.",
		Read: []Tool{
			newTool("lockd_lock_status", "lockd.lock.status",
				"This session's leases: expiry, failed renewals.",
				Annotations{ReadOnly: true, Idempotent: true}, lockStatus),
		},
		Write: []Tool{
			newTool("lockd_lock_acquire", "lockd.lock.acquire",
				"Exclusive lease on key: lease_id, txn_id, fencing_token for writes; renewed until lockd_lock_release.",
				Annotations{}, lockAcquire),
			newTool("lockd_lock_keepalive", "lockd.lock.keepalive",
				"Extend a lease to ttl_seconds from now.",
				Annotations{Idempotent: true}, lockKeepalive),
			newTool("lockd_lock_release", "lockd.lock.release",
				"Release a lease, committing staged writes (rollback=true discards them).",
				Annotations{Idempotent: true}, lockRelease),
		},
	}
}

// defaultTTLSeconds is the lease TTL when a call gives none. Short, because
// auto_keepalive renews it; a crashed session frees the key quickly.
const defaultTTLSeconds = 30

// AcquireArgs are the arguments of lockd_lock_acquire.
type AcquireArgs struct {
	Key           string `json:"key" jsonschema:"required,minLength=1"`
	Namespace     string `json:"namespace,omitempty"`
	Owner         string `json:"owner,omitempty"`
	TTLSeconds    int64  `json:"ttl_seconds,omitempty" jsonschema:"minimum=1" jsonschema_description:"Default 30."`
	BlockSeconds  *int64 `json:"block_seconds,omitempty" jsonschema:"minimum=-1" jsonschema_description:"Wait while held: N s, 0 forever, -1 (default) fail at once."`
	IfNotExists   bool   `json:"if_not_exists,omitempty" jsonschema_description:"Fail if the key has state."`
	TxnID         string `json:"txn_id,omitempty"`
	AutoKeepalive *bool  `json:"auto_keepalive,omitempty" jsonschema_description:"Default true."`
}

// AcquireResult is the granted lease.
type AcquireResult struct {
	Namespace     string `json:"namespace"`
	Key           string `json:"key"`
	Owner         string `json:"owner"`
	LeaseID       string `json:"lease_id"`
	TxnID         string `json:"txn_id"`
	FencingToken  int64  `json:"fencing_token"`
	ExpiresAtUnix int64  `json:"expires_at_unix"`
	Version       int64  `json:"version"`
	StateETag     string `json:"state_etag,omitempty"`
	CorrelationID string `json:"correlation_id,omitempty"`
	AutoKeepalive bool   `json:"auto_keepalive"`
}

func lockAcquire(ctx context.Context, d *Deps, a AcquireArgs) (AcquireResult, error) {
	ns, owner := d.ns(a.Namespace), d.owner(a.Owner)
	ttl := a.TTLSeconds
	if ttl == 0 {
		ttl = defaultTTLSeconds
	}
	block := api.BlockNoWait
	if a.BlockSeconds != nil {
		block = *a.BlockSeconds
	}
	auto := a.AutoKeepalive == nil || *a.AutoKeepalive
	stop := func() {}
	if block != api.BlockNoWait {
		stop = d.startProgress(ctx, float64(block), fmt.Sprintf("waiting for lease on %s/%s", ns, a.Key))
	}
	sess, err := d.Client.Acquire(ctx, api.AcquireRequest{
		Namespace: ns, Key: a.Key, Owner: owner, TTLSeconds: ttl,
		BlockSecs: block, IfNotExists: a.IfNotExists, TxnID: a.TxnID,
	})
	stop()
	if err != nil {
		if errors.Is(err, client.ErrLeaseConflict) {
			return AcquireResult{}, d.heldError(ctx, ns, a.Key, err)
		}
		return AcquireResult{}, err
	}
	g := sess.AcquireResponse
	if err := d.Leases.Track(LeaseInfo{
		Namespace: g.Namespace, Key: g.Key, LeaseID: g.LeaseID, TxnID: g.TxnID, Owner: g.Owner,
		FencingToken: g.FencingToken, TTLSeconds: ttl, ExpiresAtUnix: g.ExpiresAt, AutoKeepalive: auto,
	}, sess); err != nil {
		return AcquireResult{}, err
	}
	return AcquireResult{
		Namespace: g.Namespace, Key: g.Key, Owner: g.Owner, LeaseID: g.LeaseID, TxnID: g.TxnID,
		FencingToken: g.FencingToken, ExpiresAtUnix: g.ExpiresAt, Version: g.Version,
		StateETag: g.StateETag, CorrelationID: g.CorrelationID, AutoKeepalive: auto,
	}, nil
}

// heldError names the current holder of a contended key: owner and expiry
// from describe, plus the server's retry hint.
func (d *Deps) heldError(ctx context.Context, ns, key string, cause error) error {
	msg := fmt.Sprintf("key %q in namespace %q is held by another owner", key, ns)
	if desc, err := d.describe(ctx, ns, key); err == nil && desc.Owner != "" {
		left := time.Until(time.Unix(desc.ExpiresAt, 0)).Round(time.Second)
		msg = fmt.Sprintf("key %q in namespace %q is held by owner %q until expires_at_unix=%d (%s from now)", key, ns, desc.Owner, desc.ExpiresAt, max(left, 0))
	}
	var ae *client.APIError
	if errors.As(cause, &ae) && ae.RetryAfter > 0 {
		msg += fmt.Sprintf("; server retry hint %s", ae.RetryAfter)
	}
	msg += "; retry lockd_lock_acquire with block_seconds to wait, or pick another key"
	return &ToolError{Msg: msg, Err: cause}
}

// KeepaliveArgs are the arguments of lockd_lock_keepalive.
type KeepaliveArgs struct {
	Key        string `json:"key" jsonschema:"required,minLength=1"`
	LeaseID    string `json:"lease_id" jsonschema:"required,minLength=1"`
	Namespace  string `json:"namespace,omitempty"`
	TTLSeconds int64  `json:"ttl_seconds" jsonschema:"required,minimum=1"`
	TxnID      string `json:"txn_id,omitempty"`
}

// KeepaliveResult is the new expiry.
type KeepaliveResult struct {
	ExpiresAtUnix int64 `json:"expires_at_unix"`
}

func lockKeepalive(ctx context.Context, d *Deps, a KeepaliveArgs) (KeepaliveResult, error) {
	ns := d.ns(a.Namespace)
	held, err := d.sessionLease("lockd_lock_keepalive", ns, a.Key, a.LeaseID)
	if err != nil {
		return KeepaliveResult{}, err
	}
	txn := a.TxnID
	if txn == "" {
		txn = held.TxnID
	}
	d.touchLease(a.LeaseID)
	res, err := d.Client.KeepAlive(ctx, api.KeepAliveRequest{
		Namespace: ns, Key: a.Key, LeaseID: a.LeaseID, TTLSeconds: a.TTLSeconds, TxnID: txn,
	})
	if err != nil {
		return KeepaliveResult{}, err
	}
	d.Leases.Renewed(a.LeaseID, a.TTLSeconds, res.ExpiresAt)
	return KeepaliveResult{ExpiresAtUnix: res.ExpiresAt}, nil
}

// ReleaseArgs are the arguments of lockd_lock_release.
type ReleaseArgs struct {
	Key       string `json:"key" jsonschema:"required,minLength=1"`
	LeaseID   string `json:"lease_id" jsonschema:"required,minLength=1"`
	Namespace string `json:"namespace,omitempty"`
	Rollback  bool   `json:"rollback,omitempty" jsonschema_description:"Discard staged writes."`
	TxnID     string `json:"txn_id,omitempty"`
}

// ReleaseResult says whether the server released the lease.
type ReleaseResult struct {
	Released bool `json:"released"`
}

func lockRelease(ctx context.Context, d *Deps, a ReleaseArgs) (ReleaseResult, error) {
	ns := d.ns(a.Namespace)
	held, err := d.sessionLease("lockd_lock_release", ns, a.Key, a.LeaseID)
	if err != nil {
		return ReleaseResult{}, err
	}
	txn := a.TxnID
	if txn == "" {
		txn = held.TxnID
	}
	d.touchLease(a.LeaseID)
	if held.Lost {
		// The SDK may have forgotten the lease already (a drain-aware
		// release), and would then answer released=true without asking
		// anyone: say what happened instead.
		d.Leases.Forget(a.LeaseID)
		return ReleaseResult{}, &ToolError{Msg: fmt.Sprintf("lease %s on %s/%s was lost before this release (%s): this release committed nothing, and writes staged under the lease were not committed by this session; read the key with lockd_get, acquire it again with lockd_lock_acquire and redo the writes", a.LeaseID, held.Namespace, held.Key, held.RenewalError)}
	}
	res, err := d.Client.Release(ctx, api.ReleaseRequest{
		Namespace: ns, Key: a.Key, LeaseID: a.LeaseID, TxnID: txn, Rollback: a.Rollback,
	})
	if err != nil {
		if errors.Is(err, client.ErrLeaseLost) {
			d.Leases.Forget(a.LeaseID)
		}
		return ReleaseResult{}, err
	}
	d.Leases.Forget(a.LeaseID)
	return ReleaseResult{Released: res.Released}, nil
}

// sessionLease returns the lease this session holds under leaseID on
// ns/key. Only leases acquired through this session can be renewed or
// released here (the fencing token lives in it), and the SDK would answer
// a release of an unknown lease with success without asking the server, so
// an unknown id or a key that is not the lease's is an error, not a no-op.
func (d *Deps) sessionLease(tool, ns, key, leaseID string) (LeaseInfo, error) {
	held, ok := d.Leases.Get(leaseID)
	if !ok {
		return LeaseInfo{}, failf("%s: argument lease_id: %s is not a lease of this session (never acquired here, or already released), so nothing was done; lockd_lock_status lists the leases this session holds", tool, leaseID)
	}
	if held.Namespace != ns || held.Key != key {
		return LeaseInfo{}, failf("%s: argument key: lease %s is on %s/%s, not %s/%s; pass key %q (and namespace %q)", tool, leaseID, held.Namespace, held.Key, ns, key, held.Key, held.Namespace)
	}
	return held, nil
}

// StatusArgs takes no arguments.
type StatusArgs struct{}

// StatusResult lists this session's leases.
type StatusResult struct {
	Leases []LeaseInfo `json:"leases"`
}

func lockStatus(_ context.Context, d *Deps, _ StatusArgs) (StatusResult, error) {
	return StatusResult{Leases: d.Leases.List()}, nil
}

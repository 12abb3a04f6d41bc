package engine

import (
	"context"
	"fmt"

	"github.com/lockd-mcp/lockd-mcp/internal/storage"
)

// The durability policy (see the package documentation): decisions are
// durable before they are acknowledged; the steps leading to them (grants
// of a free key, keepalives, staged writes) are appended to the store's
// ordered log without waiting, and the next durable commit covers them.
// The run marker tells a restart after a crash, which may have lost such
// steps, from one after a clean Close, which lost nothing.
const (
	runNamespace = ".engine"
	runKey       = "running"
	// recoverBatchRecords bounds one commit of the crash recovery rewrite.
	recoverBatchRecords = 4096
)

var runRecord = storage.RecordKey{Namespace: runNamespace, Key: runKey}

// appendKey logs rec for id in commit order without waiting for it to be
// durable. Only steps that a crash may undo are logged this way; recovery
// undoes them explicitly (recoverCrashLocked).
func (e *Engine) appendKey(ctx context.Context, id keyID, rec *keyRecord, free []storage.BlobRef) error {
	r, done := putKey(id, rec)
	err := e.store.Append(context.WithoutCancel(ctx), storage.Batch{Puts: []storage.Record{r}, Free: free})
	done()
	if err != nil {
		return fmt.Errorf("engine: append: %w", err)
	}
	return nil
}

// stageKey logs a staged change of rec under txnID. Staged changes are
// appended without waiting, since the release or decision that publishes
// them is durable and covers them, with one exception: a txn recorded as
// pending keeps its staged records through a crash, so a staged change the
// crash lost would silently give way to the older one before it, and a
// later commit would publish that. Under a prepared txn the change is
// therefore durable before it is acknowledged. The flag is checked again
// after the append: a pending decision written meanwhile may precede the
// change in the log, and then only a sync covers it.
func (e *Engine) stageKey(ctx context.Context, id keyID, rec *keyRecord, txnID string, free []storage.BlobRef) error {
	t := e.txns.get(txnID)
	if t != nil && t.prepared.Load() {
		return e.commitKey(ctx, id, rec, free)
	}
	if err := e.appendKey(ctx, id, rec, free); err != nil {
		return err
	}
	if t == nil {
		t = e.txns.get(txnID)
	}
	if t != nil && t.prepared.Load() {
		return e.commit(ctx, storage.Batch{})
	}
	return nil
}

// grantNeedsDurability says whether a grant must be durable before it is
// acknowledged. A grant on a free key that was granted before may be
// lost by a crash: recovery then resumes the key's fencing token past it.
// Two grants may not be lost on one key, or recovery could not tell how far
// to skip: the first grant of a key (no durable token to skip from) and a
// takeover of an expired lease (a second grant with no durable release in
// between) therefore wait for durability.
func grantNeedsDurability(old *keyRecord) bool {
	return old.Fencing == 0 || old.Lease.held()
}

// recoverAfterCrash runs at load when the run marker says the previous run
// did not close cleanly, before leases and txns are restored. A crash
// counts as the expiry of every lease: each lease ends, and changes staged
// under a txn with no durable decision record roll back (a txn's decision
// record, pending or decided, is durable and covers the staged records
// logged before it). Each key's fencing token moves one past the last
// durable one, so a grant acknowledged but lost is never issued again. The
// rewrite is durable before the engine serves, so a second crash cannot
// undo the skip; redoing it after a crash during recovery only skips one
// more token.
func (e *Engine) recoverAfterCrash(ctx context.Context, recorded map[string]bool) error {
	var batch storage.Batch
	var dones []func()
	flush := func() error {
		if len(batch.Puts) == 0 {
			return nil
		}
		err := e.store.Commit(ctx, batch)
		for _, d := range dones {
			d()
		}
		batch, dones = storage.Batch{}, dones[:0]
		if err != nil {
			return fmt.Errorf("engine: crash recovery: %w", err)
		}
		return nil
	}
	for i := range e.shards {
		for _, ent := range e.shards[i].m {
			nr := ent.rec
			if nr.Fencing == 0 && !nr.Lease.held() && !nr.Staged.present() {
				continue
			}
			nr.Fencing++
			if nr.Staged.present() && !recorded[nr.Staged.TxnID] {
				discardStaged(&nr, &batch.Free)
			}
			nr.Lease = leaseRecord{}
			r, done := putKey(ent.id, &nr)
			batch.Puts = append(batch.Puts, r)
			dones = append(dones, done)
			ent.rec = nr
			if len(batch.Puts) >= recoverBatchRecords {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// markRunning makes the run marker durable before the engine serves.
func (e *Engine) markRunning(ctx context.Context) error {
	if err := e.store.Commit(ctx, storage.Batch{Puts: []storage.Record{{RecordKey: runRecord, Value: []byte{1}}}}); err != nil {
		return fmt.Errorf("engine: run marker: %w", err)
	}
	return nil
}

// markStopped removes the run marker at Close. Its commit also makes every
// appended step durable, so the next start keeps leases as they were.
func (e *Engine) markStopped() error {
	if err := e.store.Commit(context.Background(), storage.Batch{Deletes: []storage.RecordKey{runRecord}}); err != nil {
		return fmt.Errorf("engine: clearing run marker: %w", err)
	}
	return nil
}

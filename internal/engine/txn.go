package engine

import (
	"context"
	"encoding/json"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/internal/storage"
)

// txn is the live view of one transaction: the keys enlisted in it and its
// decision. Every lease belongs to a txn: a private one minted at acquire, or
// one the caller named (explicit), which other leases may join.
type txn struct {
	id       string
	mu       sync.Mutex
	names    []keyID // keys with a lease or staged change under this txn
	explicit bool    // some lease joined it by name
	state    string  // "" while active; pending, commit or rollback once recorded
	expires  int64   // unix second after which a pending txn rolls back
	decided  int64   // unix second of the commit/rollback decision
	recorded bool    // a durable .txns record exists
	timer    *time.Timer
	// prepared is set before a pending decision is written (and at load
	// for a recorded txn) and never cleared: staged changes logged after
	// it must be durable before they are acknowledged (stageKey). It is
	// read under entry locks, which may not take mu.
	prepared atomic.Bool
}

func (t *txn) addName(id keyID) {
	if !slices.Contains(t.names, id) {
		t.names = append(t.names, id)
	}
}

func (t *txn) decidedState() bool {
	return t.state == api.TxnStateCommit || t.state == api.TxnStateRollback
}

// pendingProtected reports whether t is prepared (recorded pending and not
// expired): its staged changes then outlive its leases until the decision.
func (t *txn) pendingProtected(nowSec int64) bool {
	return t.state == api.TxnStatePending && t.expires > nowSec
}

type txnTable struct {
	seed   maphash.Seed
	shards [numShards]struct {
		mu sync.Mutex
		m  map[string]*txn
	}
}

func (tt *txnTable) init() {
	tt.seed = maphash.MakeSeed()
	for i := range tt.shards {
		tt.shards[i].m = make(map[string]*txn)
	}
}

func (tt *txnTable) shard(id string) *struct {
	mu sync.Mutex
	m  map[string]*txn
} {
	return &tt.shards[maphash.String(tt.seed, id)%numShards]
}

func (tt *txnTable) get(id string) *txn {
	s := tt.shard(id)
	s.mu.Lock()
	t := s.m[id]
	s.mu.Unlock()
	return t
}

func (tt *txnTable) getOrCreate(id string) *txn {
	s := tt.shard(id)
	s.mu.Lock()
	t := s.m[id]
	if t == nil {
		t = &txn{id: id}
		s.m[id] = t
	}
	s.mu.Unlock()
	return t
}

// deleteIfIdle drops t from the table when nothing refers to it any more.
func (tt *txnTable) deleteIfIdle(t *txn) {
	s := tt.shard(t.id)
	s.mu.Lock()
	t.mu.Lock()
	if len(t.names) == 0 && !t.recorded && t.state == "" && s.m[t.id] == t {
		delete(s.m, t.id)
	}
	t.mu.Unlock()
	s.mu.Unlock()
}

func (tt *txnTable) remove(t *txn) {
	s := tt.shard(t.id)
	s.mu.Lock()
	if s.m[t.id] == t {
		delete(s.m, t.id)
	}
	s.mu.Unlock()
}

// enlist adds key id to txn txnID. It fails once the txn is decided, so a
// decision applies to a fixed set of keys.
func (tt *txnTable) enlist(txnID string, id keyID, explicit bool) (*txn, error) {
	for {
		t := tt.getOrCreate(txnID)
		t.mu.Lock()
		if t.decidedState() {
			st := t.state
			t.mu.Unlock()
			return nil, newError(api.ErrCodeInvalidTxn, "txn %s is already decided (%s): start a new transaction with a fresh txn id", txnID, st)
		}
		t.addName(id)
		t.explicit = t.explicit || explicit
		t.mu.Unlock()
		// A concurrent deleteIfIdle may have unlinked t just before we added
		// to it; retry on the table's current txn in that case.
		if tt.get(txnID) == t {
			return t, nil
		}
	}
}

// forget removes key id from txn txnID after its lease ended without a
// decision (expiry of a private txn).
func (tt *txnTable) forget(txnID string, id keyID) {
	t := tt.get(txnID)
	if t == nil {
		return
	}
	t.mu.Lock()
	if i := slices.Index(t.names, id); i >= 0 {
		t.names = slices.Delete(t.names, i, i+1)
	}
	t.mu.Unlock()
	tt.deleteIfIdle(t)
}

func (tt *txnTable) restore(id string, rec txnRecord) *txn {
	t := tt.getOrCreate(id)
	t.mu.Lock()
	t.state, t.expires, t.decided, t.recorded, t.explicit = rec.State, rec.Expires, rec.Decided, true, true
	t.prepared.Store(true)
	for _, p := range rec.Participants {
		t.addName(keyID{p[0], p[1]})
	}
	t.mu.Unlock()
	return t
}

func (tt *txnTable) each(fn func(*txn)) {
	for i := range tt.shards {
		s := &tt.shards[i]
		s.mu.Lock()
		list := make([]*txn, 0, len(s.m))
		for _, t := range s.m {
			list = append(list, t)
		}
		s.mu.Unlock()
		for _, t := range list {
			fn(t)
		}
	}
}

func (tt *txnTable) stopTimers() {
	tt.each(func(t *txn) {
		t.mu.Lock()
		if t.timer != nil {
			t.timer.Stop()
		}
		t.mu.Unlock()
	})
}

func txnRecordFor(t *txn) (storage.Record, error) {
	rec := txnRecord{State: t.state, Expires: t.expires, Decided: t.decided}
	for _, n := range t.names {
		rec.Participants = append(rec.Participants, [2]string{n.ns, n.key})
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return storage.Record{}, err
	}
	return storage.Record{RecordKey: storage.RecordKey{Namespace: txnNamespace, Key: t.id}, Value: v}, nil
}

// promote commits the staged change of rec into its committed fields.
func promote(rec *keyRecord, nowSec int64, free *[]storage.BlobRef) {
	st := rec.Staged
	switch {
	case st.State:
		if rec.Blob.ID != "" {
			*free = append(*free, rec.Blob)
		}
		rec.Blob, rec.ETag = st.Blob, st.ETag
	case st.Remove:
		if rec.Blob.ID != "" {
			*free = append(*free, rec.Blob)
		}
		rec.Blob, rec.ETag = storage.BlobRef{}, ""
	}
	if st.Hidden != nil {
		rec.Hidden = *st.Hidden
	}
	rec.Version = st.Version
	rec.UpdatedAt = nowSec
	rec.Staged = stagedRecord{}
}

// discardStaged drops the staged change of rec.
func discardStaged(rec *keyRecord, free *[]storage.BlobRef) {
	if rec.Staged.Blob.ID != "" {
		*free = append(*free, rec.Staged.Blob)
	}
	rec.Staged = stagedRecord{}
}

// finishTxn records decision (commit or rollback) for txnID and applies it
// to every participant in one atomic batch: staged changes are promoted or
// discarded and the txn's leases are cleared. add names extra participants.
// It returns the recorded state, which is the earlier decision when one
// exists.
func (e *Engine) finishTxn(ctx context.Context, txnID, decision string, add []keyID, forceRecord bool) (string, error) {
	t := e.txns.getOrCreate(txnID)
	t.mu.Lock()
	if t.decidedState() {
		st := t.state
		t.mu.Unlock()
		return st, nil
	}
	prev := t.state
	t.state = decision
	for _, id := range add {
		t.addName(id)
	}
	names := slices.Clone(t.names)
	record := t.explicit || t.recorded || forceRecord
	t.mu.Unlock()

	slices.SortFunc(names, func(a, b keyID) int {
		if c := strings.Compare(a.ns, b.ns); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	ents := make([]*entry, 0, len(names))
	for _, id := range names {
		if ent := e.entry(id, false); ent != nil {
			ents = append(ents, ent)
		}
	}
	for _, ent := range ents {
		ent.mu.Lock()
	}
	now := time.Now()
	nowSec := now.Unix()
	var batch storage.Batch
	newRecs := make([]keyRecord, len(ents))
	touched := make([]bool, len(ents))
	var err error
	for i, ent := range ents {
		nr := ent.rec
		if nr.Lease.held() && nr.Lease.TxnID == txnID {
			nr.Lease = leaseRecord{}
			touched[i] = true
		}
		if nr.Staged.present() && nr.Staged.TxnID == txnID {
			if decision == api.TxnStateCommit {
				promote(&nr, nowSec, &batch.Free)
			} else {
				discardStaged(&nr, &batch.Free)
			}
			touched[i] = true
		}
		if touched[i] {
			r, done := putKey(ent.id, &nr)
			defer done()
			batch.Puts = append(batch.Puts, r)
		}
		newRecs[i] = nr
	}
	if err == nil && record {
		t.mu.Lock()
		t.decided = nowSec
		var r storage.Record
		r, err = txnRecordFor(t)
		t.mu.Unlock()
		batch.Puts = append(batch.Puts, r)
	}
	if err == nil {
		err = e.commit(ctx, batch)
	}
	if err != nil {
		for _, ent := range ents {
			ent.mu.Unlock()
		}
		t.mu.Lock()
		t.state = prev
		t.mu.Unlock()
		return "", err
	}
	for i, ent := range ents {
		if touched[i] {
			e.setRecordLocked(ent, newRecs[i])
		}
		ent.mu.Unlock()
	}
	t.mu.Lock()
	t.names = nil
	t.recorded = record
	t.decided = nowSec
	if t.timer != nil {
		t.timer.Stop()
	}
	t.mu.Unlock()
	if !record {
		e.txns.remove(t)
	}
	return decision, nil
}

// setRecordLocked installs a committed record in ent, keeping the lease
// count, the expiry timer and the waiter queue in step. ent.mu is held.
func (e *Engine) setRecordLocked(ent *entry, nr keyRecord) {
	had := ent.rec.Lease.held()
	e.indexCommitLocked(ent, &ent.rec, &nr)
	ent.rec = nr
	ent.exists = true
	if had && !nr.Lease.held() {
		e.activeLeases.Add(-1)
		if ent.timer != nil {
			ent.timer.Stop()
		}
		ent.wakeNextLocked()
	}
}

// DecideRequest records a transaction decision (/v1/txn/decide and the RM
// apply endpoints).
type DecideRequest struct {
	TxnID        string
	State        string // pending, commit or rollback
	Participants []api.TxnParticipant
	ExpiresAt    int64 // unix seconds; only ever extends a pending txn
}

// Decide records req and applies commit/rollback to every participant. It
// returns the recorded state, which is the earlier decision if one exists.
func (e *Engine) Decide(ctx context.Context, req DecideRequest, defaultNS string) (string, error) {
	add, err := participantIDs(req.Participants, defaultNS)
	if err != nil {
		return "", err
	}
	if req.State != api.TxnStatePending {
		return e.finishTxn(ctx, req.TxnID, req.State, add, true)
	}
	t := e.txns.getOrCreate(req.TxnID)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.decidedState() {
		return t.state, nil
	}
	prev, prevExp := t.state, t.expires
	t.state = api.TxnStatePending
	if req.ExpiresAt > t.expires {
		t.expires = req.ExpiresAt
	}
	if t.expires == 0 {
		// A prepared txn must not hold its keys' staged state forever when
		// its coordinator vanishes.
		t.expires = time.Now().Add(e.opts.MaxTTL).Unix()
	}
	for _, id := range add {
		t.addName(id)
	}
	t.prepared.Store(true)
	r, err := txnRecordFor(t)
	if err == nil {
		err = e.commit(ctx, storage.Batch{Puts: []storage.Record{r}})
	}
	if err != nil {
		t.state, t.expires = prev, prevExp
		return "", err
	}
	t.recorded, t.explicit = true, true
	e.armPendingLocked(t)
	return api.TxnStatePending, nil
}

func participantIDs(ps []api.TxnParticipant, defaultNS string) ([]keyID, error) {
	out := make([]keyID, 0, len(ps))
	for _, p := range ps {
		if strings.TrimSpace(p.Namespace) == "" {
			return nil, newError(api.ErrCodeInvalidNamespace, "participant %q: namespace is required", p.Key)
		}
		ns, err := NormalizeNamespace(p.Namespace, defaultNS)
		if err != nil {
			return nil, err
		}
		key, err := NormalizeKey(p.Key)
		if err != nil {
			return nil, err
		}
		out = append(out, keyID{ns, key})
	}
	return out, nil
}

// armPendingLocked schedules the rollback of a pending txn at its expiry.
func (e *Engine) armPendingLocked(t *txn) {
	if t.state != api.TxnStatePending || t.expires == 0 {
		return
	}
	d := time.Until(time.Unix(t.expires, 0))
	if t.timer == nil {
		id := t.id
		t.timer = time.AfterFunc(d, func() { e.expirePending(id) })
		return
	}
	t.timer.Reset(d)
}

func (e *Engine) expirePending(id string) {
	if e.closed.Load() {
		return
	}
	t := e.txns.get(id)
	if t == nil {
		return
	}
	t.mu.Lock()
	due := t.state == api.TxnStatePending && t.expires > 0 && time.Now().Unix() >= t.expires
	t.mu.Unlock()
	if !due {
		return
	}
	if _, err := e.finishTxn(context.Background(), id, api.TxnStateRollback, nil, true); err != nil {
		e.log.Error("roll back expired pending txn", "txn_id", id, "err", err)
		t.mu.Lock()
		if t.timer != nil {
			t.timer.Reset(time.Second)
		}
		t.mu.Unlock()
	}
}

// Apply is the RM apply of /v1/txn/commit and /v1/txn/rollback. Without
// participants it applies the recorded decision; with participants it
// records decision first.
func (e *Engine) Apply(ctx context.Context, txnID, decision string, ps []api.TxnParticipant, defaultNS string) (string, error) {
	if len(ps) > 0 {
		return e.Decide(ctx, DecideRequest{TxnID: txnID, State: decision, Participants: ps}, defaultNS)
	}
	t := e.txns.get(txnID)
	if t == nil {
		return "", newError(api.ErrCodeTxnNotFound, "txn %s is unknown: it was never recorded or its decision has been forgotten", txnID)
	}
	t.mu.Lock()
	st := t.state
	t.mu.Unlock()
	if st == api.TxnStatePending || st == "" {
		return "", newError(api.ErrCodeTxnPending, "txn %s has no decision yet: record one with /v1/txn/decide", txnID)
	}
	return st, nil
}

// Replay re-applies the recorded decision of txnID. An expired pending txn
// rolls back first; a live one stays pending.
func (e *Engine) Replay(ctx context.Context, txnID string) (string, error) {
	t := e.txns.get(txnID)
	if t == nil {
		return "", newError(api.ErrCodeTxnNotFound, "txn %s is unknown: it was never recorded or its decision has been forgotten", txnID)
	}
	t.mu.Lock()
	st, exp := t.state, t.expires
	t.mu.Unlock()
	switch {
	case st == api.TxnStatePending && exp > 0 && time.Now().Unix() >= exp:
		return e.finishTxn(ctx, txnID, api.TxnStateRollback, nil, true)
	case st == "" || st == api.TxnStatePending:
		return api.TxnStatePending, nil
	}
	return st, nil
}

// gcDecided forgets decided txn records older than the retention period.
func (e *Engine) gcDecided(ctx context.Context) {
	cutoff := time.Now().Add(-e.opts.DecidedTxnRetention).Unix()
	var old []*txn
	e.txns.each(func(t *txn) {
		t.mu.Lock()
		if t.decidedState() && t.decided < cutoff {
			old = append(old, t)
		}
		t.mu.Unlock()
	})
	if len(old) == 0 {
		return
	}
	var b storage.Batch
	for _, t := range old {
		b.Deletes = append(b.Deletes, storage.RecordKey{Namespace: txnNamespace, Key: t.id})
	}
	if err := e.commit(ctx, b); err != nil {
		e.log.Warn("forget decided txns", "err", err)
		return
	}
	for _, t := range old {
		e.txns.remove(t)
	}
}

// janitor runs periodic housekeeping until Close.
func (e *Engine) janitor() {
	defer e.bg.Done()
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-tick.C:
			e.gcDecided(context.Background())
		}
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

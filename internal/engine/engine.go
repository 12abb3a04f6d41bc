package engine

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lockd-mcp/lockd-mcp/internal/ids"
	"github.com/lockd-mcp/lockd-mcp/internal/storage"
)

// Options tune an Engine. Zero values take the documented defaults.
type Options struct {
	// DefaultTTL applies when a request asks for ttl <= 0 (default 30 s).
	DefaultTTL time.Duration
	// MaxTTL clamps requested TTLs (default 30 min).
	MaxTTL time.Duration
	// AcquireBlockMax bounds block_seconds < -1 (default 60 s).
	AcquireBlockMax time.Duration
	// DecidedTxnRetention is how long a decided txn record stays answerable
	// by replay/decide (default 1 h).
	DecidedTxnRetention time.Duration
	// DisableIndex turns the inverted query index off: commits are not
	// fed to it, queries can only scan (engine=index, or auto on a
	// namespace without fallback_engine=scan, gives query_engine_unavailable)
	// and index flushes give index_unavailable. It exists to price indexing
	// (the lease-cycle benchmark with and without it) and for deployments
	// that never query and should not pay for the index on every commit.
	DisableIndex bool
	// Logger receives background failures (default slog.Default()).
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.DefaultTTL <= 0 {
		o.DefaultTTL = 30 * time.Second
	}
	if o.MaxTTL <= 0 {
		o.MaxTTL = 30 * time.Minute
	}
	if o.AcquireBlockMax <= 0 {
		o.AcquireBlockMax = 60 * time.Second
	}
	if o.DecidedTxnRetention <= 0 {
		o.DecidedTxnRetention = time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

const numShards = 64

// Engine implements leases, fencing, staged JSON state and transactions over
// a storage.Store. It is safe for concurrent use.
type Engine struct {
	store storage.Store
	opts  Options
	log   *slog.Logger
	xid   *ids.XIDGenerator
	seed  maphash.Seed

	shards [numShards]shard
	order  keyOrder
	txns   txnTable
	nsconf nsConfigs
	query  queryState

	activeLeases atomic.Int64
	drainOnce    sync.Once
	draining     chan struct{}
	closed       atomic.Bool
	stop         chan struct{}
	bg           sync.WaitGroup
}

// keyID names a key within a namespace; both parts are normalised.
type keyID struct{ ns, key string }

type shard struct {
	mu sync.RWMutex
	m  map[keyID]*entry
}

// entry is the live state of one key. Its mutex is held across the storage
// commit of every change, so durable order equals response order per key.
type entry struct {
	id     keyID
	mu     sync.Mutex
	rec    keyRecord
	exists bool // a record exists in the store
	// waiters queue blocked acquires in FIFO order. When the key frees, the
	// head is moved to reserved and woken; nobody else may take the lease
	// until it has tried, which keeps the order strict.
	waiters  []*waiter
	reserved *waiter
	timer    *time.Timer // fires at lease expiry
	// expiredID is the last lease cleared by expiry, so its holder hears
	// lease_expired (not lease_required) until the key is granted again.
	expiredID string
}

type waiter struct{ ready chan struct{} }

// Open loads every record from store and returns a ready engine. The engine
// owns store from then on and closes it in Close.
func Open(ctx context.Context, store storage.Store, opts Options) (*Engine, error) {
	opts.setDefaults()
	e := &Engine{
		store:    store,
		opts:     opts,
		log:      opts.Logger,
		xid:      ids.NewXIDGenerator(),
		seed:     maphash.MakeSeed(),
		draining: make(chan struct{}),
		stop:     make(chan struct{}),
	}
	for i := range e.shards {
		e.shards[i].m = make(map[keyID]*entry)
	}
	e.txns.init()
	e.nsconf.init()
	e.initQuery()
	if err := e.load(ctx); err != nil {
		return nil, err
	}
	e.indexLoaded()
	e.bg.Add(1)
	go e.janitor()
	return e, nil
}

func (e *Engine) load(ctx context.Context) error {
	var txnRecs []struct {
		id  string
		rec txnRecord
	}
	crashed := false
	err := e.store.Load(ctx, func(r storage.Record) error {
		switch r.Namespace {
		case runNamespace:
			crashed = r.RecordKey == runRecord
		case txnNamespace:
			var tr txnRecord
			if err := jsonUnmarshal(r.Value, &tr); err != nil {
				return fmt.Errorf("txn %s: %w", r.Key, err)
			}
			txnRecs = append(txnRecs, struct {
				id  string
				rec txnRecord
			}{r.Key, tr})
		case nsConfNamespace:
			return e.nsconf.load(r.Key, r.Value)
		default:
			kr, err := decodeKeyRecord(r.Value)
			if err != nil {
				return fmt.Errorf("key %s/%s: %w", r.Namespace, r.Key, err)
			}
			ent := e.entry(keyID{r.Namespace, r.Key}, true)
			ent.rec, ent.exists = kr, true
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("engine: load: %w", err)
	}
	if crashed {
		recorded := make(map[string]bool, len(txnRecs))
		for _, tr := range txnRecs {
			recorded[tr.id] = true
		}
		if err := e.recoverAfterCrash(ctx, recorded); err != nil {
			return err
		}
	}
	live := make(map[string]bool)
	now := time.Now()
	for i := range e.shards {
		for _, ent := range e.shards[i].m {
			rec := &ent.rec
			if rec.Blob.ID != "" {
				live[rec.Blob.ID] = true
			}
			if rec.Staged.Blob.ID != "" {
				live[rec.Staged.Blob.ID] = true
			}
			if rec.Lease.held() {
				e.activeLeases.Add(1)
				e.txns.enlist(rec.Lease.TxnID, ent.id, rec.Lease.Explicit)
				e.armTimer(ent, time.Duration(rec.Lease.Expires-now.UnixNano()))
			}
			if rec.Staged.present() && rec.Staged.TxnID != rec.Lease.TxnID {
				e.txns.enlist(rec.Staged.TxnID, ent.id, true)
			}
		}
	}
	for _, tr := range txnRecs {
		t := e.txns.restore(tr.id, tr.rec)
		t.mu.Lock()
		e.armPendingLocked(t)
		t.mu.Unlock()
	}
	if err := e.store.Retain(ctx, func(ref storage.BlobRef) bool { return live[ref.ID] }); err != nil {
		return fmt.Errorf("engine: retain blobs: %w", err)
	}
	return e.markRunning(ctx)
}

// Close stops background work and closes the store. In-flight requests must
// have finished.
func (e *Engine) Close() error {
	if !e.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(e.stop)
	for i := range e.shards {
		s := &e.shards[i]
		s.mu.RLock()
		for _, ent := range s.m {
			ent.mu.Lock()
			if ent.timer != nil {
				ent.timer.Stop()
			}
			ent.mu.Unlock()
		}
		s.mu.RUnlock()
	}
	e.txns.stopTimers()
	e.bg.Wait()
	// The index appliers read committed documents from the store.
	e.query.m.Close()
	err := e.markStopped()
	if cerr := e.store.Close(); err == nil {
		err = cerr
	}
	return err
}

// BeginDrain makes new acquires fail with ErrDraining and wakes blocked ones.
func (e *Engine) BeginDrain() {
	e.drainOnce.Do(func() { close(e.draining) })
}

// Draining reports whether BeginDrain was called.
func (e *Engine) Draining() bool {
	select {
	case <-e.draining:
		return true
	default:
		return false
	}
}

// ActiveLeases is the number of keys holding a lease record (including
// expired ones the sweeper has not cleared yet).
func (e *Engine) ActiveLeases() int64 { return e.activeLeases.Load() }

// ResolveTTL applies the default and the clamp to a requested TTL.
func (e *Engine) ResolveTTL(seconds int64) time.Duration {
	if seconds <= 0 {
		return e.opts.DefaultTTL
	}
	if seconds > int64(e.opts.MaxTTL/time.Second) {
		return e.opts.MaxTTL
	}
	return time.Duration(seconds) * time.Second
}

// entry returns the live entry of id, creating it when create is set.
func (e *Engine) entry(id keyID, create bool) *entry {
	var h maphash.Hash
	h.SetSeed(e.seed)
	h.WriteString(id.ns)
	h.WriteByte(0)
	h.WriteString(id.key)
	s := &e.shards[h.Sum64()%numShards]
	s.mu.RLock()
	ent := s.m[id]
	s.mu.RUnlock()
	if ent != nil || !create {
		return ent
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ent = s.m[id]; ent == nil {
		ent = &entry{id: id}
		s.m[id] = ent
		e.order.add(ent)
	}
	return ent
}

// commit makes b durable. A cancelled request must not leave a change in
// doubt, so the request context's cancellation is ignored here.
func (e *Engine) commit(ctx context.Context, b storage.Batch) error {
	if err := e.store.Commit(context.WithoutCancel(ctx), b); err != nil {
		return fmt.Errorf("engine: commit: %w", err)
	}
	return nil
}

// putKey returns the batch record for id holding rec. The value is encoded
// into a pooled buffer; call the returned release after the commit (stores
// copy record values).
func putKey(id keyID, rec *keyRecord) (storage.Record, func()) {
	bp := recBufPool.Get().(*[]byte)
	v := appendKeyRecord((*bp)[:0], rec)
	return storage.Record{RecordKey: storage.RecordKey{Namespace: id.ns, Key: id.key}, Value: v}, func() {
		if cap(v) <= 4<<10 {
			*bp = v[:0]
			recBufPool.Put(bp)
		}
	}
}

// commitKey durably writes rec for id, freeing blobs no longer referenced.
func (e *Engine) commitKey(ctx context.Context, id keyID, rec *keyRecord, free []storage.BlobRef) error {
	r, done := putKey(id, rec)
	err := e.commit(ctx, storage.Batch{Puts: []storage.Record{r}, Free: free})
	done()
	return err
}

// freeBlob drops a blob that no record references (a failed or replaced
// upload). Errors are only logged: Retain reclaims it at the next start.
func (e *Engine) freeBlob(ctx context.Context, ref storage.BlobRef) {
	if ref.ID == "" {
		return
	}
	if err := e.commit(ctx, storage.Batch{Free: []storage.BlobRef{ref}}); err != nil {
		e.log.Warn("free unreferenced blob", "blob", ref.ID, "err", err)
	}
}

func nowNanos() int64 { return time.Now().UnixNano() }

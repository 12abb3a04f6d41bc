package engine

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/internal/ids"
	"github.com/lockd-mcp/lockd-mcp/internal/query"
	"github.com/lockd-mcp/lockd-mcp/internal/storage"
)

// Query support. The engine owns a query.Manager: it feeds the namespace
// indexes every committed change (indexCommitLocked, called with the key's
// mutex held after the commit is durable and before it is acknowledged, so
// refresh=wait_for is exact) and it is the manager's Source of committed
// documents. The index is rebuilt from the committed records at Open.

// queryState is the engine's query machinery.
type queryState struct {
	m *query.Manager

	mu      sync.Mutex
	flushes map[string]string // namespace → flush_id of the async flush in flight
}

// maxAsyncFlushes bounds async flushes in flight (WIRE §5.2).
const maxAsyncFlushes = 8

func (e *Engine) initQuery() {
	e.query.m = query.NewManager(query.Options{
		Source: engineSource{e},
		Config: func(_ context.Context, ns string) (api.NamespaceQueryConfig, error) {
			cfg, _ := e.NamespaceConfig(ns)
			return cfg, nil
		},
	})
	e.query.flushes = make(map[string]string)
}

// indexLoaded submits every committed document after Load; queries that
// wait_for see the rebuilt index, the others see it fill up.
func (e *Engine) indexLoaded() {
	if e.opts.DisableIndex {
		return
	}
	for i := range e.shards {
		for _, ent := range e.shards[i].m {
			if ent.rec.Blob.ID != "" {
				e.indexCommitLocked(ent, &keyRecord{}, &ent.rec)
			}
		}
	}
}

// indexCommitLocked hands a committed change of ent to its namespace index
// when the document or its visibility changed. ent.mu is held (or the
// engine is still loading).
func (e *Engine) indexCommitLocked(ent *entry, old, nr *keyRecord) {
	if e.opts.DisableIndex {
		return // nothing reads the index, so nothing may cost a commit
	}
	if old.Blob.ID == nr.Blob.ID && old.Hidden == nr.Hidden {
		return // a lease-only change: nothing a query can see
	}
	ix := e.query.m.Index(ent.id.ns)
	if nr.Blob.ID == "" {
		if old.Blob.ID != "" {
			ix.Submit(query.Change{Key: ent.id.key, Delete: true})
		}
		return
	}
	ref := nr.Blob
	ix.Submit(query.Change{Key: ent.id.key, Version: nr.Version, Hidden: nr.Hidden || isQueueStateKey(ent.id.key), ETag: nr.ETag,
		// The applier reads the blob later. If a newer commit has already
		// freed it, the index marks the key for verification and the newer
		// change (queued behind this one) settles it.
		Open: func() (io.ReadCloser, error) { return e.store.OpenBlob(context.Background(), ref) }})
}

// Query runs a selector query over committed documents (/v1/query).
func (e *Engine) Query(ctx context.Context, req query.Request, emit func(query.Row) error) (query.Result, error) {
	if e.Draining() {
		return query.Result{}, ErrDraining
	}
	if e.opts.DisableIndex {
		engine, err := e.scanOnly(req.Namespace, req.Engine)
		if err != nil {
			return query.Result{}, err
		}
		req.Engine = engine
	}
	res, err := e.query.m.Query(ctx, req, emit)
	return res, queryError(err)
}

// scanOnly picks the engine when the index is disabled, by the rule of
// WIRE §5.3 for a backend without an index: auto is the preferred engine
// if that is scan, else scan if the fallback is scan, else an error;
// explicit index is always unavailable. The query manager assumes both
// engines exist, so the choice is made here and handed to it as explicit
// scan (which it allows on exactly the same namespace configs).
func (e *Engine) scanOnly(ns, requested string) (string, error) {
	cfg, _ := e.NamespaceConfig(ns)
	switch strings.ToLower(requested) {
	case api.EngineIndex:
		return "", newError(api.ErrCodeQueryEngineUnavailable,
			"engine \"index\" is unavailable: this server runs with the query index disabled; use engine=scan")
	case "", api.EngineAuto:
		if cfg.PreferredEngine != api.EngineScan && cfg.FallbackEngine != api.EngineScan {
			return "", newError(api.ErrCodeQueryEngineUnavailable,
				"engine \"auto\" has no engine for namespace %q: the query index is disabled and the namespace allows no scan (preferred_engine=%s, fallback_engine=%s); set fallback_engine=scan",
				ns, cfg.PreferredEngine, cfg.FallbackEngine)
		}
		return api.EngineScan, nil
	}
	return requested, nil // scan, checked against the config by the manager; anything else is rejected there
}

// FlushIndex waits for (or, async, schedules a wait for) the index of ns
// to apply every committed change (/v1/index/flush).
func (e *Engine) FlushIndex(ctx context.Context, ns string, async bool) (api.IndexFlushResponse, error) {
	if e.opts.DisableIndex {
		return api.IndexFlushResponse{}, newError(api.ErrCodeIndexUnavailable,
			"the query index is disabled on this server: there is nothing to flush")
	}
	ix := e.query.m.Index(ns)
	if !async {
		seq, err := ix.Flush(ctx)
		if err != nil {
			return api.IndexFlushResponse{}, err
		}
		return api.IndexFlushResponse{Namespace: ns, Mode: "wait", Accepted: true, Flushed: true,
			Pending: ix.Stats().Pending(), IndexSeq: seq}, nil
	}
	q := &e.query
	q.mu.Lock()
	id, inFlight := q.flushes[ns]
	if !inFlight {
		if len(q.flushes) >= maxAsyncFlushes {
			q.mu.Unlock()
			return api.IndexFlushResponse{}, newError(api.ErrCodeIndexFlushBusy,
				"%d index flushes are already in flight: retry shortly or flush with mode=wait", maxAsyncFlushes)
		}
		id = ids.NewUUIDv7()
		q.flushes[ns] = id
		e.bg.Add(1)
		go func() {
			defer e.bg.Done()
			fctx, cancel := context.WithCancel(context.Background())
			go func() {
				select {
				case <-e.stop:
				case <-fctx.Done():
				}
				cancel()
			}()
			if _, err := ix.Flush(fctx); err != nil && !errors.Is(err, context.Canceled) {
				e.log.Warn("async index flush", "namespace", ns, "err", err)
			}
			cancel()
			q.mu.Lock()
			delete(q.flushes, ns)
			q.mu.Unlock()
		}()
	}
	q.mu.Unlock()
	return api.IndexFlushResponse{Namespace: ns, Mode: "async", Accepted: true, Pending: ix.Stats().Pending(), FlushID: id}, nil
}

// queryError turns query failures with a wire code into engine errors.
func queryError(err error) error {
	var qe *query.Error
	if errors.As(err, &qe) {
		return &Error{qe.ErrorResponse}
	}
	return err
}

// engineSource presents committed documents to the query engines.
type engineSource struct{ e *Engine }

func (s engineSource) doc(ent *entry) (query.Doc, bool) {
	ent.mu.Lock()
	rec := ent.rec
	ent.mu.Unlock()
	if rec.Blob.ID == "" {
		return query.Doc{}, false
	}
	ref := rec.Blob
	hidden := rec.Hidden || isQueueStateKey(ent.id.key)
	return query.Doc{Key: ent.id.key, Version: rec.Version, Hidden: hidden,
		Open: func() (io.ReadCloser, error) { return s.e.store.OpenBlob(context.Background(), ref) }}, true
}

// Scan lists the namespace's keys in order, then reads each one's current
// committed state as it goes: keys committed meanwhile may be missed or
// seen, keys present throughout are visited exactly once. A blob freed by
// a commit between the listing and the read is read again from the newer
// record.
func (s engineSource) Scan(ctx context.Context, ns, after string, fn func(query.Doc) error) error {
	var err error
	s.e.order.each(ns, after, func(ent *entry) bool {
		if err = ctx.Err(); err != nil {
			return false
		}
		d, ok := s.doc(ent)
		if !ok {
			return true
		}
		err = fn(s.retrying(ent, d))
		return err == nil
	})
	return err
}

// retrying makes d.Open fall back to the key's newer record when the blob
// it names was freed by a later commit.
func (s engineSource) retrying(ent *entry, d query.Doc) query.Doc {
	open := d.Open
	d.Open = func() (io.ReadCloser, error) {
		rc, err := open()
		if errors.Is(err, storage.ErrBlobNotFound) {
			if nd, ok := s.doc(ent); ok {
				return nd.Open()
			}
		}
		return rc, err
	}
	return d
}

// Get returns the committed document of key.
func (s engineSource) Get(ctx context.Context, ns, key string) (query.Doc, bool, error) {
	ent := s.e.entry(keyID{ns, key}, false)
	if ent == nil {
		return query.Doc{}, false, nil
	}
	d, ok := s.doc(ent)
	if !ok {
		return query.Doc{}, false, nil
	}
	return s.retrying(ent, d), true, nil
}

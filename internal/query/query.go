package query

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/lql"
)

// Doc is one committed document as a Source presents it.
type Doc struct {
	Key     string
	Version int64
	Hidden  bool
	// Open reads the committed document.
	Open func() (io.ReadCloser, error)
}

// Source gives the query engines read access to committed state. The
// engine (internal/engine) implements it over its key metadata and blobs.
type Source interface {
	// Scan calls fn for every committed document of ns whose key sorts
	// after afterKey, in ascending key order, until fn returns an error
	// (which Scan returns). Keys committed during the scan may or may not
	// be visited; keys present throughout are visited exactly once.
	Scan(ctx context.Context, ns, afterKey string, fn func(Doc) error) error
	// Get returns the committed document of key; ok is false when there is
	// none.
	Get(ctx context.Context, ns, key string) (d Doc, ok bool, err error)
}

// Options configures a Manager.
type Options struct {
	Source Source
	// Config returns a namespace's engine preference; nil means the lockd
	// default (preferred index, fallback none).
	Config func(ctx context.Context, ns string) (api.NamespaceQueryConfig, error)
	// Match overrides the matcher (MatchLQL).
	Match Matcher
	// MaxDocBytes bounds a document read for matching or returning
	// (json-max); larger ones fail the query with document_too_large.
	MaxDocBytes int64
}

// Manager runs queries over one store: it owns the index of every
// namespace and picks an engine per query.
type Manager struct {
	opts    Options
	mu      sync.Mutex
	indexes map[string]*Index
	closed  bool
}

// NewManager returns a Manager over opts.Source.
func NewManager(opts Options) *Manager {
	if opts.Match == nil {
		opts.Match = MatchLQL
	}
	if opts.MaxDocBytes <= 0 {
		opts.MaxDocBytes = 100 << 20
	}
	return &Manager{opts: opts, indexes: map[string]*Index{}}
}

// Index returns the index of ns, creating an empty one on first use.
func (m *Manager) Index(ns string) *Index {
	m.mu.Lock()
	defer m.mu.Unlock()
	ix, ok := m.indexes[ns]
	if !ok {
		ix = NewIndex()
		if m.closed {
			ix.Close()
		}
		m.indexes[ns] = ix
	}
	return ix
}

// Close stops indexing in every namespace (see Index.Close). Queries keep
// working on what was indexed.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	indexes := make([]*Index, 0, len(m.indexes))
	for _, ix := range m.indexes {
		indexes = append(indexes, ix)
	}
	m.mu.Unlock()
	for _, ix := range indexes {
		ix.Close()
	}
}

// Request is one query, already decoded from the wire.
type Request struct {
	Namespace string
	Selector  lql.Selector
	// Limit is clamped to 1..1000; 0 means the default of 100.
	Limit  int
	Cursor string
	// Engine is "", auto, index or scan.
	Engine string
	// WaitFor makes the query see every change committed before it started
	// (refresh=wait_for).
	WaitFor bool
	// Documents asks for document bodies (return=documents).
	Documents bool
	// Fields projects returned documents onto the listed JSON Pointers (the
	// keys of the wire's fields object).
	Fields []string
}

// Row is one result. Doc is set in documents mode.
type Row struct {
	Key     string
	Version int64
	Doc     []byte
}

// Result is what a query reports besides its rows.
type Result struct {
	Engine   string
	Cursor   string
	IndexSeq uint64
	// Metadata holds the wire's string metadata (engine, index_pending,
	// index_updated_at, query_candidates_seen, query_candidates_matched).
	Metadata map[string]string
}

// Limits of the wire (WIRE §5.1).
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// errStop ends a scan once the page is full.
var errStop = errors.New("query: page full")

// Query runs req and calls emit for every result row in key order. Errors
// returned before the first emit may be reported as a normal error
// response; later ones can only truncate a stream.
func (m *Manager) Query(ctx context.Context, req Request, emit func(Row) error) (Result, error) {
	limit := req.Limit
	switch {
	case limit <= 0:
		limit = DefaultLimit
	case limit > MaxLimit:
		limit = MaxLimit
	}
	after, err := DecodeCursor(req.Cursor)
	if err != nil {
		return Result{}, err
	}
	if err := req.Selector.Validate(); err != nil {
		return Result{}, newError(api.ErrCodeInvalidSelector, "%s", err.Error())
	}
	proj, err := newProjection(req.Fields)
	if err != nil {
		return Result{}, err
	}
	engine, err := m.chooseEngine(ctx, req.Namespace, req.Engine)
	if err != nil {
		return Result{}, err
	}
	sel := lql.Simplify(req.Selector)
	run := &run{m: m, ns: req.Namespace, sel: &sel, limit: limit, after: after,
		docs: req.Documents, proj: proj, emit: emit}
	ix := m.Index(req.Namespace)
	if engine == api.EngineIndex && req.WaitFor {
		if _, err := ix.Flush(ctx); err != nil {
			return Result{}, err
		}
	}
	if engine == api.EngineIndex {
		err = run.index(ctx, ix)
	} else {
		err = run.scan(ctx)
	}
	st := ix.Stats()
	res := Result{Engine: engine, IndexSeq: st.AppliedSeq, Metadata: map[string]string{
		"engine":                   engine,
		"index_pending":            strconv.FormatBool(st.Pending()),
		"query_candidates_seen":    strconv.Itoa(run.seen),
		"query_candidates_matched": strconv.Itoa(run.matched),
	}}
	if !st.UpdatedAt.IsZero() {
		res.Metadata["index_updated_at"] = st.UpdatedAt.UTC().Format(time.RFC3339Nano)
	}
	if run.more && run.last != "" {
		res.Cursor = EncodeCursor(run.last)
	}
	return res, err
}

// chooseEngine applies the namespace rules of WIRE §5.3.
func (m *Manager) chooseEngine(ctx context.Context, ns, requested string) (string, error) {
	cfg := api.NamespaceQueryConfig{PreferredEngine: api.EngineIndex, FallbackEngine: api.EngineNone}
	if m.opts.Config != nil {
		c, err := m.opts.Config(ctx, ns)
		if err != nil {
			return "", fmt.Errorf("query: namespace config of %q: %w", ns, err)
		}
		if c.PreferredEngine != "" {
			cfg.PreferredEngine = c.PreferredEngine
		}
		if c.FallbackEngine != "" {
			cfg.FallbackEngine = c.FallbackEngine
		}
	}
	switch strings.ToLower(requested) {
	case "", api.EngineAuto:
		// Both engines are always available here, so auto is the
		// preferred one; the fallback only matters when it is not.
		switch {
		case cfg.PreferredEngine == api.EngineIndex || cfg.PreferredEngine == api.EngineScan:
			return cfg.PreferredEngine, nil
		case cfg.FallbackEngine == api.EngineScan:
			return api.EngineScan, nil
		}
	case api.EngineIndex:
		if cfg.PreferredEngine == api.EngineIndex {
			return api.EngineIndex, nil
		}
	case api.EngineScan:
		if cfg.PreferredEngine == api.EngineScan || cfg.FallbackEngine == api.EngineScan {
			return api.EngineScan, nil
		}
	default:
		return "", newError(api.ErrCodeInvalidEngine, "engine %q is not one of auto, index, scan", requested)
	}
	return "", newError(api.ErrCodeQueryEngineUnavailable,
		"engine %q is not allowed by namespace %q (preferred_engine=%s, fallback_engine=%s)",
		requested, ns, cfg.PreferredEngine, cfg.FallbackEngine)
}

// run is the state of one query execution.
type run struct {
	m     *Manager
	ns    string
	sel   *lql.Selector
	limit int
	after string
	docs  bool
	proj  *projection
	emit  func(Row) error

	emitted, seen, matched int
	last                   string
	more                   bool
}

// read reads a committed document within the size limit.
func (r *run) read(d Doc) ([]byte, error) {
	rc, err := d.Open()
	if err != nil {
		return nil, fmt.Errorf("query: open %s/%s: %w", r.ns, d.Key, err)
	}
	defer rc.Close()
	return r.readFrom(d, rc, nil)
}

// readFrom reads the rest of rc after head, within the size limit.
func (r *run) readFrom(d Doc, rc io.Reader, head []byte) ([]byte, error) {
	buf := bytes.NewBuffer(head)
	n, err := buf.ReadFrom(io.LimitReader(rc, r.m.opts.MaxDocBytes+1-int64(len(head))))
	if err != nil {
		return nil, fmt.Errorf("query: read %s/%s: %w", r.ns, d.Key, err)
	}
	if int64(len(head))+n > r.m.opts.MaxDocBytes {
		return nil, newError(api.ErrCodeDocumentTooLarge, "document %s/%s exceeds %d bytes", r.ns, d.Key, r.m.opts.MaxDocBytes)
	}
	return buf.Bytes(), nil
}

// match verifies d and reports whether it matches, with its body in
// documents mode. In keys mode a document larger than streamThreshold is
// streamed through lql's streaming matcher instead of being held whole.
func (r *run) match(ctx context.Context, d Doc) (bool, []byte, error) {
	r.seen++
	rc, err := d.Open()
	if err != nil {
		return false, nil, fmt.Errorf("query: open %s/%s: %w", r.ns, d.Key, err)
	}
	defer rc.Close()
	head := make([]byte, 0, 4096)
	hb := bytes.NewBuffer(head)
	if _, err := hb.ReadFrom(io.LimitReader(rc, streamThreshold)); err != nil {
		return false, nil, fmt.Errorf("query: read %s/%s: %w", r.ns, d.Key, err)
	}
	body := hb.Bytes()
	if len(body) == streamThreshold {
		if !r.docs {
			ok, err := matchStream(ctx, r.sel, io.MultiReader(bytes.NewReader(body), rc))
			if err != nil {
				return false, nil, fmt.Errorf("query: match %s/%s: %w", r.ns, d.Key, err)
			}
			return ok, nil, nil
		}
		if body, err = r.readFrom(d, rc, body); err != nil {
			return false, nil, err
		}
	}
	ok, err := r.m.opts.Match(r.sel, body)
	if err != nil {
		return false, nil, fmt.Errorf("query: match %s/%s: %w", r.ns, d.Key, err)
	}
	return ok, body, nil
}

// deliver emits one matching row.
func (r *run) deliver(ctx context.Context, key string, version int64, body []byte) error {
	row := Row{Key: key, Version: version}
	if r.docs {
		row.Doc = r.proj.apply(ctx, body)
	}
	r.matched++
	r.emitted++
	r.last = key
	return r.emit(row)
}

func sprintf(format string, args ...any) string {
	if len(args) == 0 {
		return format
	}
	return fmt.Sprintf(format, args...)
}

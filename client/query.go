package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/lql"
)

// QueryReturn describes the payload mode exposed by /v1/query.
type QueryReturn string

const (
	// QueryReturnKeys streams the default keys-only JSON object.
	QueryReturnKeys QueryReturn = QueryReturn(api.QueryReturnKeys)
	// QueryReturnDocuments streams newline-delimited documents.
	QueryReturnDocuments QueryReturn = QueryReturn(api.QueryReturnDocuments)
)

// Query refresh modes.
const (
	queryRefreshWaitFor = "wait_for"
)

// QueryOptions controls /v1/query execution hints.
type QueryOptions struct {
	// Engine forces execution strategy ("auto", "index", "scan").
	Engine string
	// Refresh controls visibility semantics (for example "wait_for").
	Refresh string
	// Return controls payload shape (keys or streamed documents).
	Return QueryReturn

	req      api.QueryRequest
	parseErr error
}

// QueryOption customizes query execution.
type QueryOption func(*QueryOptions)

// WithQuery parses an LQL expression and sets the selector for the request.
// Parse errors are surfaced when Query executes.
func WithQuery(expr string) QueryOption {
	return func(o *QueryOptions) {
		sel, err := lql.ParseSelectorString(expr)
		if err != nil {
			o.parseErr = fmt.Errorf("lockd: query selector %q: %w", expr, err)
			return
		}
		o.parseErr, o.req.Selector = nil, sel
	}
}

// WithQuerySelector installs an already-parsed selector (useful when callers
// construct selector ASTs directly).
func WithQuerySelector(sel api.Selector) QueryOption {
	return func(o *QueryOptions) { o.parseErr, o.req.Selector = nil, sel }
}

// WithQueryNamespace overrides namespace used for query execution.
func WithQueryNamespace(ns string) QueryOption {
	return func(o *QueryOptions) { o.req.Namespace = ns }
}

// WithQueryLimit caps number of rows returned by the server.
func WithQueryLimit(limit int) QueryOption {
	return func(o *QueryOptions) { o.req.Limit = limit }
}

// WithQueryCursor resumes a previous query page using server-provided
// cursor token.
func WithQueryCursor(cursor string) QueryOption {
	return func(o *QueryOptions) { o.req.Cursor = cursor }
}

// WithQueryFields sets field projection map passed to query execution.
func WithQueryFields(fields map[string]any) QueryOption {
	return func(o *QueryOptions) { o.req.Fields = fields }
}

// WithQueryEngine forces query execution engine ("auto", "index", or "scan").
func WithQueryEngine(engine string) QueryOption {
	return func(o *QueryOptions) { o.Engine = engine }
}

// WithQueryEngineAuto explicitly selects the auto engine.
func WithQueryEngineAuto() QueryOption { return WithQueryEngine(api.EngineAuto) }

// WithQueryEngineIndex selects the secondary index engine.
func WithQueryEngineIndex() QueryOption { return WithQueryEngine(api.EngineIndex) }

// WithQueryEngineScan selects the scan engine.
func WithQueryEngineScan() QueryOption { return WithQueryEngine(api.EngineScan) }

// WithQueryRefresh selects refresh policy (for example "wait_for" to block
// until indexed visibility).
func WithQueryRefresh(mode string) QueryOption {
	return func(o *QueryOptions) { o.Refresh = mode }
}

// WithQueryRefreshImmediate clears the refresh hint (default behaviour).
func WithQueryRefreshImmediate() QueryOption { return WithQueryRefresh("") }

// WithQueryRefreshWaitFor waits until documents are visible in the
// selected engine.
func WithQueryRefreshWaitFor() QueryOption { return WithQueryRefresh(queryRefreshWaitFor) }

// WithQueryBlock waits for the queryable view to observe in-flight
// documents. It is refresh=wait_for under the name the CLI uses.
func WithQueryBlock() QueryOption { return WithQueryRefreshWaitFor() }

// WithQueryReturn selects payload mode for /v1/query ("keys" or "documents").
func WithQueryReturn(mode QueryReturn) QueryOption {
	return func(o *QueryOptions) { o.Return = mode }
}

// WithQueryReturnDocuments streams documents as NDJSON rows.
func WithQueryReturnDocuments() QueryOption { return WithQueryReturn(QueryReturnDocuments) }

// WithQueryReturnKeys forces the default keys-only response mode.
func WithQueryReturnKeys() QueryOption { return WithQueryReturn(QueryReturnKeys) }

// WithQueryRequest copies a full QueryRequest into the option set.
// Subsequent WithQuery* options can override individual fields.
func WithQueryRequest(req *api.QueryRequest) QueryOption {
	return func(o *QueryOptions) {
		if req == nil {
			return
		}
		o.req = *req
		o.parseErr = nil
		if req.Return != "" {
			o.Return = QueryReturn(req.Return)
		}
	}
}

// Query executes a selector search within a namespace. Usage is
// option-driven:
//
//	resp, err := cli.Query(ctx,
//		client.WithQueryNamespace("orders"),
//		client.WithQuery(`eq{field=/status,value=open}`),
//		client.WithQueryLimit(20),
//		client.WithQueryReturnDocuments(),
//	)
//
// In documents mode the response streams: call ForEach (or Keys) and then
// Close; Cursor, IndexSeq and Metadata are filled once the stream has been
// read to its end (they travel as HTTP trailers).
func (c *Client) Query(ctx context.Context, optFns ...QueryOption) (*QueryResponse, error) {
	var o QueryOptions
	for _, fn := range optFns {
		if fn != nil {
			fn(&o)
		}
	}
	if o.parseErr != nil {
		return nil, o.parseErr
	}
	req := o.req
	req.Namespace = c.namespaceOr(req.Namespace)
	mode := o.Return
	if mode == "" {
		mode = QueryReturnKeys
	}
	req.Return = api.QueryReturn(mode)
	cl, err := jsonCall("/v1/query", req)
	if err != nil {
		return nil, err
	}
	q := url.Values{"namespace": {req.Namespace}, "return": {string(mode)}}
	if o.Engine != "" {
		q.Set("engine", o.Engine)
	}
	if o.Refresh != "" {
		q.Set("refresh", o.Refresh)
	}
	cl.query = q.Encode()
	cl.retry = true // a query changes nothing, so resending it is safe
	resp, _, err := c.do(ctx, &cl)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", req.Namespace, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		cl.done()
		return nil, fmt.Errorf("query %s: %w", req.Namespace, newAPIError(resp))
	}
	qr := &QueryResponse{Namespace: req.Namespace, mode: mode}
	if got := resp.Header.Get(api.HeaderQueryReturn); got != "" {
		qr.mode = QueryReturn(got)
	}
	if qr.mode == QueryReturnDocuments {
		qr.resp = resp
		qr.body = cl.streamBody(resp)
		qr.rd = bufio.NewReaderSize(qr.body, 64<<10)
		return qr, nil
	}
	defer cl.finish(resp)
	var out api.QueryResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("query %s: decode response: %w", req.Namespace, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	if out.Namespace != "" {
		qr.Namespace = out.Namespace
	}
	qr.keys, qr.Cursor, qr.IndexSeq, qr.Metadata = out.Keys, out.Cursor, out.IndexSeq, out.Metadata
	qr.fillFrom(resp.Header) // the SDK falls back to headers for empty body fields
	return qr, nil
}

// QueryResponse describes the result set returned by Client.Query.
type QueryResponse struct {
	// Namespace scopes the request or response to a lockd namespace.
	Namespace string
	// Cursor is the pagination cursor returned by the query engine.
	Cursor string
	// IndexSeq is the index sequence observed by the query execution.
	IndexSeq uint64
	// Metadata carries metadata values returned by the server for this object.
	Metadata map[string]string

	mode QueryReturn
	keys []string
	// Documents mode: the live stream.
	resp     *http.Response
	body     io.ReadCloser
	rd       *bufio.Reader
	consumed bool
}

// fillFrom completes empty fields from cursor, index sequence and metadata
// headers (keys mode) or trailers (documents mode).
func (qr *QueryResponse) fillFrom(h http.Header) {
	if qr.Cursor == "" {
		qr.Cursor = h.Get(api.HeaderQueryCursor)
	}
	if qr.IndexSeq == 0 {
		qr.IndexSeq, _ = strconv.ParseUint(h.Get(api.HeaderQueryIndexSeq), 10, 64)
	}
	if len(qr.Metadata) == 0 {
		if raw := h.Get(api.HeaderQueryMetadata); raw != "" {
			_ = json.Unmarshal([]byte(raw), &qr.Metadata)
		}
	}
}

// Mode reports whether the query streamed keys or documents.
func (qr *QueryResponse) Mode() QueryReturn { return qr.mode }

// Close releases the underlying reader when the response streams documents.
func (qr *QueryResponse) Close() error {
	if qr.body == nil {
		return nil
	}
	err := qr.body.Close()
	qr.body, qr.consumed = nil, true
	return err
}

// Keys returns a defensive copy of the key slice. When the response streams
// documents, Keys drains the stream, collects the keys, and closes the
// reader.
func (qr *QueryResponse) Keys() []string {
	if qr.mode == QueryReturnDocuments && !qr.consumed {
		_ = qr.ForEach(func(row QueryRow) error {
			qr.keys = append(qr.keys, row.Key)
			return nil
		})
	}
	return append([]string(nil), qr.keys...)
}

// ForEach invokes fn for every entry in the response. For document streams
// the handler receives fully populated QueryRow values; the stream is
// closed when ForEach returns, and an error from fn stops it early.
func (qr *QueryResponse) ForEach(fn func(QueryRow) error) error {
	if qr.mode != QueryReturnDocuments {
		for _, k := range qr.keys {
			if err := fn(QueryRow{Namespace: qr.Namespace, Key: k}); err != nil {
				return err
			}
		}
		return nil
	}
	if qr.consumed {
		return errors.New("lockd: query document stream already consumed")
	}
	defer qr.Close()
	for {
		line, err := qr.rd.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			row, perr := parseQueryRow(line)
			if perr != nil {
				return fmt.Errorf("lockd: query %s: %w", qr.Namespace, perr)
			}
			if row.Namespace == "" {
				row.Namespace = qr.Namespace
			}
			if ferr := fn(row); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			// Trailers are readable only once the body hit EOF.
			qr.fillFrom(qr.resp.Trailer)
			return nil
		}
		if err != nil {
			return fmt.Errorf("lockd: query %s: read rows: %w", qr.Namespace, err)
		}
	}
}

// parseQueryRow decodes one NDJSON row {"ns","key","ver","doc"}.
func parseQueryRow(line []byte) (QueryRow, error) {
	var w struct {
		NS  string          `json:"ns"`
		Key string          `json:"key"`
		Ver int64           `json:"ver"`
		Doc json.RawMessage `json:"doc"`
	}
	if err := json.Unmarshal(line, &w); err != nil {
		return QueryRow{}, fmt.Errorf("decode row: %w", err)
	}
	row := QueryRow{Namespace: w.NS, Key: w.Key, Version: w.Ver}
	if len(w.Doc) > 0 && string(w.Doc) != "null" {
		row.doc, row.hasDoc = []byte(w.Doc), true
	}
	return row, nil
}

// QueryRow represents a single row returned from /v1/query.
type QueryRow struct {
	// Namespace scopes the request or response to a lockd namespace.
	Namespace string
	// Key identifies the lock/state key within the namespace.
	Key string
	// Version is the key version associated with this query row.
	Version int64

	doc    []byte
	hasDoc bool
}

// HasDocument reports whether the row was populated with a document payload.
func (row QueryRow) HasDocument() bool { return row.hasDoc }

// DocumentReader returns a streaming reader for the row's document. Callers
// must Close the returned reader when finished.
func (row QueryRow) DocumentReader() (io.ReadCloser, error) {
	if !row.hasDoc {
		return nil, fmt.Errorf("lockd: query row %s/%s carries no document (use WithQueryReturnDocuments)", row.Namespace, row.Key)
	}
	return io.NopCloser(bytes.NewReader(row.doc)), nil
}

// DocumentInto unmarshals the document payload into target when present.
func (row QueryRow) DocumentInto(target any) error {
	if !row.hasDoc {
		return fmt.Errorf("lockd: query row %s/%s carries no document (use WithQueryReturnDocuments)", row.Namespace, row.Key)
	}
	if err := json.Unmarshal(row.doc, target); err != nil {
		return fmt.Errorf("lockd: decode document of %s/%s: %w", row.Namespace, row.Key, err)
	}
	return nil
}

// FlushIndexOptions customises index flush behaviour.
type FlushIndexOptions struct {
	// Mode accepts "async" (default) or "wait" for synchronous completion.
	Mode string
}

// FlushOption customises FlushIndex behaviour.
type FlushOption func(*FlushIndexOptions)

// WithFlushModeAsync schedules FlushIndex asynchronously and returns
// immediately.
func WithFlushModeAsync() FlushOption {
	return func(o *FlushIndexOptions) { o.Mode = "async" }
}

// WithFlushModeWait forces FlushIndex to block until indexing catches up.
func WithFlushModeWait() FlushOption {
	return func(o *FlushIndexOptions) { o.Mode = "wait" }
}

// FlushIndex forces the namespace index writer to flush pending documents.
func (c *Client) FlushIndex(ctx context.Context, namespace string, optFns ...FlushOption) (*api.IndexFlushResponse, error) {
	o := FlushIndexOptions{Mode: "async"}
	for _, fn := range optFns {
		if fn != nil {
			fn(&o)
		}
	}
	ns := c.namespaceOr(namespace)
	cl, err := jsonCall("/v1/index/flush", api.IndexFlushRequest{Namespace: ns, Mode: strings.ToLower(o.Mode)})
	if err != nil {
		return nil, err
	}
	cl.query = "namespace=" + url.QueryEscape(ns)
	cl.retry = true // flushing twice is harmless
	var out api.IndexFlushResponse
	if _, _, err := c.doJSON(ctx, &cl, &out); err != nil {
		return nil, fmt.Errorf("flush index %s: %w", ns, err)
	}
	return &out, nil
}

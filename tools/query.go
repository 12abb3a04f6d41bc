package tools

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"

	"github.com/lockd-mcp/lockd-mcp/client"
)

// queryToolset holds LQL queries and the index flush.
func queryToolset() Toolset {
	return Toolset{
		Name:        "query",
		Description: "LQL selector queries over committed state.",
		Read: []Tool{
			newTool("lockd_query", "lockd.query",
				`Keys whose state matches an LQL selector, e.g. /status="open". Page with cursor.`,
				Annotations{ReadOnly: true, Idempotent: true}, queryKeys),
			newTool("lockd_query_stream", "lockd.query.stream",
				"lockd_query returning documents: inline rows, or NDJSON to output_path.",
				Annotations{ReadOnly: true, Idempotent: true}, queryStream),
		},
		Write: []Tool{
			newTool("lockd_index_flush", "lockd.index.flush",
				"Flush the namespace index so recent writes are queryable.",
				Annotations{Idempotent: true}, indexFlush),
		},
	}
}

// QueryArgs are the arguments of lockd_query.
type QueryArgs struct {
	Query     string         `json:"query" jsonschema:"required" jsonschema_description:"LQL selector; empty matches all."`
	Namespace string         `json:"namespace,omitempty"`
	Limit     int            `json:"limit,omitempty" jsonschema:"minimum=1,maximum=1000" jsonschema_description:"Default 100."`
	Cursor    string         `json:"cursor,omitempty"`
	Engine    string         `json:"engine,omitempty" jsonschema:"enum=auto,enum=index,enum=scan"`
	Refresh   string         `json:"refresh,omitempty" jsonschema:"enum=wait_for" jsonschema_description:"Wait for recent writes."`
	Fields    map[string]any `json:"fields,omitempty"`
}

// QueryResult is one page of keys.
type QueryResult struct {
	Namespace string            `json:"namespace"`
	Keys      []string          `json:"keys"`
	Cursor    string            `json:"cursor,omitempty"`
	IndexSeq  uint64            `json:"index_seq,omitempty"`
	Metadata  map[string]string `json:"metadata,omitempty"`
}

func (a QueryArgs) options(ns string) []client.QueryOption {
	opts := []client.QueryOption{client.WithQueryNamespace(ns), client.WithQuery(a.Query)}
	if a.Limit > 0 {
		opts = append(opts, client.WithQueryLimit(a.Limit))
	}
	if a.Cursor != "" {
		opts = append(opts, client.WithQueryCursor(a.Cursor))
	}
	if a.Engine != "" {
		opts = append(opts, client.WithQueryEngine(a.Engine))
	}
	if a.Refresh != "" {
		opts = append(opts, client.WithQueryRefresh(a.Refresh))
	}
	if len(a.Fields) > 0 {
		opts = append(opts, client.WithQueryFields(a.Fields))
	}
	return opts
}

func queryKeys(ctx context.Context, d *Deps, a QueryArgs) (QueryResult, error) {
	ns := d.ns(a.Namespace)
	resp, err := d.Client.Query(ctx, append(a.options(ns), client.WithQueryReturnKeys())...)
	if err != nil {
		return QueryResult{}, err
	}
	defer resp.Close()
	keys := resp.Keys()
	if keys == nil {
		keys = []string{}
	}
	return QueryResult{Namespace: ns, Keys: keys, Cursor: resp.Cursor, IndexSeq: resp.IndexSeq, Metadata: resp.Metadata}, nil
}

// QueryStreamArgs are the arguments of lockd_query_stream.
type QueryStreamArgs struct {
	QueryArgs
	OutputPath string `json:"output_path,omitempty"`
}

// QueryRow is one inline document row.
type QueryRow struct {
	Key      string          `json:"key"`
	Version  int64           `json:"version"`
	Document json.RawMessage `json:"document"`
}

// QueryStreamResult is one page of documents. truncated means the page was
// cut short to fit the inline limit; cursor still continues right after the
// last row returned, so paging loses nothing.
type QueryStreamResult struct {
	Namespace             string            `json:"namespace"`
	Rows                  []QueryRow        `json:"rows"`
	RowCount              int               `json:"row_count"`
	Truncated             bool              `json:"truncated,omitempty"`
	Cursor                string            `json:"cursor,omitempty"`
	IndexSeq              uint64            `json:"index_seq,omitempty"`
	Metadata              map[string]string `json:"metadata,omitempty"`
	OutputPath            string            `json:"output_path,omitempty"`
	BytesWritten          int64             `json:"bytes_written,omitempty"`
	DownloadURL           string            `json:"download_url,omitempty"`
	DownloadMethod        string            `json:"download_method,omitempty"`
	DownloadExpiresAtUnix int64             `json:"download_expires_at_unix,omitempty"`
}

// ndjsonRow is the NDJSON line written to output_path.
type ndjsonRow struct {
	Namespace string          `json:"ns"`
	Key       string          `json:"key"`
	Version   int64           `json:"ver,omitempty"`
	Document  json.RawMessage `json:"doc"`
}

func queryStream(ctx context.Context, d *Deps, a QueryStreamArgs) (QueryStreamResult, error) {
	ns := d.ns(a.Namespace)
	if a.OutputPath != "" {
		return queryToFile(ctx, d, a, ns)
	}
	// Cursors are opaque (a real lockd makes its own), so a page cut short
	// cannot be resumed from its last row with the server's cursor, which
	// points past the rows that were dropped. The page is asked for again
	// with the limit set to the rows that fit: the server then hands back a
	// cursor that resumes exactly after them. A page that still overflows
	// (documents grew meanwhile) shrinks again.
	for shrunk := false; ; shrunk = true {
		res, full, err := queryInline(ctx, d, a.QueryArgs, ns)
		if err != nil {
			return res, err
		}
		if !full {
			res.Truncated = shrunk
			return res, nil
		}
		if len(res.Rows) == 0 {
			return QueryStreamResult{}, failf("the next matching document is larger than the inline limit of %d bytes; pass output_path to write the rows to a file", d.Config.InlineMaxBytes)
		}
		a.Limit = len(res.Rows)
	}
}

// errInlineFull stops reading rows once the inline budget is spent.
var errInlineFull = errors.New("inline limit reached")

// queryInline reads one page of documents into the result, up to the inline
// limit. full reports that a row did not fit: the rows returned are
// complete, the result's cursor is not usable.
func queryInline(ctx context.Context, d *Deps, a QueryArgs, ns string) (res QueryStreamResult, full bool, err error) {
	resp, err := d.Client.Query(ctx, append(a.options(ns), client.WithQueryReturnDocuments())...)
	if err != nil {
		return QueryStreamResult{}, false, err
	}
	defer resp.Close()
	res = QueryStreamResult{Namespace: ns, Rows: []QueryRow{}}
	var inline int64
	err = resp.ForEach(func(row client.QueryRow) error {
		doc, err := readDocument(row)
		if err != nil {
			return err
		}
		inline += int64(len(doc) + len(row.Key))
		if inline > d.Config.InlineMaxBytes {
			return errInlineFull
		}
		res.Rows = append(res.Rows, QueryRow{Key: row.Key, Version: row.Version, Document: doc})
		return nil
	})
	switch {
	case errors.Is(err, errInlineFull):
		full = true
	case err != nil:
		return QueryStreamResult{}, false, err
	default:
		res.Cursor, res.IndexSeq, res.Metadata = resp.Cursor, resp.IndexSeq, resp.Metadata
	}
	res.RowCount = len(res.Rows)
	return res, full, nil
}

// queryToFile writes one page of documents to output_path as NDJSON.
func queryToFile(ctx context.Context, d *Deps, a QueryStreamArgs, ns string) (QueryStreamResult, error) {
	path, err := d.Roots.WritePath("output_path", a.OutputPath)
	if err != nil {
		return QueryStreamResult{}, err
	}
	out, err := os.Create(path)
	if err != nil {
		return QueryStreamResult{}, failf("argument output_path: %v", err)
	}
	defer out.Close()
	resp, err := d.Client.Query(ctx, append(a.options(ns), client.WithQueryReturnDocuments())...)
	if err != nil {
		return QueryStreamResult{}, err
	}
	defer resp.Close()
	res := QueryStreamResult{Namespace: ns, Rows: []QueryRow{}, OutputPath: path}
	cw := &countingWriter{w: out}
	w := bufio.NewWriterSize(cw, 64<<10)
	err = resp.ForEach(func(row client.QueryRow) error {
		doc, err := readDocument(row)
		if err != nil {
			return err
		}
		res.RowCount++
		line, err := json.Marshal(ndjsonRow{Namespace: row.Namespace, Key: row.Key, Version: row.Version, Document: doc})
		if err != nil {
			return err
		}
		_, err = w.Write(append(line, '\n'))
		return err
	})
	if err != nil {
		return QueryStreamResult{}, err
	}
	if err := w.Flush(); err != nil {
		return QueryStreamResult{}, failf("writing output_path: %v", err)
	}
	res.BytesWritten = cw.n
	res.Cursor, res.IndexSeq, res.Metadata = resp.Cursor, resp.IndexSeq, resp.Metadata
	return res, nil
}

func readDocument(row client.QueryRow) (json.RawMessage, error) {
	if !row.HasDocument() {
		return json.RawMessage("null"), nil
	}
	r, err := row.DocumentReader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return data, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// IndexFlushArgs are the arguments of lockd_index_flush.
type IndexFlushArgs struct {
	Namespace string `json:"namespace,omitempty"`
	Mode      string `json:"mode,omitempty" jsonschema:"enum=wait,enum=async" jsonschema_description:"Default wait."`
}

// IndexFlushResult is the flush outcome.
type IndexFlushResult struct {
	Namespace string `json:"namespace"`
	Mode      string `json:"mode"`
	Accepted  bool   `json:"accepted"`
	Flushed   bool   `json:"flushed"`
	Pending   bool   `json:"pending"`
	IndexSeq  uint64 `json:"index_seq,omitempty"`
	FlushID   string `json:"flush_id,omitempty"`
}

func indexFlush(ctx context.Context, d *Deps, a IndexFlushArgs) (IndexFlushResult, error) {
	ns := d.ns(a.Namespace)
	opt := client.WithFlushModeWait()
	if a.Mode == "async" {
		opt = client.WithFlushModeAsync()
	}
	r, err := d.Client.FlushIndex(ctx, ns, opt)
	if err != nil {
		return IndexFlushResult{}, err
	}
	return IndexFlushResult{Namespace: r.Namespace, Mode: r.Mode, Accepted: r.Accepted, Flushed: r.Flushed, Pending: r.Pending, IndexSeq: r.IndexSeq, FlushID: r.FlushID}, nil
}

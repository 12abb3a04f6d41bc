package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/internal/engine"
	"github.com/lockd-mcp/lockd-mcp/internal/query"
	"github.com/lockd-mcp/lockd-mcp/lql"
)

// Body limits of the query endpoints (WIRE §5.1, §5.2).
const (
	queryBodyMax = 1 << 20
	flushBodyMax = 8 << 10
	// rowsPerFlush is how many NDJSON rows go out between flushes.
	rowsPerFlush = 16
)

var hdrQueryTrailers = []string{api.HeaderQueryCursor + ", " + api.HeaderQueryIndexSeq + ", " + api.HeaderQueryMetadata}

func queryFail(code, detail string) error {
	return &engine.Error{ErrorResponse: api.ErrorResponse{ErrorCode: code, Detail: detail}}
}

// queryRequest decodes /v1/query: the optional, leniently decoded body,
// overridden by the query string (WIRE §5.1).
func (s *server) queryRequest(w http.ResponseWriter, r *http.Request) (query.Request, error) {
	// The selector is decoded on its own so that a bad one is reported as
	// invalid_selector rather than invalid_body.
	var wire struct {
		api.QueryRequest
		Selector json.RawMessage `json:"selector"`
	}
	if err := decodeJSON(http.MaxBytesReader(w, r.Body, queryBodyMax), &wire, false, true); err != nil {
		return query.Request{}, err
	}
	body := wire.QueryRequest
	if len(wire.Selector) > 0 && string(wire.Selector) != "null" {
		if err := json.Unmarshal(wire.Selector, &body.Selector); err != nil {
			return query.Request{}, queryFail(api.ErrCodeInvalidSelector, "selector: "+err.Error())
		}
	}
	params := r.URL.Query()
	pick := func(name, fallback string) string {
		if v, ok := params[name]; ok && len(v) > 0 {
			return v[0]
		}
		return fallback
	}
	req := query.Request{Selector: body.Selector, Limit: body.Limit, Cursor: pick("cursor", body.Cursor)}
	ns, err := s.namespace(pick("namespace", body.Namespace))
	if err != nil {
		return req, err
	}
	req.Namespace = ns
	if v := params.Get("limit"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			req.Limit = n // an unparsable limit is ignored, as on lockd
		}
	}
	switch raw := params.Get("selector"); {
	case raw != "":
		var sel lql.Selector
		if err := json.Unmarshal([]byte(raw), &sel); err != nil {
			return req, queryFail(api.ErrCodeInvalidSelector, "selector parameter: "+err.Error())
		}
		req.Selector = sel
	case body.Selector.IsEmpty():
		sel, err := lql.ParseSelectorValues(params)
		if err != nil {
			return req, queryFail(api.ErrCodeInvalidSelector, err.Error())
		}
		req.Selector = sel
	}
	fields := body.Fields
	if raw := params.Get("fields"); raw != "" {
		fields = nil
		if err := json.Unmarshal([]byte(raw), &fields); err != nil {
			return req, queryFail(api.ErrCodeInvalidFields, "fields must be a JSON object: "+err.Error())
		}
	}
	for path, v := range fields {
		if b, ok := v.(bool); ok && !b {
			continue // {"/x": false} excludes nothing and includes nothing
		}
		req.Fields = append(req.Fields, path)
	}
	slices.Sort(req.Fields)
	switch e := strings.ToLower(params.Get("engine")); e {
	case "", api.EngineAuto, api.EngineIndex, api.EngineScan:
		req.Engine = e
	default:
		return req, queryFail(api.ErrCodeInvalidEngine, "engine "+strconv.Quote(e)+": use auto, index or scan")
	}
	switch rf := params.Get("refresh"); rf {
	case "":
	case "wait_for", "wait-for":
		req.WaitFor = true
	default:
		return req, queryFail(api.ErrCodeInvalidRefresh, "refresh "+strconv.Quote(rf)+": use wait_for or leave it out")
	}
	switch ret := strings.ToLower(pick("return", string(body.Return))); ret {
	case "", string(api.QueryReturnKeys):
	case string(api.QueryReturnDocuments), "document", "docs":
		req.Documents = true
	default:
		return req, queryFail(api.ErrCodeInvalidReturn, "return "+strconv.Quote(ret)+": use keys or documents")
	}
	return req, nil
}

func (s *server) handleQuery(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		s.fail(w, r, api.ErrCodeMethodNotAllowed, "method "+r.Method+" not allowed: use POST")
		return
	}
	req, err := s.queryRequest(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.drainUntil.Load() != 0 {
		s.writeError(w, r, engine.ErrDraining)
		return
	}
	if req.Documents {
		s.queryDocuments(w, r, req)
		return
	}
	var keys []string
	res, err := s.eng.Query(r.Context(), req, func(row query.Row) error {
		keys = append(keys, row.Key)
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	h[api.HeaderQueryReturn] = []string{string(api.QueryReturnKeys)}
	setQueryMeta(h, res)
	writeJSON(w, http.StatusOK, &api.QueryResponse{Namespace: req.Namespace, Keys: keys,
		Cursor: res.Cursor, IndexSeq: res.IndexSeq, Metadata: res.Metadata})
}

// setQueryMeta sets the cursor, index sequence and metadata headers (or
// trailers, once the body has started).
func setQueryMeta(h http.Header, res query.Result) {
	if res.Cursor != "" {
		h[api.HeaderQueryCursor] = []string{res.Cursor}
	}
	if res.IndexSeq > 0 {
		h[api.HeaderQueryIndexSeq] = []string{strconv.FormatUint(res.IndexSeq, 10)}
	}
	meta, _ := json.Marshal(res.Metadata)
	h[api.HeaderQueryMetadata] = []string{string(meta)}
}

// queryDocuments streams NDJSON rows {"ns","key","ver","doc"} (fields in
// exactly that order: the SDK parses them positionally), flushing every
// rowsPerFlush rows; cursor, index_seq and metadata follow as trailers.
func (s *server) queryDocuments(w http.ResponseWriter, r *http.Request, req query.Request) {
	flusher, _ := w.(http.Flusher)
	nsJSON, _ := json.Marshal(req.Namespace)
	started := false
	start := func() {
		h := w.Header()
		h["Content-Type"] = []string{"application/x-ndjson"}
		h[api.HeaderQueryReturn] = []string{string(api.QueryReturnDocuments)}
		h["Trailer"] = hdrQueryTrailers
		w.WriteHeader(http.StatusOK)
		started = true
	}
	var line bytes.Buffer
	rows := 0
	res, err := s.eng.Query(r.Context(), req, func(row query.Row) error {
		if !started {
			start()
		}
		line.Reset()
		line.WriteString(`{"ns":`)
		line.Write(nsJSON)
		line.WriteString(`,"key":`)
		kb, _ := json.Marshal(row.Key)
		line.Write(kb)
		if row.Version != 0 {
			line.WriteString(`,"ver":`)
			line.WriteString(strconv.FormatInt(row.Version, 10))
		}
		line.WriteString(`,"doc":`)
		line.Write(bytes.TrimSpace(row.Doc))
		line.WriteString("}\n")
		if _, err := w.Write(line.Bytes()); err != nil {
			return err
		}
		rows++
		if rows%rowsPerFlush == 0 && flusher != nil {
			flusher.Flush()
		}
		return nil
	})
	if err != nil {
		if !started {
			s.writeError(w, r, err)
			return
		}
		// Rows are out: all we can do is end the stream short (WIRE §5.1).
		s.log.Warn("query stream aborted", "namespace", req.Namespace, "rows", rows, "err", err)
		return
	}
	if !started {
		start()
	}
	setQueryMeta(w.Header(), res)
}

func (s *server) handleIndexFlush(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		s.fail(w, r, api.ErrCodeMethodNotAllowed, "method "+r.Method+" not allowed: use POST")
		return
	}
	var req api.IndexFlushRequest
	if err := decodeJSON(http.MaxBytesReader(w, r.Body, flushBodyMax), &req, true, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	params := r.URL.Query()
	if v := params.Get("namespace"); v != "" {
		req.Namespace = v
	}
	if v, ok := params["mode"]; ok && len(v) > 0 {
		req.Mode = v[0]
	}
	var async bool
	switch strings.ToLower(req.Mode) {
	case "", "wait", "sync":
	case "async":
		async = true
	default:
		s.fail(w, r, api.ErrCodeInvalidMode, "mode "+strconv.Quote(req.Mode)+": use wait or async")
		return
	}
	ns, err := s.namespace(req.Namespace)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp, err := s.eng.FlushIndex(r.Context(), ns, async)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if async {
		status = http.StatusAccepted
	}
	writeJSON(w, status, &resp)
}

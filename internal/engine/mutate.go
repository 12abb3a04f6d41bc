package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/lockd-mcp/lockd-mcp/api"
)

// MutateStats are the diagnostic counters of a mutate (X-Lockd-Mutate-*).
type MutateStats struct {
	BytesRead, BytesWritten int64
}

// Mutate applies fn to the lease-visible document ({} when there is none)
// and stages the result like an update. fn receives the document decoded
// with json.Number, so numbers keep their exact text unless changed. The
// result must fit maxBytes (413 document_too_large).
func (e *Engine) Mutate(ctx context.Context, ref LeaseRef, cond WriteConditions, maxBytes int64, fn func(doc map[string]any) error) (UpdateResult, MutateStats, error) {
	var stats MutateStats
	ent := e.entry(keyID{ref.Namespace, ref.Key}, false)
	if ent == nil {
		return UpdateResult{}, stats, leaseRequired()
	}
	ent.mu.Lock()
	if err := checkWriteLocked(ent, ref, cond, nowNanos()); err != nil {
		ent.mu.Unlock()
		return UpdateResult{}, stats, err
	}
	_, baseETag := viewLocked(&ent.rec, ref.TxnID)
	blob := ent.rec.Blob
	if st := ent.rec.Staged; st.present() && st.TxnID == ref.TxnID {
		switch {
		case st.State:
			blob = st.Blob
		case st.Remove:
			blob.ID = ""
		}
	}
	var rc io.ReadCloser
	if blob.ID != "" {
		var err error
		if rc, err = e.store.OpenBlob(ctx, blob); err != nil {
			ent.mu.Unlock()
			return UpdateResult{}, stats, fmt.Errorf("engine: open document: %w", err)
		}
	}
	ent.mu.Unlock()

	doc := map[string]any{}
	if rc != nil {
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return UpdateResult{}, stats, fmt.Errorf("engine: read document: %w", err)
		}
		stats.BytesRead = int64(len(data))
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return UpdateResult{}, stats, fmt.Errorf("engine: decode stored document: %w", err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return UpdateResult{}, stats, newError(api.ErrCodeInvalidMutations, "mutations apply to JSON objects; the current document is a %T: replace it with /v1/update", v)
		}
		doc = m
	}
	if err := fn(doc); err != nil {
		return UpdateResult{}, stats, newError(api.ErrCodeInvalidMutations, "%v", err)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return UpdateResult{}, stats, newError(api.ErrCodeInvalidMutations, "result is not valid JSON: %v", err)
	}
	result := bytes.TrimSuffix(out.Bytes(), []byte("\n"))
	if int64(len(result)) > maxBytes {
		return UpdateResult{}, stats, newError(api.ErrCodeDocumentTooLarge, "mutated document has %d bytes, over the JSON size limit of %d", len(result), maxBytes)
	}
	stats.BytesWritten = int64(len(result))
	written, err := e.writeDocument(ctx, bytes.NewReader(result), maxBytes, nil, -1)
	if err != nil {
		return UpdateResult{}, stats, err
	}
	// The document may not have changed since it was read: the etag the
	// result was computed from must still be the caller's view.
	cond.IfETag = baseETag
	if baseETag == "" {
		cond.IfETag = ""
	}
	res, err := e.stageDocument(ctx, ent, ref, cond, written)
	if err != nil {
		e.freeBlob(ctx, written.ref)
	}
	return res, stats, err
}

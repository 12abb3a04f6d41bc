package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/lockd-mcp/lockd-mcp/api"
)

// MutateStats are the diagnostic counters of a mutate (X-Lockd-Mutate-*).
type MutateStats struct {
	BytesRead, BytesWritten int64
}

// MutateFunc writes the mutated document to out while it reads the current
// one from cur (a JSON object; {} when the key has none). It streams: the
// document is never held whole, whatever its size. An error it returns
// becomes invalid_mutations.
type MutateFunc func(ctx context.Context, cur io.Reader, out io.Writer) error

// errAbandoned stops a mutate's writer when the staging side failed first.
var errAbandoned = errors.New("engine: mutate result abandoned")

// Mutate runs fn over the lease-visible document and stages the result like
// an update. The result must fit maxBytes (413 document_too_large).
func (e *Engine) Mutate(ctx context.Context, ref LeaseRef, cond WriteConditions, maxBytes int64, fn MutateFunc) (UpdateResult, MutateStats, error) {
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
	cur := io.NopCloser(strings.NewReader("{}"))
	if blob.ID != "" {
		var err error
		if cur, err = e.store.OpenBlob(ctx, blob); err != nil {
			ent.mu.Unlock()
			return UpdateResult{}, stats, fmt.Errorf("engine: open document: %w", err)
		}
	}
	ent.mu.Unlock()
	defer cur.Close()

	in := &countingReader{r: bufio.NewReaderSize(cur, readChunk)}
	// Stored documents are compact, so the first byte names the root.
	if first, err := in.r.(*bufio.Reader).Peek(1); err != nil {
		return UpdateResult{}, stats, fmt.Errorf("engine: read document: %w", err)
	} else if first[0] != '{' {
		return UpdateResult{}, stats, newError(api.ErrCodeInvalidMutations, "mutations apply to JSON objects; the current document is not one: replace it with /v1/update")
	}

	// fn writes into a pipe that writeDocument drains, so the result is
	// validated, hashed and stored as it is produced.
	pr, pw := io.Pipe()
	out := &limitWriter{w: pw, max: maxBytes + 1} // + the newline a stream may end with
	fnErr := make(chan error, 1)
	go func() {
		err := fn(ctx, in, out)
		pw.CloseWithError(err)
		fnErr <- err
	}()
	written, err := e.writeDocument(ctx, pr, maxBytes+1, nil, -1)
	pr.CloseWithError(errAbandoned)
	ferr := <-fnErr
	stats.BytesRead, stats.BytesWritten = in.n, out.n
	if ferr != nil || out.over {
		if err == nil {
			e.freeBlob(ctx, written.ref)
		}
		switch {
		case out.over:
			return UpdateResult{}, stats, newError(api.ErrCodeDocumentTooLarge, "mutated document exceeds the JSON size limit of %d bytes", maxBytes)
		case errors.Is(ferr, errAbandoned):
			// writeDocument failed first; its error is the one to report.
		case ctx.Err() != nil:
			return UpdateResult{}, stats, ctx.Err()
		default:
			return UpdateResult{}, stats, newError(api.ErrCodeInvalidMutations, "%v", ferr)
		}
	}
	if err != nil {
		return UpdateResult{}, stats, err
	}
	stats.BytesWritten = written.ref.Size
	// The document may not have changed since it was read: the etag the
	// result was computed from must still be the caller's view.
	cond.IfETag = baseETag
	res, err := e.stageDocument(ctx, ent, ref, cond, written)
	if err != nil {
		e.freeBlob(ctx, written.ref)
	}
	return res, stats, err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// limitWriter fails writes once more than max bytes went through.
type limitWriter struct {
	w    io.Writer
	max  int64
	n    int64
	over bool
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n+int64(len(p)) > l.max {
		l.over = true
		return 0, errTooLarge
	}
	n, err := l.w.Write(p)
	l.n += int64(n)
	return n, err
}

var errTooLarge = errors.New("engine: mutated document too large")

package query

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/lockd-mcp/lockd-mcp/lql"
)

// Matcher decides whether one committed document matches a selector. It
// is the reference every engine defers to: the scan engine runs it on every
// document, the index engine on the candidates it cannot decide itself.
// Selectors are passed simplified (lql.Simplify).
type Matcher func(sel *lql.Selector, doc []byte) (bool, error)

// MatchLQL is the default Matcher, an adapter over lql's in-memory
// evaluator: lql.Matches on the document decoded with numbers kept as their
// source text, which is the lockd semantics (spec §2.2). For documents of a
// few KiB this is about twice as fast as lql's streaming MatchReader, which
// the engines use instead for documents too large to hold (streamThreshold).
//
// Streaming semantics apply to documents that are not JSON objects: only a
// selector that simplifies to the empty selector matches them (spec §2.1,
// §7.2).
func MatchLQL(sel *lql.Selector, doc []byte) (bool, error) {
	if sel.IsEmpty() {
		return true, nil
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return false, fmt.Errorf("query: decode document: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return false, fmt.Errorf("query: decode document: trailing data")
	}
	return lql.MatchesValue(*sel, v), nil
}

// streamThreshold is the document size above which keys-mode matching
// streams the document through lql.MatchReader instead of decoding it.
const streamThreshold = 1 << 20

// matchStream is the streaming counterpart of MatchLQL.
func matchStream(ctx context.Context, sel *lql.Selector, r io.Reader) (bool, error) {
	if sel.IsEmpty() {
		return true, nil
	}
	return lql.MatchReaderContext(ctx, *sel, r)
}

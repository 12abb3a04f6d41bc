package query

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/lockd-mcp/lockd-mcp/lql"
)

// Matcher decides whether one committed document matches a selector. It
// is the reference every engine defers to: the scan engine runs it on every
// document, the index engine on the candidates it cannot decide itself.
type Matcher func(sel *lql.Selector, doc []byte) (bool, error)

// MatchLQL is the default Matcher, an adapter over lql's in-memory
// evaluator (lql.Matches on a document decoded with numbers kept as their
// source text, which is the lockd semantics of spec §2.2).
//
// Streaming semantics apply to documents that are not JSON objects: only a
// selector that simplifies to the empty selector matches them (spec §2.1,
// §7.2). Callers pass selectors already simplified, so that test is cheap.
func MatchLQL(sel *lql.Selector, doc []byte) (bool, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return false, fmt.Errorf("query: decode document: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return false, fmt.Errorf("query: decode document: trailing data")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return sel.IsEmpty(), nil
	}
	return lql.Matches(*sel, m), nil
}

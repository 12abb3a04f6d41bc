package lql

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"
)

// ErrStop, returned (or wrapped) by a streaming callback, ends the stream
// gracefully: no error is reported and the result says why it stopped.
var ErrStop = errors.New("lql: stop streaming")

// Stop reasons reported in QueryResult.StopReason.
const (
	StopCallback  = "callback_stop"
	StopMatches   = "match_limit"
	StopCandidate = "candidate_limit"
	StopBytes     = "byte_limit"
)

// Decision is the verdict on one candidate of a query stream.
type Decision struct {
	Matched bool
	Offset  int64 // stream offset of the candidate's first byte
	Size    int64 // bytes from the first byte to the closing token
}

// QueryOptions configures QueryStream. Zero limits mean unlimited.
type QueryOptions struct {
	MaxMatches        int
	MaxCandidates     int
	MaxBytesRead      int64
	MaxCandidateBytes int64
	// OnDecision runs for every candidate.
	OnDecision func(Decision) error
	// OnValue runs after OnDecision with the candidate's exact bytes,
	// which are valid only during the call. Setting it makes the engine
	// keep each candidate's bytes in memory while it is scanned; leave it
	// nil for flat memory.
	OnValue func(Decision, []byte) error
	// MatchedOnly skips OnValue for candidates that did not match.
	MatchedOnly bool
	// Now is the clock for date.since macros, resolved once per stream;
	// zero means time.Now().
	Now time.Time
}

// QueryResult summarises a query stream.
type QueryResult struct {
	Candidates   int
	Matched      int
	BytesRead    int64
	StoppedEarly bool
	StopReason   string
	LastOffset   int64
}

// QueryStream evaluates sel over a stream of JSON values (NDJSON, values
// written back to back, or top-level arrays, whose elements are the
// candidates; spec §7.1-§7.2) without decoding them: each candidate is
// tokenised once, subtrees no clause can reach are skipped unparsed, and
// only scalars a clause resolves to are decoded. Memory stays flat however
// large a candidate is (unless OnValue is set).
//
// A candidate matches when sel is empty (it then matches scalars too) or
// when it is an object that satisfies sel; the verdicts equal Matches on
// the same document decoded with UseNumber. sel is validated first
// (invalid_selector); malformed input fails with invalid_body. Errors are
// *StreamError unless a callback returned its own error.
func QueryStream(ctx context.Context, r io.Reader, sel Selector, opts QueryOptions) (QueryResult, error) {
	var res QueryResult
	plan, err := compileQuery(sel, opts.Now)
	if err != nil {
		return res, err
	}
	sc := newScanner(ctx, r)
	var capture []byte
	err = forEachCandidate(sc, true, func(c byte) (bool, error) {
		start := sc.offset()
		var matched bool
		var err error
		if opts.OnValue != nil {
			matched, capture, err = plan.evalCaptured(sc, c, capture[:0])
		} else {
			matched, err = plan.eval(sc, c)
		}
		if err != nil {
			return false, err
		}
		d := Decision{Matched: matched, Offset: start, Size: sc.offset() - start}
		res.Candidates++
		res.LastOffset = start
		if matched {
			res.Matched++
		}
		if opts.MaxCandidateBytes > 0 && d.Size > opts.MaxCandidateBytes {
			return false, &StreamError{Code: CodeDocumentTooLarge, Detail: "candidate exceeds size limit", Offset: start}
		}
		if opts.OnDecision != nil {
			if err := opts.OnDecision(d); err != nil {
				return stopOr(&res, err)
			}
		}
		if opts.OnValue != nil && (matched || !opts.MatchedOnly) {
			if err := opts.OnValue(d, capture); err != nil {
				return stopOr(&res, err)
			}
		}
		res.BytesRead = sc.offset()
		switch {
		case opts.MaxMatches > 0 && res.Matched >= opts.MaxMatches:
			res.StoppedEarly, res.StopReason = true, StopMatches
		case opts.MaxCandidates > 0 && res.Candidates >= opts.MaxCandidates:
			res.StoppedEarly, res.StopReason = true, StopCandidate
		case opts.MaxBytesRead > 0 && res.BytesRead >= opts.MaxBytesRead:
			res.StoppedEarly, res.StopReason = true, StopBytes
		}
		return !res.StoppedEarly, nil
	})
	res.BytesRead = sc.offset()
	return res, err
}

func stopOr(res *QueryResult, err error) (bool, error) {
	if errors.Is(err, ErrStop) {
		res.StoppedEarly, res.StopReason = true, StopCallback
		return false, nil
	}
	return false, err
}

// MatchReader reports whether the single JSON value read from r satisfies
// sel, with the same verdict as MatchesValue on the decoded value: only an
// object can match. The value is streamed, never decoded as a whole, so r
// may hold a document of any size. Trailing non-whitespace input is an
// invalid_body error.
func MatchReader(sel Selector, r io.Reader) (bool, error) {
	return MatchReaderContext(context.Background(), sel, r)
}

// MatchReaderContext is MatchReader with cancellation.
func MatchReaderContext(ctx context.Context, sel Selector, r io.Reader) (bool, error) {
	plan, err := compileQuery(sel, time.Time{})
	if err != nil {
		return false, err
	}
	sc := newScanner(ctx, r)
	c, ok := sc.peek()
	if !ok {
		if sc.rerr != nil {
			return false, sc.fail("")
		}
		return false, &StreamError{Code: CodeInvalidBody, Detail: "input is empty", Offset: 0}
	}
	var matched bool
	if c == '{' {
		matched, err = plan.eval(sc, c)
	} else {
		err = sc.skipValue()
	}
	if err != nil {
		return false, err
	}
	if c, ok := sc.peek(); ok {
		return false, sc.fail("unexpected trailing token %q", c)
	}
	if sc.rerr != nil {
		return false, sc.fail("")
	}
	return matched, nil
}

// forEachCandidate frames the input (spec §7.1): every top-level value is a
// candidate, except that top-level arrays (and arrays directly inside
// them, recursively) are flattened when flatten is set. fn is called with
// the scanner at the candidate's first byte and must consume it; it
// returns false to stop.
func forEachCandidate(sc *scanner, flatten bool, fn func(first byte) (bool, error)) error {
	for {
		c, ok := sc.peek()
		if !ok {
			if sc.rerr != nil {
				return sc.fail("")
			}
			return nil
		}
		if flatten && c == '[' {
			more, err := flattenArray(sc, 1, fn)
			if err != nil || !more {
				return err
			}
			continue
		}
		more, err := fn(c)
		if err != nil || !more {
			return err
		}
	}
}

func flattenArray(sc *scanner, depth int, fn func(first byte) (bool, error)) (bool, error) {
	if depth > maxNesting {
		return false, sc.fail("nesting deeper than %d", maxNesting)
	}
	sc.pos++ // '['
	c, ok := sc.peek()
	if !ok {
		return false, sc.fail("unterminated array")
	}
	if c == ']' {
		sc.pos++
		return true, nil
	}
	for {
		c, ok = sc.peek()
		if !ok {
			return false, sc.fail("unterminated array")
		}
		var more bool
		var err error
		if c == '[' {
			more, err = flattenArray(sc, depth+1, fn)
		} else {
			more, err = fn(c)
		}
		if err != nil || !more {
			return more, err
		}
		c, ok = sc.peek()
		switch {
		case !ok:
			return false, sc.fail("unterminated array")
		case c == ',':
			sc.pos++
		case c == ']':
			sc.pos++
			return true, nil
		default:
			return false, sc.fail("unexpected %q in array", c)
		}
	}
}

// scalarValue turns a scanned scalar into the value the in-memory
// predicates take, with numbers as json.Number so that they compare by
// their source text.
func scalarValue(kind byte, text []byte) any {
	switch kind {
	case 's':
		return string(text)
	case 'n':
		return json.Number(text)
	case 't':
		return true
	case 'f':
		return false
	}
	return nil
}

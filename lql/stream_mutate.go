package lql

import (
	"bufio"
	"context"
	"errors"
	"io"
	"slices"
	"strconv"
)

// MutateMode constrains the top-level values of a mutate stream (spec §7.3).
type MutateMode uint8

const (
	// MutateAuto accepts any number of values and flattens top-level
	// arrays into their elements.
	MutateAuto MutateMode = iota
	// MutateSingleValue requires exactly one top-level value, not
	// flattened.
	MutateSingleValue
	// MutateObjectRoot requires every top-level value to be an object.
	MutateObjectRoot
	// MutateSingleObject requires exactly one top-level object; this is
	// what lockd's /v1/mutate uses.
	MutateSingleObject
)

// MutateOptions configures MutateStream.
type MutateOptions struct {
	Mode MutateMode
	// MaxCandidateBytes limits each emitted candidate (document_too_large);
	// zero means unlimited.
	MaxCandidateBytes int64
	// OnCandidate runs after each candidate has been written. Returning
	// ErrStop (or an error wrapping it) ends the stream gracefully.
	OnCandidate func(MutateInfo) error
}

// MutateInfo describes one written candidate.
type MutateInfo struct {
	Index        int
	InputOffset  int64
	BytesWritten int64
}

// MutateResult summarises a mutate stream.
type MutateResult struct {
	Candidates   int
	BytesRead    int64
	BytesWritten int64
	StoppedEarly bool
}

// MutateStream applies muts to every object candidate read from r and
// writes each candidate to w as compact JSON followed by "\n", in input
// order; other candidates are re-emitted unchanged (spec §7.3). The
// document is never decoded as a whole: subtrees no mutation can reach are
// copied token by token (keeping number text and string escapes), members
// on a mutation's path are rewritten in place, new members are appended at
// the end of their object in byte-wise key order, and only values that are
// replaced wholesale are built in memory. Memory therefore stays flat
// however large the document is. The result equals ApplyMutations on the
// same document (compare as JSON; key order is not significant).
//
// Malformed input and failures while applying (a non-numeric increment, an
// unreadable file value) are *StreamError with code invalid_body. On error
// w may hold a partial candidate.
func MutateStream(ctx context.Context, r io.Reader, w io.Writer, muts []Mutation, opts MutateOptions) (MutateResult, error) {
	var res MutateResult
	m := &mutator{muts: slices.Clone(muts)}
	for i := range m.muts {
		if len(m.muts[i].segs) == 0 {
			if err := fillSegments(&m.muts[i]); err != nil {
				return res, err
			}
		}
	}
	root := make([]ment, len(m.muts))
	for i := range root {
		root[i] = ment{mi: int32(i)}
	}
	cw := &countingWriter{w: w}
	out := bufio.NewWriterSize(cw, 64<<10)
	m.sc = newScanner(ctx, r)
	m.discard = bufio.NewWriterSize(io.Discard, 512)
	single := opts.Mode == MutateSingleValue || opts.Mode == MutateSingleObject
	objectOnly := opts.Mode == MutateObjectRoot || opts.Mode == MutateSingleObject
	err := forEachCandidate(m.sc, opts.Mode == MutateAuto, func(c byte) (bool, error) {
		if single && res.Candidates == 1 {
			return false, &StreamError{Code: CodeInvalidBody, Detail: "mutate stream mode requires exactly one top-level JSON value", Offset: m.sc.offset()}
		}
		if objectOnly && c != '{' {
			return false, &StreamError{Code: CodeInvalidBody, Detail: "mutate stream mode requires top-level JSON object root", Offset: m.sc.offset()}
		}
		start := m.sc.offset()
		before := cw.n + int64(out.Buffered())
		var err error
		if c == '{' {
			_, err = m.value(out, c, root, false, "", nil)
		} else {
			err = m.sc.copyValue(out)
		}
		if err != nil {
			return false, err
		}
		out.WriteByte('\n')
		res.Candidates++
		written := cw.n + int64(out.Buffered()) - before
		if opts.MaxCandidateBytes > 0 && written-1 > opts.MaxCandidateBytes {
			return false, &StreamError{Code: CodeDocumentTooLarge, Detail: "mutated candidate exceeds size limit", Offset: start}
		}
		if opts.OnCandidate != nil {
			if err := opts.OnCandidate(MutateInfo{Index: res.Candidates - 1, InputOffset: start, BytesWritten: written}); err != nil {
				if errors.Is(err, ErrStop) {
					res.StoppedEarly = true
					return false, nil
				}
				return false, err
			}
		}
		return true, nil
	})
	if err == nil && single && res.Candidates == 0 {
		err = &StreamError{Code: CodeInvalidBody, Detail: "mutate stream mode requires exactly one top-level JSON value", Offset: m.sc.offset()}
	}
	if ferr := out.Flush(); err == nil && ferr != nil {
		err = &StreamError{Code: CodeInternal, Detail: "write output", Offset: -1, Err: ferr}
	}
	res.BytesRead = m.sc.offset()
	res.BytesWritten = cw.n
	return res, err
}

var comma = []byte{','}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ment says that mutation mi has consumed pos segments of its path at the
// current node.
type ment struct {
	mi  int32
	pos int32
}

type mutator struct {
	sc      *scanner
	muts    []Mutation
	discard *bufio.Writer
	key     []byte
	tok     []byte
	enc     []byte
	depth   int
	stack   []ment   // entries of the nodes being visited, innermost last
	heads   [][]byte // per-depth scratch for member heads
}

// streamWhere names a wildcard target in stream errors, as the reference
// streaming engine does; building the real key for every visited member
// would cost an allocation each.
const streamWhere = "mutation path"

func (m *mutator) applyErr(err error) error {
	var se *StreamError
	if errors.As(err, &se) {
		return err
	}
	return &StreamError{Code: CodeInvalidBody, Detail: "invalid json stream", Offset: m.sc.offset(), Err: err}
}

// replaces reports whether entry e, applied to a container of kind c,
// replaces the container wholesale (or fails on it), after which the rest
// of the slot's history can be computed in memory.
func (m *mutator) replaces(e ment, c byte) bool {
	mu := &m.muts[e.mi]
	if int(e.pos) == len(mu.segs) {
		return true
	}
	return !mu.wild && mu.Kind != MutationRemove && c == '['
}

// value rewrites the value starting with byte c under entries es. head is
// written first if the value ends up present (the member's comma and key,
// or an element's comma). It reports whether anything was written.
func (m *mutator) value(w *bufio.Writer, c byte, es []ment, inArray bool, where string, head []byte) (bool, error) {
	if c != '{' && c != '[' {
		m.tok = m.tok[:0]
		kind, err := m.sc.readScalar(c, &m.tok)
		if err != nil {
			return false, err
		}
		if len(es) == 1 && m.fastScalar(w, kind, es[0], head) {
			return true, nil
		}
		return m.finish(w, scalarValue(kind, m.tok), es, inArray, where, head)
	}
	for j, e := range es {
		if !m.replaces(e, c) {
			continue
		}
		// The source is replaced at es[j]: earlier entries can only raise
		// errors, so run them without output, then compute the rest.
		var err error
		if j > 0 {
			_, err = m.value(m.discard, c, es[:j], inArray, where, nil)
		} else {
			err = m.sc.skipValue()
		}
		if err != nil {
			return false, err
		}
		var placeholder any = map[string]any{}
		if c == '[' {
			placeholder = []any{}
		}
		return m.finish(w, placeholder, es[j:], inArray, where, head)
	}
	w.Write(head)
	if c == '{' {
		return true, m.object(w, es)
	}
	return true, m.array(w, es)
}

// fastScalar handles the hot cases of one mutation targeting a scanned
// scalar (a plain set, or an increment of a number) without building Go
// values. It reports false when the general path must run.
func (m *mutator) fastScalar(w *bufio.Writer, kind byte, e ment, head []byte) bool {
	mu := &m.muts[e.mi]
	if int(e.pos) != len(mu.segs) || mu.File != nil {
		return false
	}
	switch {
	case mu.Kind == MutationSet:
		w.Write(head)
		m.enc = appendJSONValue(m.enc[:0], mu.Value)
	case mu.Kind == MutationIncrement && kind == 'n':
		f, err := strconv.ParseFloat(string(m.tok), 64)
		if err != nil {
			return false
		}
		w.Write(head)
		m.enc = appendIncrement(m.enc[:0], f+mu.Delta)
	default:
		return false
	}
	w.Write(m.enc)
	return true
}

// finishMissing is finish for a member the source does not have.
func (m *mutator) finishMissing(w *bufio.Writer, es []ment, where string, head []byte) (bool, error) {
	return m.apply(w, nil, false, es, false, where, head)
}

// finish applies es in memory to the present value v and writes the
// result if it is still present.
func (m *mutator) finish(w *bufio.Writer, v any, es []ment, inArray bool, where string, head []byte) (bool, error) {
	return m.apply(w, v, true, es, inArray, where, head)
}

func (m *mutator) apply(w *bufio.Writer, v any, present bool, es []ment, inArray bool, where string, head []byte) (bool, error) {
	for _, e := range es {
		mu := &m.muts[e.mi]
		var err error
		v, present, err = applyToSlot(v, present, inArray, mu, mu.segs[e.pos:], where)
		if err != nil {
			return false, m.applyErr(err)
		}
	}
	if !present {
		return false, nil
	}
	w.Write(head)
	m.enc = appendJSONValue(m.enc[:0], v)
	w.Write(m.enc)
	return true, nil
}

// expand makes "..." also stand for zero levels at this (non-null)
// container: each such entry is preceded by its advanced form, so that the
// zero-level application comes first, as in the in-memory engine. The
// result lives on m.stack.
func (m *mutator) expand(es []ment) []ment {
	deep := false
	for _, e := range es {
		mu := &m.muts[e.mi]
		if mu.wild && int(e.pos) < len(mu.segs) && mu.segs[e.pos].kind == segDeep {
			deep = true
			break
		}
	}
	if !deep {
		return es
	}
	start := len(m.stack)
	var add func(e ment)
	add = func(e ment) {
		mu := &m.muts[e.mi]
		if mu.wild && int(e.pos) < len(mu.segs) && mu.segs[e.pos].kind == segDeep {
			add(ment{mi: e.mi, pos: e.pos + 1})
		}
		m.stack = append(m.stack, e)
	}
	for _, e := range es {
		add(e)
	}
	return m.stack[start:]
}

// step derives the entries of a member (idx < 0) or element.
func (m *mutator) step(es []ment, key []byte, idx int) []ment {
	start := len(m.stack)
	for _, e := range es {
		mu := &m.muts[e.mi]
		if int(e.pos) >= len(mu.segs) {
			continue
		}
		seg := &mu.segs[e.pos]
		next := e.pos + 1
		ok := false
		switch {
		case !mu.wild:
			ok = idx < 0 && seg.key == string(key)
		case seg.kind == segKey:
			if idx < 0 {
				ok = seg.key == string(key)
			} else {
				ok = seg.idx == idx
			}
		case seg.kind == segStar:
			ok = idx < 0
		case seg.kind == segElem:
			ok = idx >= 0
		case seg.kind == segAny:
			ok = true
		case seg.kind == segDeep:
			ok, next = true, e.pos
		}
		if ok {
			m.stack = append(m.stack, ment{mi: e.mi, pos: next})
		}
	}
	return m.stack[start:]
}

func (m *mutator) object(w *bufio.Writer, es []ment) error {
	if m.depth++; m.depth > maxNesting {
		return m.sc.fail("nesting deeper than %d", maxNesting)
	}
	mark := len(m.stack)
	defer func() { m.depth--; m.stack = m.stack[:mark] }()
	es = m.expand(es)
	sc := m.sc
	sc.pos++ // '{'
	w.WriteByte('{')
	// Keys that literal paths may have to create, and whether the source
	// has them; nothing else about the members is remembered.
	var wanted []string
	for _, e := range es {
		mu := &m.muts[e.mi]
		if !mu.wild && int(e.pos) < len(mu.segs) && !slices.Contains(wanted, mu.segs[e.pos].key) {
			wanted = append(wanted, mu.segs[e.pos].key)
		}
	}
	var foundBuf [8]bool
	found := foundBuf[:0]
	for range wanted {
		found = append(found, false)
	}
	first := true
	for len(m.heads) <= m.depth {
		m.heads = append(m.heads, nil)
	}
	head := m.heads[m.depth][:0]
	defer func() { m.heads[m.depth] = head[:0] }()
	c, ok := sc.peek()
	if !ok {
		return sc.fail("unterminated object")
	}
	if c == '}' {
		sc.pos++
	} else {
		for {
			m.key = m.key[:0]
			if err := sc.readKey(&m.key); err != nil {
				return err
			}
			for i, k := range wanted {
				if k == string(m.key) {
					found[i] = true
				}
			}
			before := len(m.stack)
			child := m.step(es, m.key, -1)
			c, ok := sc.peek()
			if !ok {
				return sc.fail("unexpected end of input, expected a value")
			}
			head = head[:0]
			if !first {
				head = append(head, ',')
			}
			head = appendJSONString(head, m.key)
			head = append(head, ':')
			if len(child) == 0 {
				w.Write(head)
				if err := sc.copyValue(w); err != nil {
					return err
				}
				first = false
			} else {
				wrote, err := m.value(w, c, child, false, streamWhere, head)
				if err != nil {
					return err
				}
				first = first && !wrote
			}
			m.stack = m.stack[:before]
			c, ok = sc.peek()
			if !ok {
				return sc.fail("unterminated object")
			}
			sc.pos++
			if c == '}' {
				break
			}
			if c != ',' {
				return sc.fail("unexpected %q in object", c)
			}
		}
	}
	// Members that literal paths create are appended, sorted byte-wise.
	var created []string
	for i, k := range wanted {
		if !found[i] {
			created = append(created, k)
		}
	}
	slices.Sort(created)
	for _, k := range created {
		head = head[:0]
		if !first {
			head = append(head, ',')
		}
		head = appendJSONString(head, k)
		head = append(head, ':')
		wrote, err := m.finishMissing(w, m.step(es, []byte(k), -1), streamWhere, head)
		if err != nil {
			return err
		}
		first = first && !wrote
	}
	w.WriteByte('}')
	return nil
}

func (m *mutator) array(w *bufio.Writer, es []ment) error {
	if m.depth++; m.depth > maxNesting {
		return m.sc.fail("nesting deeper than %d", maxNesting)
	}
	mark := len(m.stack)
	defer func() { m.depth--; m.stack = m.stack[:mark] }()
	es = m.expand(es)
	sc := m.sc
	sc.pos++ // '['
	w.WriteByte('[')
	c, ok := sc.peek()
	if !ok {
		return sc.fail("unterminated array")
	}
	if c == ']' {
		sc.pos++
		w.WriteByte(']')
		return nil
	}
	for i := 0; ; i++ {
		c, ok := sc.peek()
		if !ok {
			return sc.fail("unexpected end of input, expected a value")
		}
		var head []byte
		if i > 0 {
			head = comma
		}
		before := len(m.stack)
		child := m.step(es, nil, i)
		if len(child) == 0 {
			w.Write(head)
			if err := sc.copyValue(w); err != nil {
				return err
			}
		} else if _, err := m.value(w, c, child, true, streamWhere, head); err != nil {
			return err
		}
		m.stack = m.stack[:before]
		c, ok = sc.peek()
		if !ok {
			return sc.fail("unterminated array")
		}
		sc.pos++
		if c == ']' {
			w.WriteByte(']')
			return nil
		}
		if c != ',' {
			return sc.fail("unexpected %q in array", c)
		}
	}
}

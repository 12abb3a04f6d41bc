package lql

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// ProjectionPlan is a validated list of JSON Pointer paths to keep
// (spec §6). Paths use plain RFC 6901: no wildcards, no bracket sugar.
type ProjectionPlan struct {
	paths [][]string
}

// ParseProjectionPaths trims the entries, skips blank ones, drops
// duplicates and validates the rest, returning them in order.
func ParseProjectionPaths(paths []string) ([]string, error) {
	var out []string
	var segs [][]string
	for _, raw := range paths {
		p := strings.TrimSpace(raw)
		if p == "" || slices.Contains(out, p) {
			continue
		}
		if p[0] != '/' {
			return nil, fmt.Errorf("invalid json pointer %q", p)
		}
		if p == "/" {
			return nil, fmt.Errorf("field path %q refers to document root", p)
		}
		s := strings.Split(p[1:], "/")
		for i := range s {
			s[i] = decodeSegment(s[i])
		}
		if isDigits(s[0]) {
			return nil, fmt.Errorf("field path %q must not start with an array index", p)
		}
		for i, o := range segs {
			if err := projectionConflict(out[i], o, p, s); err != nil {
				return nil, err
			}
		}
		out = append(out, p)
		segs = append(segs, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no valid field paths provided")
	}
	return out, nil
}

// projectionConflict rejects paths where one is a prefix of the other, and
// numeric keys that name the same index at the same place.
func projectionConflict(pa string, a []string, pb string, b []string) error {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] == b[i] {
			continue
		}
		if isDigits(a[i]) && isDigits(b[i]) {
			x, _ := strconv.Atoi(a[i])
			y, _ := strconv.Atoi(b[i])
			if x == y {
				return fmt.Errorf("field path conflict at array index %d", x)
			}
		}
		return nil
	}
	if len(a) < len(b) {
		return fmt.Errorf("field path conflict between %q and %q", pa, pb)
	}
	return fmt.Errorf("field path conflict between %q and %q", pb, pa)
}

// NewProjectionPlan parses paths into a plan.
func NewProjectionPlan(paths []string) (*ProjectionPlan, error) {
	list, err := ParseProjectionPaths(paths)
	if err != nil {
		return nil, err
	}
	p := &ProjectionPlan{}
	for _, s := range list {
		segs := strings.Split(s[1:], "/")
		for i := range segs {
			segs[i] = decodeSegment(segs[i])
		}
		p.paths = append(p.paths, segs)
	}
	return p, nil
}

// ProjectOptions configures ProjectFields.
type ProjectOptions struct {
	// MaxOutputBytes fails with document_too_large when the projection
	// would be larger; zero means unlimited.
	MaxOutputBytes int
}

// pnode is the output tree of a projection.
type pnode struct {
	obj map[string]*pnode
	arr []*pnode
	val []byte
}

// ProjectFields streams exactly one JSON object from r and writes a compact
// object holding only the plan's paths to w (spec §6): values are copied
// verbatim, keys are sorted byte-wise, digit-only segments build arrays
// padded with null, and missing paths are skipped. found is false, and
// nothing is written, when no path was present. Errors are *StreamError.
func ProjectFields(ctx context.Context, r io.Reader, w io.Writer, plan *ProjectionPlan, opts ProjectOptions) (found bool, err error) {
	sc := newScanner(ctx, r)
	c, ok := sc.peek()
	if !ok {
		if sc.rerr != nil {
			return false, sc.fail("")
		}
		return false, &StreamError{Code: CodeInvalidBody, Detail: "projection input is empty", Offset: 0}
	}
	if c != '{' {
		return false, &StreamError{Code: CodeInvalidBody, Detail: "field selection requires JSON objects", Offset: sc.offset()}
	}
	root := &pnode{}
	active := make([]int, len(plan.paths))
	for i := range active {
		active[i] = i
	}
	pw := &projector{sc: sc, plan: plan}
	if err := pw.walk(c, active, 0, root); err != nil {
		return false, err
	}
	if c, ok := sc.peek(); ok {
		return false, sc.fail("unexpected trailing token %q", c)
	}
	if sc.rerr != nil {
		return false, sc.fail("")
	}
	if !pw.found {
		return false, nil
	}
	out := appendProjection(nil, root)
	if opts.MaxOutputBytes > 0 && len(out) > opts.MaxOutputBytes {
		return false, &StreamError{Code: CodeDocumentTooLarge, Detail: "projection exceeds output limit", Offset: -1}
	}
	if _, err := w.Write(out); err != nil {
		return false, &StreamError{Code: CodeInternal, Detail: "write projection", Offset: -1, Err: err}
	}
	return true, nil
}

type projector struct {
	sc    *scanner
	plan  *ProjectionPlan
	found bool
	key   []byte
}

// walk consumes the value starting with c; active lists the paths that
// have matched depth segments so far.
func (p *projector) walk(c byte, active []int, depth int, at *pnode) error {
	if len(active) == 0 {
		return p.sc.skipValue()
	}
	for _, i := range active {
		if len(p.plan.paths[i]) == depth {
			// Paths never nest (conflicts are rejected), so this path
			// owns the whole value.
			var buf bytes.Buffer
			bw := bufio.NewWriter(&buf)
			if err := p.sc.copyValue(bw); err != nil {
				return err
			}
			bw.Flush()
			at.val = buf.Bytes()
			p.found = true
			return nil
		}
	}
	if c != '{' && c != '[' {
		return p.sc.skipValue()
	}
	sc := p.sc
	sc.pos++
	closer := byte('}')
	if c == '[' {
		closer = ']'
	}
	if n, ok := sc.peek(); ok && n == closer {
		sc.pos++
		return nil
	}
	for idx := 0; ; idx++ {
		var key string
		if c == '{' {
			p.key = p.key[:0]
			if err := sc.readKey(&p.key); err != nil {
				return err
			}
			key = string(p.key)
		}
		var child []int
		for _, i := range active {
			seg := p.plan.paths[i][depth]
			if c == '{' && seg == key {
				child = append(child, i)
			} else if c == '[' && isDigits(seg) {
				if n, err := strconv.Atoi(seg); err == nil && n == idx {
					child = append(child, i)
				}
			}
		}
		v, ok := sc.peek()
		if !ok {
			return sc.fail("unexpected end of input, expected a value")
		}
		if len(child) == 0 {
			if err := sc.skipValue(); err != nil {
				return err
			}
		} else {
			seg := p.plan.paths[child[0]][depth]
			if err := p.walk(v, child, depth+1, at.child(seg)); err != nil {
				return err
			}
		}
		n, ok := sc.peek()
		if !ok {
			return sc.fail("unterminated container")
		}
		sc.pos++
		if n == closer {
			return nil
		}
		if n != ',' {
			return sc.fail("unexpected %q in container", n)
		}
	}
}

// child returns the output node for seg; digit-only segments index arrays.
func (n *pnode) child(seg string) *pnode {
	if isDigits(seg) {
		i, err := strconv.Atoi(seg)
		if err == nil && i <= maxSelectorIndex {
			for len(n.arr) <= i {
				n.arr = append(n.arr, nil)
			}
			if n.arr[i] == nil {
				n.arr[i] = &pnode{}
			}
			return n.arr[i]
		}
	}
	if n.obj == nil {
		n.obj = map[string]*pnode{}
	}
	if n.obj[seg] == nil {
		n.obj[seg] = &pnode{}
	}
	return n.obj[seg]
}

// hasValue reports whether anything was found below n.
func (n *pnode) hasValue() bool {
	if n == nil {
		return false
	}
	if n.val != nil {
		return true
	}
	for _, c := range n.obj {
		if c.hasValue() {
			return true
		}
	}
	for _, c := range n.arr {
		if c.hasValue() {
			return true
		}
	}
	return false
}

func appendProjection(b []byte, n *pnode) []byte {
	switch {
	case n == nil || !n.hasValue():
		return append(b, "null"...)
	case n.val != nil:
		return append(b, n.val...)
	case n.arr != nil:
		last := len(n.arr) - 1
		for last >= 0 && !n.arr[last].hasValue() {
			last--
		}
		b = append(b, '[')
		for i := 0; i <= last; i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendProjection(b, n.arr[i])
		}
		return append(b, ']')
	}
	keys := make([]string, 0, len(n.obj))
	for k, c := range n.obj {
		if c.hasValue() {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendProjection(b, n.obj[k])
	}
	return append(b, '}')
}

package lql

import (
	"strconv"
	"strings"
)

// segKind classifies one path segment (spec §2.4).
type segKind uint8

const (
	segKey  segKind = iota // a literal member name or array index
	segStar                // "*": every member of an object
	segElem                // "[]": every element of an array
	segAny                 // "**": every member or element
	segDeep                // "...": the node and all its non-null descendants
)

// segment is one decoded path segment.
type segment struct {
	kind segKind
	key  string
	// idx is the array index the literal names (Go Atoi rules, so "+1" and
	// "01" both mean 1), or -1 when it names none.
	idx int
}

func literalSeg(key string) segment {
	idx := -1
	// Only digit strings (with an optional sign) can be indices; checking
	// first spares Atoi's error allocation on every ordinary key.
	if d := strings.TrimLeft(key, "+-"); len(key)-len(d) <= 1 && isDigits(d) {
		if n, err := strconv.Atoi(key); err == nil && n >= 0 {
			idx = n
		}
	}
	return segment{kind: segKey, key: key, idx: idx}
}

// pathIter walks the segments of a JSON Pointer with the LQL extensions
// lazily, so that evaluation over decoded documents needs no allocation for
// the common, escape-free paths. It is a small value: copying it forks the
// walk, which the wildcard resolvers rely on.
type pathIter struct {
	rest    string // undecoded remainder, starting after a '/'
	pending int    // "[]" segments still owed by bracket sugar
	done    bool
}

// newPathIter returns an iterator over field. ok is false when the field is
// non-empty and does not start with '/'; such a field resolves to nothing.
// The root ("" or "/") yields no segments.
func newPathIter(field string) (pathIter, bool) {
	f := strings.TrimSpace(field)
	if f == "" || f == "/" {
		return pathIter{done: true}, true
	}
	if f[0] != '/' {
		return pathIter{done: true}, false
	}
	return pathIter{rest: f[1:]}, true
}

// next returns the following segment.
func (p *pathIter) next() (segment, bool) {
	if p.pending > 0 {
		p.pending--
		return segment{kind: segElem, idx: -1}, true
	}
	if p.done {
		return segment{}, false
	}
	raw := p.rest
	if i := strings.IndexByte(raw, '/'); i >= 0 {
		raw, p.rest = raw[:i], raw[i+1:]
	} else {
		p.rest, p.done = "", true
	}
	s := decodeSegment(raw)
	switch s {
	case "*":
		return segment{kind: segStar, idx: -1}, true
	case "[]":
		return segment{kind: segElem, idx: -1}, true
	case "**":
		return segment{kind: segAny, idx: -1}, true
	case "...":
		return segment{kind: segDeep, idx: -1}, true
	}
	if strings.HasSuffix(s, "[]") {
		base := s
		n := 0
		for strings.HasSuffix(base, "[]") {
			base = base[:len(base)-2]
			n++
		}
		if base == "" {
			p.pending = n - 1
			return segment{kind: segElem, idx: -1}, true
		}
		p.pending = n
		switch base {
		case "*":
			return segment{kind: segStar, idx: -1}, true
		case "**":
			return segment{kind: segAny, idx: -1}, true
		case "...":
			return segment{kind: segDeep, idx: -1}, true
		}
		return literalSeg(base), true
	}
	return literalSeg(s), true
}

// more reports whether another segment follows.
func (p *pathIter) more() bool { return p.pending > 0 || !p.done }

// decodeSegment applies RFC 6901 decoding (~1 to '/', ~0 to '~', left to
// right); any other '~' sequence is kept as written.
func decodeSegment(s string) string {
	if strings.IndexByte(s, '~') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '~' && i+1 < len(s) {
			switch s[i+1] {
			case '0':
				b.WriteByte('~')
				i++
				continue
			case '1':
				b.WriteByte('/')
				i++
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseSegments returns every segment of field; ok as for newPathIter.
func parseSegments(field string) ([]segment, bool) {
	it, ok := newPathIter(field)
	var segs []segment
	for {
		s, more := it.next()
		if !more {
			break
		}
		segs = append(segs, s)
	}
	return segs, ok
}

// hasWildcard reports whether any segment is a wildcard.
func hasWildcard(segs []segment) bool {
	for _, s := range segs {
		if s.kind != segKey {
			return true
		}
	}
	return false
}

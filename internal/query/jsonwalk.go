package query

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// nodeKind is the JSON type of one node met by walkJSON.
type nodeKind uint8

const (
	kindNull nodeKind = iota
	kindBool
	kindNumber
	kindString
	kindObject
	kindArray
)

// maxDepth bounds recursion on hostile documents; deeper documents are
// reported as errors and end up verified by the matcher instead of indexed.
const maxDepth = 256

var errDepth = errors.New("query: document nested too deeply to index")

// walkJSON calls visit for every node of the JSON document in data except
// the root, with the node's canonical path (see canonicalPath), its kind and,
// for scalars, its string form: the decoded string, the number text exactly
// as written, or true/false. utf8OK is false for strings whose raw bytes are
// not valid UTF-8 (decoders disagree on those, so the index treats them as
// unsure). It returns the kind of the root.
//
// The documents come from the store, where the engine keeps them validated
// and compacted, so this is a small recursive descent scanner rather than a
// full validator; it still rejects malformed input instead of guessing.
//
// text and path alias data (converted once), so walking allocates nothing
// per node; a caller that keeps a text beyond the document must clone it.
func walkJSON(data string, visit func(path []byte, kind nodeKind, text string, utf8OK bool)) (nodeKind, error) {
	w := walker{data: data, visit: visit}
	w.skipSpace()
	kind, err := w.value(0)
	if err != nil {
		return 0, err
	}
	w.skipSpace()
	if w.pos != len(w.data) {
		return 0, fmt.Errorf("query: trailing data at offset %d", w.pos)
	}
	return kind, nil
}

type walker struct {
	data  string
	pos   int
	path  []byte
	visit func(path []byte, kind nodeKind, text string, utf8OK bool)
}

func (w *walker) skipSpace() {
	for w.pos < len(w.data) {
		switch w.data[w.pos] {
		case ' ', '\t', '\n', '\r':
			w.pos++
		default:
			return
		}
	}
}

func (w *walker) errorf(format string, args ...any) error {
	return fmt.Errorf("query: malformed JSON at offset %d: %s", w.pos, fmt.Sprintf(format, args...))
}

// value scans one value at w.pos. depth 0 is the root, which is not visited.
func (w *walker) value(depth int) (nodeKind, error) {
	if depth > maxDepth {
		return 0, errDepth
	}
	if w.pos >= len(w.data) {
		return 0, w.errorf("unexpected end")
	}
	emit := func(k nodeKind, text string, ok bool) {
		if depth > 0 {
			w.visit(w.path, k, text, ok)
		}
	}
	switch c := w.data[w.pos]; {
	case c == '{':
		emit(kindObject, "", true)
		return kindObject, w.object(depth)
	case c == '[':
		emit(kindArray, "", true)
		return kindArray, w.array(depth)
	case c == '"':
		s, ok, err := w.str()
		if err != nil {
			return 0, err
		}
		emit(kindString, s, ok)
		return kindString, nil
	case c == 't' || c == 'f' || c == 'n':
		for _, lit := range [...]string{"true", "false", "null"} {
			if strings.HasPrefix(w.data[w.pos:], lit) {
				w.pos += len(lit)
				if lit == "null" {
					emit(kindNull, "", true)
					return kindNull, nil
				}
				emit(kindBool, lit, true)
				return kindBool, nil
			}
		}
		return 0, w.errorf("bad literal")
	case c == '-' || (c >= '0' && c <= '9'):
		start := w.pos
		if err := w.number(); err != nil {
			return 0, err
		}
		emit(kindNumber, w.data[start:w.pos], true)
		return kindNumber, nil
	}
	return 0, w.errorf("unexpected byte %q", w.data[w.pos])
}

func (w *walker) object(depth int) error {
	w.pos++ // {
	base := len(w.path)
	w.skipSpace()
	if w.pos < len(w.data) && w.data[w.pos] == '}' {
		w.pos++
		return nil
	}
	for {
		w.skipSpace()
		if w.pos >= len(w.data) || w.data[w.pos] != '"' {
			return w.errorf("expected member name")
		}
		name, _, err := w.str()
		if err != nil {
			return err
		}
		w.skipSpace()
		if w.pos >= len(w.data) || w.data[w.pos] != ':' {
			return w.errorf("expected ':'")
		}
		w.pos++
		w.skipSpace()
		w.path = appendMemberSegment(w.path[:base], name)
		if _, err := w.value(depth + 1); err != nil {
			return err
		}
		w.path = w.path[:base]
		w.skipSpace()
		if w.pos >= len(w.data) {
			return w.errorf("unterminated object")
		}
		switch w.data[w.pos] {
		case ',':
			w.pos++
		case '}':
			w.pos++
			return nil
		default:
			return w.errorf("expected ',' or '}'")
		}
	}
}

func (w *walker) array(depth int) error {
	w.pos++ // [
	base := len(w.path)
	w.path = append(w.path, arraySegment...)
	defer func() { w.path = w.path[:base] }()
	w.skipSpace()
	if w.pos < len(w.data) && w.data[w.pos] == ']' {
		w.pos++
		return nil
	}
	for {
		w.skipSpace()
		if _, err := w.value(depth + 1); err != nil {
			return err
		}
		w.skipSpace()
		if w.pos >= len(w.data) {
			return w.errorf("unterminated array")
		}
		switch w.data[w.pos] {
		case ',':
			w.pos++
		case ']':
			w.pos++
			return nil
		default:
			return w.errorf("expected ',' or ']'")
		}
	}
}

// str scans a string literal and returns its decoded text. Strings without
// escapes (the common case) are sliced directly; the rare escaped ones go
// through encoding/json so escapes and surrogate pairs follow the standard.
func (w *walker) str() (string, bool, error) {
	start := w.pos
	w.pos++ // opening quote
	escaped := false
	for w.pos < len(w.data) {
		c := w.data[w.pos]
		switch {
		case c == '\\':
			escaped = true
			w.pos += 2
			continue
		case c == '"':
			w.pos++
			raw := w.data[start+1 : w.pos-1]
			if !escaped {
				return raw, utf8.ValidString(raw), nil
			}
			var s string
			if err := json.Unmarshal([]byte(w.data[start:w.pos]), &s); err != nil {
				return "", false, w.errorf("bad string: %v", err)
			}
			return s, utf8.ValidString(raw), nil
		case c < 0x20:
			return "", false, w.errorf("control character in string")
		}
		w.pos++
	}
	return "", false, w.errorf("unterminated string")
}

func (w *walker) number() error {
	d := w.data
	i := w.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case digits() == 0:
		return w.errorf("bad number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if digits() == 0 {
			return w.errorf("bad fraction")
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if digits() == 0 {
			return w.errorf("bad exponent")
		}
	}
	w.pos = i
	return nil
}

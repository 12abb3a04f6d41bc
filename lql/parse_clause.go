package lql

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// termKind names the leaf clause of a full-form expression.
type termKind uint8

const (
	tEq termKind = iota
	tContains
	tIContains
	tPrefix
	tIPrefix
	tRange
	tDate
	tIn
	tExists
	numTerms
)

var termNames = [numTerms]string{"eq", "contains", "icontains", "prefix", "iprefix", "range", "date", "in", "exists"}

func (k termKind) String() string { return termNames[k] }

func lookupTerm(word string) (termKind, bool) {
	for i, n := range termNames {
		if strings.EqualFold(word, n) {
			return termKind(i), true
		}
	}
	return 0, false
}

// isRootWord reports whether word starts a full-form expression (spec §3.3).
func isRootWord(word string) bool {
	if strings.EqualFold(word, "and") || strings.EqualFold(word, "or") || strings.EqualFold(word, "not") {
		return true
	}
	_, ok := lookupTerm(word)
	return ok
}

// rootWord is the text before the first '.' or '{', trimmed.
func rootWord(s string) string {
	// A plain loop: strings.IndexAny builds its byte set on every call,
	// and this runs once per expression.
	for i := 0; i < len(s); i++ {
		if s[i] == '.' || s[i] == '{' {
			s = s[:i]
			break
		}
	}
	return strings.TrimSpace(s)
}

// wrapKind is a composition step of a clause path.
type wrapKind uint8

const (
	wAnd wrapKind = iota
	wOr
	wNot
)

type wrapper struct {
	kind wrapKind
	idx  int // explicit index, or -1
}

// maxSelectorIndex bounds explicit and/or indices (spec §3.4), so that a
// typo cannot make the parser allocate gigabytes of holes.
const maxSelectorIndex = 1048576

// valKind is the type a brace value converted to (spec §3.5.3).
type valKind uint8

const (
	vString valKind = iota
	vNumber
	vBool
	vList
)

// value is a converted brace value. text is the string, the canonical
// number text, or true/false.
type value struct {
	kind valKind
	text string
	num  float64
	list []string
}

func (v value) equal(o value) bool {
	if v.kind != o.kind || v.text != o.text || len(v.list) != len(o.list) {
		return false
	}
	for i := range v.list {
		if v.list[i] != o.list[i] {
			return false
		}
	}
	return true
}

// keyVal is one canonical key of a clause with its converted value.
type keyVal struct {
	key string
	val value
}

// expr is one full-form expression ready for assembly.
type expr struct {
	src   piece // the piece the user wrote, for error positions
	path  string
	wraps []wrapper
	term  termKind
	kvs   []keyVal
}

// convertValue converts a raw brace value (spec §3.5.3).
func convertValue(raw string) (value, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return value{kind: vString}, nil
	}
	s, _ = unquote(s)
	return convertText(s)
}

// convertText is convertValue after trimming and unquoting; the shorthand
// parser calls it directly with text that never existed in quoted form.
func convertText(s string) (value, error) {
	if f, ok := parseFloat(s); ok {
		switch {
		case math.IsNaN(f):
			return value{}, fmt.Errorf("json: unsupported value: NaN")
		case math.IsInf(f, 1):
			return value{}, fmt.Errorf("json: unsupported value: +Inf")
		case math.IsInf(f, -1):
			return value{}, fmt.Errorf("json: unsupported value: -Inf")
		}
		return value{kind: vNumber, text: canonicalNumber(f), num: f}, nil
	}
	if strings.EqualFold(s, "true") {
		return value{kind: vBool, text: "true"}, nil
	}
	if strings.EqualFold(s, "false") {
		return value{kind: vBool, text: "false"}, nil
	}
	return value{kind: vString, text: s}, nil
}

// parseFloat is strconv.ParseFloat without the error allocation for the
// common case of text that cannot be a number at all.
func parseFloat(s string) (float64, bool) {
	if s == "" {
		return 0, false
	}
	switch c := s[0]; {
	case c >= '0' && c <= '9', c == '+', c == '-', c == '.', c == 'i', c == 'I', c == 'n', c == 'N':
	default:
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// canonicalKey maps a key as written to its canonical name for term k;
// ok is false for keys the term does not know at all.
func canonicalKey(k termKind, key string) string {
	switch strings.ToLower(key) {
	case "f", "field":
		return "field"
	case "v", "value":
		return "value"
	case "ic", "ignorecase":
		return "ignoreCase"
	case "a":
		if k == tDate {
			return "after"
		}
		return "any"
	case "b":
		if k == tDate {
			return "before"
		}
	case "any", "gt", "gte", "lt", "lte", "after", "before", "since":
		return strings.ToLower(key)
	}
	return key
}

// lightAlias is the aliasing applied before the duplicate-key check: only
// f, v and ic are folded (spec §3.5.2).
func lightAlias(key string) string {
	switch strings.ToLower(key) {
	case "f":
		return "field"
	case "v":
		return "value"
	case "ic":
		return "ignoreCase"
	}
	return key
}

func keyAllowed(k termKind, key string) bool {
	switch key {
	case "field":
		return true
	case "value":
		return k != tRange && k != tIn
	case "ignoreCase":
		return k >= tContains && k <= tIPrefix
	case "any":
		return k == tContains || k == tIContains || k == tIn
	case "gt", "gte", "lt", "lte":
		return k == tRange || k == tDate
	case "after", "before", "since":
		return k == tDate
	}
	return false
}

// parseClausePath parses "and.0.not.eq" into wrappers (appended to dst)
// and a term.
func parseClausePath(path string, dst []wrapper) ([]wrapper, termKind, error) {
	wraps := dst
	var parts [16]string
	list := parts[:0]
	for rest := path; ; {
		i := strings.IndexByte(rest, '.')
		part := rest
		if i >= 0 {
			part = rest[:i]
		}
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, 0, fmt.Errorf("selector path %q has empty segment", path)
		}
		list = append(list, part)
		if i < 0 {
			break
		}
		rest = rest[i+1:]
	}
	for i := 0; i < len(list); i++ {
		p := list[i]
		switch {
		case strings.EqualFold(p, "and"), strings.EqualFold(p, "or"):
			w := wrapper{kind: wAnd, idx: -1}
			if strings.EqualFold(p, "or") {
				w.kind = wOr
			}
			if i+1 < len(list) && isDigits(list[i+1]) {
				n, err := strconv.Atoi(list[i+1])
				if err != nil || n > maxSelectorIndex {
					return nil, 0, fmt.Errorf("selector index %s invalid", list[i+1])
				}
				w.idx = n
				i++
			}
			wraps = append(wraps, w)
		case strings.EqualFold(p, "not"):
			wraps = append(wraps, wrapper{kind: wNot, idx: -1})
		case isDigits(p):
			return nil, 0, fmt.Errorf("selector path %q has unexpected index %q", path, p)
		default:
			t, ok := lookupTerm(p)
			if !ok {
				return nil, 0, fmt.Errorf("selector path %q has unexpected segment %q", path, p)
			}
			if i+1 < len(list) {
				return nil, 0, fmt.Errorf("selector path %q has unexpected segment %q", path, list[i+1])
			}
			return wraps, t, nil
		}
	}
	return nil, 0, fmt.Errorf("selector path %q missing term", path)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// rawAssign is one key=value token of a brace body before conversion.
type rawAssign struct {
	token piece
	key   string
	raw   string
}

// parseFullForm parses one full-form expression text (spec §3.4, §3.5).
// prefix, when it is wAnd or wOr, is an implicit leading "and."/"or." that
// the caller did not paste into text, to save an allocation; wrapBuf is
// scratch space for the wrappers.
func parseFullForm(text string, src piece, prefix int, wrapBuf []wrapper, a *assembler) (expr, error) {
	open := strings.IndexByte(text, '{')
	if open < 0 || open == len(text)-1 || text[len(text)-1] != '}' {
		return expr{}, fmt.Errorf("selector %q missing closing brace", withPrefix(prefix, text))
	}
	path := strings.TrimSpace(text[:open])
	wraps := wrapBuf[:0]
	if prefix >= 0 {
		wraps = append(wraps, wrapper{kind: wrapKind(prefix), idx: -1})
	}
	wraps, term, err := parseClausePath(path, wraps)
	if err != nil {
		if prefix >= 0 {
			_, _, err = parseClausePath(withPrefix(prefix, path), nil)
		}
		return expr{}, err
	}
	body := text[open+1 : len(text)-1]
	e := expr{src: src, path: path, wraps: wraps, term: term}
	var tokBuf [8]piece
	tokens, err := splitBody(body, open+1, tokBuf[:0])
	if err != nil {
		return expr{}, err
	}
	if len(tokens) == 0 {
		return expr{}, fmt.Errorf("empty selector expression")
	}
	if term == tExists {
		return parseExistsBody(e, tokens, a)
	}
	var assignBuf [8]rawAssign
	assigns := assignBuf[:0]
	for _, tok := range tokens {
		eq := strings.IndexByte(tok.text, '=')
		if eq < 0 {
			return expr{}, fmt.Errorf("invalid selector expression %q", tok.text)
		}
		key, _ := unquote(strings.TrimSpace(tok.text[:eq]))
		if key == "" {
			return expr{}, fmt.Errorf("selector expression %q missing key", strings.TrimSpace(tok.text))
		}
		raw := strings.TrimSpace(tok.text[eq+1:])
		light := lightAlias(key)
		for _, prev := range assigns {
			if lightAlias(prev.key) == light && prev.raw != raw {
				return expr{}, fmt.Errorf("selector expression %q has duplicate key %q", strings.TrimSpace(tok.text), light)
			}
		}
		assigns = append(assigns, rawAssign{token: tok, key: key, raw: raw})
	}
	kvs, err := convertAssigns(term, assigns, a.keyVals(len(assigns)))
	if err != nil {
		return expr{}, err
	}
	e.kvs = kvs
	return e, nil
}

// withPrefix rebuilds the text the reference would have seen.
func withPrefix(prefix int, text string) string {
	switch prefix {
	case int(wAnd):
		return "and." + text
	case int(wOr):
		return "or." + text
	}
	return text
}

func parseExistsBody(e expr, tokens []piece, a *assembler) (expr, error) {
	keys, bare := 0, 0
	for _, tok := range tokens {
		if strings.IndexByte(tok.text, '=') >= 0 {
			keys++
			continue
		}
		bare++
		if bare > 1 {
			return expr{}, fmt.Errorf("invalid selector expression %q", tok.text)
		}
	}
	switch {
	case keys > 0 && bare > 0:
		return expr{}, fmt.Errorf("exists selector accepts a single value")
	case keys > 0:
		return expr{}, fmt.Errorf("selector term %q invalid", "exists")
	}
	p, _ := unquote(strings.TrimSpace(tokens[0].text))
	e.kvs = append(a.keyVals(1), keyVal{key: "field", val: value{kind: vString, text: p}})
	return e, nil
}

// convertAssigns checks keys against the term and converts their values,
// appending them to kvs.
func convertAssigns(term termKind, assigns []rawAssign, kvs []keyVal) ([]keyVal, error) {
	hasValue, hasAny := false, false
	for _, a := range assigns {
		key := canonicalKey(term, a.key)
		if !keyAllowed(term, key) {
			return nil, fmt.Errorf("%s selector does not support key %q", term, key)
		}
		v, err := convertKey(term, key, a.raw)
		if err != nil {
			return nil, err
		}
		hasValue = hasValue || key == "value"
		hasAny = hasAny || key == "any"
		kvs = append(kvs, keyVal{key: key, val: v})
	}
	if hasValue && hasAny {
		return nil, fmt.Errorf("%s selector cannot set both value and any", term)
	}
	return kvs, nil
}

// convertKey applies the per-key value rules (spec §3.5.3-§3.5.5).
func convertKey(term termKind, key, raw string) (value, error) {
	if term == tIn && key == "any" {
		s, _ := unquote(strings.TrimSpace(raw))
		items := splitAnyList(s)
		if len(items) == 0 {
			return value{}, fmt.Errorf("in.any requires values")
		}
		return value{kind: vList, list: items}, nil
	}
	v, err := convertValue(raw)
	if err != nil {
		return value{}, err
	}
	return finishKey(term, key, v)
}

// finishKey applies the per-key rules to a converted value.
func finishKey(term termKind, key string, v value) (value, error) {
	switch key {
	case "any":
		if v.kind == vString {
			items := splitAnyList(v.text)
			if len(items) == 0 {
				return value{}, fmt.Errorf("term any requires values")
			}
			return value{kind: vList, list: items}, nil
		}
		return value{kind: vList, list: []string{v.text}}, nil
	case "ignoreCase":
		switch v.kind {
		case vNumber:
			return value{}, fmt.Errorf("term ignoreCase must be boolean")
		case vBool:
			return v, nil
		}
		b, ok := parseLooseBool(v.text)
		if !ok {
			return value{}, fmt.Errorf("term ignoreCase must be true/false/t/f")
		}
		return value{kind: vBool, text: strconv.FormatBool(b)}, nil
	case "gt", "gte", "lt", "lte":
		if term == tRange {
			switch {
			case v.kind == vBool:
				return value{}, fmt.Errorf("range %s: value must be numeric or datetime string", key)
			case v.kind == vString && v.text == "":
				return value{}, fmt.Errorf("range %s: value required", key)
			}
			return v, nil
		}
	}
	return v, nil
}

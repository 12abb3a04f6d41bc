package lql

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ParseSelectorString parses the text form of a selector (spec §3). Two or
// more expressions are combined with AND. The empty string, "{}", "." and
// "/" mean "match everything". The result is validated and simplified.
// Errors are *ParseError.
func ParseSelectorString(s string) (Selector, error) {
	return parseSelectorText(s, wAnd)
}

// ParseSelectorStringOr is ParseSelectorString with OR as the implicit
// combinator.
func ParseSelectorStringOr(s string) (Selector, error) {
	return parseSelectorText(s, wOr)
}

// ParseSelectorStrings parses each string with ParseSelectorString, drops
// empty results and wraps the rest as {"and":[…]} (even a single one).
func ParseSelectorStrings(list []string) (Selector, error) {
	return parseSelectorList(list, wAnd)
}

// ParseSelectorStringsOr is ParseSelectorStrings with OR, both inside each
// string and between them.
func ParseSelectorStringsOr(list []string) (Selector, error) {
	return parseSelectorList(list, wOr)
}

func parseSelectorList(list []string, mode wrapKind) (Selector, error) {
	var parts []Selector
	for _, s := range list {
		sel, err := parseSelectorText(s, mode)
		if err != nil {
			return Selector{}, err
		}
		if !sel.IsEmpty() {
			parts = append(parts, sel)
		}
	}
	switch {
	case len(parts) == 0:
		return Selector{}, nil
	case mode == wOr:
		return Selector{Or: parts}, nil
	}
	return Selector{And: parts}, nil
}

// candidate is one expression after shorthand recognition. prefix is the
// implicit combinator (wAnd/wOr) prepended when the input holds several
// expressions, or -1; it is kept apart from text to avoid building a new
// string per expression.
type candidate struct {
	text   string    // full-form text, when sh.kind is shNone
	sh     shorthand // a shorthand parsed without rewriting it as text
	src    piece
	prefix int
}

// shKind says which full form a shorthand stands for.
type shKind uint8

const (
	shNone  shKind = iota
	shEq           // eq{field=F,value=V}
	shNe           // not.eq{field=F,value=V}
	shRange        // range{field=F,B=V}
)

// shorthand is "/f op v" (spec §3.6.2) in the pieces of its full-form
// text: the reference rewrites it to that text and parses it again, and the
// text still decides the order of expressions, so it is kept implicitly
// (see frags) instead of being built.
type shorthand struct {
	kind  shKind
	field string
	bound string // range: gt, gte, lt or lte
	val   string // the value as the full form holds it, without quotes
	// quoted is set when the full form wraps val in double quotes: plain
	// text equality values and datetime range bounds.
	quoted bool
}

// frags returns the candidate's final text (prefix + full form) as a list
// of fragments, using buf as storage.
func (c *candidate) frags(buf *[10]string) []string {
	f := append(buf[:0], c.prefixText())
	if c.sh.kind == shNone {
		return append(f, c.text)
	}
	q := ""
	if c.sh.quoted {
		q = `"`
	}
	switch c.sh.kind {
	case shEq:
		f = append(f, "eq{field=", c.sh.field, ",value=")
	case shNe:
		f = append(f, "not.eq{field=", c.sh.field, ",value=")
	default:
		f = append(f, "range{field=", c.sh.field, ",", c.sh.bound, "=")
	}
	return append(f, q, c.sh.val, q, "}")
}

func (c *candidate) prefixText() string {
	switch c.prefix {
	case int(wAnd):
		return "and."
	case int(wOr):
		return "or."
	}
	return ""
}

// compareCandidates orders candidates by their final text byte-wise,
// without building it.
func compareCandidates(a, b candidate) int {
	var bufA, bufB [10]string
	fa, fb := a.frags(&bufA), b.frags(&bufB)
	var sa, sb string
	for {
		for sa == "" && len(fa) > 0 {
			sa, fa = fa[0], fa[1:]
		}
		for sb == "" && len(fb) > 0 {
			sb, fb = fb[0], fb[1:]
		}
		if sa == "" || sb == "" {
			// At least one text has ended; the shorter sorts first.
			return len(sa) - len(sb)
		}
		n := min(len(sa), len(sb))
		if c := strings.Compare(sa[:n], sb[:n]); c != 0 {
			return c
		}
		sa, sb = sa[n:], sb[n:]
	}
}

func parseSelectorText(input string, mode wrapKind) (Selector, error) {
	var candBuf [8]candidate
	cands := candBuf[:0]
	var firstErr error
	var errPiece piece
	splitErr := splitTopLevel(input, func(p piece) {
		if firstErr != nil {
			return
		}
		c, keep, err := classify(p)
		if err != nil {
			firstErr, errPiece = err, p
			return
		}
		if keep {
			cands = append(cands, c)
		}
	})
	if splitErr != nil {
		return Selector{}, &ParseError{Input: input, Pos: -1, Msg: splitErr.Error()}
	}
	if firstErr != nil {
		return Selector{}, wrapParseErr(input, errPiece, firstErr)
	}
	if len(cands) == 0 {
		return Selector{}, nil
	}
	if len(cands) > 1 {
		for i := range cands {
			// A shorthand's full form starts with eq, not or range.
			if cands[i].sh.kind != shNone {
				cands[i].prefix = int(mode)
				continue
			}
			w := rootWord(cands[i].text)
			if !strings.EqualFold(w, "and") && !strings.EqualFold(w, "or") {
				cands[i].prefix = int(mode)
			}
		}
		// The reference processes identical expressions once, in byte-wise
		// order; the order decides automatic indices (spec §3.7.1).
		slices.SortStableFunc(cands, compareCandidates)
		cands = slices.CompactFunc(cands, func(a, b candidate) bool { return compareCandidates(a, b) == 0 })
	}
	asm := new(assembler)
	for i := range cands {
		c := &cands[i]
		var err error
		if c.sh.kind != shNone {
			err = asm.addShorthand(c)
		} else {
			var e expr
			if e, err = parseFullForm(c.text, c.src, c.prefix, asm.wrapBuf[:0], asm); err == nil {
				err = asm.add(e)
			}
		}
		if err != nil {
			return Selector{}, wrapParseErr(input, c.src, err)
		}
	}
	return finishSelector(input, asm)
}

// addShorthand converts and places a shorthand the way parseFullForm and
// add would its full-form text. classify only leaves shorthands whose text
// splits into exactly the two keys field and value (or the range bound),
// so only the conversion of the two values remains to be done.
func (a *assembler) addShorthand(c *candidate) error {
	wraps := a.wrapBuf[:0]
	if c.prefix >= 0 {
		wraps = append(wraps, wrapper{kind: wrapKind(c.prefix), idx: -1})
	}
	term, key := tEq, "value"
	switch c.sh.kind {
	case shNe:
		wraps = append(wraps, wrapper{kind: wNot, idx: -1})
	case shRange:
		term, key = tRange, c.sh.bound
	}
	field, err := convertKey(term, "field", c.sh.field)
	if err != nil {
		return err
	}
	var v value
	if c.sh.quoted {
		v, err = convertText(c.sh.val)
	} else {
		v, err = convertValue(c.sh.val)
	}
	if err == nil {
		v, err = finishKey(term, key, v)
	}
	if err != nil {
		return err
	}
	kvs := append(a.keyVals(2), keyVal{key: "field", val: field}, keyVal{key: key, val: v})
	return a.addClause(wraps, term, kvs)
}

// finishSelector builds, validates and simplifies an assembled selector.
func finishSelector(input string, asm *assembler) (Selector, error) {
	sel, err := asm.result()
	if err != nil {
		return Selector{}, &ParseError{Input: input, Pos: -1, Msg: err.Error()}
	}
	if err := sel.Validate(); err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			pe.Input = input
			return Selector{}, pe
		}
		return Selector{}, &ParseError{Input: input, Pos: -1, Msg: err.Error()}
	}
	return simplifyOwned(sel), nil
}

func wrapParseErr(input string, p piece, err error) error {
	var pe *ParseError
	if errors.As(err, &pe) {
		return pe
	}
	return &ParseError{Input: input, Expr: p.text, Pos: p.off, Msg: err.Error()}
}

// classify turns one piece into a candidate: full-form text or a
// shorthand (spec §3.3). keep is false for the match-all aliases.
func classify(p piece) (c candidate, keep bool, err error) {
	c = candidate{src: p, prefix: -1}
	if isRootWord(rootWord(p.text)) {
		c.text = p.text
		return c, true, nil
	}
	sh, text, found, err := parseShorthand(p.text)
	if err != nil || found {
		c.sh, c.text = sh, text
		return c, found, err
	}
	switch p.text {
	case "{}", ".", "/":
		return c, false, nil
	}
	return c, false, fmt.Errorf("invalid selector expression %q", p.text)
}

// findOperator locates the first shorthand operator outside quotes
// (spec §3.6.1). Escapes are not honoured here, as in the reference.
func findOperator(s string) (at, width int) {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			if c == quote {
				quote = 0
			}
			continue
		}
		switch c {
		case '"', '\'':
			quote = c
			continue
		}
		if i+1 < len(s) && s[i+1] == '=' && (c == '!' || c == '>' || c == '<' || c == '=') {
			return i, 2
		}
		if c == '=' || c == '>' || c == '<' {
			return i, 1
		}
	}
	return -1, 0
}

// parseShorthand recognises "/f op v" (spec §3.6.2). found is false when
// the piece holds no operator. The reference rewrites a shorthand to
// full-form text and parses that; the result is returned as a shorthand
// when that text is known to split into exactly its two keys and values,
// and as the text otherwise (odd fields and values, whose rewritten text
// the brace-body splitter may cut elsewhere, keep the reference's quirks).
func parseShorthand(p string) (sh shorthand, text string, found bool, err error) {
	at, width := findOperator(p)
	if at < 0 {
		return sh, "", false, nil
	}
	op := p[at : at+width]
	field := strings.TrimSpace(p[:at])
	val := strings.TrimSpace(p[at+width:])
	switch {
	case field == "":
		return sh, "", true, fmt.Errorf("selector shorthand %q missing field", p)
	case field[0] != '/':
		return sh, "", true, fmt.Errorf("selector shorthand %q requires JSON Pointer field", p)
	case val == "":
		return sh, "", true, fmt.Errorf("selector shorthand %q missing value", p)
	}
	simpleField := bodySafe(field, 0)
	switch op {
	case "=", "==", "!=":
		sh.kind = shEq
		if op == "!=" {
			sh.kind = shNe
		}
		sh.field = field
		if simpleField && eqShorthandValue(&sh, val) {
			return sh, "", true, nil
		}
		if sh.kind == shNe {
			return shorthand{}, "not.eq{field=" + field + ",value=" + normaliseEqValue(val) + "}", true, nil
		}
		return shorthand{}, "eq{field=" + field + ",value=" + normaliseEqValue(val) + "}", true, nil
	}
	var bound string
	switch op {
	case ">":
		bound = "gt"
	case ">=":
		bound = "gte"
	case "<":
		bound = "lt"
	default:
		bound = "lte"
	}
	sh = shorthand{kind: shRange, field: field, bound: bound}
	if _, ok := parseFloat(val); ok {
		// Number text holds no quote, backslash, separator or space.
		if simpleField {
			sh.val = val
			return sh, "", true, nil
		}
		return shorthand{}, "range{field=" + field + "," + bound + "=" + val + "}", true, nil
	}
	lit, _ := unquote(val)
	if _, ok := parseTemporal(lit); !ok {
		return shorthand{}, "", true, fmt.Errorf("range comparisons require numeric or datetime literals")
	}
	lit = strings.TrimSpace(lit)
	if simpleField && bodySafe(lit, '"') {
		sh.val, sh.quoted = lit, true
		return sh, "", true, nil
	}
	return shorthand{}, "range{field=" + field + "," + bound + "=\"" + lit + "\"}", true, nil
}

// eqShorthandValue fills sh.val and sh.quoted with the equality value the
// reference's rewrite produces (normaliseEqValue) and reports whether that
// text is one token of the brace body. It returns false for values the
// rewrite JSON-encodes and for non-ASCII spellings of true and false.
func eqShorthandValue(sh *shorthand, v string) bool {
	if inner, q := unquote(v); q {
		// Passed through as written; the body splitter keeps it whole when
		// the quoted part holds neither its quote nor a backslash.
		sh.val = v
		return bodySafe(inner, v[0])
	}
	if _, ok := parseFloat(v); ok {
		sh.val = v
		return true
	}
	if strings.EqualFold(v, "true") || strings.EqualFold(v, "false") {
		// The rewrite lower-cases; equal lengths mean plain ASCII, where
		// that gives exactly the literal.
		switch {
		case len(v) == len("true"):
			sh.val = "true"
		case len(v) == len("false"):
			sh.val = "false"
		default:
			return false
		}
		return true
	}
	if isPlainText(v) {
		// Wrapped in double quotes; isPlainText excludes '"' and '\\'.
		sh.val, sh.quoted = v, true
		return true
	}
	return false
}

// bodySafe reports whether s, written into a brace body unquoted (quote 0)
// or inside the given quote character, stays within one token and reads
// back unchanged: no backslash, no closing quote, and, unquoted, no
// quote, separator or blank either.
func bodySafe(s string, quote byte) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			return false
		case quote != 0:
			if c == quote {
				return false
			}
		case c == '"', c == '\'', c == ',', c == '\n', c == '\r', c == ' ', c == '\t':
			return false
		}
	}
	return true
}

// normaliseEqValue prepares a shorthand equality value (spec §3.6.3):
// quoted values and numbers pass through, booleans are lower-cased, and
// anything else is JSON-encoded with Go's HTML-escaping encoder. The
// encoder's escapes are never undone, which is a reference quirk kept on
// purpose: unquoted values containing < > & \ never match.
func normaliseEqValue(v string) string {
	if _, q := unquote(v); q {
		return v
	}
	if _, ok := parseFloat(v); ok {
		return v
	}
	if strings.EqualFold(v, "true") || strings.EqualFold(v, "false") {
		return strings.ToLower(v)
	}
	if isPlainText(v) {
		return `"` + v + `"`
	}
	enc, err := json.Marshal(v)
	if err != nil {
		return v
	}
	return string(enc)
}

// isPlainText reports whether JSON encoding would leave v unchanged apart
// from the surrounding quotes, to skip the encoder on the common path.
func isPlainText(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

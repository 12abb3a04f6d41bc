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

// candidate is one expression after shorthand rewriting. prefix is the
// implicit combinator (wAnd/wOr) prepended when the input holds several
// expressions, or -1; it is kept apart from text to avoid building a new
// string per expression.
type candidate struct {
	text   string
	src    piece
	prefix int
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

// compareCandidates orders candidates by their final text (prefix + text)
// byte-wise, without building it.
func compareCandidates(a, b candidate) int {
	pa, pb := a.prefixText(), b.prefixText()
	la, lb := len(pa)+len(a.text), len(pb)+len(b.text)
	at := func(p, t string, i int) byte {
		if i < len(p) {
			return p[i]
		}
		return t[i-len(p)]
	}
	for i := 0; i < la && i < lb; i++ {
		x, y := at(pa, a.text, i), at(pb, b.text, i)
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return la - lb
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
		text, keep, err := classify(p.text)
		if err != nil {
			firstErr, errPiece = err, p
			return
		}
		if keep {
			cands = append(cands, candidate{text: text, src: p, prefix: -1})
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
	var asm assembler
	var wrapBuf [8]wrapper
	for _, c := range cands {
		e, err := parseFullForm(c.text, c.src, c.prefix, wrapBuf[:0])
		if err != nil {
			return Selector{}, wrapParseErr(input, c.src, err)
		}
		if err := asm.add(e); err != nil {
			return Selector{}, wrapParseErr(input, c.src, err)
		}
	}
	return finishSelector(input, &asm)
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

// classify turns one piece into full-form text (spec §3.3). keep is false
// for the match-all aliases.
func classify(p string) (text string, keep bool, err error) {
	if isRootWord(rootWord(p)) {
		return p, true, nil
	}
	text, found, err := rewriteShorthand(p)
	if err != nil || found {
		return text, found, err
	}
	switch p {
	case "{}", ".", "/":
		return "", false, nil
	}
	return "", false, fmt.Errorf("invalid selector expression %q", p)
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

// rewriteShorthand rewrites "/f op v" into full form (spec §3.6.2). found
// is false when the piece holds no operator.
func rewriteShorthand(p string) (text string, found bool, err error) {
	at, width := findOperator(p)
	if at < 0 {
		return "", false, nil
	}
	op := p[at : at+width]
	field := strings.TrimSpace(p[:at])
	val := strings.TrimSpace(p[at+width:])
	switch {
	case field == "":
		return "", true, fmt.Errorf("selector shorthand %q missing field", p)
	case field[0] != '/':
		return "", true, fmt.Errorf("selector shorthand %q requires JSON Pointer field", p)
	case val == "":
		return "", true, fmt.Errorf("selector shorthand %q missing value", p)
	}
	switch op {
	case "=", "==":
		return "eq{field=" + field + ",value=" + normaliseEqValue(val) + "}", true, nil
	case "!=":
		return "not.eq{field=" + field + ",value=" + normaliseEqValue(val) + "}", true, nil
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
	if _, ok := parseFloat(val); ok {
		return "range{field=" + field + "," + bound + "=" + val + "}", true, nil
	}
	lit, _ := unquote(val)
	if _, ok := parseTemporal(lit); !ok {
		return "", true, fmt.Errorf("range comparisons require numeric or datetime literals")
	}
	return "range{field=" + field + "," + bound + "=\"" + strings.TrimSpace(lit) + "\"}", true, nil
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

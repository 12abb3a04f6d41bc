package lql

import (
	"errors"
	"strings"
)

// piece is a substring of a parser input together with its byte offset, so
// that errors can point back into the original text.
type piece struct {
	text string
	off  int
}

var (
	errUnexpectedClose = errors.New("unexpected closing brace")
	errUnterminatedQ   = errors.New("unterminated quote in selector expression")
	errUnterminatedB   = errors.New("unterminated brace in selector expression")
)

// splitTopLevel splits s at commas and line feeds that sit outside quotes and
// braces (spec §3.2). A backslash protects the next byte but is kept in the
// text. Pieces are trimmed and empty pieces dropped. The visitor form keeps
// the common case free of allocations.
func splitTopLevel(s string, emit func(p piece)) error {
	var quote byte
	depth := 0
	escaped := false
	start := 0
	flush := func(end int) {
		raw := s[start:end]
		t := strings.TrimSpace(raw)
		if t != "" {
			emit(piece{text: t, off: start + strings.Index(raw, t)})
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if escaped {
			escaped = false
			continue
		}
		if c == '\\' {
			escaped = true
			continue
		}
		if quote != 0 {
			if c == quote {
				quote = 0
			}
			continue
		}
		switch c {
		case '"', '\'':
			quote = c
		case '{':
			depth++
		case '}':
			if depth == 0 {
				return errUnexpectedClose
			}
			depth--
		case ',', '\n':
			if depth == 0 {
				flush(i)
				start = i + 1
			}
		}
	}
	if quote != 0 {
		return errUnterminatedQ
	}
	if depth > 0 {
		return errUnterminatedB
	}
	flush(len(s))
	return nil
}

// splitBody splits a brace body into assignment tokens (spec §3.5.1).
// Commas, LF and CR end a token; a space or tab ends it only once an '=' has
// been seen and the value has started. Tokens keep their trailing text (the
// reference quotes them that way in errors) but lose leading whitespace;
// blank tokens are dropped.
func splitBody(body string, off int, dst []piece) ([]piece, error) {
	var quote byte
	escaped := false
	start := 0
	seenEq, valueStarted := false, false
	flush := func(end int) {
		raw := body[start:end]
		t := strings.TrimLeft(raw, " \t\r\n\v\f")
		if strings.TrimSpace(t) != "" {
			dst = append(dst, piece{text: t, off: off + end - len(t)})
		}
		seenEq, valueStarted = false, false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if escaped {
			escaped = false
			continue
		}
		if c == '\\' {
			escaped = true
			if seenEq {
				valueStarted = true
			}
			continue
		}
		if quote != 0 {
			if c == quote {
				quote = 0
			}
			continue
		}
		switch c {
		case '"', '\'':
			quote = c
			if seenEq {
				valueStarted = true
			}
		case ',', '\n', '\r':
			flush(i)
			start = i + 1
		case ' ', '\t':
			if seenEq && valueStarted {
				flush(i)
				start = i + 1
			}
		case '=':
			if seenEq {
				valueStarted = true
			}
			seenEq = true
		default:
			if seenEq {
				valueStarted = true
			}
		}
	}
	if quote != 0 {
		return nil, errUnterminatedQ
	}
	flush(len(body))
	return dst, nil
}

// unquote removes one layer of matching single or double quotes.
func unquote(s string) (string, bool) {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1], true
	}
	return s, false
}

package lql

import (
	"fmt"
	"strconv"
)

// ParseError reports a selector or mutation that could not be parsed or
// failed semantic validation. Its Error text is the bare message, worded as
// the reference implementation words it, because lockd hands that text
// verbatim to HTTP clients; Expr and Pos let a tool point at the culprit.
type ParseError struct {
	// Input is the complete text that was being parsed.
	Input string
	// Expr is the offending expression (one comma/newline-separated piece,
	// one brace-body token, or one mutation), when known.
	Expr string
	// Pos is the byte offset of Expr within Input, or -1 when unknown
	// (for example for a JSON AST or after assembly of several pieces).
	Pos int
	// Msg is the human-readable reason.
	Msg string
}

// Error returns the message.
func (e *ParseError) Error() string { return e.Msg }

// Detail returns the message together with where it happened, for callers
// (such as MCP tools) that hand errors to a model and want it to see the
// offending piece.
func (e *ParseError) Detail() string {
	switch {
	case e.Expr != "" && e.Pos >= 0:
		return fmt.Sprintf("%s (in %q at offset %d)", e.Msg, e.Expr, e.Pos)
	case e.Expr != "":
		return fmt.Sprintf("%s (in %q)", e.Msg, e.Expr)
	}
	return e.Msg
}

func parseErr(input, expr string, pos int, format string, args ...any) *ParseError {
	return &ParseError{Input: input, Expr: expr, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// Stream error codes (spec §7.5).
const (
	CodeInvalidSelector  = "invalid_selector"
	CodeInvalidBody      = "invalid_body"
	CodeDocumentTooLarge = "document_too_large"
	CodeContextCanceled  = "context_canceled"
	CodeInternal         = "internal"
)

// StreamError is returned by the streaming engines. Its text reads
// "<code>: <detail>[ path=…][ offset=N][: cause]" (spec §7.5), which lockd
// maps to HTTP status codes.
type StreamError struct {
	Code   string
	Detail string
	Path   string
	Offset int64 // -1 when not applicable
	Err    error
}

func (e *StreamError) Error() string {
	b := []byte(e.Code + ": " + e.Detail)
	if e.Path != "" {
		b = append(b, " path="...)
		b = append(b, e.Path...)
	}
	if e.Offset >= 0 {
		b = append(b, " offset="...)
		b = strconv.AppendInt(b, e.Offset, 10)
	}
	if e.Err != nil {
		b = append(b, ": "...)
		b = append(b, e.Err.Error()...)
	}
	return string(b)
}

// Unwrap returns the cause.
func (e *StreamError) Unwrap() error { return e.Err }

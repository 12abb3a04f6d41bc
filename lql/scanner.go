package lql

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"unicode/utf16"
	"unicode/utf8"
)

const (
	scanBufSize = 64 << 10
	// maxNesting bounds container depth so that hostile input cannot
	// exhaust the goroutine stack of the recursive engines.
	maxNesting = 10000
)

// strSpecial marks the bytes that end the fast path inside a string.
var strSpecial = func() (t [256]bool) {
	for i := 0; i < 0x20; i++ {
		t[i] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// scanner is a pull tokenizer over a JSON byte stream that never holds more
// than one buffer of input. It validates as it goes. In copy mode every
// byte it consumes, except whitespace between tokens, is forwarded to sink;
// that is how untouched subtrees are re-emitted compactly without being
// decoded.
type scanner struct {
	ctx  context.Context
	r    io.Reader
	buf  []byte
	pos  int
	end  int
	base int64 // stream offset of buf[0]
	eof  bool
	rerr error

	sink *bufio.Writer // copy-mode destination, nil when not copying
	mark int           // start of bytes not yet forwarded to sink

	stack []byte // container stack for skipValue

	capturing bool   // keep consumed bytes in capBuf
	capBuf    []byte // captured bytes
	cmark     int    // start of bytes not yet captured
}

// startCapture begins keeping every consumed byte (whitespace included).
func (s *scanner) startCapture(buf []byte) {
	s.capturing, s.capBuf, s.cmark = true, buf, s.pos
}

// stopCapture ends capturing and returns the bytes.
func (s *scanner) stopCapture() []byte {
	s.capBuf = append(s.capBuf, s.buf[s.cmark:s.pos]...)
	s.capturing = false
	return s.capBuf
}

// keepCaptured saves captured bytes before the buffer is reused.
func (s *scanner) keepCaptured() {
	if s.capturing {
		s.capBuf = append(s.capBuf, s.buf[s.cmark:s.pos]...)
	}
	s.cmark = s.pos
}

func newScanner(ctx context.Context, r io.Reader) *scanner {
	return &scanner{ctx: ctx, r: r, buf: make([]byte, scanBufSize)}
}

// offset is the stream offset of the next unread byte.
func (s *scanner) offset() int64 { return s.base + int64(s.pos) }

// fill refills the buffer once it is fully consumed. It reports whether
// more input is available.
func (s *scanner) fill() bool {
	if s.pos < s.end {
		return true
	}
	if s.sink != nil && s.mark < s.end {
		s.sink.Write(s.buf[s.mark:s.end])
	}
	s.keepCaptured()
	s.base += int64(s.end)
	s.pos, s.end, s.mark, s.cmark = 0, 0, 0, 0
	if s.eof {
		return false
	}
	if s.ctx != nil {
		if err := s.ctx.Err(); err != nil {
			s.eof, s.rerr = true, err
			return false
		}
	}
	for {
		n, err := s.r.Read(s.buf)
		s.end = n
		if err != nil {
			s.eof = true
			if !errors.Is(err, io.EOF) {
				s.rerr = err
			}
		}
		if n > 0 || s.eof {
			return n > 0
		}
	}
}

// fail builds the invalid_body error for the current offset, or reports a
// read or context error that made the input end early.
func (s *scanner) fail(format string, args ...any) error {
	if s.rerr != nil {
		if errors.Is(s.rerr, context.Canceled) || errors.Is(s.rerr, context.DeadlineExceeded) {
			return &StreamError{Code: CodeContextCanceled, Detail: "stream canceled", Offset: s.offset(), Err: s.rerr}
		}
		return &StreamError{Code: CodeInvalidBody, Detail: "read json stream", Offset: s.offset(), Err: s.rerr}
	}
	return &StreamError{Code: CodeInvalidBody, Detail: "invalid json stream", Offset: s.offset(), Err: fmt.Errorf(format, args...)}
}

// flushCopy forwards pending copy-mode bytes.
func (s *scanner) flushCopy() {
	if s.sink != nil && s.mark < s.pos {
		s.sink.Write(s.buf[s.mark:s.pos])
	}
	s.mark = s.pos
}

// ensure makes at least n unread bytes contiguous in the buffer, reading
// more input when needed; it reports false when the input ends first.
func (s *scanner) ensure(n int) bool {
	if s.end-s.pos >= n {
		return true
	}
	s.flushCopy()
	s.keepCaptured()
	copy(s.buf, s.buf[s.pos:s.end])
	s.base += int64(s.pos)
	s.end -= s.pos
	s.pos, s.mark, s.cmark = 0, 0, 0
	for !s.eof && s.end-s.pos < n {
		m, err := s.r.Read(s.buf[s.end:])
		s.end += m
		if err != nil {
			s.eof = true
			if !errors.Is(err, io.EOF) {
				s.rerr = err
			}
		}
	}
	return s.end-s.pos >= n
}

// peek skips whitespace and returns the next byte without consuming it.
func (s *scanner) peek() (byte, bool) {
	for {
		if s.pos >= s.end && !s.fill() {
			return 0, false
		}
		c := s.buf[s.pos]
		if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
			return c, true
		}
		if s.sink != nil {
			s.flushCopy()
		}
		for s.pos < s.end {
			c = s.buf[s.pos]
			if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
				break
			}
			s.pos++
		}
		s.mark = s.pos
	}
}

// expect consumes c after optional whitespace.
func (s *scanner) expect(c byte) error {
	got, ok := s.peek()
	if !ok {
		return s.fail("unexpected end of input, expected %q", c)
	}
	if got != c {
		return s.fail("unexpected %q, expected %q", got, c)
	}
	s.pos++
	return nil
}

// readString consumes a string token; when dec is non-nil the decoded
// content is appended to it. Raw invalid UTF-8 is accepted (spec §7.1).
func (s *scanner) readString(dec *[]byte) error {
	s.pos++ // opening quote
	for {
		start := s.pos
		i := start
		buf := s.buf[:s.end]
		for i < len(buf) && !strSpecial[buf[i]] {
			i++
		}
		if dec != nil {
			*dec = append(*dec, buf[start:i]...)
		}
		s.pos = i
		if i == len(buf) {
			if !s.fill() {
				return s.fail("unterminated string")
			}
			continue
		}
		switch c := buf[i]; {
		case c == '"':
			s.pos++
			return nil
		case c < 0x20:
			return s.fail("control character in string")
		}
		s.pos++ // backslash
		e, ok := s.nextByte()
		if !ok {
			return s.fail("unterminated string escape")
		}
		switch e {
		case '"', '\\', '/':
			s.appendDec(dec, e)
		case 'b':
			s.appendDec(dec, '\b')
		case 'f':
			s.appendDec(dec, '\f')
		case 'n':
			s.appendDec(dec, '\n')
		case 'r':
			s.appendDec(dec, '\r')
		case 't':
			s.appendDec(dec, '\t')
		case 'u':
			r, err := s.readHex4()
			if err != nil {
				return err
			}
			if utf16.IsSurrogate(r) {
				r = s.lowSurrogate(r)
			}
			if dec != nil {
				*dec = utf8.AppendRune(*dec, r)
			}
		default:
			return s.fail("invalid escape %q in string", e)
		}
	}
}

func (s *scanner) appendDec(dec *[]byte, c byte) {
	if dec != nil {
		*dec = append(*dec, c)
	}
}

func (s *scanner) nextByte() (byte, bool) {
	if s.pos >= s.end && !s.fill() {
		return 0, false
	}
	c := s.buf[s.pos]
	s.pos++
	return c, true
}

func (s *scanner) readHex4() (rune, error) {
	var r rune
	for k := 0; k < 4; k++ {
		c, ok := s.nextByte()
		if !ok {
			return 0, s.fail("unterminated unicode escape")
		}
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, s.fail("invalid unicode escape")
		}
	}
	return r, nil
}

// lowSurrogate completes a surrogate pair when the next escape is its low
// half; otherwise the lone surrogate decodes as U+FFFD, as encoding/json
// does. A following escape that is not a low surrogate is left unread.
func (s *scanner) lowSurrogate(hi rune) rune {
	if !s.ensure(6) || s.buf[s.pos] != '\\' || s.buf[s.pos+1] != 'u' {
		return utf8.RuneError
	}
	var lo rune
	for _, c := range s.buf[s.pos+2 : s.pos+6] {
		switch {
		case c >= '0' && c <= '9':
			lo = lo<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			lo = lo<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			lo = lo<<4 | rune(c-'A'+10)
		default:
			return utf8.RuneError
		}
	}
	r := utf16.DecodeRune(hi, lo)
	if r == utf8.RuneError {
		return r
	}
	s.pos += 6
	return r
}

// readNumber consumes a number token, appending its text to tok when tok
// is non-nil. The grammar is RFC 8259's; a leading zero followed by a
// digit is an error.
func (s *scanner) readNumber(tok *[]byte) error {
	state := 0 // 0 sign, 1 int first, 2 int rest, 3 frac first, 4 frac rest, 5 exp sign, 6 exp first, 7 exp rest, 8 after zero
	for {
		if s.pos >= s.end && !s.fill() {
			break
		}
		c := s.buf[s.pos]
		ok := true
		switch state {
		case 0:
			if c == '-' {
				state = 1
			} else {
				state = 1
				continue
			}
		case 1:
			switch {
			case c == '0':
				state = 8
			case c >= '1' && c <= '9':
				state = 2
			default:
				return s.fail("invalid number")
			}
		case 2, 8:
			switch {
			case c >= '0' && c <= '9' && state == 2:
			case c >= '0' && c <= '9':
				return s.fail("invalid number: leading zero")
			case c == '.':
				state = 3
			case c == 'e' || c == 'E':
				state = 5
			default:
				ok = false
			}
		case 3, 4:
			switch {
			case c >= '0' && c <= '9':
				state = 4
			case state == 3:
				return s.fail("invalid number fraction")
			case c == 'e' || c == 'E':
				state = 5
			default:
				ok = false
			}
		case 5:
			switch {
			case c == '+' || c == '-':
				state = 6
			case c >= '0' && c <= '9':
				state = 7
			default:
				return s.fail("invalid number exponent")
			}
		case 6, 7:
			switch {
			case c >= '0' && c <= '9':
				state = 7
			case state == 6:
				return s.fail("invalid number exponent")
			default:
				ok = false
			}
		}
		if !ok {
			break
		}
		if tok != nil {
			*tok = append(*tok, c)
		}
		s.pos++
	}
	switch state {
	case 2, 4, 7, 8:
	default:
		return s.fail("truncated number")
	}
	return s.checkDelimiter()
}

// checkDelimiter rejects tokens glued to a following letter or digit, such
// as "01", "truex" or "1.5.2".
func (s *scanner) checkDelimiter() error {
	if s.pos >= s.end && !s.fill() {
		return nil
	}
	c := s.buf[s.pos]
	if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '+' || c == '-' || c == '_' {
		return s.fail("unexpected %q after value", c)
	}
	return nil
}

// readLiteral consumes true, false or null.
func (s *scanner) readLiteral(word string) error {
	for i := 0; i < len(word); i++ {
		c, ok := s.nextByte()
		if !ok || c != word[i] {
			return s.fail("invalid literal, expected %s", word)
		}
	}
	return s.checkDelimiter()
}

// readScalar consumes a scalar whose first byte is c and returns its kind
// and text (decoded for strings, raw for numbers) appended to tok.
func (s *scanner) readScalar(c byte, tok *[]byte) (byte, error) {
	switch {
	case c == '"':
		return 's', s.readString(tok)
	case c == '-' || c >= '0' && c <= '9':
		return 'n', s.readNumber(tok)
	case c == 't':
		return 't', s.readLiteral("true")
	case c == 'f':
		return 'f', s.readLiteral("false")
	case c == 'n':
		return 'z', s.readLiteral("null")
	}
	return 0, s.fail("unexpected %q, expected a value", c)
}

// skipValue consumes one complete value, validating it, without
// recursion. In copy mode the value is forwarded compactly.
func (s *scanner) skipValue() error {
	s.stack = s.stack[:0]
	for {
		c, ok := s.peek()
		if !ok {
			return s.fail("unexpected end of input, expected a value")
		}
		switch c {
		case '{', '[':
			s.pos++
			close := byte('}')
			if c == '[' {
				close = ']'
			}
			n, ok := s.peek()
			if !ok {
				return s.fail("unterminated container")
			}
			if n == close {
				s.pos++
				break
			}
			if len(s.stack) >= maxNesting {
				return s.fail("nesting deeper than %d", maxNesting)
			}
			s.stack = append(s.stack, c)
			if c == '{' {
				if err := s.readKey(nil); err != nil {
					return err
				}
			}
			continue
		default:
			if _, err := s.readScalar(c, nil); err != nil {
				return err
			}
		}
		// after a value: close containers or move to the next element
		for {
			if len(s.stack) == 0 {
				return nil
			}
			top := s.stack[len(s.stack)-1]
			c, ok := s.peek()
			if !ok {
				return s.fail("unterminated container")
			}
			if c == ',' {
				s.pos++
				if top == '{' {
					if err := s.readKey(nil); err != nil {
						return err
					}
				}
				break
			}
			if (c == '}' && top == '{') || (c == ']' && top == '[') {
				s.pos++
				s.stack = s.stack[:len(s.stack)-1]
				continue
			}
			return s.fail("unexpected %q in container", c)
		}
	}
}

// readKey consumes `"key" :`, appending the decoded key to dec when non-nil.
func (s *scanner) readKey(dec *[]byte) error {
	c, ok := s.peek()
	if !ok {
		return s.fail("unexpected end of input, expected an object key")
	}
	if c != '"' {
		return s.fail("unexpected %q, expected an object key", c)
	}
	if err := s.readString(dec); err != nil {
		return err
	}
	return s.expect(':')
}

// copyValue forwards one value compactly to w.
func (s *scanner) copyValue(w *bufio.Writer) error {
	s.sink, s.mark = w, s.pos
	err := s.skipValue()
	s.flushCopy()
	s.sink = nil
	return err
}

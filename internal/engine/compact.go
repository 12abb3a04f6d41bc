package engine

import (
	"errors"
	"strconv"
)

// maxJSONDepth matches encoding/json's nesting limit, so the compactor and
// json.Valid agree on every input.
const maxJSONDepth = 10000

// Compactor states.
const (
	cValue        uint8 = iota // a value must follow
	cValueOrClose              // after '[': a value or ']'
	cKeyOrClose                // after '{': a key or '}'
	cKey                       // after ',' in an object: a key
	cColon                     // after a key
	cAfterValue                // ',' or the closing bracket
	cEnd                       // top-level value complete; only whitespace
	cString                    // inside a string
	cStrEsc                    // after '\' in a string
	cStrU                      // inside \uXXXX
	cNumMinus                  // after '-'
	cNumZero                   // after a leading 0
	cNumInt                    // integer digits
	cNumDot                    // after '.'
	cNumFrac                   // fraction digits
	cNumE                      // after 'e'/'E'
	cNumESign                  // after the exponent sign
	cNumExp                    // exponent digits
	cLiteral                   // inside true/false/null
)

// compactor validates JSON and removes insignificant whitespace in one pass
// over a byte stream, so a document of any size can be compacted while it is
// streamed to storage. It accepts exactly what json.Valid accepts (one value,
// surrounding whitespace allowed) and emits exactly what json.Compact emits.
type compactor struct {
	stack  []byte
	state  uint8
	isKey  bool
	hexN   uint8
	lit    string
	off    int64
	failed error
}

func (c *compactor) fail(b byte, want string) error {
	c.failed = errors.New("invalid JSON at byte " + strconv.FormatInt(c.off, 10) + ": unexpected " + quoteByte(b) + ", expected " + want)
	return c.failed
}

func quoteByte(b byte) string {
	if b < 0x20 || b >= 0x7f {
		return "byte 0x" + strconv.FormatUint(uint64(b), 16)
	}
	return strconv.QuoteRune(rune(b))
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// write consumes p and appends the compacted bytes to out.
func (c *compactor) write(out, p []byte) ([]byte, error) {
	if c.failed != nil {
		return out, c.failed
	}
	i := 0
	for i < len(p) {
		b := p[i]
		switch c.state {
		case cString:
			// Copy the longest run of plain string bytes in one append.
			j := i
			for j < len(p) {
				ch := p[j]
				if ch == '"' || ch == '\\' || ch < 0x20 {
					break
				}
				j++
			}
			out = append(out, p[i:j]...)
			c.off += int64(j - i)
			i = j
			if i == len(p) {
				return out, nil
			}
			b = p[i]
			switch {
			case b == '"':
				if c.isKey {
					c.state = cColon
				} else {
					c.afterValue()
				}
			case b == '\\':
				c.state = cStrEsc
			default:
				return out, c.fail(b, "a string character (control characters must be escaped)")
			}
			out = append(out, b)
		case cStrEsc:
			switch b {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				c.state = cString
			case 'u':
				c.state, c.hexN = cStrU, 0
			default:
				return out, c.fail(b, "an escape character")
			}
			out = append(out, b)
		case cStrU:
			if !isHex(b) {
				return out, c.fail(b, "a hex digit in \\u escape")
			}
			c.hexN++
			if c.hexN == 4 {
				c.state = cString
			}
			out = append(out, b)
		case cLiteral:
			if b != c.lit[0] {
				return out, c.fail(b, "literal true, false or null")
			}
			c.lit = c.lit[1:]
			if c.lit == "" {
				c.afterValue()
			}
			out = append(out, b)
		case cNumMinus, cNumZero, cNumInt, cNumDot, cNumFrac, cNumE, cNumESign, cNumExp:
			if c.number(b) {
				out = append(out, b)
				break
			}
			if c.failed != nil {
				return out, c.failed
			}
			// The number ended; b belongs to what follows it.
			c.afterValue()
			continue
		default:
			if isSpace(b) {
				break
			}
			var err error
			if err = c.structural(b); err != nil {
				return out, err
			}
			out = append(out, b)
		}
		i++
		c.off++
	}
	return out, nil
}

// structural handles b outside strings, numbers and literals.
func (c *compactor) structural(b byte) error {
	switch c.state {
	case cValue, cValueOrClose:
		if c.state == cValueOrClose && b == ']' {
			return c.close(b)
		}
		return c.beginValue(b)
	case cKeyOrClose, cKey:
		if c.state == cKeyOrClose && b == '}' {
			return c.close(b)
		}
		if b != '"' {
			return c.fail(b, "a string object key")
		}
		c.state, c.isKey = cString, true
		return nil
	case cColon:
		if b != ':' {
			return c.fail(b, "':' after object key")
		}
		c.state = cValue
		return nil
	case cAfterValue:
		top := c.stack[len(c.stack)-1]
		switch {
		case b == ',' && top == '{':
			c.state = cKey
			return nil
		case b == ',':
			c.state = cValue
			return nil
		case b == '}' || b == ']':
			return c.close(b)
		}
		return c.fail(b, "',' or a closing bracket")
	case cEnd:
		return c.fail(b, "end of input after the top-level value")
	}
	return c.fail(b, "valid JSON")
}

func (c *compactor) beginValue(b byte) error {
	switch {
	case b == '{' || b == '[':
		if len(c.stack) >= maxJSONDepth {
			return c.fail(b, "nesting depth below 10000")
		}
		c.stack = append(c.stack, b)
		if b == '{' {
			c.state = cKeyOrClose
		} else {
			c.state = cValueOrClose
		}
	case b == '"':
		c.state, c.isKey = cString, false
	case b == '-':
		c.state = cNumMinus
	case b == '0':
		c.state = cNumZero
	case b >= '1' && b <= '9':
		c.state = cNumInt
	case b == 't':
		c.state, c.lit = cLiteral, "rue"
	case b == 'f':
		c.state, c.lit = cLiteral, "alse"
	case b == 'n':
		c.state, c.lit = cLiteral, "ull"
	default:
		return c.fail(b, "a JSON value")
	}
	return nil
}

func (c *compactor) close(b byte) error {
	want := byte('{')
	if b == ']' {
		want = '['
	}
	if len(c.stack) == 0 || c.stack[len(c.stack)-1] != want {
		return c.fail(b, "a matching bracket")
	}
	c.stack = c.stack[:len(c.stack)-1]
	c.afterValue()
	return nil
}

func (c *compactor) afterValue() {
	if len(c.stack) == 0 {
		c.state = cEnd
	} else {
		c.state = cAfterValue
	}
}

// number advances the number automaton. It returns false when b does not
// continue the number; c.failed is set when the number was incomplete.
func (c *compactor) number(b byte) bool {
	digit := b >= '0' && b <= '9'
	switch c.state {
	case cNumMinus:
		switch {
		case b == '0':
			c.state = cNumZero
		case digit:
			c.state = cNumInt
		default:
			c.fail(b, "a digit after '-'")
			return false
		}
		return true
	case cNumZero, cNumInt:
		switch {
		case digit && c.state == cNumInt:
			return true
		case b == '.':
			c.state = cNumDot
			return true
		case b == 'e' || b == 'E':
			c.state = cNumE
			return true
		}
		return false
	case cNumDot:
		if !digit {
			c.fail(b, "a digit after '.'")
			return false
		}
		c.state = cNumFrac
		return true
	case cNumFrac:
		if digit {
			return true
		}
		if b == 'e' || b == 'E' {
			c.state = cNumE
			return true
		}
		return false
	case cNumE:
		switch {
		case b == '+' || b == '-':
			c.state = cNumESign
		case digit:
			c.state = cNumExp
		default:
			c.fail(b, "an exponent digit")
			return false
		}
		return true
	case cNumESign:
		if !digit {
			c.fail(b, "an exponent digit")
			return false
		}
		c.state = cNumExp
		return true
	case cNumExp:
		return digit
	}
	return false
}

// finish reports whether the input seen so far is one complete JSON value.
func (c *compactor) finish() error {
	if c.failed != nil {
		return c.failed
	}
	switch c.state {
	case cEnd:
		return nil
	case cNumZero, cNumInt, cNumFrac, cNumExp:
		if len(c.stack) == 0 {
			c.state = cEnd
			return nil
		}
	}
	if c.off == 0 {
		c.failed = errors.New("invalid JSON: empty body")
	} else {
		c.failed = errors.New("invalid JSON: unexpected end of input at byte " + strconv.FormatInt(c.off, 10))
	}
	return c.failed
}

func isHex(b byte) bool {
	return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F')
}

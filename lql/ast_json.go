package lql

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The JSON AST decoders below are deliberately lenient (spec §3.11): a term
// value may be any scalar, any may be a "|" list, an array or a scalar, and
// ignoreCase may be a boolean or one of the strings true/false/t/f. Member
// names match case-insensitively because they are decoded through
// encoding/json structs. Decoding does not run semantic validation; call
// Selector.Validate for that.

// MarshalJSON writes the term with its value only when one was set.
func (t Term) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"field":`)
	writeJSONString(&b, t.Field)
	if t.HasValue() {
		b.WriteString(`,"value":`)
		writeJSONString(&b, t.Value)
	}
	if len(t.Any) > 0 {
		b.WriteString(`,"any":[`)
		for i, a := range t.Any {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(&b, a)
		}
		b.WriteByte(']')
	}
	if t.IgnoreCase {
		b.WriteString(`,"ignoreCase":true`)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON decodes a term leniently (spec §3.11).
func (t *Term) UnmarshalJSON(data []byte) error {
	var aux struct {
		Field      *string
		Value      json.RawMessage
		Any        json.RawMessage
		IgnoreCase json.RawMessage
	}
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	*t = Term{}
	if aux.Field == nil || strings.TrimSpace(*aux.Field) == "" {
		return errors.New("term field required")
	}
	t.Field = strings.TrimSpace(*aux.Field)
	if len(aux.Value) > 0 {
		v, ok, err := jsonScalarText(aux.Value)
		if err != nil {
			return fmt.Errorf("term value: %w", err)
		}
		if ok {
			t.Value = v
		}
		// null is an explicit empty value, not an omitted one.
		t.ValueSet = true
	}
	if len(aux.Any) > 0 && !bytes.Equal(aux.Any, []byte("null")) {
		items, err := decodeAnyList(aux.Any, true)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return errors.New("term any requires values")
		}
		t.Any = items
	}
	if len(aux.IgnoreCase) > 0 && !bytes.Equal(aux.IgnoreCase, []byte("null")) {
		var b bool
		if err := json.Unmarshal(aux.IgnoreCase, &b); err == nil {
			t.IgnoreCase = b
		} else {
			var s string
			if err := json.Unmarshal(aux.IgnoreCase, &s); err != nil {
				return errors.New("term ignoreCase must be boolean")
			}
			v, ok := parseLooseBool(s)
			if !ok {
				return errors.New("term ignoreCase must be true/false/t/f")
			}
			t.IgnoreCase = v
		}
	}
	return nil
}

// MarshalJSON writes the in term.
func (t InTerm) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"field":`)
	writeJSONString(&b, t.Field)
	b.WriteString(`,"any":[`)
	for i, a := range t.Any {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, a)
	}
	b.WriteString("]}")
	return b.Bytes(), nil
}

// UnmarshalJSON decodes an in term; any may be an array or a "|" list.
func (t *InTerm) UnmarshalJSON(data []byte) error {
	var aux struct {
		Field *string
		Any   json.RawMessage
	}
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	*t = InTerm{}
	if aux.Field != nil {
		t.Field = strings.TrimSpace(*aux.Field)
	}
	if len(aux.Any) > 0 && !bytes.Equal(aux.Any, []byte("null")) {
		items, err := decodeAnyList(aux.Any, false)
		if err != nil {
			return err
		}
		t.Any = items
	}
	return nil
}

// MarshalJSON writes a numeric bound as a JSON number and a datetime bound as
// a string.
func (b Bound) MarshalJSON() ([]byte, error) {
	if b.Time != "" {
		var buf bytes.Buffer
		writeJSONString(&buf, b.Time)
		return buf.Bytes(), nil
	}
	if math.IsNaN(b.Num) || math.IsInf(b.Num, 0) {
		return nil, fmt.Errorf("json: unsupported value: %s", strconv.FormatFloat(b.Num, 'g', -1, 64))
	}
	return appendJSONFloat(nil, b.Num), nil
}

// MarshalJSON writes the range term with the bounds that are set.
func (t RangeTerm) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"field":`)
	writeJSONString(&b, t.Field)
	for _, nb := range [...]struct {
		name string
		b    *Bound
	}{{"gt", t.GT}, {"gte", t.GTE}, {"lt", t.LT}, {"lte", t.LTE}} {
		if nb.b == nil {
			continue
		}
		enc, err := nb.b.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("range %s: %w", nb.name, err)
		}
		b.WriteString(`,"` + nb.name + `":`)
		b.Write(enc)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON decodes a range term: numbers are numeric bounds, strings
// datetime bounds.
func (t *RangeTerm) UnmarshalJSON(data []byte) error {
	var aux struct {
		Field            *string
		GT, GTE, LT, LTE json.RawMessage
	}
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	*t = RangeTerm{}
	if aux.Field == nil || strings.TrimSpace(*aux.Field) == "" {
		return errors.New("range field required")
	}
	t.Field = strings.TrimSpace(*aux.Field)
	for _, nb := range [...]struct {
		name string
		raw  json.RawMessage
		dst  **Bound
	}{{"gt", aux.GT, &t.GT}, {"gte", aux.GTE, &t.GTE}, {"lt", aux.LT, &t.LT}, {"lte", aux.LTE, &t.LTE}} {
		if len(nb.raw) == 0 || bytes.Equal(nb.raw, []byte("null")) {
			continue
		}
		b, err := decodeBound(nb.name, nb.raw)
		if err != nil {
			return err
		}
		*nb.dst = b
	}
	return nil
}

func decodeBound(name string, raw json.RawMessage) (*Bound, error) {
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("range %s: %w", name, err)
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, fmt.Errorf("range %s: value required", name)
		}
		return &Bound{Time: s}, nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return nil, fmt.Errorf("range %s: %w", name, err)
		}
		return &Bound{Num: f}, nil
	}
	return nil, fmt.Errorf("range %s: value must be numeric or datetime string", name)
}

// jsonScalarText turns a JSON scalar into the string form a term compares
// against: strings as they are, numbers as their shortest decimal without an
// exponent, booleans as true/false. ok is false for null.
func jsonScalarText(raw json.RawMessage) (text string, ok bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false, nil
	}
	switch raw[0] {
	case 'n':
		return "", false, nil
	case 't', 'f':
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return "", false, err
		}
		return strconv.FormatBool(b), true, nil
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false, err
		}
		return s, true, nil
	case '{', '[':
		return "", false, errors.New("value must be a JSON scalar")
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return "", false, err
	}
	return canonicalNumber(f), true, nil
}

// decodeAnyList decodes an any member: a string is split on "|" (when split
// is set, or always for in), an array's items become strings, and any other
// scalar is one item.
func decodeAnyList(raw json.RawMessage, termAny bool) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, err
		}
		out := make([]string, 0, len(items))
		for _, it := range items {
			s, ok, err := jsonScalarText(it)
			if err != nil {
				return nil, fmt.Errorf("any item: %w", err)
			}
			if !ok {
				continue
			}
			if termAny {
				s = strings.TrimSpace(s)
				if s == "" {
					continue
				}
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, ok, err := jsonScalarText(raw)
	if err != nil {
		return nil, fmt.Errorf("any: %w", err)
	}
	if !ok {
		return nil, nil
	}
	if raw[0] == '"' {
		return splitAnyList(s), nil
	}
	return []string{s}, nil
}

// splitAnyList splits a "|" list, trimming items and dropping empty ones.
func splitAnyList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, "|") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseLooseBool accepts true/false/t/f in any case.
func parseLooseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "t":
		return true, true
	case "false", "f":
		return false, true
	}
	return false, false
}

// canonicalNumber is the shortest decimal text of f without an exponent.
func canonicalNumber(f float64) string {
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// appendJSONFloat formats f the way encoding/json does for float64.
func appendJSONFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// writeJSONString writes s as a JSON string without HTML escaping.
func writeJSONString(b *bytes.Buffer, s string) {
	b.Write(appendJSONString(nil, s))
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 is kept as is,
// because documents may legitimately carry it (spec §7.1).
func appendJSONString[S ~string | ~[]byte](b []byte, s S) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		var esc string
		switch {
		case c == '"':
			esc = `\"`
		case c == '\\':
			esc = `\\`
		case c == '\n':
			esc = `\n`
		case c == '\r':
			esc = `\r`
		case c == '\t':
			esc = `\t`
		case c == '\b':
			esc = `\b`
		case c == '\f':
			esc = `\f`
		case c < 0x20:
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			start = i + 1
			continue
		case c == 0xe2 && i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xa8 || s[i+2] == 0xa9):
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[s[i+2]&0xf])
			i += 2
			start = i + 1
			continue
		default:
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, esc...)
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

package mcpserver

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/lockd-mcp/lockd-mcp/tools"
)

// The stdio transport looks at each line once, without decoding it, to
// learn what mcp-go needs to route it (method, whether it has an id) and to
// lift large string arguments out of tool calls (see tools.LiftedArgs).
// A lifted 256 KiB chunk then costs one pass over its bytes instead of the
// dozen decodes and re-encodes of the generic path, and mcp-go still parses,
// validates and dispatches the (now small) message as usual.

const (
	// liftMinLine is the line size below which nothing is lifted: small
	// messages are cheap enough for mcp-go's own decoding.
	liftMinLine = 1 << 10
	// liftMinArg is the smallest string argument worth lifting.
	liftMinArg = 512
)

// envelope is what the transport learns from one scan of a line.
type envelope struct {
	method string
	hasID  bool // an id member that is not null: a request
	// The fields below are set only for large tools/call lines.
	tool string
	args []argSpan
}

// argSpan is a string member of params.arguments: its name and the bounds
// of its JSON string token (quotes included) in the line.
type argSpan struct {
	name       string
	start, end int
}

var errNotSimple = errors.New("not a simple JSON-RPC object")

// scanEnvelope walks the top-level object of a JSON-RPC message and, when the
// line is large, params.name and params.arguments. It validates the
// structure it walks; values it skips are validated later by mcp-go's own
// decoding of the message. Any surprise (a batch, a duplicate key, an
// escaped key) returns errNotSimple and the caller falls back to the generic
// path.
func scanEnvelope(line []byte) (envelope, error) {
	var env envelope
	deep := len(line) >= liftMinLine
	seen := map[string]bool{}
	err := walkObject(line, skipWS(line, 0), func(key string, v int) (int, error) {
		if seen[key] {
			return 0, errNotSimple
		}
		seen[key] = true
		switch {
		case key == "method" && at(line, v) == '"':
			end, err := skipString(line, v)
			if err != nil {
				return 0, err
			}
			env.method, err = decodeKey(line[v:end])
			return end, err
		case key == "id":
			end, err := skipValue(line, v)
			env.hasID = err == nil && !bytes.Equal(line[v:end], []byte("null"))
			return end, err
		case key == "params" && deep && at(line, v) == '{':
			return scanParams(line, v, &env)
		}
		return skipValue(line, v)
	})
	return env, err
}

func scanParams(line []byte, start int, env *envelope) (int, error) {
	seen := map[string]bool{}
	return walkObjectEnd(line, start, func(key string, v int) (int, error) {
		if seen[key] {
			return 0, errNotSimple
		}
		seen[key] = true
		switch {
		case key == "name" && at(line, v) == '"':
			end, err := skipString(line, v)
			if err != nil {
				return 0, err
			}
			env.tool, err = decodeKey(line[v:end])
			return end, err
		case key == "arguments" && at(line, v) == '{':
			args := map[string]bool{}
			return walkObjectEnd(line, v, func(name string, v int) (int, error) {
				if args[name] {
					return 0, errNotSimple
				}
				args[name] = true
				end, err := skipValue(line, v)
				if err == nil && line[v] == '"' && end-v >= liftMinArg {
					env.args = append(env.args, argSpan{name: name, start: v, end: end})
				}
				return end, err
			})
		}
		return skipValue(line, v)
	})
}

// lift replaces the spans in line that are large arguments of the called
// tool with a placeholder string, returning the new message and the decoded
// values. It returns line unchanged and nil when there is nothing to lift or
// a value is not a valid JSON string (mcp-go then reports it as usual).
func lift(line []byte, env envelope, large map[string][]string) ([]byte, tools.LiftedArgs) {
	if env.method != "tools/call" || len(env.args) == 0 {
		return line, nil
	}
	liftable := large[env.tool]
	if len(liftable) == 0 {
		return line, nil
	}
	var lifted tools.LiftedArgs
	var out []byte
	last := 0
	for _, sp := range env.args {
		if !contains(liftable, sp.name) {
			continue
		}
		val, err := decodeString(line[sp.start:sp.end])
		if err != nil {
			return line, nil
		}
		if lifted == nil {
			lifted = tools.LiftedArgs{}
			out = make([]byte, 0, 512)
		}
		lifted[sp.name] = val
		out = append(out, line[last:sp.start]...)
		out = append(out, `"`+tools.LiftedPlaceholder+`"`...)
		last = sp.end
	}
	if lifted == nil {
		return line, nil
	}
	return append(out, line[last:]...), lifted
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// decodeString decodes a JSON string token. The common case of a large
// argument (printable ASCII, no escapes: base64, JSON documents without
// control characters) is returned without copying; anything else goes
// through encoding/json so the semantics (escapes, invalid UTF-8 replaced by
// U+FFFD, control characters refused) are exactly those of the generic path.
func decodeString(tok []byte) ([]byte, error) {
	inner := tok[1 : len(tok)-1]
	if plainASCII(inner) {
		return inner, nil
	}
	var s string
	if err := json.Unmarshal(tok, &s); err != nil {
		return nil, err
	}
	return []byte(s), nil
}

// plainASCII reports whether b holds only bytes 0x20..0x7f other than
// backslash (a quote cannot occur: b is the inside of a string token). It
// checks eight bytes per step, since it runs over every lifted byte.
func plainASCII(b []byte) bool {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
		bs    = 0x5c5c5c5c5c5c5c5c // '\\'
	)
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		// any byte < 0x20 or >= 0x80, any byte == '\\'
		lt := (w - ones*0x20) & ^w
		x := w ^ bs
		eq := (x - ones) & ^x
		if (lt|eq|w)&highs != 0 {
			return false
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c < 0x20 || c >= 0x80 || c == '\\' {
			return false
		}
	}
	return true
}

// decodeKey decodes a short string token (a key, a method or tool name).
func decodeKey(tok []byte) (string, error) {
	inner := tok[1 : len(tok)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), nil
	}
	var s string
	if err := json.Unmarshal(tok, &s); err != nil {
		return "", errNotSimple
	}
	return s, nil
}

func at(b []byte, i int) byte {
	if i < len(b) {
		return b[i]
	}
	return 0
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// walkObject walks the object at b[i:], which must be the whole of b apart
// from surrounding whitespace.
func walkObject(b []byte, i int, member func(key string, v int) (int, error)) error {
	end, err := walkObjectEnd(b, i, member)
	if err != nil {
		return err
	}
	if skipWS(b, end) != len(b) {
		return errNotSimple
	}
	return nil
}

// walkObjectEnd calls member for each member of the object starting at b[i]
// with the key and the offset of the value; member returns the offset just
// past the value. walkObjectEnd returns the offset just past the object.
func walkObjectEnd(b []byte, i int, member func(key string, v int) (int, error)) (int, error) {
	if at(b, i) != '{' {
		return 0, errNotSimple
	}
	i = skipWS(b, i+1)
	if at(b, i) == '}' {
		return i + 1, nil
	}
	for {
		if at(b, i) != '"' {
			return 0, errNotSimple
		}
		kend, err := skipString(b, i)
		if err != nil {
			return 0, err
		}
		key, err := decodeKey(b[i:kend])
		if err != nil {
			return 0, err
		}
		i = skipWS(b, kend)
		if at(b, i) != ':' {
			return 0, errNotSimple
		}
		if i, err = member(key, skipWS(b, i+1)); err != nil {
			return 0, err
		}
		i = skipWS(b, i)
		switch at(b, i) {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, errNotSimple
		}
	}
}

// skipString returns the offset just past the string token at b[i]. The
// closing quote is the first one not preceded by an odd run of backslashes,
// found with IndexByte so a large string costs a memchr.
func skipString(b []byte, i int) (int, error) {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return 0, errNotSimple
		}
		q := j + k
		n := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1, nil
		}
		j = q + 1
	}
}

// skipValue returns the offset just past the value at b[i]. Nested values
// are skipped by bracket depth; their validity is mcp-go's to check.
func skipValue(b []byte, i int) (int, error) {
	switch at(b, i) {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := skipString(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errNotSimple
	case 0:
		return 0, errNotSimple
	}
	j := i
	for j < len(b) {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			if j == i {
				return 0, errNotSimple
			}
			return j, nil
		}
		j++
	}
	if j == i {
		return 0, fmt.Errorf("%w: empty value", errNotSimple)
	}
	return j, nil
}

// largeArgs maps both spellings of every enabled tool to the arguments it
// lets the transport lift. A liftable argument must be a bare string in the
// input schema (a description aside): the placeholder then validates exactly
// as the lifted value would, so lifting never weakens validation.
func largeArgs(reg *tools.Registry, inputs map[string]json.RawMessage) (map[string][]string, error) {
	out := map[string][]string{}
	for _, t := range reg.Tools() {
		if len(t.LargeArgs) == 0 {
			continue
		}
		adv, _ := reg.Resolve(t.Name)
		var schema struct {
			Properties map[string]map[string]any `json:"properties"`
		}
		if err := json.Unmarshal(inputs[adv], &schema); err != nil {
			return nil, fmt.Errorf("tool %s: input schema: %w", t.Name, err)
		}
		for _, arg := range t.LargeArgs {
			prop, ok := schema.Properties[arg]
			if !ok || prop["type"] != "string" {
				return nil, fmt.Errorf("tool %s: large argument %s is not a string property", t.Name, arg)
			}
			for k := range prop {
				if k != "type" && k != "description" {
					return nil, fmt.Errorf("tool %s: large argument %s has constraint %q; lifting it would skip that check", t.Name, arg, k)
				}
			}
		}
		out[t.Name], out[t.Dotted] = t.LargeArgs, t.LargeArgs
	}
	return out, nil
}

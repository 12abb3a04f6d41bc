package query

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/lockd-mcp/lockd-mcp/api"
)

// projection keeps only chosen JSON Pointer paths of a returned document,
// following lql's projection rules (spec §6): plain RFC 6901 paths (no
// wildcards), values copied verbatim, object keys sorted, digit-only
// segments building arrays padded with null. lql does not export a
// projector yet, so this is a small local adapter over encoding/json.
type projection struct {
	paths [][]string
}

// newProjection parses the fields of a query; nil fields mean no
// projection.
func newProjection(fields []string) (*projection, error) {
	if len(fields) == 0 {
		return nil, nil
	}
	seen := map[string]bool{}
	p := &projection{}
	for _, raw := range fields {
		f := strings.TrimSpace(raw)
		if f == "" || seen[f] {
			continue
		}
		seen[f] = true
		if f[0] != '/' {
			return nil, newError(api.ErrCodeInvalidFields, "invalid json pointer %q", f)
		}
		if f == "/" {
			return nil, newError(api.ErrCodeInvalidFields, "field path %q refers to document root", f)
		}
		segs := strings.Split(f[1:], "/")
		for i, s := range segs {
			segs[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
		}
		if isDigitsOnly(segs[0]) {
			return nil, newError(api.ErrCodeInvalidFields, "field path %q must not start with an array index", f)
		}
		p.paths = append(p.paths, segs)
	}
	if len(p.paths) == 0 {
		return nil, newError(api.ErrCodeInvalidFields, "no valid field paths provided")
	}
	for i, a := range p.paths {
		for _, b := range p.paths[i+1:] {
			n := min(len(a), len(b))
			if slices.Equal(a[:n], b[:n]) {
				return nil, newError(api.ErrCodeInvalidFields, "field path conflict between %q and %q",
					"/"+strings.Join(a, "/"), "/"+strings.Join(b, "/"))
			}
		}
	}
	return p, nil
}

func isDigitsOnly(s string) bool { return isDigits(s) }

// apply projects doc. A document without any of the paths, or one that is
// not an object, projects to {}.
func (p *projection) apply(doc []byte) []byte {
	if p == nil {
		return doc
	}
	root := &pnode{}
	for _, segs := range p.paths {
		if v, ok := lookupRaw(doc, segs); ok {
			root.place(segs, v)
		}
	}
	var b bytes.Buffer
	root.write(&b)
	return b.Bytes()
}

// pnode is a node of the projected output: an object, an array (built for
// digit-only segments) or a verbatim value.
type pnode struct {
	obj map[string]*pnode
	arr []*pnode
	val json.RawMessage
}

func (n *pnode) place(segs []string, v json.RawMessage) {
	if len(segs) == 0 {
		n.val = v
		return
	}
	s := segs[0]
	if n.obj == nil && n.arr == nil && isDigits(s) {
		i, _ := strconv.Atoi(s)
		for len(n.arr) <= i {
			n.arr = append(n.arr, nil)
		}
		if n.arr[i] == nil {
			n.arr[i] = &pnode{}
		}
		n.arr[i].place(segs[1:], v)
		return
	}
	if n.arr != nil {
		i, err := strconv.Atoi(s)
		if err != nil || !isDigits(s) {
			return
		}
		for len(n.arr) <= i {
			n.arr = append(n.arr, nil)
		}
		if n.arr[i] == nil {
			n.arr[i] = &pnode{}
		}
		n.arr[i].place(segs[1:], v)
		return
	}
	if n.obj == nil {
		n.obj = map[string]*pnode{}
	}
	c, ok := n.obj[s]
	if !ok {
		c = &pnode{}
		n.obj[s] = c
	}
	c.place(segs[1:], v)
}

func (n *pnode) write(b *bytes.Buffer) {
	switch {
	case n == nil:
		b.WriteString("null")
	case n.val != nil:
		b.Write(n.val)
	case n.arr != nil:
		b.WriteByte('[')
		for i, c := range n.arr {
			if i > 0 {
				b.WriteByte(',')
			}
			c.write(b)
		}
		b.WriteByte(']')
	default:
		keys := make([]string, 0, len(n.obj))
		for k := range n.obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteByte(':')
			n.obj[k].write(b)
		}
		b.WriteByte('}')
	}
}

// lookupRaw follows segs through objects (by member) and arrays (by index)
// and returns the raw bytes found.
func lookupRaw(doc []byte, segs []string) (json.RawMessage, bool) {
	cur := json.RawMessage(doc)
	for _, s := range segs {
		cur = bytes.TrimSpace(cur)
		if len(cur) == 0 {
			return nil, false
		}
		switch cur[0] {
		case '{':
			var m map[string]json.RawMessage
			if json.Unmarshal(cur, &m) != nil {
				return nil, false
			}
			v, ok := m[s]
			if !ok {
				return nil, false
			}
			cur = v
		case '[':
			i, err := strconv.Atoi(s)
			if err != nil || i < 0 || !isDigits(s) {
				return nil, false
			}
			var a []json.RawMessage
			if json.Unmarshal(cur, &a) != nil || i >= len(a) {
				return nil, false
			}
			cur = a[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

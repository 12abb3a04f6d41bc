package lql

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// ParseSelectorValues parses the URL query-parameter form (spec §3.10).
// Parameters whose key does not start with a selector word (namespace,
// limit, cursor, …) are ignored. A key may be a whole expression
// ("and.eq{field=/a,value=1}", value ignored) or a dotted clause path plus
// a key name ("eq.field=/status&eq.value=open", "or.0.range.gte=10",
// "exists=/meta/etag"). Each dotted group is one expression; no implicit
// and. prefix is added.
func ParseSelectorValues(values url.Values) (Selector, error) {
	type group struct {
		path    string
		assigns []rawAssign
	}
	groups := map[string]*group{}
	var braceKeys []string
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	input := values.Encode()
	fail := func(expr string, err error) (Selector, error) {
		return Selector{}, &ParseError{Input: input, Expr: expr, Pos: -1, Msg: err.Error()}
	}
	for _, k := range keys {
		key := strings.TrimSpace(k)
		if !isRootWord(rootWord(key)) {
			continue
		}
		vals := values[k]
		for _, v := range vals[1:] {
			if v != vals[0] {
				return fail(k, fmt.Errorf("selector expression %q has duplicate values", k))
			}
		}
		if strings.IndexByte(key, '{') >= 0 {
			braceKeys = append(braceKeys, key)
			continue
		}
		val := ""
		if len(vals) > 0 {
			val = vals[0]
		}
		path, name := key, ""
		if i := strings.LastIndexByte(key, '.'); i >= 0 {
			path, name = key[:i], strings.TrimSpace(key[i+1:])
		}
		last := name
		if last == "" {
			last = path
		}
		if strings.EqualFold(strings.TrimSpace(last), "exists") {
			// exists carries its pointer as the parameter value.
			path, name = key, ""
		} else if name == "" || isRootWord(name) || isDigits(name) {
			return fail(k, fmt.Errorf("selector path %q missing key", key))
		}
		norm := strings.ToLower(strings.ReplaceAll(path, " ", ""))
		g := groups[norm]
		if g == nil {
			g = &group{path: path}
			groups[norm] = g
		}
		g.assigns = append(g.assigns, rawAssign{token: piece{text: k + "=" + val, off: -1}, key: name, raw: val})
	}
	type item struct {
		sortKey string
		build   func() (expr, error)
	}
	var items []item
	for _, bk := range braceKeys {
		items = append(items, item{bk, func() (expr, error) {
			return parseFullForm(bk, piece{text: bk, off: -1}, -1, nil, nil)
		}})
	}
	for norm, g := range groups {
		items = append(items, item{norm, func() (expr, error) { return groupExpr(g.path, g.assigns) }})
	}
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.sortKey, b.sortKey) })
	var asm assembler
	for _, it := range items {
		e, err := it.build()
		if err != nil {
			return fail(it.sortKey, err)
		}
		if err := asm.add(e); err != nil {
			return fail(it.sortKey, err)
		}
	}
	return finishSelector(input, &asm)
}

// groupExpr turns one dotted parameter group into an expression. Keys that
// repeat under different spellings (eq.f and eq.value) reach the assembler
// separately, which reports them as path conflicts as the reference does.
func groupExpr(path string, assigns []rawAssign) (expr, error) {
	wraps, term, err := parseClausePath(path, nil)
	if err != nil {
		return expr{}, err
	}
	e := expr{src: piece{text: path, off: -1}, path: path, wraps: wraps, term: term}
	if term == tExists {
		p, _ := unquote(strings.TrimSpace(assigns[0].raw))
		if p == "" {
			return expr{}, fmt.Errorf("empty selector expression")
		}
		e.kvs = []keyVal{{key: "field", val: value{kind: vString, text: p}}}
		return e, nil
	}
	var kvs []keyVal
	hasValue, hasAny := false, false
	for _, a := range assigns {
		key := canonicalKey(term, a.key)
		if !keyAllowed(term, key) {
			return expr{}, fmt.Errorf("%s selector does not support key %q", term, key)
		}
		v, err := convertKey(term, key, a.raw)
		if err != nil {
			return expr{}, err
		}
		for _, have := range kvs {
			if have.key == key && !have.val.equal(v) {
				return expr{}, fmt.Errorf("selector path conflict at %s", key)
			}
		}
		hasValue = hasValue || key == "value"
		hasAny = hasAny || key == "any"
		kvs = append(kvs, keyVal{key: key, val: v})
	}
	if hasValue && hasAny {
		return expr{}, fmt.Errorf("%s selector cannot set both value and any", term)
	}
	e.kvs = kvs
	return e, nil
}

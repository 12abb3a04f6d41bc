package lql

import (
	"fmt"
	"strconv"
	"strings"
)

// bnode is a selector node under construction. and/or are positional: an
// index nobody fills stays nil and becomes an empty (match-all) selector,
// as the reference does (spec §3.7.4).
type bnode struct {
	and []*bnode
	or  []*bnode
	not *bnode
	// terms holds the clauses set on this node; most nodes carry one, so
	// the first lives inline.
	first termSet
	more  []termSet
}

type termSet struct {
	set bool
	t   termKind
	kvs []keyVal
}

// termSlot returns the clause t of n, or nil.
func (n *bnode) termSlot(t termKind) *termSet {
	if n.first.set && n.first.t == t {
		return &n.first
	}
	for i := range n.more {
		if n.more[i].t == t {
			return &n.more[i]
		}
	}
	return nil
}

func (a *assembler) child(list *[]*bnode, idx int) *bnode {
	if *list == nil {
		n := max(4, idx+1)
		if a.ptrsUsed+n <= len(a.ptrBuf) {
			// Full slice expression: growing the list must reallocate
			// rather than run into the next list carved from ptrBuf.
			*list = a.ptrBuf[a.ptrsUsed : a.ptrsUsed : a.ptrsUsed+n]
			a.ptrsUsed += n
		} else {
			*list = make([]*bnode, 0, n)
		}
	}
	for len(*list) <= idx {
		*list = append(*list, nil)
	}
	if (*list)[idx] == nil {
		(*list)[idx] = a.newNode()
	}
	return (*list)[idx]
}

// newNode hands out nodes from the assembler's inline buffer, then from a
// small slab: a typical selector needs a handful, and one allocation beats
// one per node.
func (a *assembler) newNode() *bnode {
	if a.nodesUsed < len(a.nodeBuf) {
		a.nodesUsed++
		return &a.nodeBuf[a.nodesUsed-1]
	}
	if len(a.slab) == 0 {
		a.slab = make([]bnode, 4)
	}
	n := &a.slab[0]
	a.slab = a.slab[1:]
	return n
}

// keyVals returns an empty slice with room for exactly n keys, from the
// assembler's inline buffer when it has room. The capacity is exact so that
// setTerm's append on a merge reallocates instead of overwriting the keys
// of the next clause. a may be nil.
func (a *assembler) keyVals(n int) []keyVal {
	if a != nil && a.kvsUsed+n <= len(a.kvBuf) {
		kvs := a.kvBuf[a.kvsUsed : a.kvsUsed : a.kvsUsed+n]
		a.kvsUsed += n
		return kvs
	}
	return make([]keyVal, 0, n)
}

// nextIndex returns and advances the automatic index for a wrapper prefix.
func (a *assembler) nextIndex(key string) int {
	for i := range a.counters {
		if a.counters[i].key == key {
			a.counters[i].n++
			return a.counters[i].n - 1
		}
	}
	if a.counters == nil {
		a.counters = a.counterBuf[:0]
	}
	a.counters = append(a.counters, counter{key: key, n: 1})
	return 0
}

type counter struct {
	key string
	n   int
}

func (n *bnode) empty() bool {
	if len(n.and) > 0 || len(n.or) > 0 || n.not != nil {
		return false
	}
	return !n.first.set
}

// assembler merges expressions into one selector (spec §3.7.2). Its zero
// value is ready to use. The inline buffers hold what a typical selector
// needs (nodes, child lists, index counters, clause keys, wrappers), so
// that assembling one costs a single allocation, the assembler itself.
type assembler struct {
	base     bnode
	orKeyed  map[int]*bnode
	branches []*bnode
	counters []counter
	slab     []bnode

	nodeBuf    [4]bnode
	nodesUsed  int
	ptrBuf     [8]*bnode
	ptrsUsed   int
	kvBuf      [6]keyVal // three two-key clauses
	kvsUsed    int
	counterBuf [2]counter
	wrapBuf    [8]wrapper
}

func (a *assembler) add(e expr) error {
	return a.addClause(e.wraps, e.term, e.kvs)
}

// addClause places one clause, given by its wrapper chain, term and keys.
func (a *assembler) addClause(wraps []wrapper, term termKind, kvs []keyVal) error {
	node := &a.base
	// prefix names the wrapper chain walked so far; it keys the automatic
	// index counters and is only built when a later wrapper needs it.
	prefix := ""
	for i, w := range wraps {
		if i == 0 && w.kind == wOr {
			// The leading or is a grouping key, not a position.
			if w.idx >= 0 {
				if a.orKeyed == nil {
					a.orKeyed = map[int]*bnode{}
				}
				b := a.orKeyed[w.idx]
				if b == nil {
					b = a.newNode()
					a.orKeyed[w.idx] = b
					a.branches = append(a.branches, b)
				}
				node = b
				if i+1 < len(wraps) {
					prefix = "or." + strconv.Itoa(w.idx)
				}
			} else {
				node = a.newNode()
				a.branches = append(a.branches, node)
				if i+1 < len(wraps) {
					prefix = "or#" + strconv.Itoa(len(a.branches))
				}
			}
			continue
		}
		last := i+1 == len(wraps)
		switch w.kind {
		case wNot:
			if node.not == nil {
				node.not = a.newNode()
			}
			node = node.not
			if !last {
				prefix += ".not"
			}
		case wAnd, wOr:
			name := "and"
			list := &node.and
			if w.kind == wOr {
				name, list = "or", &node.or
			}
			idx := w.idx
			if idx < 0 {
				// The top-level keys are constants, saving a concatenation
				// per expression in the common case.
				key := ".and"
				if w.kind == wOr {
					key = ".or"
				}
				if prefix != "" {
					key = prefix + key
				}
				idx = a.nextIndex(key)
			}
			if idx > maxSelectorIndex {
				return fmt.Errorf("selector index %d invalid", idx)
			}
			node = a.child(list, idx)
			if !last {
				prefix += "." + name + "." + strconv.Itoa(idx)
			}
		}
	}
	return node.setTerm(term, kvs)
}

// setTerm merges the keys of one clause into node; the same key with a
// different value is a conflict (spec §3.7.3).
func (n *bnode) setTerm(t termKind, kvs []keyVal) error {
	slot := n.termSlot(t)
	if slot == nil {
		if !n.first.set {
			n.first = termSet{set: true, t: t, kvs: kvs}
		} else {
			n.more = append(n.more, termSet{set: true, t: t, kvs: kvs})
		}
		return nil
	}
	for _, kv := range kvs {
		found := false
		for _, have := range slot.kvs {
			if have.key == kv.key {
				if !have.val.equal(kv.val) {
					return fmt.Errorf("selector path conflict at %s", kv.key)
				}
				found = true
				break
			}
		}
		if !found {
			slot.kvs = append(slot.kvs, kv)
		}
	}
	return nil
}

// result builds the final selector.
func (a *assembler) result() (Selector, error) {
	var o outSlab
	o.alloc(a)
	base, err := a.base.build(&o)
	if err != nil {
		return Selector{}, err
	}
	if len(a.branches) == 0 {
		return base, nil
	}
	or := o.selectors(len(a.branches))
	for i, b := range a.branches {
		if or[i], err = b.build(&o); err != nil {
			return Selector{}, err
		}
	}
	if a.base.empty() {
		return Selector{Or: or}, nil
	}
	base.And = append(base.And, Selector{Or: or})
	return base, nil
}

// outSlab holds the composition nodes and string terms of one result,
// allocated together once the tree has been counted, instead of one
// allocation per list, not and term. Running out (which counting should
// prevent) falls back to allocating.
type outSlab struct {
	sels  []Selector
	terms []Term
}

func (o *outSlab) alloc(a *assembler) {
	sels, terms := len(a.branches), 0
	a.base.count(&sels, &terms)
	for _, b := range a.branches {
		b.count(&sels, &terms)
	}
	if sels > 0 {
		o.sels = make([]Selector, sels)
	}
	if terms > 0 {
		o.terms = make([]Term, terms)
	}
}

// count adds the selectors and string terms that build will need.
func (n *bnode) count(sels, terms *int) {
	*sels += len(n.and) + len(n.or)
	for _, c := range n.and {
		if c != nil {
			c.count(sels, terms)
		}
	}
	for _, c := range n.or {
		if c != nil {
			c.count(sels, terms)
		}
	}
	if n.not != nil {
		*sels++
		n.not.count(sels, terms)
	}
	if n.first.set && n.first.t <= tIPrefix {
		*terms++
	}
	for _, ts := range n.more {
		if ts.t <= tIPrefix {
			*terms++
		}
	}
}

// selectors returns n zeroed selectors. The capacity is exact so that an
// append (result adds the or group to base.And) cannot reach the next
// caller's selectors.
func (o *outSlab) selectors(n int) []Selector {
	if len(o.sels) < n {
		return make([]Selector, n)
	}
	s := o.sels[:n:n]
	o.sels = o.sels[n:]
	return s
}

func (o *outSlab) term() *Term {
	if len(o.terms) == 0 {
		return &Term{}
	}
	t := &o.terms[0]
	o.terms = o.terms[1:]
	return t
}

func buildList(list []*bnode, o *outSlab) ([]Selector, error) {
	if len(list) == 0 {
		return nil, nil
	}
	out := o.selectors(len(list))
	for i, c := range list {
		if c == nil {
			continue
		}
		s, err := c.build(o)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

func (n *bnode) build(o *outSlab) (Selector, error) {
	var s Selector
	var err error
	if s.And, err = buildList(n.and, o); err != nil {
		return s, err
	}
	if s.Or, err = buildList(n.or, o); err != nil {
		return s, err
	}
	if n.not != nil {
		c, err := n.not.build(o)
		if err != nil {
			return s, err
		}
		s.Not = &o.selectors(1)[0]
		*s.Not = c
	}
	for t := termKind(0); t < numTerms; t++ {
		slot := n.termSlot(t)
		if slot == nil {
			continue
		}
		if err := buildTerm(&s, t, slot.kvs, o); err != nil {
			return s, err
		}
	}
	return s, nil
}

var goTypeNames = [numTerms]string{"Term", "Term", "Term", "Term", "Term", "RangeTerm", "DateTerm", "InTerm", "Selector"}

// typeErr mimics the JSON type error the reference raises when a value that
// converted to a number or boolean lands in a string-typed member.
func typeErr(t termKind, key string, v value) error {
	kind := "number"
	if v.kind == vBool {
		kind = "bool"
	}
	return fmt.Errorf("json: cannot unmarshal %s into Go struct field %s.%s.%s of type string", kind, goTypeNames[t], t, key)
}

func stringOf(t termKind, kv keyVal) (string, error) {
	if kv.val.kind == vNumber || kv.val.kind == vBool {
		return "", typeErr(t, kv.key, kv.val)
	}
	return kv.val.text, nil
}

// rangeBox allocates a range clause together with its bounds; a clause has
// at most two that can both hold (a lower and an upper), and a third or
// fourth falls back to its own allocation.
type rangeBox struct {
	r      RangeTerm
	bounds [2]Bound
}

func buildTerm(s *Selector, t termKind, kvs []keyVal, o *outSlab) error {
	switch t {
	case tExists:
		for _, kv := range kvs {
			s.Exists = kv.val.text
		}
		if s.Exists == "" {
			return fmt.Errorf("empty selector expression")
		}
		return nil
	case tRange:
		box := &rangeBox{}
		r, nb := &box.r, 0
		for _, kv := range kvs {
			if kv.key == "field" {
				f, err := stringOf(t, kv)
				if err != nil {
					return err
				}
				r.Field = f
				continue
			}
			var b *Bound
			if nb < len(box.bounds) {
				b = &box.bounds[nb]
				nb++
			} else {
				b = &Bound{}
			}
			if kv.val.kind == vString {
				b.Time = kv.val.text
			} else {
				b.Num = kv.val.num
			}
			switch kv.key {
			case "gt":
				r.GT = b
			case "gte":
				r.GTE = b
			case "lt":
				r.LT = b
			case "lte":
				r.LTE = b
			}
		}
		s.Range = r
		return nil
	case tDate:
		d := &DateTerm{}
		for _, kv := range kvs {
			v, err := stringOf(t, kv)
			if err != nil {
				return err
			}
			if kv.key != "field" && strings.TrimSpace(v) == "" {
				return fmt.Errorf("date selector %s %q invalid", dateKeyRole(kv.key), v)
			}
			switch kv.key {
			case "field":
				d.Field = v
			case "value":
				d.Value = v
			case "since":
				d.Since = v
			case "after":
				d.After = v
			case "before":
				d.Before = v
			case "gt":
				d.GT = v
			case "gte":
				d.GTE = v
			case "lt":
				d.LT = v
			case "lte":
				d.LTE = v
			}
		}
		s.Date = d
		return nil
	case tIn:
		in := &InTerm{}
		for _, kv := range kvs {
			switch kv.key {
			case "field":
				f, err := stringOf(t, kv)
				if err != nil {
					return err
				}
				in.Field = f
			case "any":
				in.Any = kv.val.list
			}
		}
		s.In = in
		return nil
	}
	term := o.term()
	for _, kv := range kvs {
		switch kv.key {
		case "field":
			f, err := stringOf(t, kv)
			if err != nil {
				return err
			}
			term.Field = f
		case "value":
			term.Value, term.ValueSet = kv.val.text, true
		case "any":
			term.Any = kv.val.list
		case "ignoreCase":
			term.IgnoreCase = kv.val.text == "true"
		}
	}
	switch t {
	case tEq:
		s.Eq = term
	case tContains:
		s.Contains = term
	case tIContains:
		s.IContains = term
	case tPrefix:
		s.Prefix = term
	case tIPrefix:
		s.IPrefix = term
	}
	return nil
}

func dateKeyRole(key string) string {
	switch key {
	case "value", "since":
		return key
	}
	return "bound"
}

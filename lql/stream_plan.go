package lql

import (
	"strings"
	"time"
)

// qkind is what a compiled clause tests at the nodes its path reaches.
type qkind uint8

const (
	qEq qkind = iota
	qString
	qPathAssert
	qRange
	qDate
	qIn
	qExists
)

// qclause is one leaf clause of a compiled selector. never marks a clause
// whose field cannot resolve (the root, or no leading '/'), which is false
// like in the in-memory evaluator.
type qclause struct {
	kind   qkind
	segs   []segment
	never  bool
	eq     eqMatcher
	term   *Term
	prefix bool
	fold   bool
	rb     rangeBounds
	db     dateBounds
	in     *InTerm
}

func (c *qclause) holds(v any) bool {
	switch c.kind {
	case qEq:
		return c.eq.holds(v)
	case qString:
		s, ok := stringForm(v)
		return ok && stringTermHolds(c.term, s, c.prefix, c.fold)
	case qPathAssert:
		return true
	case qRange:
		return c.rb.holds(v)
	case qDate:
		return c.db.holds(v)
	case qIn:
		s, ok := stringForm(v)
		return ok && inHolds(c.in, s)
	}
	return v != nil // qExists
}

// holdsFast decides the common clause kinds on a scanned scalar without
// building a Go value; done is false when the generic path must decide.
// kind and text are as returned by scanner.readScalar.
func (c *qclause) holdsFast(kind byte, text []byte) (done, ok bool) {
	switch c.kind {
	case qExists:
		return true, kind != 'z'
	case qPathAssert:
		return true, true
	case qEq:
		if kind != 's' && kind != 'n' {
			return false, false
		}
		if string(text) == c.eq.want {
			return true, true
		}
		if !c.eq.temporal {
			return true, false
		}
	case qIn:
		if kind != 's' && kind != 'n' {
			return false, false
		}
		for _, a := range c.in.Any {
			if string(text) == a {
				return true, true
			}
		}
		return true, false
	}
	return false, false
}

// holdsContainer is the verdict for an object or array node.
func (c *qclause) holdsContainer() bool { return c.kind == qPathAssert || c.kind == qExists }

// qnode mirrors the boolean structure of the selector over clause
// indices.
type qnode struct {
	or      []*qnode
	and     []*qnode
	not     *qnode
	clauses []int
}

// queryPlan is a selector compiled for streaming evaluation.
type queryPlan struct {
	empty   bool
	root    *qnode
	clauses []qclause
	results []bool
	stack   []active
	key     []byte
	tok     []byte
}

// active says that clause c has consumed pos segments of its path at the
// current node.
type active struct {
	c   int32
	pos int32
}

func compileQuery(sel Selector, now time.Time) (*queryPlan, error) {
	if err := sel.Validate(); err != nil {
		return nil, &StreamError{Code: CodeInvalidSelector, Detail: "invalid selector", Offset: -1, Err: err}
	}
	if now.IsZero() {
		now = time.Now()
	}
	sel = Simplify(sel)
	p := &queryPlan{empty: sel.IsEmpty()}
	p.root = p.compileNode(&sel, now)
	p.results = make([]bool, len(p.clauses))
	return p, nil
}

func (p *queryPlan) add(c qclause, field string) int {
	segs, ok := parseSegments(field)
	c.segs, c.never = segs, !ok || len(segs) == 0
	p.clauses = append(p.clauses, c)
	return len(p.clauses) - 1
}

func (p *queryPlan) compileNode(s *Selector, now time.Time) *qnode {
	n := &qnode{}
	if len(s.Or) > 0 {
		for i := range s.Or {
			n.or = append(n.or, p.compileNode(&s.Or[i], now))
		}
		return n
	}
	if s.Eq != nil {
		n.clauses = append(n.clauses, p.add(qclause{kind: qEq, eq: newEqMatcher(s.Eq.Value)}, s.Eq.Field))
	}
	for _, st := range [...]struct {
		t            *Term
		prefix, fold bool
	}{{s.Contains, false, false}, {s.IContains, false, true}, {s.Prefix, true, false}, {s.IPrefix, true, true}} {
		if st.t == nil || alwaysTrueTerm(st.t) {
			continue
		}
		fold := st.fold || st.t.IgnoreCase
		c := qclause{kind: qString, term: st.t, prefix: st.prefix, fold: fold}
		if len(st.t.Any) == 0 && !st.t.HasValue() {
			c.kind = qPathAssert
		}
		n.clauses = append(n.clauses, p.add(c, st.t.Field))
	}
	if s.Range != nil {
		n.clauses = append(n.clauses, p.add(qclause{kind: qRange, rb: prepareRange(s.Range)}, s.Range.Field))
	}
	if s.Date != nil {
		n.clauses = append(n.clauses, p.add(qclause{kind: qDate, db: prepareDate(s.Date, now)}, s.Date.Field))
	}
	if s.In != nil {
		n.clauses = append(n.clauses, p.add(qclause{kind: qIn, in: s.In}, s.In.Field))
	}
	if strings.TrimSpace(s.Exists) != "" {
		n.clauses = append(n.clauses, p.add(qclause{kind: qExists}, s.Exists))
	}
	if s.Not != nil {
		n.not = p.compileNode(s.Not, now)
	}
	for i := range s.And {
		n.and = append(n.and, p.compileNode(&s.And[i], now))
	}
	return n
}

func (p *queryPlan) decide(n *qnode) bool {
	if len(n.or) > 0 {
		for _, b := range n.or {
			if p.decide(b) {
				return true
			}
		}
		return false
	}
	for _, c := range n.clauses {
		if !p.results[c] {
			return false
		}
	}
	if n.not != nil && p.decide(n.not) {
		return false
	}
	for _, a := range n.and {
		if !p.decide(a) {
			return false
		}
	}
	return true
}

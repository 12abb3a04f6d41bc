package query

import (
	"strings"

	"github.com/lockd-mcp/lockd-mcp/lql"
)

// tri is a three-valued answer over key ids: every id in yes matches, every
// id in maybe might, and nothing else does. all=true stands for yes = every
// object document and maybe = ∅, so a chain of ANDs does not materialise the
// universe.
//
// Clauses the index answers exactly leave maybe empty; the rest give a
// superset in maybe (at worst every document), which the caller verifies
// with the matcher. The connectives preserve the invariant
// yes ⊆ match ⊆ yes ∪ maybe:
//
//	a AND b: yes = ya ∩ yb,  maybe = (ya ∪ ma) ∩ (yb ∪ mb) \ yes
//	a OR  b: yes = ya ∪ yb,  maybe = (ma ∪ mb) \ yes
//	NOT a:   yes = U \ (ya ∪ ma),  maybe = ma
type tri struct {
	all        bool
	yes, maybe *bitmap
}

// evaluator computes tri answers under the index read lock.
type evaluator struct {
	ix *Index
	u  *bitmap // the universe: live object documents
}

func (e *evaluator) yesOf(t tri) *bitmap {
	if t.all {
		return e.u
	}
	return t.yes
}

func (e *evaluator) upper(t tri) *bitmap {
	if t.all {
		return e.u
	}
	return or(t.yes, t.maybe)
}

func exact(b *bitmap) tri  { return tri{yes: b, maybe: newBitmap()} }
func unsure(b *bitmap) tri { return tri{yes: newBitmap(), maybe: b} }

func (e *evaluator) and(a, b tri) tri {
	switch {
	case a.all:
		return b
	case b.all:
		return a
	}
	yes := and(a.yes, b.yes)
	if a.maybe.empty() && b.maybe.empty() {
		return exact(yes)
	}
	return tri{yes: yes, maybe: andNot(and(e.upper(a), e.upper(b)), yes)}
}

func (e *evaluator) or(a, b tri) tri {
	if a.all || b.all {
		return tri{all: true}
	}
	yes := or(a.yes, b.yes)
	return tri{yes: yes, maybe: andNot(or(a.maybe, b.maybe), yes)}
}

func (e *evaluator) not(a tri) tri {
	if a.all {
		return exact(newBitmap())
	}
	return tri{yes: andNot(e.u, or(a.yes, a.maybe)), maybe: a.maybe}
}

// node evaluates one selector node (spec §4.1): the disjunction of its
// branches when Or is set, else the conjunction of every clause it holds.
func (e *evaluator) node(s *lql.Selector) tri {
	if len(s.Or) > 0 {
		r := exact(newBitmap())
		for i := range s.Or {
			r = e.or(r, e.node(&s.Or[i]))
		}
		return r
	}
	r := tri{all: true}
	for i := range s.And {
		r = e.and(r, e.node(&s.And[i]))
	}
	if s.Not != nil {
		r = e.and(r, e.not(e.node(s.Not)))
	}
	if s.Eq != nil {
		r = e.and(r, e.eq(s.Eq))
	}
	for _, t := range []struct {
		term     *lql.Term
		contains bool
		fold     bool
	}{
		{s.Contains, true, false},
		{s.IContains, true, true},
		{s.Prefix, false, false},
		{s.IPrefix, false, true},
	} {
		if t.term != nil {
			r = e.and(r, e.stringTerm(t.term, t.contains, t.fold || t.term.IgnoreCase))
		}
	}
	if s.Range != nil {
		r = e.and(r, e.rangeTerm(s.Range))
	}
	if s.Date != nil {
		r = e.and(r, e.dateTerm(s.Date))
	}
	if s.In != nil {
		r = e.and(r, e.in(s.In))
	}
	if s.Exists != "" {
		r = e.and(r, e.exists(s.Exists))
	}
	return r
}

// lookup resolves a selector field. ok is false when the index cannot
// resolve it exactly; f is nil when no document has the path (the clause is
// then false everywhere).
func (e *evaluator) lookup(fieldName string) (f *field, ok bool) {
	p, ok, _ := canonicalPath(fieldName)
	if !ok {
		return nil, false
	}
	fid, found := e.ix.fields[p]
	if !found {
		return nil, true
	}
	return e.ix.fieldList[fid], true
}

func (e *evaluator) everything() tri { return unsure(e.u) }

func (e *evaluator) eq(t *lql.Term) tri {
	f, ok := e.lookup(t.Field)
	if !ok || t.IgnoreCase || len(t.Any) > 0 || !t.HasValue() {
		// eq with ignoreCase or any is not something the reference defines
		// clearly (spec §3.11); leave it to the matcher.
		return e.everything()
	}
	if f == nil {
		return exact(newBitmap())
	}
	r := e.strEq([]string{t.Value}, f)
	if classify, _ := classifyTemporal(t.Value); classify != notTemporal {
		// eq falls back to temporal equality (spec §4.3) across offsets
		// and date/instant forms; only date-like strings can qualify.
		r.maybe = andNot(or(r.maybe, f.special[specDateish]), r.yes)
	}
	return r
}

// strEq unions the postings of exact string forms. Long strings and odd
// values cannot be compared through the dictionary, so they become maybes.
func (e *evaluator) strEq(values []string, f *field) tri {
	var yes []*bitmap
	maybe := f.special[specOdd]
	for _, v := range values {
		if len(v) > maxTermLen {
			maybe = or(maybe, f.special[specLong])
			continue
		}
		if tid, ok := f.strs[v]; ok {
			yes = append(yes, f.terms[tid-firstTermID].post)
		}
	}
	y := orAll(yes)
	return tri{yes: y, maybe: andNot(maybe, y)}
}

func (e *evaluator) in(t *lql.InTerm) tri {
	f, ok := e.lookup(t.Field)
	switch {
	case !ok || len(t.Any) == 0:
		return e.everything()
	case f == nil:
		return exact(newBitmap())
	}
	return e.strEq(t.Any, f)
}

func (e *evaluator) exists(fieldName string) tri {
	f, ok := e.lookup(fieldName)
	switch {
	case !ok:
		return e.everything()
	case f == nil:
		return exact(newBitmap())
	}
	return exact(f.special[specExists])
}

// stringTerm answers contains/icontains/prefix/iprefix (spec §4.4) by
// testing every string form in the field's dictionary: exact, and much
// cheaper than reading documents, since a dictionary holds each distinct
// value once.
func (e *evaluator) stringTerm(t *lql.Term, contains, fold bool) tri {
	f, ok := e.lookup(t.Field)
	if !ok || (len(t.Any) > 0 && t.HasValue()) {
		return e.everything()
	}
	if f == nil {
		return exact(newBitmap())
	}
	needles := t.Any
	if len(needles) == 0 {
		if !t.HasValue() {
			return exact(f.special[specPresent]) // a path assertion
		}
		needles = []string{t.Value}
	}
	if fold {
		lowered := make([]string, len(needles))
		for i, n := range needles {
			lowered[i] = strings.ToLower(n)
		}
		needles = lowered
	}
	var yes []*bitmap
	for i := range f.terms {
		tm := &f.terms[i]
		if tm.post == nil || tm.kind != termStr {
			continue
		}
		s := tm.s
		if fold {
			s = strings.ToLower(s)
		}
		for _, n := range needles {
			if (contains && strings.Contains(s, n)) || (!contains && strings.HasPrefix(s, n)) {
				yes = append(yes, tm.post)
				break
			}
		}
	}
	y := orAll(yes)
	return tri{yes: y, maybe: andNot(or(f.special[specLong], f.special[specOdd]), y)}
}

// rangeTerm answers range (spec §4.7): one value must satisfy every bound.
func (e *evaluator) rangeTerm(r *lql.RangeTerm) tri {
	f, ok := e.lookup(r.Field)
	if !ok {
		return e.everything()
	}
	bounds := []*lql.Bound{r.GT, r.GTE, r.LT, r.LTE}
	var isTime, isNum bool
	for _, b := range bounds {
		if b != nil {
			isTime = isTime || b.IsTime()
			isNum = isNum || !b.IsTime()
		}
	}
	if isTime == isNum { // no bound, or mixed kinds: invalid, let the matcher rule
		return e.everything()
	}
	if f == nil {
		return exact(newBitmap())
	}
	odd := f.special[specOdd]
	if isNum {
		in := func(v float64) bool {
			return (r.GT == nil || v > r.GT.Num) && (r.GTE == nil || v >= r.GTE.Num) &&
				(r.LT == nil || v < r.LT.Num) && (r.LTE == nil || v <= r.LTE.Num)
		}
		return e.termsWhere(f, termNum, func(t *term) bool { return in(t.f) }, odd)
	}
	var lim [4]int64
	for i, b := range bounds {
		if b == nil {
			continue
		}
		c, ns := classifyTemporal(strings.TrimSpace(b.Time))
		if c != temporalOK {
			return unsure(or(f.special[specDateish], odd))
		}
		lim[i] = ns
	}
	in := func(v int64) bool {
		return (r.GT == nil || v > lim[0]) && (r.GTE == nil || v >= lim[1]) &&
			(r.LT == nil || v < lim[2]) && (r.LTE == nil || v <= lim[3])
	}
	return e.termsWhere(f, termTime, func(t *term) bool { return in(t.t) }, odd)
}

// dateTerm bounds date (spec §4.8) by the documents holding a date-like
// string at the path; the comparators themselves (temporal equality, the
// now/today macros) are left to the matcher.
func (e *evaluator) dateTerm(d *lql.DateTerm) tri {
	f, ok := e.lookup(d.Field)
	switch {
	case !ok:
		return e.everything()
	case f == nil:
		return exact(newBitmap())
	}
	return unsure(or(f.special[specDateish], f.special[specOdd]))
}

func (e *evaluator) termsWhere(f *field, kind termKind, keep func(*term) bool, maybe *bitmap) tri {
	var yes []*bitmap
	for i := range f.terms {
		t := &f.terms[i]
		if t.post != nil && t.kind == kind && keep(t) {
			yes = append(yes, t.post)
		}
	}
	y := orAll(yes)
	return tri{yes: y, maybe: andNot(maybe, y)}
}

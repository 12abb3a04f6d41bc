package lql

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Matches reports whether doc satisfies sel (spec §4). Documents decoded
// with plain encoding/json (float64 numbers) and with UseNumber
// (json.Number) both work; with json.Number, numbers compare by the text
// written in the source, which is the lockd semantics. The empty selector
// matches every object. Invalid selectors (see Selector.Validate) simply
// fail to match where their clauses cannot resolve.
func Matches(sel Selector, doc map[string]any) bool {
	return evalNode(&sel, doc, time.Now())
}

// MatchesValue is Matches for an arbitrary decoded value: anything that is
// not a JSON object never matches, not even the empty selector.
func MatchesValue(sel Selector, v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	return evalNode(&sel, m, time.Now())
}

// MatchesAt is Matches with an explicit clock for the date.since macros
// now, today and yesterday.
func MatchesAt(sel Selector, doc map[string]any, now time.Time) bool {
	return evalNode(&sel, doc, now)
}

func evalNode(s *Selector, doc any, now time.Time) bool {
	if len(s.Or) > 0 {
		for i := range s.Or {
			if evalNode(&s.Or[i], doc, now) {
				return true
			}
		}
		return false
	}
	if s.Eq != nil && !evalEq(s.Eq, doc) {
		return false
	}
	if s.Contains != nil && !evalString(s.Contains, doc, false, s.Contains.IgnoreCase) {
		return false
	}
	if s.IContains != nil && !evalString(s.IContains, doc, false, true) {
		return false
	}
	if s.Prefix != nil && !evalString(s.Prefix, doc, true, s.Prefix.IgnoreCase) {
		return false
	}
	if s.IPrefix != nil && !evalString(s.IPrefix, doc, true, true) {
		return false
	}
	if s.Range != nil && !evalRange(s.Range, doc) {
		return false
	}
	if s.Date != nil && !evalDate(s.Date, doc, now) {
		return false
	}
	if s.In != nil && !evalIn(s.In, doc) {
		return false
	}
	if s.Exists != "" && !resolveAny(doc, s.Exists, func(v any) bool { return v != nil }) {
		return false
	}
	if s.Not != nil && evalNode(s.Not, doc, now) {
		return false
	}
	for i := range s.And {
		if !evalNode(&s.And[i], doc, now) {
			return false
		}
	}
	return true
}

// resolveAny reports whether some value the field resolves to satisfies fn
// (the any-value rule of spec §4.1).
func resolveAny(doc any, field string, fn func(any) bool) bool {
	it, ok := newPathIter(field)
	if !ok || !it.more() {
		return false
	}
	return walk(doc, it, fn)
}

// walk resolves the remaining segments of it from node (spec §2.5).
func walk(node any, it pathIter, fn func(any) bool) bool {
	seg, ok := it.next()
	if !ok {
		return fn(node)
	}
	switch seg.kind {
	case segKey:
		switch n := node.(type) {
		case map[string]any:
			if v, ok := n[seg.key]; ok {
				return walk(v, it, fn)
			}
		case []any:
			if seg.idx >= 0 && seg.idx < len(n) {
				return walk(n[seg.idx], it, fn)
			}
		}
	case segStar:
		if n, ok := node.(map[string]any); ok {
			for _, v := range n {
				if walk(v, it, fn) {
					return true
				}
			}
		}
	case segElem:
		if n, ok := node.([]any); ok {
			for _, v := range n {
				if walk(v, it, fn) {
					return true
				}
			}
		}
	case segAny:
		switch n := node.(type) {
		case map[string]any:
			for _, v := range n {
				if walk(v, it, fn) {
					return true
				}
			}
		case []any:
			for _, v := range n {
				if walk(v, it, fn) {
					return true
				}
			}
		}
	case segDeep:
		return walkDeep(node, it, fn)
	}
	return false
}

// walkDeep continues it from node and from every non-null descendant.
func walkDeep(node any, it pathIter, fn func(any) bool) bool {
	if node == nil {
		return false
	}
	if walk(node, it, fn) {
		return true
	}
	switch n := node.(type) {
	case map[string]any:
		for _, v := range n {
			if walkDeep(v, it, fn) {
				return true
			}
		}
	case []any:
		for _, v := range n {
			if walkDeep(v, it, fn) {
				return true
			}
		}
	}
	return false
}

// stringForm returns the text a value compares as (spec §2.2); ok is false
// for null, objects and arrays.
func stringForm(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return string(x), true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	case float64:
		return canonicalNumber(x), true
	case float32:
		return canonicalNumber(float64(x)), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case uint:
		return strconv.FormatUint(uint64(x), 10), true
	}
	return "", false
}

// numericForm returns the float a value ranges as (spec §2.3).
func numericForm(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint:
		return float64(x), true
	}
	return 0, false
}

func evalEq(t *Term, doc any) bool {
	eq := newEqMatcher(t.Value)
	return resolveAny(doc, t.Field, eq.holds)
}

// eqMatcher tests values for eq: equal string forms, or temporal equality
// when the wanted value is a temporal literal (spec §4.3).
type eqMatcher struct {
	want     string
	temporal bool
	wt       temporal
}

func newEqMatcher(want string) eqMatcher {
	m := eqMatcher{want: want}
	if maybeTemporal(strings.TrimSpace(want)) {
		m.wt, m.temporal = parseTemporal(want)
	}
	return m
}

func (m *eqMatcher) holds(v any) bool {
	s, ok := stringForm(v)
	if !ok {
		return false
	}
	if s == m.want {
		return true
	}
	if !m.temporal || !maybeTemporal(strings.TrimSpace(s)) {
		return false
	}
	vt, ok := parseTemporal(s)
	return ok && temporalEqual(vt, m.wt)
}

func evalString(t *Term, doc any, prefix, fold bool) bool {
	if alwaysTrueTerm(t) {
		return true
	}
	if len(t.Any) == 0 && !t.HasValue() {
		return resolveAny(doc, t.Field, func(any) bool { return true })
	}
	return resolveAny(doc, t.Field, func(v any) bool {
		s, ok := stringForm(v)
		return ok && stringTermHolds(t, s, prefix, fold)
	})
}

// stringTermHolds tests one string form against the needles of t.
func stringTermHolds(t *Term, s string, prefix, fold bool) bool {
	if fold {
		s = strings.ToLower(s)
	}
	test := func(needle string) bool {
		if fold {
			needle = strings.ToLower(needle)
		}
		if prefix {
			return strings.HasPrefix(s, needle)
		}
		return strings.Contains(s, needle)
	}
	if len(t.Any) > 0 {
		for _, n := range t.Any {
			if test(n) {
				return true
			}
		}
		return false
	}
	return test(t.Value)
}

func evalIn(t *InTerm, doc any) bool {
	return resolveAny(doc, t.Field, func(v any) bool {
		s, ok := stringForm(v)
		return ok && inHolds(t, s)
	})
}

func inHolds(t *InTerm, s string) bool {
	for _, a := range t.Any {
		if a == s {
			return true
		}
	}
	return false
}

// rangeBounds is a range clause prepared for repeated tests.
type rangeBounds struct {
	timeMode bool
	set      [4]bool
	num      [4]float64
	tm       [4]temporal
	valid    bool
}

func prepareRange(r *RangeTerm) rangeBounds {
	var rb rangeBounds
	rb.valid = true
	for i, b := range [...]*Bound{r.GT, r.GTE, r.LT, r.LTE} {
		if b == nil {
			continue
		}
		rb.set[i] = true
		if b.IsTime() {
			rb.timeMode = true
			t, ok := parseTemporal(b.Time)
			if !ok {
				rb.valid = false
			}
			rb.tm[i] = t
		} else {
			rb.num[i] = b.Num
		}
	}
	return rb
}

// holds tests one value against all bounds at once.
func (rb *rangeBounds) holds(v any) bool {
	if !rb.valid {
		return false
	}
	var cmp [4]int
	if rb.timeMode {
		s, ok := v.(string)
		if !ok || !maybeTemporal(strings.TrimSpace(s)) {
			return false
		}
		t, ok := parseTemporal(s)
		if !ok {
			return false
		}
		for i := range cmp {
			if rb.set[i] {
				cmp[i] = compareTemporal(t, rb.tm[i])
			}
		}
	} else {
		f, ok := numericForm(v)
		if !ok || f != f {
			return false
		}
		for i := range cmp {
			if rb.set[i] {
				switch {
				case f < rb.num[i]:
					cmp[i] = -1
				case f > rb.num[i]:
					cmp[i] = 1
				}
			}
		}
	}
	return (!rb.set[0] || cmp[0] > 0) && (!rb.set[1] || cmp[1] >= 0) &&
		(!rb.set[2] || cmp[2] < 0) && (!rb.set[3] || cmp[3] <= 0)
}

func evalRange(r *RangeTerm, doc any) bool {
	rb := prepareRange(r)
	return resolveAny(doc, r.Field, rb.holds)
}

// dateBounds is a date clause prepared for repeated tests.
type dateBounds struct {
	valid    bool
	hasValue bool
	value    temporal
	set      [4]bool // gt, gte, lt, lte
	tm       [4]temporal
}

func prepareDate(d *DateTerm, now time.Time) dateBounds {
	db := dateBounds{valid: true}
	parse := func(s string) temporal {
		t, ok := parseTemporal(s)
		if !ok {
			db.valid = false
		}
		return t
	}
	if d.Value != "" {
		db.hasValue, db.value = true, parse(d.Value)
	}
	for i, s := range [...]string{d.GT, d.GTE, d.LT, d.LTE, d.After, d.Before} {
		if s == "" {
			continue
		}
		slot := i
		if i >= 4 {
			slot = (i - 4) * 2 // after → gt, before → lt
		}
		db.set[slot], db.tm[slot] = true, parse(s)
	}
	if d.Since != "" {
		t, ok := resolveSince(d.Since, now)
		if !ok {
			db.valid = false
		}
		db.set[1], db.tm[1] = true, t
	}
	if !db.hasValue && db.set == [4]bool{} {
		db.valid = false
	}
	return db
}

func (db *dateBounds) holds(v any) bool {
	if !db.valid {
		return false
	}
	s, ok := stringForm(v)
	if !ok || !maybeTemporal(strings.TrimSpace(s)) {
		return false
	}
	t, ok := parseTemporal(s)
	if !ok {
		return false
	}
	if db.hasValue && !temporalEqual(t, db.value) {
		return false
	}
	for i, set := range db.set {
		if !set {
			continue
		}
		c := compareTemporal(t, db.tm[i])
		switch i {
		case 0:
			ok = c > 0
		case 1:
			ok = c >= 0
		case 2:
			ok = c < 0
		case 3:
			ok = c <= 0
		}
		if !ok {
			return false
		}
	}
	return true
}

func evalDate(d *DateTerm, doc any, now time.Time) bool {
	db := prepareDate(d, now)
	return resolveAny(doc, d.Field, db.holds)
}

package lql

import "strings"

// truth is the outcome of simplifying a node.
type truth uint8

const (
	tUnknown truth = iota
	tTrue
	tFalse
)

// Simplify applies the reference simplification (spec §3.9): string terms
// that are always true are dropped, constant branches fold, a true
// selector becomes {} and a false one {"and":[{"not":{}}]}. It never
// changes what a selector matches.
func Simplify(s Selector) Selector {
	return simplifyOwned(cloneSelector(s))
}

// simplifyOwned is Simplify for a selector whose slices the caller owns:
// it reuses them instead of copying, which matters on the parse path.
func simplifyOwned(s Selector) Selector {
	out, t := simplifyNode(s)
	switch t {
	case tTrue:
		return Selector{}
	case tFalse:
		return Selector{And: []Selector{{Not: &Selector{}}}}
	}
	return out
}

// alwaysTrueTerm reports whether a string term is trivially true: no any,
// an empty value, and a field that is the root or exactly /*, /** or /...
func alwaysTrueTerm(t *Term) bool {
	if t == nil || len(t.Any) > 0 || t.Value != "" {
		return false
	}
	switch strings.TrimSpace(t.Field) {
	case "", "/", "/*", "/**", "/...":
		return true
	}
	return false
}

func simplifyNode(s Selector) (Selector, truth) {
	if len(s.Or) > 0 {
		kept := s.Or[:0]
		for _, b := range s.Or {
			bs, t := simplifyNode(b)
			switch t {
			case tTrue:
				return Selector{}, tTrue
			case tFalse:
				continue
			}
			kept = append(kept, bs)
		}
		if len(kept) == 0 {
			return Selector{}, tFalse
		}
		return Selector{Or: kept}, tUnknown
	}
	out := s
	out.And = s.And[:0]
	out.Not = nil
	if s.Not != nil {
		ns, t := simplifyNode(*s.Not)
		switch t {
		case tTrue:
			return Selector{}, tFalse
		case tUnknown:
			out.Not = &ns
		}
	}
	for _, c := range s.And {
		cs, t := simplifyNode(c)
		switch t {
		case tFalse:
			return Selector{}, tFalse
		case tUnknown:
			out.And = append(out.And, cs)
		}
	}
	if alwaysTrueTerm(out.Contains) {
		out.Contains = nil
	}
	if alwaysTrueTerm(out.IContains) {
		out.IContains = nil
	}
	if alwaysTrueTerm(out.Prefix) {
		out.Prefix = nil
	}
	if alwaysTrueTerm(out.IPrefix) {
		out.IPrefix = nil
	}
	if len(out.And) == 0 {
		out.And = nil
	}
	if out.IsEmpty() {
		return Selector{}, tTrue
	}
	return out, tUnknown
}

// cloneSelector deep-copies the composition slices and pointers of s, so
// that simplifying the copy cannot disturb the caller's selector.
func cloneSelector(s Selector) Selector {
	if len(s.And) > 0 {
		and := make([]Selector, len(s.And))
		for i := range s.And {
			and[i] = cloneSelector(s.And[i])
		}
		s.And = and
	}
	if len(s.Or) > 0 {
		or := make([]Selector, len(s.Or))
		for i := range s.Or {
			or[i] = cloneSelector(s.Or[i])
		}
		s.Or = or
	}
	if s.Not != nil {
		n := cloneSelector(*s.Not)
		s.Not = &n
	}
	return s
}

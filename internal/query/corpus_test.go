package query

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/lockd-mcp/lockd-mcp/lql"
)

// The randomized corpus mixes what agents store (status strings, tags
// arrays, numbers, dates, nested owners, item lists, long notes) with the
// awkward cases the index must not get wrong: numbers written 42.0 or 1e2,
// numeric strings, padded and invalid dates, nested arrays, escaped member
// names, numeric member names, nulls, non-object documents.

var (
	statuses  = []any{"open", "closed", "pending", "Open", "OPEN", 42, true, nil, "", "open "}
	tagWords  = []string{"planning", "q3", "urgent", "Urgent", "finance", "x y", "2025-01-02", "42", "a/b"}
	names     = []string{"alice", "bob", "Alice", "carol", "dave", "Ålice", "bob smith"}
	dateVals  = []string{"2025-01-01", "2025-01-02", "2025-01-01T15:00:00Z", "2025-01-01T23:30:00-05:00", "2025-01-02T00:00:00Z", "2026-03-11T01:11:28", "2025-02-30", " 2025-01-01", "2025-01-01T10:00", "2025-06-15T12:00:00.123456789+02:00", "2024-12-31T23:59:59.5Z", "20250101", "1999-12-31"}
	numTexts  = []string{"1", "2", "3", "42", "42.0", "1e2", "-2.5e+3", "0", "-0", "100", "3.5", "1e400"}
	noteWords = []string{"renewal", "Contract", "timeout", "RENEWAL", "due", "planning", "lorem", "ipsum", "ß", "İstanbul"}
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// genDoc returns one document as raw JSON text (so number spellings survive).
func genDoc(r *rand.Rand, i int) string {
	if r.IntN(60) == 0 {
		return pick(r, []string{`[1,2,{"status":"open"}]`, `"open"`, `42`, `null`, `true`})
	}
	var b strings.Builder
	b.WriteString("{")
	first := true
	member := func(name, raw string) {
		if !first {
			b.WriteString(",")
		}
		first = false
		nb, _ := json.Marshal(name)
		b.Write(nb)
		b.WriteString(":")
		b.WriteString(raw)
	}
	js := func(v any) string { out, _ := json.Marshal(v); return string(out) }
	member("id", js(fmt.Sprintf("doc-%d", i)))
	if r.IntN(10) > 0 {
		member("status", js(pick(r, statuses)))
	}
	switch r.IntN(10) {
	case 0:
		member("tags", js(pick(r, tagWords))) // a string, not an array
	case 1:
		member("tags", `[["planning"],"q3"]`)
	case 2:
	default:
		n := r.IntN(4)
		tags := make([]string, n)
		for j := range tags {
			tags[j] = pick(r, tagWords)
		}
		member("tags", js(tags))
	}
	if r.IntN(5) > 0 {
		if r.IntN(4) == 0 {
			member("priority", js(pick(r, numTexts))) // numeric string
		} else {
			member("priority", pick(r, numTexts))
		}
	}
	if r.IntN(3) > 0 {
		member("amount", fmt.Sprintf("%.2f", r.Float64()*1000))
	}
	if r.IntN(4) > 0 {
		member("created", js(pick(r, dateVals)))
	}
	switch r.IntN(5) {
	case 0:
		member("owner", js(pick(r, names)))
	case 1:
	default:
		member("owner", js(map[string]any{"name": pick(r, names), "team": pick(r, []string{"core", "ops", "Core"})}))
	}
	if r.IntN(2) == 0 {
		var items []string
		for range r.IntN(4) {
			items = append(items, fmt.Sprintf(`{"sku":%s,"price":%s}`, js(pick(r, []string{"A", "B", "c", "AB"})), pick(r, numTexts)))
		}
		member("items", "["+strings.Join(items, ",")+"]")
	}
	if r.IntN(3) == 0 {
		var words []string
		for range 5 + r.IntN(80) { // sometimes longer than maxTermLen
			words = append(words, pick(r, noteWords))
		}
		member("notes", js(map[string]any{"body": strings.Join(words, " ")}))
	}
	if r.IntN(8) == 0 {
		member("a/b", pick(r, []string{"1", `"x"`, "null"}))
	}
	if r.IntN(8) == 0 {
		member("lines", pick(r, []string{`{"10":{"amount":3500}}`, `[0,1,2,3,4,5,6,7,8,9,{"amount":3600}]`, `{"10":{"amount":"12"}}`}))
	}
	if r.IntN(10) == 0 {
		member("z", "null")
	}
	if r.IntN(12) == 0 {
		member("flag", pick(r, []string{"true", "false", `"TRUE"`, `"true"`}))
	}
	b.WriteString("}")
	return b.String()
}

var (
	selFields = []string{"/status", "/tags", "/tags[]", "/tags/[]", "/tags[][]", "/owner", "/owner/name", "/owner/team",
		"/items[]/sku", "/items[]/price", "/items/*/sku", "/items/**/sku", "/priority", "/amount", "/created",
		"/notes/body", "/...", "/*", "/a~1b", "/lines/10/amount", "/missing", "/", "/z", "/flag", "/id", "/tags/0"}
	selValues = []string{"open", "closed", "Open", "42", "42.0", "1e2", "100", "true", "TRUE", "planning", "q3",
		"urgent", "x y", "alice", "Alice", "bob", "core", "A", "B", "", "2025-01-01", "2025-01-02", "2025-01-01T15:00:00Z",
		"renewal", "RENEWAL", "time", "doc-1", "1", "3.5", "null", "ren", "ali", "2025", "ß", "SS", "i̇"}
	selDates = []string{"2025-01-01", "2025-01-02", "2025-01-01T16:00:00+01:00", "2024-12-31T23:59:59Z", "2026-01-01", "2025-01-01T15:00:00Z", "1999-01-01"}
)

func genTerm(r *rand.Rand) *lql.Term {
	t := &lql.Term{Field: pick(r, selFields)}
	switch r.IntN(6) {
	case 0: // path assertion
	case 1:
		t.Any = []string{pick(r, selValues), pick(r, selValues)}
	default:
		t.Value, t.ValueSet = pick(r, selValues), true
	}
	if r.IntN(8) == 0 {
		t.IgnoreCase = true
	}
	return t
}

func genBound(r *rand.Rand, timeMode bool) *lql.Bound {
	if timeMode {
		return lql.TimeBound(pick(r, selDates))
	}
	return lql.NumberBound(pick(r, []float64{0, 1, 2, 3, 3.5, 42, 100, 500, -1, 1000}))
}

// genSelector returns a random selector AST of bounded depth.
func genSelector(r *rand.Rand, depth int) lql.Selector {
	var s lql.Selector
	if depth > 0 && r.IntN(3) == 0 {
		n := 1 + r.IntN(3)
		for range n {
			child := genSelector(r, depth-1)
			switch r.IntN(3) {
			case 0:
				s.Or = append(s.Or, child)
			default:
				s.And = append(s.And, child)
			}
		}
		if r.IntN(4) == 0 {
			c := genSelector(r, depth-1)
			s.Not = &c
		}
		return s
	}
	if depth > 0 && r.IntN(6) == 0 {
		c := genSelector(r, depth-1)
		s.Not = &c
		return s
	}
	for range 1 + r.IntN(2) {
		switch r.IntN(11) {
		case 0, 1:
			t := genTerm(r)
			t.Any = nil
			if !t.ValueSet {
				t.Value, t.ValueSet = pick(r, selValues), true
			}
			s.Eq = t
		case 2:
			s.Contains = genTerm(r)
		case 3:
			s.IContains = genTerm(r)
		case 4:
			s.Prefix = genTerm(r)
		case 5:
			s.IPrefix = genTerm(r)
		case 6, 7:
			s.In = &lql.InTerm{Field: pick(r, selFields), Any: []string{pick(r, selValues), pick(r, selValues)}}
		case 8:
			rt := &lql.RangeTerm{Field: pick(r, selFields)}
			timeMode := r.IntN(2) == 0
			if timeMode {
				rt.Field = pick(r, []string{"/created", "/tags[]", "/created", "/..."})
			}
			for range 1 + r.IntN(2) {
				switch r.IntN(4) {
				case 0:
					rt.GT = genBound(r, timeMode)
				case 1:
					rt.GTE = genBound(r, timeMode)
				case 2:
					rt.LT = genBound(r, timeMode)
				default:
					rt.LTE = genBound(r, timeMode)
				}
			}
			s.Range = rt
		case 9:
			dt := &lql.DateTerm{Field: pick(r, []string{"/created", "/tags[]"})}
			switch r.IntN(3) {
			case 0:
				dt.Value = pick(r, selDates)
			case 1:
				dt.After = pick(r, selDates)
			default:
				dt.Since, dt.Before = pick(r, selDates), pick(r, selDates)
			}
			s.Date = dt
		default:
			s.Exists = pick(r, selFields)
		}
	}
	return s
}

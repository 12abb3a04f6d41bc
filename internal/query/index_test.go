package query

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lockd-mcp/lockd-mcp/lql"
)

func TestCanonicalPath(t *testing.T) {
	for _, tc := range []struct {
		field     string
		want      string
		ok, valid bool
	}{
		{"/status", "/status", true, true},
		{" /status ", "/status", true, true},
		{"/owner/name", "/owner/name", true, true},
		{"/tags[]", "/tags/~2", true, true},
		{"/tags/[]", "/tags/~2", true, true},
		{"/m[][]", "/m/~2/~2", true, true},
		{"/items[]/sku", "/items/~2/sku", true, true},
		{"/a~1b", "/a~1b", true, true}, // the member "a/b"
		{"/m~0n", "/m~0n", true, true}, // the member "m~n"
		{"/~01", "/~01", true, true},   // "~1" literally
		{"/lines/10", "", false, true}, // numeric: member or index
		{"/lines/+1", "", false, true}, // Atoi accepts it
		{"/*", "", false, true},        // wildcards are left to the matcher
		{"/a/**/b", "", false, true},   //
		{"/...", "", false, true},      //
		{"/*[]", "", false, true},      //
		{"/[][]", "", false, true},     // not addressable
		{"/", "", false, true},         // the root resolves to nothing
		{"status", "", false, false},   // not a pointer
		{"", "", false, false},         //
	} {
		got, ok, valid := canonicalPath(tc.field)
		if got != tc.want || ok != tc.ok || valid != tc.valid {
			t.Errorf("canonicalPath(%q) = %q, %v, %v; want %q, %v, %v", tc.field, got, ok, valid, tc.want, tc.ok, tc.valid)
		}
	}
}

func TestWalkJSONPaths(t *testing.T) {
	doc := `{"a":{"b":[1,"x",{"c":null}]},"t~/":true,"n":-1.5e3,"s":"q\"\u00e9"}`
	var got []string
	kind, err := walkJSON(doc, func(path []byte, k nodeKind, text string, ok bool) {
		got = append(got, string(path)+"="+text)
	})
	if err != nil || kind != kindObject {
		t.Fatalf("walkJSON: %v, %v", kind, err)
	}
	want := []string{"/a=", "/a/b=", "/a/b/~2=1", "/a/b/~2=x", "/a/b/~2=", "/a/b/~2/c=", "/t~0~1=true", "/n=-1.5e3", `/s=q"é`}
	if !slices.Equal(got, want) {
		t.Fatalf("paths\n got %q\nwant %q", got, want)
	}
	for _, bad := range []string{`{"a":}`, `{"a":1`, `[1,]`, `01`, `{"a":tru}`, `"x`, `{} {}`, strings.Repeat("[", 300) + strings.Repeat("]", 300)} {
		if _, err := walkJSON(bad, func([]byte, nodeKind, string, bool) {}); err == nil {
			t.Errorf("walkJSON(%.20q) accepted malformed input", bad)
		}
	}
}

func TestClassifyTemporal(t *testing.T) {
	at := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixNano()
	}
	for _, tc := range []struct {
		in    string
		class temporalClass
		nanos int64
	}{
		{"2025-01-01", temporalOK, at("2025-01-01T00:00:00Z")},
		{"2025-01-01T15:00:00Z", temporalOK, at("2025-01-01T15:00:00Z")},
		{"2025-01-01T23:30:00-05:00", temporalOK, at("2025-01-02T04:30:00Z")},
		{"2026-03-11T01:11:28", temporalOK, at("2026-03-11T01:11:28Z")},
		{"2025-06-15T12:00:00.123+02:00", temporalOK, at("2025-06-15T10:00:00.123Z")},
		{"open", notTemporal, 0},
		{"20250101", notTemporal, 0},
		{"2025", notTemporal, 0},
		{"2025-02-30", temporalUnsure, 0},
		{" 2025-01-01", temporalUnsure, 0},
		{"2025-01-01T10:00", temporalUnsure, 0},
		{"2025-01-01t10:00:00z", temporalUnsure, 0},
		{"2025-01-01T24:00:00Z", temporalUnsure, 0},
		{"0001-01-01", temporalUnsure, 0},
	} {
		class, nanos := classifyTemporal(tc.in)
		if class != tc.class || nanos != tc.nanos {
			t.Errorf("classifyTemporal(%q) = %v, %d; want %v, %d", tc.in, class, nanos, tc.class, tc.nanos)
		}
	}
}

// TestIndexAnswersExactly pins which clauses the index decides alone: a
// regression here costs speed, not correctness, so it is worth a test.
func TestIndexAnswersExactly(t *testing.T) {
	ix := NewIndex()
	ctx := context.Background()
	for key, doc := range map[string]string{
		"a": `{"status":"open","tags":["planning","q3"],"n":42,"ts":"2025-01-01T15:00:00Z","owner":{"name":"alice"}}`,
		"b": `{"status":"closed","tags":"planning","n":"42","ts":"2025-01-03"}`,
		"c": `{"status":"open","tags":[],"n":42.0,"z":null}`,
	} {
		if err := ix.Put(ctx, key, 1, []byte(doc)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		expr  string
		want  []string
		exact bool
	}{
		{"/status=open", []string{"a", "c"}, true},
		{"/n=42", []string{"a", "b"}, true},
		{"in{field=/tags,any=planning}", []string{"b"}, true},
		{"in{field=/tags[],any=planning}", []string{"a"}, true},
		{"/n>=40", []string{"a", "b", "c"}, true},
		{"/ts>=2025-01-02", []string{"b"}, true},
		{"exists{/z}", nil, true},
		{"contains{field=/z}", []string{"c"}, true},
		{"icontains{field=/owner/name,value=ALI}", []string{"a"}, true},
		{"prefix{field=/tags[],value=plan}", []string{"a"}, true},
		{"not.eq{field=/status,value=open}", []string{"b"}, true},
		{"or.0.eq{field=/status,value=closed},or.1.exists{/owner}", []string{"a", "b"}, true},
		{"/ts=2025-01-01", []string{"a"}, false}, // temporal eq: date-like values verified
		{"icontains{field=/...,value=alice}", []string{"a", "b", "c"}, false},
	} {
		sel, err := lql.ParseSelectorString(tc.expr)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		sel = lql.Simplify(sel)
		var keys []string
		exact := true
		for _, c := range allCandidates(ix, &sel, "") {
			keys = append(keys, c.key)
			exact = exact && c.sure
		}
		if exact != tc.exact || (tc.exact && !slices.Equal(keys, tc.want)) || (!tc.exact && !isSuperset(keys, tc.want)) {
			t.Errorf("%s: candidates %v (exact %v), want %v (exact %v)", tc.expr, keys, exact, tc.want, tc.exact)
		}
	}
}

// allCandidates returns every candidate of sel after `after`, in key order.
func allCandidates(ix *Index, sel *lql.Selector, after string) []candidate {
	h, _ := ix.candidates(sel, after, math.MaxInt)
	var out []candidate
	for len(h) > 0 {
		var c candidate
		c, h = popMin(h)
		out = append(out, c)
	}
	return out
}

// TestCandidatesWalk: walking the key order stops once it has want
// candidates (partial), starts after the cursor, skips hidden and deleted
// keys, and collects the rest when the matches sit far from the cursor.
func TestCandidatesWalk(t *testing.T) {
	ctx := context.Background()
	ix := NewIndex()
	ix.setWalkMin(0)
	var seq uint64
	// More keys than keyMergeEvery, so the walk crosses the sorted slice
	// and the tail.
	for i := range 1100 {
		doc := fmt.Appendf(nil, `{"n":%d,"odd":%v,"note":"%s"}`, i, i%2 == 1, strings.Repeat("x", i%3*200))
		seq = ix.Submit(Change{Key: fmt.Sprintf("k%04d", i), Version: 1, Doc: doc, Hidden: i == 5})
	}
	seq = ix.Submit(Change{Key: "k0007", Delete: true})
	if err := ix.WaitFor(ctx, seq); err != nil {
		t.Fatal(err)
	}
	keys := func(from, to int) []string {
		var out []string
		for i := from; i < to; i++ {
			out = append(out, fmt.Sprintf("k%04d", i))
		}
		return out
	}
	for _, tc := range []struct {
		name, expr, after string
		want              int
		keys              []string
		partial           bool
	}{
		{"stops at want", "", "", 5, keys(0, 5), true},
		{"hidden and deleted keys", "", "k0003", 4, []string{"k0004", "k0006", "k0008", "k0009"}, true},
		{"after in the middle", "", "k0100", 3, keys(101, 104), true},
		{"after between keys", "", "k0100a", 2, keys(101, 103), true},
		{"from sorted into the tail", "", "k1022", 4, keys(1023, 1027), true},
		{"reaches the end", "", "k1097", 5, keys(1098, 1100), false},
		{"after past the end", "", "z", 5, nil, false},
		{"every other key", "/odd=true", "k0100", 3, []string{"k0101", "k0103", "k0105"}, true},
		{"verified candidates", "contains{field=/note,value=xx}", "", 4, []string{"k0001", "k0002", "k0004", "k0008"}, true},
		{"matches far away: collected", "/n>=1000", "", 3, keys(1000, 1100), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sel := lql.Simplify(mustSel(t, tc.expr))
			var got []string
			h, partial := ix.candidates(&sel, tc.after, tc.want)
			for len(h) > 0 {
				var c candidate
				c, h = popMin(h)
				got = append(got, c.key)
			}
			if !slices.Equal(got, tc.keys) || partial != tc.partial {
				t.Fatalf("candidates %v, partial %v; want %v, %v", got, partial, tc.keys, tc.partial)
			}
		})
	}
}

// setWalkMin sets the fewest candidates for which pages walk the key
// order: 0 makes every page walk, math.MaxInt none.
func (ix *Index) setWalkMin(n int) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.walkMin = n
}

func isSuperset(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// TestUnchangedETagSkipsParse: a change with the indexed ETag only moves
// the version and hidden flag, and a key flipping back to an older ETag
// within one batch is still indexed from its document.
func TestUnchangedETagSkipsParse(t *testing.T) {
	ctx := context.Background()
	s := newMemStore("ns")
	ix := s.m.Index("ns")
	a, b := []byte(`{"s":"a"}`), []byte(`{"s":"b"}`)
	if err := ix.WaitFor(ctx, ix.Submit(Change{Key: "k", Version: 1, Doc: a, ETag: "ea"})); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		ix.Submit(Change{Key: "k", Version: int64(2 * i), Doc: b, ETag: "eb"})
		seq := ix.Submit(Change{Key: "k", Version: int64(2*i + 1), Doc: a, ETag: "ea"})
		if err := ix.WaitFor(ctx, seq); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			expr string
			want bool
		}{{"/s=a", true}, {"/s=b", false}} {
			sel := mustSel(t, tc.expr)
			h := allCandidates(ix, &sel, "")
			if got := len(h) == 1 && h[0].sure; got != tc.want {
				t.Fatalf("round %d %s: candidates %+v", i, tc.expr, h)
			}
		}
	}
	ix.WaitFor(ctx, ix.Submit(Change{Key: "k", Version: 999, Doc: a, ETag: "ea", Hidden: true}))
	sel := mustSel(t, "/s=a")
	if h := allCandidates(ix, &sel, ""); len(h) != 0 {
		t.Fatalf("hidden flip through the fast path not applied: %+v", h)
	}
}

// TestMayBeNumericIsExact: the ParseFloat pre-filter must never reject a
// string ParseFloat accepts.
func TestMayBeNumericIsExact(t *testing.T) {
	for _, s := range []string{"1", "-2.5e+3", ".5", "5.", "+5", "1e400", "0x1p-2", "0X1P+3", "0x_1p0", "inf", "-Inf",
		"+INFINITY", "NaN", "nan", "+nan", "-NaN", "007", "1_000", "1_0.5_0", ".5_0", "0x1_0p0", "1e1_0", "1e", "e5", "-", ".", "item-0001", "_1", "1__0", "2025-01-01", "1.2.3", " 1", "1 ", "", "infinite", "0x10"} {
		_, err := strconv.ParseFloat(s, 64)
		parses := err == nil || errors.Is(err, strconv.ErrRange)
		if parses && !mayBeNumeric(s) {
			t.Errorf("mayBeNumeric(%q) = false, but ParseFloat accepts it", s)
		}
	}
}

// TestSmallIntMatchesParseFloat: the fast path must give ParseFloat's
// value, sign of zero included, and decline whatever it does not cover.
func TestSmallIntMatchesParseFloat(t *testing.T) {
	cases := []string{"0", "-0", "+0", "7", "-7", "+7", "007", "-007", "123456789012345", "-999999999999999",
		"1234567890123456", "9007199254740993", "", "-", "+", "1.5", "1e3", "0x1p3", "1_000", "12a", " 1", "inf"}
	for i := range 2000 {
		cases = append(cases, strconv.Itoa(i*7919-5000), strconv.FormatInt(int64(i)*4503599627370, 10))
	}
	for _, s := range cases {
		f, ok := smallInt(s)
		want, err := strconv.ParseFloat(s, 64)
		if !ok {
			if d := strings.TrimLeft(s, "+-"); d != "" && len(d) <= 15 && strings.Trim(d, "0123456789") == "" && len(s)-len(d) <= 1 {
				t.Errorf("smallInt(%q) declined a plain integer", s)
			}
			continue
		}
		if err != nil || f != want || math.Signbit(f) != math.Signbit(want) {
			t.Errorf("smallInt(%q) = %v, ParseFloat = %v, %v", s, f, want, err)
		}
	}
}

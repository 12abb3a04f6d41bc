package query

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/lql"
)

// oracle is the brute-force reference: lql.Matches over every decoded
// document (numbers kept as written), hidden keys left out, and the
// streaming rule that only the empty selector matches non-objects.
type oracle struct {
	keys    []string
	decoded []any
	hidden  []bool
}

func (o *oracle) answer(sel lql.Selector) []string {
	empty := lql.Simplify(sel).IsEmpty()
	var out []string
	for i, v := range o.decoded {
		if o.hidden[i] {
			continue
		}
		m, isObj := v.(map[string]any)
		if (isObj && lql.Matches(sel, m)) || (!isObj && empty) {
			out = append(out, o.keys[i])
		}
	}
	return out
}

func buildCorpus(t testing.TB, n int, seed uint64) (*memStore, *oracle) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	s := newMemStore("corpus")
	o := &oracle{}
	for i := range n {
		key := fmt.Sprintf("k%05d", r.IntN(n*10))
		if _, dup := s.docs[key]; dup {
			continue
		}
		raw := genDoc(r, i)
		hidden := r.IntN(25) == 0
		s.commit(key, []byte(raw), hidden)
		dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("corpus doc %s: %v\n%s", key, err, raw)
		}
		o.keys = append(o.keys, key)
		o.decoded = append(o.decoded, v)
		o.hidden = append(o.hidden, hidden)
	}
	// The oracle answers in key order, like the engines.
	idx := make([]int, len(o.keys))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmpString(o.keys[a], o.keys[b]) })
	sorted := &oracle{}
	for _, i := range idx {
		sorted.keys = append(sorted.keys, o.keys[i])
		sorted.decoded = append(sorted.decoded, o.decoded[i])
		sorted.hidden = append(sorted.hidden, o.hidden[i])
	}
	if _, err := s.m.Index(s.ns).Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, sorted
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestEnginesAgreeWithOracle is the exactness proof by example: thousands
// of random selectors over a randomized corpus, answered by the index
// engine, the scan engine and the oracle, must give identical key sets.
func TestEnginesAgreeWithOracle(t *testing.T) {
	docs, sels, scanEvery := 3000, 3000, 10
	if testing.Short() {
		docs, sels, scanEvery = 800, 500, 10
	}
	ctx := context.Background()
	s, o := buildCorpus(t, docs, 7)
	r := rand.New(rand.NewPCG(99, 2))
	exactCount := 0
	nonObjects := s.m.Index(s.ns).verify.card()
	for i := range sels {
		sel := genSelector(r, 3)
		want := o.answer(sel)
		limit := []int{0, 7, 1000}[r.IntN(3)]
		s.cfg.PreferredEngine = api.EngineIndex
		// Every other selector walks the key order instead of collecting
		// every candidate.
		s.m.Index(s.ns).setWalkMin([]int{defaultWalkMin, 0}[i%2])
		got, res, err := s.queryAll(ctx, Request{Namespace: s.ns, Selector: sel, Limit: limit, Engine: api.EngineIndex})
		if err != nil {
			if sel.Validate() != nil {
				continue // invalid random selectors are rejected by every engine alike
			}
			t.Fatalf("selector %d: index: %v", i, err)
		}
		_ = res
		simplified := lql.Simplify(sel)
		unsureKeys := 0
		for _, c := range allCandidates(s.m.Index(s.ns), &simplified, "") {
			if !c.sure {
				unsureKeys++
			}
		}
		if unsureKeys <= nonObjects {
			exactCount++
		}
		if !slices.Equal(got, want) {
			js, _ := json.Marshal(sel)
			t.Fatalf("selector %d %s: index engine gave %d keys, oracle %d\nindex-only: %v\noracle-only: %v",
				i, js, len(got), len(want), minus(got, want), minus(want, got))
		}
		if i%scanEvery != 0 {
			continue
		}
		got, _, err = s.queryAll(ctx, Request{Namespace: s.ns, Selector: sel, Limit: limit, Engine: api.EngineScan})
		if err != nil {
			t.Fatalf("selector %d: scan: %v", i, err)
		}
		if !slices.Equal(got, want) {
			js, _ := json.Marshal(sel)
			t.Fatalf("selector %d %s: scan engine gave %d keys, oracle %d\nscan-only: %v\noracle-only: %v",
				i, js, len(got), len(want), minus(got, want), minus(want, got))
		}
	}
	t.Logf("%d selectors; %d answered by the index alone (besides the %d non-object documents every non-empty selector verifies)", sels, exactCount, nonObjects)
}

func minus(a, b []string) []string {
	var out []string
	for _, k := range a {
		if !slices.Contains(b, k) {
			out = append(out, k)
			if len(out) == 10 {
				break
			}
		}
	}
	return out
}

func decodeNumbers(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// liveOracle is the oracle over a memStore that changes: decoded documents
// by key, kept up to date by its commit and remove.
type liveOracle struct {
	s       *memStore
	decoded map[string]any
}

func newLiveOracle(t testing.TB, s *memStore) *liveOracle {
	t.Helper()
	o := &liveOracle{s: s, decoded: map[string]any{}}
	for k, d := range s.docs {
		v, err := decodeNumbers(d.body)
		if err != nil {
			t.Fatal(err)
		}
		o.decoded[k] = v
	}
	return o
}

func (o *liveOracle) commit(t testing.TB, key, raw string, hidden bool) {
	t.Helper()
	v, err := decodeNumbers([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	o.decoded[key] = v
	o.s.commit(key, []byte(raw), hidden)
}

func (o *liveOracle) remove(key string) {
	delete(o.decoded, key)
	o.s.remove(key)
}

// next returns up to n keys after `after` that sel matches now, in order.
func (o *liveOracle) next(sel lql.Selector, after string, n int) []string {
	empty := lql.Simplify(sel).IsEmpty()
	var out []string
	for _, k := range o.s.keys {
		if k <= after || o.s.docs[k].hidden {
			continue
		}
		m, isObj := o.decoded[k].(map[string]any)
		if (isObj && lql.Matches(sel, m)) || (!isObj && empty) {
			if out = append(out, k); len(out) == n {
				break
			}
		}
	}
	return out
}

// churn makes a few changes between two pages: deletes (whose ids the
// next new key reuses), re-adds of deleted keys, keys new to the index,
// rewrites and hidden flips. The key space stays bounded, so a page does
// not keep finding new keys ahead of it.
func (o *liveOracle) churn(t testing.TB, r *rand.Rand, keys []string, step int) {
	t.Helper()
	for range 1 + r.IntN(3) {
		key := pick(r, keys)
		if r.IntN(8) == 0 {
			key = fmt.Sprintf("n%03d", r.IntN(200))
		}
		if _, exists := o.s.docs[key]; exists && r.IntN(3) == 0 {
			o.remove(key)
			continue
		}
		o.commit(t, key, genDoc(r, step), r.IntN(6) == 0)
	}
}

// pageWith runs one page of req with the index's walk threshold at
// walkMin: 0 walks the key order, math.MaxInt collects every candidate.
func (s *memStore) pageWith(t testing.TB, req Request, walkMin int) ([]Row, Result) {
	t.Helper()
	s.m.Index(req.Namespace).setWalkMin(walkMin)
	var rows []Row
	res, err := s.m.Query(context.Background(), req, func(r Row) error { rows = append(rows, r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return rows, res
}

// TestPagingAgreesWithOracle pages through random selectors with limits of
// 1, 3 and 17, changing the namespace between pages (ids freed and
// reused, keys deleted and re-added, hidden and unhidden). Each page is
// asked twice of the same index: walking the key order must give exactly
// the rows, cursor and metadata of collecting every candidate (the
// engine's behaviour before the walk existed), and the rows must be the
// oracle's next ones after the cursor.
func TestPagingAgreesWithOracle(t *testing.T) {
	docs, sels := 1000, 120
	if testing.Short() {
		docs, sels = 400, 40
	}
	s, _ := buildCorpus(t, docs, 21)
	o := newLiveOracle(t, s)
	keys := slices.Clone(s.keys)
	r := rand.New(rand.NewPCG(8, 8))
	pages := 0
	for i := range sels {
		sel := genSelector(r, 2)
		switch i % 6 {
		case 0:
			sel = lql.Selector{} // everything, non-objects included
		case 1:
			inner := sel
			sel = lql.Selector{Not: &inner} // mostly broad
		}
		if sel.Validate() != nil {
			continue
		}
		js, _ := json.Marshal(sel)
		req := Request{Namespace: s.ns, Selector: sel, Limit: []int{1, 3, 17}[i%3], Documents: i%4 == 3,
			Engine: api.EngineIndex, WaitFor: true}
		for page := 0; ; page++ {
			pages++
			rows, res := s.pageWith(t, req, 0)
			wantRows, wantRes := s.pageWith(t, req, math.MaxInt)
			if !slices.EqualFunc(rows, wantRows, sameRow) || res.Cursor != wantRes.Cursor || !maps.Equal(res.Metadata, wantRes.Metadata) {
				t.Fatalf("selector %d %s, page %d: walking gave %v %+v\ncollecting gave %v %+v",
					i, js, page, rowKeys(rows), res, rowKeys(wantRows), wantRes)
			}
			after, _ := DecodeCursor(req.Cursor)
			want := o.next(sel, after, req.Limit+1)
			if got := rowKeys(rows); !slices.Equal(got, want[:min(len(want), req.Limit)]) {
				t.Fatalf("selector %d %s, page %d after %q: %v, oracle %v", i, js, page, after, got, want)
			}
			if len(want) > req.Limit && res.Cursor == "" {
				t.Fatalf("selector %d %s, page %d after %q: no cursor, oracle has more", i, js, page, after)
			}
			if res.Cursor == "" {
				break
			}
			req.Cursor = res.Cursor
			o.churn(t, r, keys, pages)
		}
	}
	t.Logf("%d pages of %d selectors", pages, sels)
	s.m.Index(s.ns).setWalkMin(defaultWalkMin)
}

func sameRow(a, b Row) bool {
	return a.Key == b.Key && a.Version == b.Version && bytes.Equal(a.Doc, b.Doc)
}

func rowKeys(rows []Row) []string {
	var keys []string
	for _, r := range rows {
		keys = append(keys, r.Key)
	}
	return keys
}

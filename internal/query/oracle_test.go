package query

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
		for _, c := range s.m.Index(s.ns).candidates(&simplified, "") {
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

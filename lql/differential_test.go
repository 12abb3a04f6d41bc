package lql

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// TestRandomDifferential is a structured complement to the fuzz targets:
// it generates documents, mutation lists and selectors from a small
// vocabulary, where collisions between paths and data are frequent, and
// checks that the streaming engines agree with the in-memory ones.
func TestRandomDifferential(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	iterations := 3000
	if testing.Short() {
		iterations = 300
	}
	for i := 0; i < iterations; i++ {
		doc := randomDoc(rng, 0)
		muts := make([]string, 1+rng.IntN(4))
		for j := range muts {
			muts[j] = randomMutation(rng)
		}
		sel := randomSelector(rng)
		checkDifferential(t, doc, muts, sel)
	}
}

var diffKeys = []string{"a", "b", "c", "0", "1"}

func randomDoc(rng *rand.Rand, depth int) string {
	var b strings.Builder
	b.WriteByte('{')
	n := rng.IntN(4)
	for i, k := range rng.Perm(len(diffKeys))[:n] {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%s", diffKeys[k], randomValue(rng, depth+1))
	}
	b.WriteByte('}')
	return b.String()
}

func randomValue(rng *rand.Rand, depth int) string {
	r := rng.IntN(10)
	if depth > 3 && r >= 7 {
		r = rng.IntN(7)
	}
	switch r {
	case 0:
		return "null"
	case 1:
		return []string{"true", "false"}[rng.IntN(2)]
	case 2:
		return []string{"1", "2.50", "-3", "1e2", "0"}[rng.IntN(5)]
	case 3, 4:
		return []string{`"x"`, `"A"`, `"1"`, `"2025-01-01"`, `"a\"b"`}[rng.IntN(5)]
	case 5, 6, 7:
		return randomDoc(rng, depth)
	}
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; i < rng.IntN(4); i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(randomValue(rng, depth+1))
	}
	b.WriteByte(']')
	return b.String()
}

func randomPath(rng *rand.Rand) string {
	segs := []string{"a", "b", "c", "0", "1", "*", "[]", "**", "...", "a[]"}
	var b strings.Builder
	for i := 0; i <= rng.IntN(3); i++ {
		b.WriteString("/" + segs[rng.IntN(len(segs))])
	}
	return b.String()
}

func randomMutation(rng *rand.Rand) string {
	p := randomPath(rng)
	switch rng.IntN(8) {
	case 0:
		return "rm:" + p
	case 1:
		return p + "++"
	case 2:
		return p + "=-1.5"
	case 3:
		return p + "={}"
	case 4:
		return p + "{/a=1,rm:/b}"
	case 5:
		return p + "=null"
	}
	return p + "=" + []string{"1", "x", "true", "2.5"}[rng.IntN(4)]
}

func randomSelector(rng *rand.Rand) string {
	parts := make([]string, 1+rng.IntN(3))
	for i := range parts {
		p := randomPath(rng)
		parts[i] = []string{
			p + "=1", p + ">0", p + "<=2.5", "exists{" + p + "}", "contains{field=" + p + "}",
			p + "!=x", "icontains{field=" + p + ",value=a}", "in{field=" + p + ",any=x|1|true}",
			"or.eq{field=" + p + ",value=x}", "not.exists{" + p + "}", p + "=2025-01-01",
		}[rng.IntN(11)]
	}
	return strings.Join(parts, ",")
}

func checkDifferential(t *testing.T, doc string, exprs []string, sel string) {
	t.Helper()
	m, ok := fuzzableDoc(doc)
	if !ok {
		t.Fatalf("generator produced undecodable %s", doc)
	}
	s, err := ParseSelectorString(sel)
	if err != nil {
		t.Fatalf("generator produced bad selector %q: %v", sel, err)
	}
	if got, err := MatchReader(s, strings.NewReader(doc)); err != nil || got != Matches(s, m) {
		t.Fatalf("selector %q on %s: stream %v (%v), memory %v", sel, doc, got, err, !got)
	}
	muts, err := ParseMutations(exprs, exampleNow)
	if err != nil {
		return
	}
	memErr := ApplyMutations(m, muts)
	var out bytes.Buffer
	_, streamErr := MutateStream(t.Context(), strings.NewReader(doc), &out, muts, MutateOptions{Mode: MutateSingleObject})
	if (memErr == nil) != (streamErr == nil) {
		t.Fatalf("mutations %q on %s: memory error %v, stream error %v", exprs, doc, memErr, streamErr)
	}
	if memErr != nil {
		return
	}
	got, ok := canonicalJSON(out.Bytes())
	want, _ := canonicalJSON(appendJSONValue(nil, m))
	if !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("mutations %q on %s:\nstream %s\nmemory %s", exprs, doc, out.Bytes(), appendJSONValue(nil, m))
	}
	enc, _ := json.Marshal(want)
	if _, err := QueryStream(t.Context(), bytes.NewReader(enc), s, QueryOptions{OnDecision: func(d Decision) error {
		if d.Matched != Matches(s, want.(map[string]any)) {
			t.Fatalf("selector %q on mutated %s: stream %v", sel, enc, d.Matched)
		}
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
}

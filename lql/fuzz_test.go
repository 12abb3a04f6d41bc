package lql

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// Fuzz targets. Their seed corpora (the spec examples plus testdata/fuzz)
// run as ordinary tests; run them for real with
//
//	go test -run='^$' -fuzz=FuzzStreamDifferential -fuzztime=30s ./lql

var fuzzDocs = []string{
	`{"labels":{"env":"prod","owner":"alice"},"items":[{"sku":"A","price":10},{"sku":"B","price":25}],"groups":[{"items":[{"sku":"C"}]}],"n":42.0,"s":"x<y"}`,
	`{"state":{"count":1,"details":{"owner":"bob"}},"arr":[1,"2",null,true,{"a":[]}]}`,
	`{"a":{"b":{"c":"2025-01-01T10:00:00Z"}},"t":"2025-01-02","e":1e3}`,
	`{}`,
}

func addSelectorSeeds(f *testing.F, withDoc bool) {
	for _, ex := range selectorExamples {
		if ex.mode == modeAST {
			continue
		}
		if withDoc {
			doc := ex.doc
			if doc == "" {
				doc = fuzzDocs[0]
			}
			f.Add(ex.expr, doc)
		} else {
			f.Add(ex.expr)
		}
	}
}

// canonicalJSON decodes with UseNumber and re-encodes with sorted keys, so
// that documents compare regardless of key order and string escapes.
func canonicalJSON(data []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	return v, true
}

// hasDuplicateKeys reports objects with repeated member names, where a
// decoded map keeps only the last occurrence but a stream sees all of them.
func hasDuplicateKeys(doc string) bool {
	dec := json.NewDecoder(strings.NewReader(doc))
	type frame struct {
		obj  bool
		keys map[string]bool
		key  bool // next string token is a key
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if len(stack) > 0 && stack[len(stack)-1].obj {
			top := &stack[len(stack)-1]
			if s, ok := tok.(string); ok && top.key {
				if top.keys[s] {
					return true
				}
				top.keys[s] = true
				top.key = false
				continue
			}
			if d, ok := tok.(json.Delim); !ok || (d != '}') {
				top.key = true
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{obj: true, keys: map[string]bool{}, key: true})
		case json.Delim('['):
			stack = append(stack, frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].obj {
				stack[len(stack)-1].key = true
			}
		}
	}
}

// fuzzableDoc decodes doc for differential checks, refusing the inputs on
// which decoded and streamed views legitimately differ (invalid UTF-8 is
// replaced by encoding/json; duplicate keys collapse).
func fuzzableDoc(doc string) (map[string]any, bool) {
	if !utf8.ValidString(doc) || hasDuplicateKeys(doc) {
		return nil, false
	}
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, false
	}
	if strings.TrimSpace(doc[dec.InputOffset():]) != "" {
		return nil, false
	}
	return m, true
}

func FuzzParseSelector(f *testing.F) {
	addSelectorSeeds(f, false)
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := ParseSelectorString(s)
		if err != nil || !utf8.ValidString(s) {
			// The JSON wire form cannot carry invalid UTF-8.
			return
		}
		enc, err := json.Marshal(sel)
		if err != nil {
			t.Fatalf("marshal %q: %v", s, err)
		}
		var back Selector
		if err := json.Unmarshal(enc, &back); err != nil {
			t.Fatalf("unmarshal %s (from %q): %v", enc, s, err)
		}
		if err := back.Validate(); err != nil {
			t.Fatalf("round-tripped %s (from %q) invalid: %v", enc, s, err)
		}
		enc2, err := json.Marshal(Simplify(back))
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip of %q changed the AST:\n%s\n%s", s, enc, enc2)
		}
		if _, err := ParseSelectorStringOr(s); err != nil && !strings.Contains(err.Error(), "conflict") {
			// The OR form differs only in prefixes, which can only add
			// path conflicts.
			t.Logf("or form of %q: %v", s, err)
		}
	})
}

func FuzzMatches(f *testing.F) {
	addSelectorSeeds(f, true)
	f.Fuzz(func(t *testing.T, s, doc string) {
		sel, err := ParseSelectorString(s)
		if err != nil {
			return
		}
		var plain any
		if json.Unmarshal([]byte(doc), &plain) == nil {
			MatchesValue(sel, plain) // plain float64 decoding must not panic
		}
		m, ok := fuzzableDoc(doc)
		if !ok {
			return
		}
		want := Matches(sel, m)
		got, err := MatchReader(sel, strings.NewReader(doc))
		if err != nil || got != want {
			t.Fatalf("selector %q on %s: stream %v (%v), memory %v", s, doc, got, err, want)
		}
	})
}

func addMutationSeeds(f *testing.F) {
	for _, ex := range mutationExamples {
		f.Add(strings.Join(ex.exprs, "\n"), ex.doc)
	}
	for _, d := range fuzzDocs {
		f.Add("/items[]/price=+5\nrm:/labels/*\n/groups/.../sku=Z\n/new/deep=1", d)
		f.Add("/arr/...++\n/state{/count--,rm:/details}", d)
	}
}

func FuzzMutate(f *testing.F) {
	addMutationSeeds(f)
	f.Fuzz(func(t *testing.T, exprs, doc string) {
		muts, err := ParseMutations(strings.Split(exprs, "\n"), exampleNow)
		if err != nil {
			return
		}
		var m map[string]any
		if json.Unmarshal([]byte(doc), &m) != nil || m == nil {
			return
		}
		if err := ApplyMutations(m, muts); err != nil {
			return
		}
		if _, err := json.Marshal(m); err != nil {
			t.Fatalf("mutated document does not encode: %v", err)
		}
	})
}

// FuzzStreamDifferential checks that the streaming engines agree with the
// in-memory ones: MutateStream with ApplyMutations (same error-or-not and
// the same document), and QueryStream with Matches on the result.
func FuzzStreamDifferential(f *testing.F) {
	for _, ex := range mutationExamples {
		f.Add(strings.Join(ex.exprs, "\n"), ex.doc, `/state/count>=1`)
	}
	for i, ex := range selectorExamples {
		if ex.doc != "" && ex.mode == modeAnd {
			f.Add("/z=1", ex.doc, ex.expr)
			f.Add(mutationExamples[i%len(mutationExamples)].exprs[0], ex.doc, ex.expr)
		}
	}
	f.Fuzz(func(t *testing.T, exprs, doc, sel string) {
		m, ok := fuzzableDoc(doc)
		if !ok {
			return
		}
		muts, err := ParseMutations(strings.Split(exprs, "\n"), exampleNow)
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
		if !ok {
			t.Fatalf("stream output is not JSON: %q", out.Bytes())
		}
		want, _ := canonicalJSON(appendJSONValue(nil, m))
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("mutations %q on %s:\nstream %s\nmemory %s", exprs, doc, out.Bytes(), appendJSONValue(nil, m))
		}
		s, err := ParseSelectorString(sel)
		if err != nil {
			return
		}
		res, err := QueryStream(t.Context(), bytes.NewReader(out.Bytes()), s, QueryOptions{})
		if err != nil {
			t.Fatalf("query over %s: %v", out.Bytes(), err)
		}
		if mw := Matches(s, want.(map[string]any)); (res.Matched == 1) != mw {
			t.Fatalf("selector %q on %s: stream %v, memory %v", sel, out.Bytes(), res.Matched == 1, mw)
		}
	})
}
